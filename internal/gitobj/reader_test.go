package gitobj

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME="+dir,
		"GIT_AUTHOR_NAME=A", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=A", "GIT_COMMITTER_EMAIL=a@example.com",
		"GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// gitRepo writes a repository with the git CLI: commits whose files grow
// a little each time (so that packs hold deltas), packed by git repack
// with repackArgs, then more commits left loose.
func gitRepo(t *testing.T, config []string, repackArgs ...string) string {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	gitCLI(t, dir, "init", "-q", "-b", "main")
	for _, kv := range config {
		k, v, _ := strings.Cut(kv, "=")
		gitCLI(t, dir, "config", k, v)
	}
	body := strings.Repeat("line of a ticket that changes a little\n", 40)
	for i := range 30 {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "changes", fmt.Sprint("s", i%3)), 0o755))
		body += fmt.Sprintf("edit %d\n", i)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "changes", fmt.Sprint("s", i%3), "big.cue"), []byte(body), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "changes", fmt.Sprint("s", i%3), fmt.Sprintf("CHG-2026-%04d.cue", i)), []byte(body[:100+i]), 0o644))
		gitCLI(t, dir, "add", "-A")
		gitCLI(t, dir, "commit", "-q", "-m", fmt.Sprint("commit ", i))
		if i == 19 {
			gitCLI(t, dir, append([]string{"repack", "-q"}, repackArgs...)...)
		}
	}
	gitCLI(t, dir, "tag", "-a", "v1", "-m", "a tag")
	return dir
}

// Every object reads the same through the scanner's reader as through
// go-git: packed whole, as offset or reference deltas, and loose.
func TestObjectsMatchGoGit(t *testing.T) {
	for _, tc := range []struct {
		name string
		repo func(t *testing.T) string
		// the delta type the packs must hold (0: none required)
		delta Type
	}{
		{"offset deltas", func(t *testing.T) string { return gitRepo(t, nil, "-a", "-d", "-f", "--depth=20") }, objOfsDelta},
		{"reference deltas", func(t *testing.T) string {
			return gitRepo(t, []string{"repack.usedeltabaseoffset=false", "pack.usedeltabaseoffset=false"}, "-a", "-d", "-f")
		}, objRefDelta},
		{"incremental pack and loose objects", func(t *testing.T) string { return gitRepo(t, nil, "-d") }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.repo(t)
			r, err := git.PlainOpen(dir)
			require.NoError(t, err)
			obj, err := Open(filepath.Join(dir, ".git", "objects"), nil)
			require.NoError(t, err)
			defer obj.Close()
			iter, err := r.Storer.IterEncodedObjects(plumbing.AnyObject)
			require.NoError(t, err)
			n := 0
			require.NoError(t, iter.ForEach(func(o plumbing.EncodedObject) error {
				rd, err := o.Reader()
				require.NoError(t, err)
				want, err := io.ReadAll(rd)
				require.NoError(t, err)
				rd.Close()
				typ, got, err := obj.Read(o.Hash())
				require.NoError(t, err, "object %s", o.Hash())
				require.Equal(t, o.Type().String(), typ.String(), "object %s", o.Hash())
				require.Equal(t, want, got, "object %s", o.Hash())
				n++
				return nil
			}))
			assert.Greater(t, n, 150)
			if tc.delta != 0 {
				assert.Positive(t, packTypes(t, obj)[tc.delta], "the packs hold %s", tc.delta)
			}
			_, _, err = obj.Read(plumbing.NewHash(strings.Repeat("e", 40)))
			assert.ErrorIs(t, err, ErrNotFound)
		})
	}
}

func TestObjectsFallBackToGoGit(t *testing.T) {
	dir := gitRepo(t, nil, "-a", "-d")
	// Objects the reader finds in no pack and no loose file (here: it
	// reads an empty directory that borrows the repository's objects
	// through alternates) are asked of the fallback storer.
	idxs, err := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.idx"))
	require.NoError(t, err)
	require.Len(t, idxs, 1)
	r, err := git.PlainOpen(dir)
	require.NoError(t, err)
	head, err := r.Head()
	require.NoError(t, err)
	obj, err := Open(borrowing(t, dir), r.Storer)
	require.NoError(t, err)
	typ, data, err := obj.Read(head.Hash())
	require.NoError(t, err)
	assert.Equal(t, TypeCommit, typ)
	assert.Contains(t, string(data), "commit 29")
}

