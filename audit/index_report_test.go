package audit

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRebuildIgnoresForgedIndex: an index that lies consistently (good
// checksum, forged title) is what an ordinary run trusts; IndexRebuild,
// which cab report uses, shows the title from git and repairs the index.
func TestRebuildIgnoresForgedIndex(t *testing.T) {
	h := fixture(t)
	want, _ := runState(t, h, LogOptions{Index: IndexOff})
	_, _ = runState(t, h, LogOptions{})
	b, err := os.ReadFile(indexFileOf(h))
	require.NoError(t, err)
	idx, err := decodeIndex(b)
	require.NoError(t, err)
	idx.merges[0].Tickets[0].Title = "forged title"
	require.NoError(t, os.WriteFile(indexFileOf(h), encodeIndex(idx), 0o644))

	trusted, _ := runState(t, h, LogOptions{})
	assert.NotEqual(t, want, trusted, "an ordinary run trusts the index (this is what a report must not do)")
	rows, _ := runState(t, h, LogOptions{Index: IndexRebuild})
	assert.Equal(t, want, rows, "rows derived from git")
	for _, r := range rows {
		assert.NotEqual(t, "forged title", r.Title)
	}
	rows, _ = runState(t, h, LogOptions{})
	assert.Equal(t, want, rows, "the rebuilt index is the truth again")
}
