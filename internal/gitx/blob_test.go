package gitx

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadBlob(t *testing.T) {
	s := memory.NewStorage()
	ten, err := StoreBlob(s, []byte("0123456789"))
	require.NoError(t, err)
	empty, err := StoreBlob(s, nil)
	require.NoError(t, err)
	tree := storeTree(t, s, map[string]node{"f": file("x")})

	tests := []struct {
		name    string
		hash    plumbing.Hash
		limit   int64
		want    string
		wantErr error
	}{
		{name: "exactly the limit", hash: ten, limit: 10, want: "0123456789"},
		{name: "under the limit", hash: ten, limit: 1 << 20, want: "0123456789"},
		{name: "one byte over", hash: ten, limit: 9, wantErr: ErrTooLarge},
		{name: "empty blob, zero limit", hash: empty, limit: 0, want: ""},
		{name: "zero limit", hash: ten, limit: 0, wantErr: ErrTooLarge},
		{name: "negative limit is zero", hash: ten, limit: -1, wantErr: ErrTooLarge},
		{name: "missing", hash: plumbing.NewHash(strings.Repeat("12", 20)), limit: 10, wantErr: plumbing.ErrObjectNotFound},
		{name: "a tree is not a blob", hash: tree, limit: 1 << 20, wantErr: plumbing.ErrObjectNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadBlob(s, tt.hash, tt.limit)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr, "got %q", got)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}

	t.Run("too large says how large", func(t *testing.T) {
		_, err := ReadBlob(s, ten, 9)
		tl, ok := errors.AsType[*TooLargeError](err)
		require.True(t, ok, "got %v, want a *TooLargeError", err)
		assert.Equal(t, TooLargeError{Hash: ten, Size: 10, Limit: 9}, *tl)
		assert.Equal(t, "blob "+ten.String()+" is 10 bytes, more than the 9 allowed", err.Error())
	})
}

func TestStoreBlob(t *testing.T) {
	s := memory.NewStorage()
	for _, data := range []string{"", "hello\n", strings.Repeat("x", 70000)} {
		h, err := StoreBlob(s, []byte(data))
		require.NoError(t, err)
		assert.Equal(t, plumbing.ComputeHash(plumbing.BlobObject, []byte(data)), h, "the hash git gives the blob")
		got, err := ReadBlob(s, h, int64(len(data)))
		require.NoError(t, err)
		assert.Equal(t, data, string(got))
	}
}

func TestReadFile(t *testing.T) {
	s := memory.NewStorage()
	tree := buildTree(t, s, map[string]node{
		"cab.cue": file("0123456789"),
		"run.sh":  exe("#!/bin/sh\n"),
		"link":    link("cab.cue"),
		"sub":     gitlink(),
		"notdir":  file("x"),
		"apps": dir(map[string]node{
			"payments": dir(map[string]node{"values.yaml": file("tag: 1\n")}),
			"linkdir":  link("payments"),
		}),
		"apps.yaml": file("sorts after apps/ in git's order"),
	})

	tests := []struct {
		name    string
		path    string
		limit   int64
		want    string
		wantErr error
		// wantAs, if set, is the exact error value expected.
		wantAs error
	}{
		{name: "regular at exactly the limit", path: "cab.cue", limit: 10, want: "0123456789"},
		{name: "one byte over the limit", path: "cab.cue", limit: 9, wantErr: ErrTooLarge,
			wantAs: &TooLargeError{Path: "cab.cue", Hash: plumbing.ComputeHash(plumbing.BlobObject, []byte("0123456789")), Size: 10, Limit: 9}},
		{name: "executable", path: "run.sh", limit: 100, want: "#!/bin/sh\n"},
		{name: "nested", path: "apps/payments/values.yaml", limit: 100, want: "tag: 1\n"},
		{name: "a file named like a directory's prefix", path: "apps.yaml", limit: 100, want: "sorts after apps/ in git's order"},
		{name: "symlink", path: "link", limit: 100, wantErr: ErrNotRegular, wantAs: &NotRegularError{Path: "link", Mode: filemode.Symlink}},
		{name: "symlink on the way", path: "apps/linkdir/values.yaml", limit: 100, wantErr: ErrNotRegular,
			wantAs: &NotRegularError{Path: "apps/linkdir", Mode: filemode.Symlink}},
		{name: "submodule", path: "sub", limit: 100, wantErr: ErrNotRegular, wantAs: &NotRegularError{Path: "sub", Mode: filemode.Submodule}},
		{name: "submodule on the way", path: "sub/values.yaml", limit: 100, wantErr: ErrNotRegular,
			wantAs: &NotRegularError{Path: "sub", Mode: filemode.Submodule}},
		{name: "directory", path: "apps/payments", limit: 100, wantErr: ErrNotRegular,
			wantAs: &NotRegularError{Path: "apps/payments", Mode: filemode.Dir}},
		{name: "missing", path: "nope.cue", limit: 100, wantErr: ErrNotFound, wantAs: &NotFoundError{Path: "nope.cue", At: "nope.cue"}},
		{name: "missing directory", path: "apps/orders/x.yaml", limit: 100, wantErr: object.ErrFileNotFound,
			wantAs: &NotFoundError{Path: "apps/orders/x.yaml", At: "apps/orders"}},
		{name: "parent is a file", path: "notdir/x", limit: 100, wantErr: ErrNotFound,
			wantAs: &NotFoundError{Path: "notdir/x", At: "notdir", NotDir: true}},
		{name: "dot dot", path: "apps/../cab.cue", limit: 100, wantErr: ErrInvalidPath},
		{name: "dot", path: "./cab.cue", limit: 100, wantErr: ErrInvalidPath},
		{name: "absolute", path: "/cab.cue", limit: 100, wantErr: ErrInvalidPath},
		{name: "trailing slash", path: "cab.cue/", limit: 100, wantErr: ErrInvalidPath},
		{name: "empty", path: "", limit: 100, wantErr: ErrInvalidPath},
		{name: "NUL", path: "cab.cue\x00", limit: 100, wantErr: ErrInvalidPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadFile(tree, tt.path, tt.limit)
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, tt.want, string(got))
				return
			}
			require.ErrorIs(t, err, tt.wantErr, "got %q", got)
			assert.Nil(t, got)
			switch want := tt.wantAs.(type) {
			case *TooLargeError:
				got, ok := errors.AsType[*TooLargeError](err)
				require.True(t, ok, "got %T", err)
				assert.Equal(t, want, got)
			case *NotRegularError:
				got, ok := errors.AsType[*NotRegularError](err)
				require.True(t, ok, "got %T", err)
				assert.Equal(t, want, got)
			case *NotFoundError:
				got, ok := errors.AsType[*NotFoundError](err)
				require.True(t, ok, "got %T", err)
				assert.Equal(t, want, got)
			}
		})
	}
}

