package validate

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/diag"
)

// sharedPRs is a base whose rules include a policy that blows the time
// budget on tickets whose id ends in 7, and pull requests on it that
// differ in review, time and tickets: each must get the verdict CheckPR
// gives it alone.
func sharedPRs(t *testing.T, limits Limits, hostile bool) []PROptions {
	t.Helper()
	g := newGitRepo(t)
	files := with(baseFiles(), map[string]*entry{"policy/zz-slow.cue": ptr(file(slowPolicy("7")))})
	base := g.commit("main", plumbing.ZeroHash, files)
	add := func(ids ...string) map[string]*entry {
		m := map[string]*entry{}
		for _, id := range ids {
			m["changes/payments/"+id+".cue"] = ptr(file(idTicket(id, map[string]string{"window": laterWindow})))
		}
		return m
	}
	prs := []struct {
		ids    []string
		review bool
		now    time.Time
	}{
		{ids: []string{"CHG-2026-0002"}, review: true, now: before},
		{ids: []string{"CHG-2026-0003"}, review: false, now: before.Add(time.Hour)},                       // no approvals: fails
		{ids: []string{"CHG-2026-0004", "CHG-2026-0005"}, review: true, now: before.Add(time.Minute)},     // two tickets
		{ids: []string{"CHG-2026-0006"}, review: true, now: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)}, // after its window
		{ids: []string{"CHG-2026-0008"}, review: true, now: before.Add(2 * time.Hour)},
	}
	if hostile {
		prs[2].ids = []string{"CHG-2026-0004", "CHG-2026-0007"} // 0007 blows the budget
	}
	var out []PROptions
	for i, pr := range prs {
		h := g.commit(fmt.Sprintf("pr%d", i), base, with(files, add(pr.ids...)))
		var ev = bound(approvedBy("github:1", "github:2"), h)
		if !pr.review {
			ev = nil
		}
		out = append(out, PROptions{Dir: g.dir, Base: "main", Head: h.String(), Evidence: ev, Now: pr.now, Limits: limits})
	}
	return out
}

// TestCheckPRsSharesOneChild: pull requests judged by the same rules are
// evaluated in one child, each ticket in the context of its own pull
// request (review, time, changed files), and every report is the one
// CheckPR gives.
func TestCheckPRsSharesOneChild(t *testing.T) {
	ctx := context.Background()
	limits := Limits{Ticket: 20 * time.Second, Workers: 2}
	opts := sharedPRs(t, limits, false)

	checks := make([]*prCheck, len(opts))
	group := make([]int, len(opts))
	for i, o := range opts {
		c, err := preparePR(o)
		require.NoError(t, err)
		checks[i], group[i] = c, i
		assert.Equal(t, checks[0].rep.RulesDigest, c.rep.RulesDigest)
	}
	results := make([][]Result, len(checks))
	setups := make([]diag.List, len(checks))
	judged := make([]bool, len(checks))
	children, err := shared(ctx, checks, group, results, setups, judged, new(int))
	require.NoError(t, err)
	assert.Equal(t, 1, children, "five pull requests with the same rules share one child")
	assert.Equal(t, []bool{true, true, true, true, true}, judged)

	reports, err := CheckPRs(ctx, opts)
	require.NoError(t, err)
	require.Len(t, reports, len(opts))
	for i, o := range opts {
		alone, err := CheckPR(ctx, o)
		require.NoError(t, err)
		assert.Equal(t, alone.Diagnostics, reports[i].Diagnostics, "pull request %d", i)
		assert.Equal(t, alone.Tickets, reports[i].Tickets, "pull request %d", i)
		assert.Equal(t, alone.RulesDigest, reports[i].RulesDigest)
	}
	// Cut into chunks of at most two tickets, sent to the evaluation while
	// the next pull requests are prepared: the same reports.
	defer func(n int) { maxShared = n }(maxShared)
	maxShared = 2
	chunked, err := CheckPRs(ctx, opts)
	require.NoError(t, err)
	for i := range opts {
		assert.Equal(t, reports[i].Diagnostics, chunked[i].Diagnostics, "pull request %d", i)
		assert.Equal(t, reports[i].Tickets, chunked[i].Tickets, "pull request %d", i)
	}
	// The contexts made a difference: not every verdict is the same.
	assert.Zero(t, reports[0].Errors(), "approved, in its window: %v", reports[0].Diagnostics)
	assert.Positive(t, reports[1].Errors(), "no approvals")
	assert.Len(t, reports[2].Tickets, 2, "both tickets of one pull request judged")
	assert.NotEqual(t, reports[3].Diagnostics, reports[4].Diagnostics)
}

// TestCheckPRsHostileTicketFailsOnlyItsPullRequest: a ticket that makes
// a policy blow its budget fails its own pull request, with the policy
// named, as CheckPR fails it, and every other pull request sharing the
// child keeps the verdict it has alone.
func TestCheckPRsHostileTicketFailsOnlyItsPullRequest(t *testing.T) {
	ctx := context.Background()
	limits := Limits{Ticket: 3 * time.Second, Workers: 2, Strikes: 100}
	opts := sharedPRs(t, limits, true)
	reports, err := CheckPRs(ctx, opts)
	require.NoError(t, err)
	require.Len(t, reports, len(opts))

	budget := func(rep *Report) []diag.Diagnostic {
		var out []diag.Diagnostic
		for _, d := range rep.Diagnostics {
			if d.Code == "budget" {
				out = append(out, d)
			}
		}
		return out
	}
	hostile := budget(reports[2])
	require.Len(t, hostile, 1, "%v", reports[2].Diagnostics)
	assert.Equal(t, "changes/payments/CHG-2026-0007.cue", hostile[0].File)
	assert.Equal(t, "policy/zz-slow.cue", hostile[0].Rule)
	assert.Contains(t, hostile[0].Message, "exceeded the time budget")
	for i, o := range opts {
		if i == 2 {
			continue
		}
		assert.Empty(t, budget(reports[i]), "pull request %d", i)
		alone, err := CheckPR(ctx, o)
		require.NoError(t, err)
		assert.Equal(t, alone.Diagnostics, reports[i].Diagnostics, "pull request %d", i)
		assert.Equal(t, alone.Tickets, reports[i].Tickets, "pull request %d", i)
	}
	assert.Zero(t, reports[0].Errors(), "%v", reports[0].Diagnostics)
	// The other ticket of the hostile pull request still has its verdict.
	require.Len(t, reports[2].Tickets, 2)
	assert.NotEmpty(t, reports[2].Tickets[0].JSON, "CHG-2026-0004 was judged")
}