// borrowing is an empty objects directory whose alternates name the
// objects of the repository at dir.
func borrowing(t *testing.T, dir string) string {
	objects := filepath.Join(t.TempDir(), "objects")
	require.NoError(t, os.MkdirAll(filepath.Join(objects, "info"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(objects, "info", "alternates"), []byte(filepath.Join(dir, ".git", "objects")+"\n"), 0o644))
	return objects
}

// countingStorer counts the objects asked of a fallback storer.
type countingStorer struct {
	storer.EncodedObjectStorer
	asked int
}

func (c *countingStorer) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	c.asked++
	return c.EncodedObjectStorer.EncodedObject(t, h)
}

func (c *countingStorer) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	c.asked++
	return c.EncodedObjectStorer.EncodedObjectSize(h)
}

// TestMissAsksFallbackOnlyWhenBlind: a reader that maps every pack of a
// repository borrowing from no other says an object in none of them is
// missing without asking the fallback storer (go-git's first lookup after
// a write indexes every pack again: O(repository) per ledger update); a
// reader that may not see an object (a pack index it cannot map,
// alternates, a clone) asks. A pack added in the same tick of the file
// system's clock as the last listing (the directory's time unchanged) is
// found by listing again.
func TestMissAsksFallbackOnlyWhenBlind(t *testing.T) {
	missing := plumbing.NewHash(strings.Repeat("e", 40))
	open := func(t *testing.T, dir, objects string) (*Reader, *countingStorer) {
		r, err := git.PlainOpen(dir)
		require.NoError(t, err)
		fallback := &countingStorer{EncodedObjectStorer: r.Storer}
		obj, err := Open(objects, fallback)
		require.NoError(t, err)
		t.Cleanup(func() { obj.Close() })
		return obj, fallback
	}
	objectsOf := func(dir string) string { return filepath.Join(dir, ".git", "objects") }

	t.Run("sees every pack", func(t *testing.T) {
		dir := gitRepo(t, nil, "-a", "-d")
		obj, fallback := open(t, dir, objectsOf(dir))
		_, _, err := obj.Read(missing)
		require.ErrorIs(t, err, ErrNotFound)
		_, err = obj.Size(missing)
		require.ErrorIs(t, err, ErrNotFound)
		assert.Zero(t, fallback.asked)
	})
	t.Run("an index it cannot map", func(t *testing.T) {
		dir := gitRepo(t, nil, "-a", "-d")
		require.NoError(t, os.WriteFile(filepath.Join(objectsOf(dir), "pack", "pack-"+strings.Repeat("0", 40)+".idx"), []byte("not an index"), 0o444))
		obj, fallback := open(t, dir, objectsOf(dir))
		_, _, err := obj.Read(missing)
		require.ErrorIs(t, err, ErrNotFound)
		_, err = obj.Size(missing)
		require.ErrorIs(t, err, ErrNotFound)
		assert.Equal(t, 2, fallback.asked)
	})
	t.Run("alternates", func(t *testing.T) {
		dir := gitRepo(t, nil, "-a", "-d")
		obj, fallback := open(t, dir, borrowing(t, dir))
		_, _, err := obj.Read(missing)
		require.ErrorIs(t, err, ErrNotFound)
		assert.Equal(t, 1, fallback.asked)
	})
	t.Run("a clone", func(t *testing.T) {
		dir := gitRepo(t, nil, "-a", "-d")
		obj, fallback := open(t, dir, objectsOf(dir))
		_, _, err := obj.Clone().Read(missing)
		require.ErrorIs(t, err, ErrNotFound)
		assert.Equal(t, 1, fallback.asked)
	})
	t.Run("a pack in the same tick", func(t *testing.T) {
		dir := gitRepo(t, nil, "-a", "-d")
		packDir := filepath.Join(objectsOf(dir), "pack")
		// The directory's time is not yet a second behind the listing
		// (here: ahead of it, whatever the machine's load).
		tick := time.Now().Add(time.Hour)
		require.NoError(t, os.Chtimes(packDir, tick, tick))
		obj, fallback := open(t, dir, objectsOf(dir))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "late.txt"), []byte("late\n"), 0o644))
		gitCLI(t, dir, "add", "-A")
		gitCLI(t, dir, "commit", "-q", "-m", "late commit")
		gitCLI(t, dir, "repack", "-q", "-d")
		// The directory's time as the reader listed it: the tick did not
		// move.
		require.NoError(t, os.Chtimes(packDir, tick, tick))
		head := plumbing.NewHash(strings.TrimSpace(gitCLI(t, dir, "rev-parse", "HEAD")))
		_, data, err := obj.Read(head)
		require.NoError(t, err)
		assert.Contains(t, string(data), "late commit")
		assert.Zero(t, fallback.asked)
	})
}

