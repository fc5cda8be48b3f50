package validate

import (
	"fmt"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gitx"
)

// summarizeChanges, which parses on every core, summarises each change
// exactly as summarizeEntry does one at a time: tickets, files that do
// not parse, deletions, links, and blobs over the size bound, in order.
func TestSummarizeChangesAsOneByOne(t *testing.T) {
	s := memory.NewStorage()
	blob := func(src []byte) plumbing.Hash {
		h, err := gitx.StoreBlob(s, src)
		require.NoError(t, err)
		return h
	}
	ticket := func(i int) []byte {
		return fmt.Appendf(nil, `apiVersion: "cab.dev/v1"
id: "CHG-2026-%04[1]d"
title: "Ticket %[1]d"
kind: "normal"
risk: "low"
owner: "team"
service: "svc"
environments: ["prod"]
window: {start: "2026-06-01T%02[2]d:00:00Z", end: "2026-06-02T00:00:00Z"}
actions: [{type: "oci", target: "images", image: "reg/app@sha256:%064[1]d", repository: "app-%[1]d", tag: "v%[1]d"}]
`, i, i%24)
	}
	huge := make([]byte, 2<<20)
	var cs []change
	for i := range 200 {
		c := change{Change: gitx.Change{Path: fmt.Sprintf("changes/svc/CHG-2026-%04d.cue", i), FromMode: filemode.Empty, ToMode: filemode.Regular}, s: s}
		switch i % 10 {
		case 3:
			c.To = blob([]byte("id: \"broken\n"))
		case 5:
			c.To, c.ToMode = plumbing.ZeroHash, filemode.Empty
		case 7:
			c.To, c.ToMode = blob([]byte("../../etc/passwd")), filemode.Symlink
		case 9:
			c.To = blob(huge)
		default:
			c.To = blob(ticket(i))
		}
		cs = append(cs, c)
	}
	got := summarizeChanges(cs)
	require.Len(t, got, len(cs))
	parsed := 0
	for i, c := range cs {
		want := summarizeEntry(c)
		assert.Equal(t, want, got[i], c.Path)
		if want != nil {
			parsed++
		}
	}
	assert.Equal(t, 120, parsed, "the tickets parse, the rest do not")
}