// TestReadFileUnsortedTree finds entries of a tree that is not in git's
// order (a hostile writer's): a sorted search alone would miss them.
func TestReadFileUnsortedTree(t *testing.T) {
	s := memory.NewStorage()
	a, err := StoreBlob(s, []byte("a"))
	require.NoError(t, err)
	z, err := StoreBlob(s, []byte("z"))
	require.NoError(t, err)
	h := storeRawTree(t, s, []object.TreeEntry{
		{Name: "z.cue", Mode: filemode.Regular, Hash: z},
		{Name: "m.cue", Mode: filemode.Regular, Hash: a},
		{Name: "a.cue", Mode: filemode.Regular, Hash: a},
	})
	tree, err := object.GetTree(s, h)
	require.NoError(t, err)
	for name, want := range map[string]string{"z.cue": "z", "m.cue": "a", "a.cue": "a"} {
		got, err := ReadFile(tree, name, 10)
		require.NoError(t, err, name)
		assert.Equal(t, want, string(got), name)
	}
	_, err = ReadFile(tree, "b.cue", 10)
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestFileEntry(t *testing.T) {
	s := memory.NewStorage()
	tree := buildTree(t, s, map[string]node{"d": dir(map[string]node{"f.cue": exe("x")})})
	e, err := FileEntry(tree, "d/f.cue")
	require.NoError(t, err)
	assert.Equal(t, "f.cue", e.Name)
	assert.Equal(t, filemode.Executable, e.Mode)
	assert.Equal(t, plumbing.ComputeHash(plumbing.BlobObject, []byte("x")), e.Hash)
}

// countingStorer counts the objects decoded from it.
type countingStorer struct {
	*memory.Storage
	decoded int
}

func (c *countingStorer) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	c.decoded++
	return c.Storage.EncodedObject(t, h)
}

// TestReadBlobSizeFirst refuses a blob over the limit by its size alone:
// its content is never inflated.
func TestReadBlobSizeFirst(t *testing.T) {
	s := &countingStorer{Storage: memory.NewStorage()}
	h, err := StoreBlob(s, []byte(strings.Repeat("x", 4096)))
	require.NoError(t, err)
	_, err = ReadBlob(s, h, 4095)
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Zero(t, s.decoded, "the object was not decoded")
	got, err := ReadBlob(s, h, 4096)
	require.NoError(t, err)
	assert.Len(t, got, 4096)
	assert.Equal(t, 1, s.decoded)
}

func TestSubtree(t *testing.T) {
	s := memory.NewStorage()
	tree := buildTree(t, s, map[string]node{
		"notdir": file("x"),
		"sub":    gitlink(),
		"apps": dir(map[string]node{
			"payments": dir(map[string]node{"values.yaml": file("tag: 1\n")}),
			"linkdir":  link("payments"),
		}),
	})
	tests := []struct {
		name    string
		path    string
		want    []string // the names in the directory
		wantErr error
		wantAs  error
	}{
		{name: "nested directory", path: "apps/payments", want: []string{"values.yaml"}},
		{name: "top directory", path: "apps", want: []string{"linkdir", "payments"}},
		{name: "symlink to a directory", path: "apps/linkdir", wantErr: ErrNotRegular, wantAs: &NotRegularError{Path: "apps/linkdir", Mode: filemode.Symlink}},
		{name: "submodule", path: "sub", wantErr: ErrNotRegular, wantAs: &NotRegularError{Path: "sub", Mode: filemode.Submodule}},
		{name: "a file", path: "notdir", wantErr: ErrNotFound, wantAs: &NotFoundError{Path: "notdir", At: "notdir", NotDir: true}},
		{name: "missing", path: "apps/orders", wantErr: ErrNotFound, wantAs: &NotFoundError{Path: "apps/orders", At: "apps/orders"}},
		{name: "dot dot", path: "apps/..", wantErr: ErrInvalidPath},
		{name: "trailing slash", path: "apps/", wantErr: ErrInvalidPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Subtree(tree, tt.path)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Nil(t, got)
				switch want := tt.wantAs.(type) {
				case *NotRegularError:
					got, ok := errors.AsType[*NotRegularError](err)
					require.True(t, ok, "got %T", err)
					assert.Equal(t, want, got)
				case *NotFoundError:
					got, ok := errors.AsType[*NotFoundError](err)
					require.True(t, ok, "got %T", err)
					assert.Equal(t, want, got)
				}
				return
			}
			require.NoError(t, err)
			var names []string
			for _, e := range got.Entries {
				names = append(names, e.Name)
			}
			assert.Equal(t, tt.want, names)
		})
	}
}