// A miss makes the reader look for packs that appeared since it last
// listed the pack directory (when the directory changed): it maps those,
// not again the ones it has.
func TestReloadMapsOnlyNewPacks(t *testing.T) {
	dir := gitRepo(t, nil, "-a", "-d")
	r, err := git.PlainOpen(dir)
	require.NoError(t, err)
	obj, err := Open(filepath.Join(dir, ".git", "objects"), r.Storer)
	require.NoError(t, err)
	t.Cleanup(func() { obj.Close() })
	require.Len(t, obj.packs, 1)

	// A second pack appears: a new commit, packed incrementally.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "late.txt"), []byte("late\n"), 0o644))
	gitCLI(t, dir, "add", "-A")
	gitCLI(t, dir, "commit", "-q", "-m", "late commit")
	gitCLI(t, dir, "repack", "-q", "-d") // no loose copy left
	head := plumbing.NewHash(strings.TrimSpace(gitCLI(t, dir, "rev-parse", "HEAD")))

	typ, data, err := obj.Read(head)
	require.NoError(t, err)
	assert.Equal(t, TypeCommit, typ)
	assert.Contains(t, string(data), "late commit")
	names := map[string]int{}
	for _, p := range obj.packs {
		names[p.name]++
	}
	assert.Len(t, obj.packs, 2, "the old pack and the new one, each mapped once: %v", names)
	for name, n := range names {
		assert.Equal(t, 1, n, "%s mapped %d times", name, n)
	}

	// An object that is nowhere, the pack directory unchanged: nothing
	// is mapped again.
	_, _, err = obj.Read(plumbing.NewHash("0123456789012345678901234567890123456789"))
	require.ErrorIs(t, err, ErrNotFound)
	assert.Len(t, obj.packs, 2)

	// A third pack, later (a long-lived reader: every fetch adds one):
	// mapped too, not left to the fallback.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "later.txt"), []byte("later\n"), 0o644))
	gitCLI(t, dir, "add", "-A")
	gitCLI(t, dir, "commit", "-q", "-m", "later commit")
	gitCLI(t, dir, "repack", "-q", "-d")
	later := plumbing.NewHash(strings.TrimSpace(gitCLI(t, dir, "rev-parse", "HEAD")))
	size, err := obj.Size(later)
	require.NoError(t, err)
	_, data, err = obj.Read(later)
	require.NoError(t, err)
	assert.Contains(t, string(data), "later commit")
	assert.Equal(t, int64(len(data)), size)
	assert.Len(t, obj.packs, 3, "the third pack is mapped")
}

func FuzzApplyDelta(f *testing.F) {
	f.Add([]byte("hello world"), []byte{11, 5, 0x90, 5, 'x'})
	f.Add([]byte(""), []byte{0, 3, 3, 'a', 'b', 'c'})
	f.Add([]byte("abcdef"), []byte{6, 6, 0x91, 0, 6})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		out, err := applyDelta(base, delta)
		if err != nil {
			return
		}
		size, n := deltaVarint(delta)
		require.Positive(t, n)
		dst, _ := deltaVarint(delta[n:])
		require.Equal(t, int(dst), len(out), "the result has the size the delta promised")
		_ = size
	})
}

func FuzzParseGitObjects(f *testing.F) {
	f.Add([]byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nparent 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@x> 1700000000 +0100\ncommitter C <c@x> 1700000000 -0230\ngpgsig -----BEGIN\n stuff\n\nmessage\n"))
	f.Add([]byte("100644 a.cue\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x2040000 d\x00aaaaaaaaaaaaaaaaaaaa"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := ParseCommit(plumbing.ZeroHash, data); err == nil {
			require.NotNil(t, c)
		}
		rest := data
		for range 1000 {
			if len(rest) == 0 {
				break
			}
			e, r, err := NextEntry(rest)
			if err != nil {
				break
			}
			require.Less(t, len(r), len(rest))
			require.NotEmpty(t, e.Name)
			rest = r
		}
		_, _, _ = FindEntry(data, "changes")
		_, _ = TagTarget(data)
		_, _, _ = parseLooseHeader(data)
	})
}

// packTypes counts the object types stored in the reader's packs.
func packTypes(t *testing.T, obj *Reader) map[Type]int {
	out := map[Type]int{}
	for _, p := range obj.packs {
		offsets := p.idx[8+256*4+int(p.n)*24:]
		for i := uint32(0); i < p.n; i++ {
			off := int64(binary.BigEndian.Uint32(offsets[i*4:]))
			typ, _, _, err := p.header(off)
			require.NoError(t, err)
			out[typ]++
		}
	}
	return out
}
