package verdictcache

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func open(t *testing.T, gitDir, secret string) *Cache {
	t.Helper()
	c, err := Open(gitDir, secret)
	require.NoError(t, err)
	return c
}

func TestPutGet(t *testing.T) {
	git, secret := t.TempDir(), filepath.Join(t.TempDir(), "cab", "key")
	c := open(t, git, secret)
	fi, err := os.Stat(secret)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the secret is private")

	k := Key([]byte("a"), []byte("b"))
	_, ok := c.Get(k)
	assert.False(t, ok, "empty cache")
	require.NoError(t, c.Put(k, []byte("verdict")))
	got, ok := c.Get(k)
	require.True(t, ok)
	assert.Equal(t, "verdict", string(got))

	again := open(t, git, secret)
	got, ok = again.Get(k)
	assert.True(t, ok, "the secret is kept across runs")
	assert.Equal(t, "verdict", string(got))

	other := open(t, git, filepath.Join(t.TempDir(), "key"))
	_, ok = other.Get(k)
	assert.False(t, ok, "an entry written with another secret is a miss")
}

func TestKeyIsUnambiguous(t *testing.T) {
	assert.NotEqual(t, Key([]byte("ab"), []byte("c")), Key([]byte("a"), []byte("bc")))
	assert.NotEqual(t, Key([]byte("a")), Key([]byte("a"), nil))
	assert.Equal(t, Key([]byte("a"), []byte("b")), Key([]byte("a"), []byte("b")))
}

func TestTamperedEntriesMiss(t *testing.T) {
	c := open(t, t.TempDir(), filepath.Join(t.TempDir(), "key"))
	k1, k2 := Key([]byte("1")), Key([]byte("2"))
	require.NoError(t, c.Put(k1, []byte("pass")))
	require.NoError(t, c.Put(k2, []byte("fail")))
	b, err := os.ReadFile(c.path(k2))
	require.NoError(t, err)
	tests := map[string][]byte{
		"payload changed":   append(append([]byte{}, b[:32]...), []byte("pass")...),
		"another key's tag": mustRead(t, c.path(k1)),
		"truncated":         b[:20],
		"empty":             nil,
	}
	// A symlink to an authentic entry, and a FIFO (which must not block).
	t.Run("symlink", func(t *testing.T) {
		require.NoError(t, os.Remove(c.path(k2)))
		require.NoError(t, os.Symlink(c.path(k1), c.path(k2)))
		_, ok := c.Get(k2)
		assert.False(t, ok)
		require.NoError(t, os.Remove(c.path(k2)))
		require.NoError(t, syscall.Mkfifo(c.path(k2), 0o600))
		_, ok = c.Get(k2)
		assert.False(t, ok)
		require.NoError(t, os.Remove(c.path(k2)))
	})
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(c.path(k2), content, 0o600))
			_, ok := c.Get(k2)
			assert.False(t, ok)
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

func TestSecretMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]func(p string){
		"world readable": func(p string) { require.NoError(t, os.WriteFile(p, make([]byte, secretSize), 0o644)) },
		"wrong size":     func(p string) { require.NoError(t, os.WriteFile(p, []byte("short"), 0o600)) },
		"symlink": func(p string) {
			target := filepath.Join(dir, "target")
			require.NoError(t, os.WriteFile(target, make([]byte, secretSize), 0o600))
			require.NoError(t, os.Symlink(target, p))
		},
		"directory": func(p string) { require.NoError(t, os.Mkdir(p, 0o700)) },
	}
	for name, make := range tests {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "key")
			make(p)
			_, err := Open(t.TempDir(), p)
			assert.Error(t, err, "a secret others can read or swap is not used")
		})
	}
	_, err := Open("", filepath.Join(dir, "key"))
	assert.Error(t, err, "no git directory")
}

func TestGitDir(t *testing.T) {
	repo := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(repo, ".git"), 0o755))
	sub := filepath.Join(repo, "a", "b")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	assert.Equal(t, filepath.Join(repo, ".git"), GitDir(sub))

	wt := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(wt, ".git"), []byte("gitdir: ../elsewhere/.git/worktrees/wt\n"), 0o644))
	assert.Equal(t, filepath.Join(wt, "../elsewhere/.git/worktrees/wt"), GitDir(wt), "a linked worktree's git directory")

	assert.Empty(t, GitDir("/"), "no repository")
}

func TestTrimRemovesTheOldestEntries(t *testing.T) {
	c := open(t, t.TempDir(), filepath.Join(t.TempDir(), "key"))
	base := time.Now().Add(-10 * time.Hour)
	var keys [][32]byte
	for i := range 12 {
		k := Key([]byte{byte(i)})
		keys = append(keys, k)
		require.NoError(t, c.Put(k, []byte("verdict")))
		// Written in order, an hour apart.
		require.NoError(t, os.Chtimes(c.path(k), base, base.Add(time.Duration(i)*time.Minute)))
	}
	stale := filepath.Join(filepath.Dir(c.path(keys[0])), ".tmp-123")
	fresh := filepath.Join(filepath.Dir(c.path(keys[0])), ".tmp-456")
	require.NoError(t, os.WriteFile(stale, nil, 0o600))
	require.NoError(t, os.WriteFile(fresh, nil, 0o600))
	require.NoError(t, os.Chtimes(stale, base, base))

	require.NoError(t, c.Trim(12), "at the bound")
	for _, k := range keys {
		_, ok := c.Get(k)
		assert.True(t, ok, "nothing is removed at the bound")
	}
	assert.NoFileExists(t, stale, "a crashed Put's temporary file goes")
	assert.FileExists(t, fresh, "a running Put's temporary file stays")

	require.NoError(t, c.Trim(8))
	// 12 entries over a bound of 8: the oldest go until 6 (8 less a
	// quarter) are left.
	for i, k := range keys {
		_, ok := c.Get(k)
		assert.Equal(t, i >= 6, ok, "entry %d", i)
	}

	empty := open(t, t.TempDir(), filepath.Join(t.TempDir(), "key"))
	assert.NoError(t, empty.Trim(8), "a cache never written trims to nothing")
}
