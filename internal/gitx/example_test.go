package gitx_test

import (
	"context"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/cabhq/cab/internal/gitx"
)

// commit stores a commit whose tree holds one file, cab.cue, with content.
func commit(s storer.EncodedObjectStorer, content, msg string, parents ...plumbing.Hash) plumbing.Hash {
	blob, _ := gitx.StoreBlob(s, []byte(content))
	o := s.NewEncodedObject()
	_ = (&object.Tree{Entries: []object.TreeEntry{{Name: "cab.cue", Mode: filemode.Regular, Hash: blob}}}).Encode(o)
	tree, _ := s.SetEncodedObject(o)
	sig := object.Signature{Name: "cab", Email: "cab@localhost", When: time.Unix(0, 0)}
	o = s.NewEncodedObject()
	_ = (&object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: tree, ParentHashes: parents}).Encode(o)
	h, _ := s.SetEncodedObject(o)
	return h
}

func Example() {
	s := memory.NewStorage()
	first := commit(s, "apiVersion: \"cab.dev/v1\"\n", "first")
	second := commit(s, "apiVersion: \"cab.dev/v2\"\n", "second", first)

	// Walk main by first parent, newest first.
	var trees []*object.Tree
	for c, err := range gitx.FirstParents(context.Background(), s, second) {
		if err != nil {
			fmt.Println(err)
			return
		}
		t, _ := c.Tree()
		trees = append(trees, t)
		fmt.Println("commit:", c.Message)
	}

	// What the second commit changed, and the file as it left it.
	changes, _ := gitx.DiffTrees(trees[1], trees[0], "")
	for _, c := range changes {
		fmt.Println("changed:", c.Path)
	}
	src, _ := gitx.ReadFile(trees[0], "cab.cue", 1<<10)
	fmt.Printf("cab.cue: %s", src)

	// A limit below the file's size refuses it before reading.
	_, err := gitx.ReadFile(trees[0], "cab.cue", 8)
	fmt.Println(err)
	// Output:
	// commit: second
	// commit: first
	// changed: cab.cue
	// cab.cue: apiVersion: "cab.dev/v2"
	// cab.cue is 25 bytes, more than the 8 allowed
}
