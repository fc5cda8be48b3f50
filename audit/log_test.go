package audit

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/sign"
)

// logRows runs Log over the repository in dir and returns the rows.
func logRows(t *testing.T, dir string, o LogOptions) ([]*Change, *LogResult) {
	t.Helper()
	o.Dir = dir
	var rows []*Change
	res, err := Log(context.Background(), o, func(c *Change) error { rows = append(rows, c); return nil })
	require.NoError(t, err)
	return rows, res
}

func ids(rows []*Change) []string {
	out := []string{}
	for _, c := range rows {
		out = append(out, c.ID)
	}
	return out
}

// render runs Log (or LogEvents) and renders it in format ("wide": the
// table with every column in full).
func render(t *testing.T, dir, format string, events bool, o LogOptions) string {
	t.Helper()
	var buf bytes.Buffer
	wide := format == "wide"
	if wide {
		format = "table"
	}
	lw, err := NewLogWriter(&buf, format, events)
	require.NoError(t, err)
	lw.Wide = wide
	o.Dir = dir
	var res *LogResult
	if events {
		res, err = LogEvents(context.Background(), o, lw.WriteEvent)
	} else {
		res, err = Log(context.Background(), o, lw.WriteChange)
	}
	require.NoError(t, err)
	require.NoError(t, lw.Finish(res))
	return buf.String()
}

