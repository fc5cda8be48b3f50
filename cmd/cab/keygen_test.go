package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's example writes to ~/.config/cab, which a fresh machine does
// not have: keygen makes it, private to its owner, and the key 0600.
func TestKeygenMakesAPrivateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home", ".config", "cab")
	cmd := newKeygenCmd()
	cmd.SetArgs([]string{"--out", filepath.Join(dir, "signing")})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	require.NoError(t, cmd.Execute())
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "the directory made for the key")
	fi, err = os.Stat(filepath.Join(dir, "signing.key"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	assert.FileExists(t, filepath.Join(dir, "signing.pub"))
}
