package atomicfile_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cabhq/cab/internal/atomicfile"
)

func ExampleWrite() {
	dir, _ := os.MkdirTemp("", "cab")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "index")
	_ = atomicfile.Write(path, []byte("first\n"), 0o644)
	_ = atomicfile.Write(path, []byte("second\n"), 0o644)
	b, _ := os.ReadFile(path)
	fmt.Print(string(b))
	// Output: second
}

// A file named by what it holds: the name is only known once it is
// written, as a pack's.
func ExampleCreate() {
	dir, _ := os.MkdirTemp("", "cab")
	defer os.RemoveAll(dir)
	p, err := atomicfile.Create(dir, "tmp_blob_")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Cleanup() // removes the temporary file unless committed
	data := []byte("hello\n")
	if _, err := p.Write(data); err != nil {
		fmt.Println(err)
		return
	}
	sum := sha256.Sum256(data)
	name := "blob-" + hex.EncodeToString(sum[:4])
	if err := p.Commit(filepath.Join(dir, name), 0o444); err != nil {
		fmt.Println(err)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output: blob-5891b5b5
}