func TestLogGolden(t *testing.T) {
	h := fixture(t)
	for _, tc := range []struct {
		name   string
		format string
		events bool
		opts   LogOptions
	}{
		{"all.table", "table", false, LogOptions{}},
		{"all.wide.table", "wide", false, LogOptions{}},
		{"events.wide.table", "wide", true, LogOptions{}},
		{"all.json", "json", false, LogOptions{}},
		{"all.csv", "csv", false, LogOptions{}},
		{"reverse.table", "table", false, LogOptions{Reverse: true}},
		{"events.table", "table", true, LogOptions{}},
		{"events.json", "json", true, LogOptions{Filter: Filter{IDs: []string{"CHG-2026-0001"}, Envs: []string{"prod"}}}},
		{"events.csv", "csv", true, LogOptions{Filter: Filter{Outcomes: []string{"failed", "unsigned"}}}},
		{"empty.json", "json", false, LogOptions{Filter: Filter{IDs: []string{"CHG-1999-0001"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Cold (no index), then warm: the same output.
			cold := render(t, h.dir, tc.format, tc.events, tc.opts)
			warm := render(t, h.dir, tc.format, tc.events, tc.opts)
			assert.Equal(t, cold, warm, "warm output differs from cold")
			goldenFile(t, tc.name, []byte(cold))
			if tc.format == "table" {
				for i, line := range strings.Split(strings.TrimSuffix(cold, "\n"), "\n") {
					assert.LessOrEqual(t, utf8.RuneCountInString(line), TableWidth, "line %d fits %d columns: %q", i+1, TableWidth, line)
				}
			}
		})
	}
}

func TestLogFilters(t *testing.T) {
	h := fixture(t)
	utc := func(s string) time.Time { v, err := time.Parse(time.RFC3339, s); require.NoError(t, err); return v }
	for _, tc := range []struct {
		name   string
		filter Filter
		want   []string
	}{
		{"none", Filter{}, []string{"CHG-2026-0005", "CHG-2026-0004", "CHG-2026-0003", "CHG-2026-0002", "CHG-2026-0001"}},
		{"id", Filter{IDs: []string{"CHG-2026-0003"}}, []string{"CHG-2026-0003"}},
		{"id pattern", Filter{IDs: []string{"CHG-2026-000[12]"}}, []string{"CHG-2026-0002", "CHG-2026-0001"}},
		{"service", Filter{Services: []string{"payments"}}, []string{"CHG-2026-0003", "CHG-2026-0001"}},
		{"services", Filter{Services: []string{"search", "platform"}}, []string{"CHG-2026-0005", "CHG-2026-0004", "CHG-2026-0002"}},
		{"service and risk", Filter{Services: []string{"payments"}, Risks: []string{"high"}}, []string{"CHG-2026-0001"}},
		{"kind", Filter{Kinds: []string{"emergency", "standard"}}, []string{"CHG-2026-0004", "CHG-2026-0002"}},
		{"env", Filter{Envs: []string{"prod"}}, []string{"CHG-2026-0004", "CHG-2026-0003", "CHG-2026-0001"}},
		{"outcome", Filter{Outcomes: []string{"rolled-back", "unsigned"}}, []string{"CHG-2026-0004", "CHG-2026-0001"}},
		{"outcome pending", Filter{Outcomes: []string{"pending"}}, []string{"CHG-2026-0005"}},
		{"author identity", Filter{Authors: []string{"github:1001"}}, []string{"CHG-2026-0001"}},
		{"author without prefix", Filter{Authors: []string{"1002"}}, []string{"CHG-2026-0003", "CHG-2026-0002"}},
		{"author email of an unsigned merge", Filter{Authors: []string{"CAROL@example.com"}}, []string{"CHG-2026-0004"}},
		{"approver", Filter{Approvers: []string{"github:1003"}}, []string{"CHG-2026-0003", "CHG-2026-0001"}},
		{"approver and service", Filter{Approvers: []string{"1001"}, Services: []string{"search"}}, []string{"CHG-2026-0002"}},
		// 2026-03-31T23:30:00-02:00 is 2026-04-01T01:30:00Z: in Q2, in UTC.
		{"first quarter", Filter{Since: utc("2026-01-01T00:00:00Z"), Until: utc("2026-04-01T00:00:00Z")}, []string{"CHG-2026-0003", "CHG-2026-0002", "CHG-2026-0001"}},
		{"second quarter", Filter{Since: utc("2026-04-01T00:00:00Z"), Until: utc("2026-07-01T00:00:00Z")}, []string{"CHG-2026-0005", "CHG-2026-0004"}},
		{"since with an offset", Filter{Since: utc("2026-04-01T03:00:00+02:00")}, []string{"CHG-2026-0005", "CHG-2026-0004"}},
		{"until is inclusive", Filter{Until: utc("2026-01-05T09:00:00Z")}, []string{"CHG-2026-0001"}},
		{"since is inclusive", Filter{Since: utc("2026-04-15T12:00:00Z")}, []string{"CHG-2026-0005"}},
		{"everything combined", Filter{Services: []string{"payments"}, Kinds: []string{"normal"}, Risks: []string{"medium", "high"},
			Envs: []string{"staging"}, Approvers: []string{"1003"}, Authors: []string{"github:1002"}, Outcomes: []string{"verified"},
			Since: utc("2026-02-01T00:00:00Z"), Until: utc("2026-03-01T00:00:00Z")}, []string{"CHG-2026-0003"}},
		{"nothing matches", Filter{Services: []string{"payments"}, Kinds: []string{"emergency"}}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, mode := range []IndexMode{IndexOff, IndexUse, IndexUse} {
				rows, res := logRows(t, h.dir, LogOptions{Filter: tc.filter, Index: mode})
				assert.Equal(t, tc.want, ids(rows), "index mode %d", mode)
				assert.Equal(t, len(tc.want), res.Rows)
				assert.Equal(t, 5, res.Merged)
			}
		})
	}
}

func TestLogRows(t *testing.T) {
	h := fixture(t)
	rows, res := logRows(t, h.dir, LogOptions{})
	require.Len(t, rows, 5)
	assert.False(t, res.LedgerBroken(), "problems: %v", res.Problems)
	byID := map[string]*Change{}
	for _, c := range rows {
		byID[c.ID] = c
	}
	c1 := byID["CHG-2026-0001"]
	assert.Equal(t, `Promote "payments" 1.4.2, then 1.4.3`, c1.Title, "title from the file at the merge, not the later edit")
	assert.Equal(t, "github:1001", c1.Author)
	assert.Equal(t, []string{"github:1002", "github:1003"}, c1.Approvers)
	assert.Equal(t, int64(1), c1.PR)
	assert.Equal(t, "https://github.com/acme/changes/pull/1", c1.PRURL)
	assert.Equal(t, "signed", c1.Signature)
	assert.Equal(t, "ci/sign", c1.SignedBy)
	assert.Equal(t, "rolled-back", c1.Outcome)
	assert.Equal(t, time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), c1.MergedAt, "committed at 10:00+01:00, shown as 09:00Z")
	assert.Equal(t, time.UTC, c1.MergedAt.Location())
	assert.Equal(t, time.Date(2026, 1, 5, 7, 45, 0, 0, time.UTC), c1.ApprovedAt)
	require.Len(t, c1.Environments, 2)
	assert.Equal(t, "verified", c1.Environments[0].Outcome)
	assert.Equal(t, "rolled-back", c1.Environments[1].Outcome)
	assert.Equal(t, "restored sha256:1111", c1.Environments[1].Reason)
	assert.False(t, c1.Environments[1].Failed.IsZero())
	// The burn rates recorded around the prod apply (M10's data).
	require.NotNil(t, c1.Environments[1].BurnBefore)
	require.NotNil(t, c1.Environments[1].BurnAfter)
	assert.Equal(t, [2]float64{0.5, 2.25}, [2]float64{c1.Environments[1].BurnBefore.Value, c1.Environments[1].BurnAfter.Value})
	assert.Equal(t, "slo:burn_rate:30m", c1.Environments[1].BurnAfter.Query)
	assert.Nil(t, c1.Environments[0].BurnBefore, "staging recorded none")

	c2 := byID["CHG-2026-0002"]
	assert.Equal(t, "Reindex search\n=SUM(A1:A2), with care", c2.Title)
	assert.Equal(t, "scheduled", c2.Outcome)

	c4 := byID["CHG-2026-0004"]
	assert.Equal(t, "unsigned", c4.Signature)
	assert.Equal(t, "unsigned", c4.Outcome)
	assert.Equal(t, "carol@example.com", c4.Author, "unsigned: the commit's author")
	assert.Equal(t, time.Date(2026, 4, 1, 1, 30, 0, 0, time.UTC), c4.MergedAt)

	c5 := byID["CHG-2026-0005"]
	assert.Equal(t, int64(7), c5.PR, "squash merge (#7)")
	assert.Equal(t, "", c5.Signature)
	assert.Equal(t, "pending", c5.Outcome)
	require.NotEmpty(t, c5.Problems)
	assert.Contains(t, c5.Problems[0], "title is not a plain string")
	assert.Contains(t, res.Problems, Problem{Ticket: "CHG-2026-0005", What: ProblemTicketUnreadable,
		Message: "changes/search/CHG-2026-0005.cue: title is not a plain string"})
}

