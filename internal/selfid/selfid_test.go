package selfid

import (
	"crypto/sha256"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDigestIsTheExecutablesSHA256(t *testing.T) {
	p, err := os.Executable()
	require.NoError(t, err)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	got, err := Digest()
	require.NoError(t, err)
	assert.Equal(t, sha256.Sum256(b), got)
}
