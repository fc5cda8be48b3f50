package audit

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hand-written JSON of cab log's rows must be what encoding/json
// writes: the same document whichever encoder made it.
func TestChangeJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	for name, c := range map[string]*Change{
		"zero":        {},
		"empty lists": {Approvers: []string{}, Environments: []EnvOutcome{}},
		"full": {ID: "CHG-2026-0001", Title: "a \"quoted\", <html> & \\ title\n\t\u2028\x01\xff", Service: "s", Kind: "normal", Risk: "low",
			Owner: "o", Path: "changes/s/CHG-2026-0001.cue", Author: "github:1", Approvers: []string{"github:2", "ü"}, PR: 42,
			PRURL: "https://x/pull/42", MergeCommit: "abc", CommitURL: "https://x/commit/abc", MergedAt: at, OpenedAt: at.Add(-time.Hour),
			ApprovedAt: at.Add(-time.Minute), Signature: "signed", SignedBy: "ci", SignedAt: at.Add(time.Minute), SignedKey: "k",
			Environments: []EnvOutcome{{Env: "staging", Outcome: "verified", At: at, Applying: at, Applied: at, Verified: at,
				Failed: at, RolledBack: at, RollbackFailed: at, Reason: "why"}, {Env: "prod", Outcome: "pending"}},
			Outcome: "in-progress", Problems: []string{"p1", "p2"}},
	} {
		t.Run(name, func(t *testing.T) {
			want, err := json.MarshalIndent(c, "    ", "  ")
			require.NoError(t, err)
			assert.Equal(t, string(want), string(appendChange(nil, "    ", c)))
		})
	}
	e := &EventRow{Ticket: "CHG-2026-0001", Title: "t<", Service: "s", Seq: 3, Kind: "failed", Env: "prod", At: at, Actor: "a", Commit: "c", Reason: "r\n"}
	want, err := json.MarshalIndent(e, "    ", "  ")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(appendEvent(nil, "    ", e)))
}

func FuzzChangeJSON(f *testing.F) {
	f.Add("CHG-2026-0001", "title", "github:1", "reason", int64(3), int64(1700000000))
	f.Add("", "\x00\xff\u2028<>&\"\\", "", "\t\r\n", int64(0), int64(-62135596800))
	f.Fuzz(func(t *testing.T, id, title, who, reason string, pr, sec int64) {
		at := time.Unix(sec%253402300799, 0).UTC()
		c := &Change{ID: id, Title: title, Author: who, Approvers: []string{who, title}, PR: pr, MergedAt: at, SignedAt: at,
			Environments: []EnvOutcome{{Env: id, Outcome: reason, Reason: reason, Applied: at}}, Problems: []string{reason}}
		want, err := json.MarshalIndent(c, "    ", "  ")
		if err != nil {
			t.Skip() // a time encoding/json refuses
		}
		if got := appendChange(nil, "    ", c); string(got) != string(want) {
			t.Fatalf("got\n%s\nwant\n%s", got, want)
		}
	})
}

func TestLogWriterEscapes(t *testing.T) {
	c := &Change{ID: "CHG-2026-0001", Title: "=HYPERLINK(\"http://x\"), \"quoted\"\nsecond line", Service: "s", Approvers: []string{"@a", "b"},
		Author: "-1+2", MergedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Environments: []EnvOutcome{{Env: "prod", Outcome: "pending"}}}
	var csvOut, table strings.Builder
	lw, err := NewLogWriter(&csvOut, "csv", false)
	require.NoError(t, err)
	require.NoError(t, lw.WriteChange(c))
	require.NoError(t, lw.Finish(&LogResult{}))
	records, err := csv.NewReader(strings.NewReader(csvOut.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 2)
	row := map[string]string{}
	for i, k := range records[0] {
		row[k] = records[1][i]
	}
	assert.Equal(t, "'=HYPERLINK(\"http://x\"), \"quoted\"\nsecond line", row["title"], "commas, quotes and newlines kept; no formula")
	assert.Equal(t, "'-1+2", row["author"])
	assert.Equal(t, "'@a b", row["approvers"])
	assert.Equal(t, "2026-01-02T03:04:05Z", row["mergedAt"])

	lw, err = NewLogWriter(&table, "table", false)
	require.NoError(t, err)
	lw.Wide = true
	require.NoError(t, lw.WriteChange(c))
	require.NoError(t, lw.Finish(&LogResult{}))
	lines := strings.Split(strings.TrimSuffix(table.String(), "\n"), "\n")
	require.Len(t, lines, 2, "one line per row: %q", table.String())
	assert.True(t, strings.HasSuffix(lines[1], `=HYPERLINK("http://x"), "quoted" second line`), lines[1])

	// The default table: two lines per row, whatever the title holds.
	var narrow strings.Builder
	lw, err = NewLogWriter(&narrow, "table", false)
	require.NoError(t, err)
	require.NoError(t, lw.WriteChange(c))
	require.NoError(t, lw.Finish(&LogResult{}))
	lines = strings.Split(strings.TrimSuffix(narrow.String(), "\n"), "\n")
	require.Len(t, lines, 4, "a two-line header and two lines per row: %q", narrow.String())
	assert.True(t, strings.HasSuffix(lines[3], `=HYPERLINK("http://x"), "quoted" second line`), lines[3])

	_, err = NewLogWriter(&table, "xml", false)
	assert.Error(t, err)
}