func TestLogEmptyRepository(t *testing.T) {
	h := newHistory(t)
	for _, mode := range []IndexMode{IndexUse, IndexUse, IndexOff} {
		rows, res := logRows(t, h.dir, LogOptions{Index: mode})
		assert.Empty(t, rows)
		assert.Equal(t, 0, res.Merged)
		assert.Empty(t, res.Problems)
	}
	out := render(t, h.dir, "json", false, LogOptions{})
	assert.Contains(t, out, `"changes": [],`)
	assert.Contains(t, out, `"problems": []`)
}

func TestLogNotARepository(t *testing.T) {
	_, err := Log(context.Background(), LogOptions{Dir: t.TempDir()}, func(*Change) error { return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "opening the git repository")
}

func TestLogBadRevision(t *testing.T) {
	h := fixture(t)
	_, err := Log(context.Background(), LogOptions{Dir: h.dir, Rev: "no-such-branch"}, func(*Change) error { return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), `revision "no-such-branch"`)
}

func TestLogWithoutLedger(t *testing.T) {
	h := newHistory(t)
	h.root(day, map[string]string{"cab.cue": "x"})
	h.merge(1, "Alice", day.Add(time.Hour), map[string]string{ticketFile("CHG-2026-0001", "payments"): ticketSource("CHG-2026-0001", "A", "normal", "low", "payments", "staging")})
	rows, res := logRows(t, h.dir, LogOptions{})
	require.Len(t, rows, 1)
	assert.Equal(t, "", rows[0].Signature)
	assert.Equal(t, "pending", rows[0].Outcome)
	assert.Equal(t, []EnvOutcome{{Env: "staging", Outcome: "pending"}}, rows[0].Environments)
	assert.Equal(t, strings.Repeat("0", 40), res.LedgerHead)
	assert.False(t, res.LedgerBroken())
}

// A caller that stops (a closed pipe, say) stops the walk: its error comes
// back, and the next run is served as well as ever.
func TestLogStopsWhenTheCallerDoes(t *testing.T) {
	h := randomHistory(t, 5, 150)
	stop := errors.New("stop")
	for _, o := range []LogOptions{{}, {Index: IndexOff}, {Reverse: true}} {
		n := 0
		o.Dir = h.dir
		_, err := Log(context.Background(), o, func(*Change) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
		require.ErrorIs(t, err, stop)
		assert.Equal(t, 3, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Log(ctx, LogOptions{Dir: h.dir, Index: IndexRebuild}, func(*Change) error { return nil })
	require.ErrorIs(t, err, context.Canceled)

	want, _ := logRows(t, h.dir, LogOptions{Index: IndexOff})
	got, _ := logRows(t, h.dir, LogOptions{})
	assert.Equal(t, want, got)
}

// A ticket removed and added again makes two rows; the ledger's events
// belong to the merge its signed event names.
func TestLogTicketAddedTwice(t *testing.T) {
	h := newHistory(t)
	h.root(day, map[string]string{"cab.cue": "x"})
	p := ticketFile("CHG-2026-0001", "payments")
	first := h.merge(1, "Alice", day.Add(time.Hour), map[string]string{p: ticketSource("CHG-2026-0001", "First", "normal", "low", "payments", "staging")})
	h.push("Bob", day.Add(2*time.Hour), "Remove it\n", map[string]string{p: ""})
	second := h.merge(2, "Carol", day.Add(3*time.Hour), map[string]string{p: ticketSource("CHG-2026-0001", "Second", "normal", "low", "payments", "staging")})
	h.appendLedger(ledger.Event{Ticket: "CHG-2026-0001", Kind: ledger.KindSigned, At: day.Add(90 * time.Minute), Actor: "ci", Commit: first.String(),
		Envelope: envelope(t, p, sign.Predicate{ID: "CHG-2026-0001", MergeCommit: first.String(), Author: "github:1"})})
	for _, mode := range []IndexMode{IndexOff, IndexUse, IndexUse} {
		rows, _ := logRows(t, h.dir, LogOptions{Index: mode})
		require.Len(t, rows, 2)
		assert.Equal(t, second.String(), rows[0].MergeCommit)
		assert.Equal(t, "Second", rows[0].Title)
		assert.Equal(t, "", rows[0].Signature, "the signature is the first merge's")
		assert.Equal(t, "First", rows[1].Title)
		assert.Equal(t, "signed", rows[1].Signature)
	}
}

func TestElide(t *testing.T) {
	for _, tc := range []struct {
		name  string
		items []string
		n     int
		want  string
	}{
		{"none", nil, 14, "-"},
		{"all fit", []string{"github:1", "github:2"}, 20, "github:1,github:2"},
		{"some fit", []string{"github:1001", "github:1002", "github:1003"}, 16, "github:1001,+2"},
		{"first too long", []string{"git:someone-long@example.com", "git:b@example.com"}, 14, "git:someon…,+1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := elideList(tc.items, tc.n)
			assert.Equal(t, tc.want, got)
			assert.LessOrEqual(t, utf8.RuneCountInString(got), tc.n)
		})
	}
	assert.Equal(t, "abc…", elide("abcdef", 4))
	assert.Equal(t, "ci/sign[7YHzhPQG]", narrowSigner("ci/sign", "SHA256:7YHzhPQG2ShQBkBqllJBQHvpHU8X60ihoH6dYW48+Y8"))
	assert.Equal(t, []string{"postcheck p99", "latency: 0.41 >", "0.25"}, wrap("postcheck p99 latency: 0.41 > 0.25", 16))
}
