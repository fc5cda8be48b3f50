package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleIndex is an index using every field the format records.
func sampleIndex() *logIndex {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	h1, h2 := plumbing.NewHash(strings.Repeat("1", 40)), plumbing.NewHash(strings.Repeat("2", 40))
	return &logIndex{mainRead: true, head: h1, chain: []plumbing.Hash{h1, h2},
		merges: []*mergeRec{{Commit: h1, Parent: h2, Time: at, Author: "a@example.com", PR: 7, OpenedKnown: true, Opened: at,
			Tickets: []ticketRec{{Path: "changes/s/CHG-2026-0001.cue", Mode: 0o100644, Blob: h2, ID: "CHG-2026-0001", Service: "s",
				MetaRead: true, Title: "t", Kind: "normal", Risk: "low", Owner: "o", Environments: []string{"staging", "prod"}}, {Path: "p"}}}},
		ledgerRef: "refs/heads/cab/ledger",
		ledger: &ledgerView{Head: h2, Tree: h1, Problems: []string{"x"}, Tickets: []*ledgerTicket{{ID: "CHG-2026-0001", Tree: h2,
			Problems: []string{"gap"}, Events: []ledgerEvent{{Seq: 1, Kind: "signed", At: at, Actor: "ci", Commit: "c", Reason: "r",
				Signed: &signedInfo{PR: 7, Author: "github:1", Approvals: []approval{{ID: "github:2", Login: "b", At: at}}, SignedAt: at,
					Repository: "github.com/a/b", Environments: []string{"prod"}, KeyID: "k"}}}}}},
		notes: []Problem{{Ticket: "CHG-2026-0001", What: ProblemLedgerRewritten, Message: "m"}},
	}
}

// The bytes of an index of version 8 are fixed: an index written by an
// earlier cab of the same version reads back (and stays warm), and a
// change of what the scan records shows here, with indexVersion to bump.
func TestIndexGolden(t *testing.T) {
	idx := sampleIndex()
	got := encodeIndex(idx)
	goldenFile(t, "index-v8.idx", got)
	back, err := decodeIndex(got)
	require.NoError(t, err)
	assert.Empty(t, compareIndex(back, idx))
	assert.Equal(t, idx.notes, back.notes)
	assert.Equal(t, idx.ledgerRef, back.ledgerRef)
}
