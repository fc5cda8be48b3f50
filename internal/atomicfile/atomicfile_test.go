package atomicfile

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// names lists the entries of dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// snapshot describes every entry under dir: a directory, or a file's
// mode and content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel] = "dir"
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = fmt.Sprintf("%v %q", fi.Mode(), b)
		return nil
	})
	require.NoError(t, err)
	return out
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name string
		old  []byte // nil: no file yet
		perm fs.FileMode
	}{
		{"creates private", nil, 0o600},
		{"creates readable", nil, 0o644},
		{"creates read-only", nil, 0o444},
		{"replaces", []byte("old content, longer than the new"), 0o644},
		{"replaces a read-only file", []byte("old"), 0o444},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if tt.old != nil {
				require.NoError(t, os.WriteFile(path, tt.old, 0o400))
			}
			require.NoError(t, Write(path, []byte("new"), tt.perm))
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, "new", string(got), "content")
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, tt.perm, fi.Mode().Perm(), "mode: got %v, want %v", fi.Mode().Perm(), tt.perm)
			assert.Equal(t, []string{"f"}, names(t, dir), "entries of the directory")
		})
	}
}

// TestFailureLeavesOldFile: a write that fails, at whatever step, leaves
// the directory as it was: the old file byte-identical, no temporary file.
func TestFailureLeavesOldFile(t *testing.T) {
	tests := map[string]func(dir string) error{
		"directory missing": func(dir string) error {
			return Write(filepath.Join(dir, "missing", "f"), []byte("new"), 0o644)
		},
		"directory is a file": func(dir string) error {
			return Write(filepath.Join(dir, "f", "g"), []byte("new"), 0o644)
		},
		"path is a directory": func(dir string) error {
			return Write(filepath.Join(dir, "sub"), []byte("new"), 0o644)
		},
		"temporary file gone before Commit": func(dir string) error {
			p, err := Create(dir, "")
			if err != nil {
				return err
			}
			defer p.Cleanup()
			if _, err := p.Write([]byte("new")); err != nil {
				return err
			}
			if err := os.Remove(p.f.Name()); err != nil {
				return err
			}
			return p.Commit(filepath.Join(dir, "f"), 0o644)
		},
		"Commit after Cleanup": func(dir string) error {
			p, err := Create(dir, "")
			if err != nil {
				return err
			}
			if _, err := p.Write([]byte("new")); err != nil {
				return err
			}
			p.Cleanup()
			return p.Commit(filepath.Join(dir, "f"), 0o644)
		},
	}
	for name, fail := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("old"), 0o644))
			require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "sub", "g"), []byte("kept"), 0o644))
			before := snapshot(t, dir)

			err := fail(dir)
			require.Error(t, err, "the write must fail")
			assert.Equal(t, before, snapshot(t, dir), "the directory after a failed write")
		})
	}
}

func TestCleanupAfterCommit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	p, err := Create(dir, "")
	require.NoError(t, err)
	_, err = p.Write([]byte("new"))
	require.NoError(t, err)
	require.NoError(t, p.Commit(path, 0o600))
	p.Cleanup()
	p.Cleanup()

	got, err := os.ReadFile(path)
	require.NoError(t, err, "Cleanup after Commit keeps the file")
	assert.Equal(t, "new", string(got))
	assert.Equal(t, []string{"f"}, names(t, dir), "entries of the directory")
	assert.ErrorIs(t, p.Commit(path, 0o600), ErrDone, "a second Commit")
}

func TestCleanupWithoutCommit(t *testing.T) {
	tests := []struct {
		name, prefix, want string
	}{
		{"default prefix", "", TempPrefix},
		{"given prefix", "tmp_pack_", "tmp_pack_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p, err := Create(dir, tt.prefix)
			require.NoError(t, err)
			_, err = p.Write([]byte("partial"))
			require.NoError(t, err)
			pending := names(t, dir)
			require.Len(t, pending, 1, "the temporary file while writing")
			assert.True(t, strings.HasPrefix(pending[0], tt.want), "temporary name %q, want prefix %q", pending[0], tt.want)

			p.Cleanup()
			p.Cleanup()
			assert.Empty(t, names(t, dir), "entries after Cleanup")
		})
	}
}

func TestSyncThenCommit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "checkpoint")
	require.NoError(t, os.WriteFile(path, []byte("old\n"), 0o600))
	p, err := Create(dir, "")
	require.NoError(t, err)
	defer p.Cleanup()
	_, err = p.Write([]byte("new\n"))
	require.NoError(t, err)
	require.NoError(t, p.Sync())
	require.NoError(t, p.Commit(path, 0o600))

	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "new\n", string(got))
	assert.Equal(t, []string{"checkpoint"}, names(t, dir), "entries of the directory")
}

// TestConcurrentWrite: writers of one path never interleave, and a reader
// only ever sees one written content, whole.
func TestConcurrentWrite(t *testing.T) {
	const writers, rounds = 8, 20
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	contents := make([][]byte, writers)
	for i := range contents {
		contents[i] = bytes.Repeat([]byte{byte('a' + i)}, (i+1)*8<<10)
	}
	whole := func(b []byte) bool {
		for _, c := range contents {
			if bytes.Equal(b, c) {
				return true
			}
		}
		return false
	}

	var (
		writing sync.WaitGroup
		reading sync.WaitGroup
		done    atomic.Bool
		torn    atomic.Int64
		errs    = make(chan error, writers*rounds)
	)
	reading.Go(func() {
		for !done.Load() {
			b, err := os.ReadFile(path)
			if err == nil && !whole(b) {
				torn.Add(1)
			}
		}
	})
	for i := range writers {
		writing.Go(func() {
			for range rounds {
				if err := Write(path, contents[i], 0o644); err != nil {
					errs <- err
				}
			}
		})
	}
	writing.Wait()
	done.Store(true)
	reading.Wait()
	close(errs)

	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Zero(t, torn.Load(), "reads that saw no written content whole")
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, whole(got), "the final content (%d bytes) is one written content, whole", len(got))
	assert.Equal(t, []string{"f"}, names(t, dir), "entries of the directory")
}
