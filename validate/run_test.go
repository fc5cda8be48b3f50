package validate

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/internal/race"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/policy"
)

// slowPolicy takes far longer than any budget for tickets whose id ends
// in the given digit, and is instant for the others.
func slowPolicy(digit string) string {
	return `package policy
import "list"
_slow: input.ticket.id =~ "` + digit + `$"
deny: [if _slow for i in list.Range(0, 100000000, 1) if i < 0 {"never"}]
`
}

// memoryPolicy doubles a string until it exhausts any memory budget.
func memoryPolicy() string {
	var b strings.Builder
	b.WriteString("package policy\n_s0: input.ticket.id + input.ticket.id\n")
	for i := 1; i <= 34; i++ {
		fmt.Fprintf(&b, "_s%d: _s%d + _s%d\n", i, i-1, i-1)
	}
	b.WriteString("deny: [if len(_s34) < 0 {\"never\"}]\n")
	return b.String()
}

func tickets(n int) []File {
	var out []File
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("CHG-2026-%04d", i)
		out = append(out, File{Name: "changes/payments/" + id + ".cue", Source: []byte(ticket(map[string]string{"id": `"` + id + `"`}))})
	}
	return out
}

func job(policies map[string]string) Job {
	j := Job{Config: &File{Name: "cab.cue", Source: []byte(testConfig)}, Mode: policy.Local, Now: before}
	for _, p := range policy.Defaults() {
		j.Policies = append(j.Policies, File{Name: p.Name, Source: p.Source})
	}
	for name, src := range policies {
		j.Policies = append(j.Policies, File{Name: name, Source: []byte(src)})
	}
	return j
}

func TestRunSandboxed(t *testing.T) {
	var calls []int
	res, setup, err := Run(context.Background(), job(nil), tickets(5), Limits{}, func(done, total int) {
		assert.Equal(t, 5, total)
		calls = append(calls, done)
	})
	require.NoError(t, err)
	assert.Empty(t, setup)
	require.Len(t, res, 5)
	for i, r := range res {
		assert.Equal(t, fmt.Sprintf("CHG-2026-%04d", i+1), r.ID, "results keep ticket order")
		assert.Zero(t, r.Diags.Errors(), "%v", r.Diags)
	}
	assert.Equal(t, []int{1, 2, 3, 4, 5}, calls)
}

// A ticket whose policy evaluation never ends is a failed check naming the
// ticket and the policy; the others still get their verdict.
func TestRunTimeBudget(t *testing.T) {
	// The budget is generous (a loaded machine evaluates the default
	// policies slowly); the slow policy never ends, whatever the budget.
	limits := Limits{Ticket: 5 * time.Second, Workers: 2}
	res, setup, err := Run(context.Background(), job(map[string]string{"policy/zz-slow.cue": slowPolicy("3")}), tickets(4), limits, nil)
	require.NoError(t, err)
	assert.Empty(t, setup)
	require.Len(t, res, 4)
	for i, r := range res {
		if i == 2 {
			require.Len(t, r.Diags, 1, "%v", r.Diags)
			d := r.Diags[0]
			assert.Equal(t, "changes/payments/CHG-2026-0003.cue", d.File)
			assert.Equal(t, "budget", d.Code)
			assert.Contains(t, d.Message, "evaluating policy policy/zz-slow.cue exceeded the time budget (5s)")
			assert.Equal(t, "policy/zz-slow.cue", d.Rule)
			continue
		}
		assert.Zero(t, r.Diags.Errors(), "ticket %d: %v", i+1, r.Diags)
		assert.NotEmpty(t, r.ID)
	}
}

// A policy that exhausts memory kills only the child: the caller gets a
// diagnostic, not a crash.
func TestRunMemoryBudget(t *testing.T) {
	if race.Enabled {
		t.Skip("race builds run without a memory limit; make test runs this test without -race")
	}
	limits := Limits{Memory: 256 << 20, Workers: 1, Ticket: 20 * time.Second}
	res, _, err := Run(context.Background(), job(map[string]string{"policy/zz-mem.cue": memoryPolicy()}), tickets(1), limits, nil)
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.Len(t, res[0].Diags, 1, "%v", res[0].Diags)
	assert.Contains(t, res[0].Diags[0].Message, "evaluating policy policy/zz-mem.cue exceeded the memory budget (256 MiB)")
}

// A policy that blows the budget on every ticket is left out after a few
// strikes, so a hostile policy cannot make a check take N x budget.
func TestRunStrikesOutHostilePolicy(t *testing.T) {
	limits := Limits{Ticket: 2 * time.Second, Workers: 1, Strikes: 2}
	start := time.Now()
	res, setup, err := Run(context.Background(), job(map[string]string{"policy/zz-slow.cue": slowPolicy("")}), tickets(6), limits, nil)
	require.NoError(t, err)
	// Without strikes the six tickets would take six budgets, one after
	// the other; with them two budgets and four quick evaluations.
	assert.Less(t, time.Since(start), 6*limits.Ticket)
	require.Len(t, setup, 1)
	assert.Equal(t, "policy/zz-slow.cue", setup[0].File)
	assert.Contains(t, setup[0].Message, "exceeded the time budget on 2 tickets; it was left out")
	budget := 0
	for _, r := range res {
		if len(r.Diags) > 0 && r.Diags[0].Code == "budget" {
			budget++
		}
	}
	assert.Equal(t, 2, budget, "only the tickets that struck are blamed")
}

// A policy that blows the budget while compiling is reported on the
// policy file and the tickets are still judged by the others.
func TestRunSetupBudget(t *testing.T) {
	if race.Enabled {
		t.Skip("race builds run without a memory limit; make test runs this test without -race")
	}
	hostile := "package policy\nimport \"list\"\n_n: len([for i in list.Range(0, 100000000, 1) {i}])\ndeny: [if _n < 0 {\"x\"}]\n"
	limits := Limits{Setup: 10 * time.Second, Ticket: 10 * time.Second, Memory: 256 << 20}
	res, setup, err := Run(context.Background(), job(map[string]string{"policy/zz-setup.cue": hostile}), tickets(2), limits, nil)
	require.NoError(t, err)
	require.Len(t, setup, 1, "%v", setup)
	assert.Equal(t, "policy/zz-setup.cue", setup[0].File)
	assert.Regexp(t, `compiling exceeded the (time|memory) budget`, setup[0].Message)
	for _, r := range res {
		assert.NotEmpty(t, r.ID)
		assert.Zero(t, r.Diags.Errors(), "%v", r.Diags)
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := Run(ctx, job(nil), tickets(1), Limits{}, nil)
	require.ErrorIs(t, err, context.Canceled)
}

// bombPolicy never finishes once it sees a ticket; it compiles instantly.
const bombPolicy = `package policy
import "list"
deny: [for i in list.Range(0, len(input.ticket.id)*100000000, 1) if i < 0 {"never"}]
`

// spinPolicy spins once it sees a ticket, allocating little: its budget
// is time, not memory.
const spinPolicy = `package policy
import "list"
_r: list.Range(0, len(input.ticket.id)*100, 1)
deny: [for i in _r for j in _r for k in _r if i+j+k < 0 {"never"}]
`

// compileBombPolicy blows its budget while it is compiled.
const compileBombPolicy = "package policy\nimport \"list\"\n_n: len([for i in list.Range(0, 1000000000, 1) {i}])\ndeny: [if _n < 0 {\"x\"}]\n"

// A hostile policy in a pull request fails the check within the check's
// total budget, compile included, with the policy named: as a governance
// change (the head's new rules are tried on a sample ticket), and as the
// base's rules meeting many tickets.
func TestCheckPRHostilePolicy(t *testing.T) {
	limits := Limits{Ticket: time.Second, Setup: 2 * time.Second, Total: 4 * time.Second, Strikes: 100, Memory: 256 << 20}
	var six map[string]*entry
	six = map[string]*entry{}
	for i := 2; i < 8; i++ {
		id := fmt.Sprintf("CHG-2026-%04d", i)
		six["changes/payments/"+id+".cue"] = ptr(file(idTicket(id, map[string]string{"window": laterWindow, "environments": `["staging"]`})))
	}
	tests := []struct {
		name string
		// base and head add files to baseFiles on main and on the PR.
		base, head map[string]*entry
		policy     string // the policy file to be named
		budget     string // a regular expression its diagnostic matches
		// memory: the policy must hit the memory budget. Its time budgets
		// are wide so that a loaded machine cannot make time trip first.
		memory bool
	}{
		{name: "governance change, bomb on evaluation", policy: "policy/zz-bomb.cue", budget: `evaluating the new policy policy/zz-bomb.cue exceeded the (time|memory) budget .*, on a sample ticket`,
			head: map[string]*entry{"policy/zz-bomb.cue": ptr(file(bombPolicy))}},
		{name: "governance change, bomb on compile", policy: "policy/zz-bomb.cue", budget: `compiling exceeded the (time|memory) budget`,
			head: map[string]*entry{"policy/zz-bomb.cue": ptr(file(compileBombPolicy))}},
		{name: "governance change, string doubling", policy: "policy/zz-mem.cue", budget: "evaluating the new policy policy/zz-mem.cue exceeded the memory budget", memory: true,
			head: map[string]*entry{"policy/zz-mem.cue": ptr(file(memoryPolicy()))}},
		{name: "base rules meet six tickets", policy: "policy/zz-bomb.cue", budget: `not evaluated: this check already lost its total budget \(4s\) .*\(policy/zz-bomb.cue\)`,
			base: map[string]*entry{"policy/zz-bomb.cue": ptr(file(spinPolicy))}, head: six},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.memory && race.Enabled {
				t.Skip("race builds run without a memory limit")
			}
			g := newGitRepo(t)
			files := with(baseFiles(), tc.base)
			b := g.commit("main", plumbing.ZeroHash, files)
			h := g.commit("pr", b, with(files, tc.head))
			limits := limits
			if tc.memory {
				limits.Ticket, limits.Setup, limits.Total = time.Minute, time.Minute, 2*time.Minute
			}
			start := time.Now()
			rep, err := CheckPR(context.Background(), PROptions{Dir: g.dir, Base: "main", Head: "pr", Evidence: bound(approvedBy("github:1", "github:2", "github:5", "github:6"), h), Now: before, Limits: limits})
			require.NoError(t, err)
			// Not a ceiling on a loaded machine: only a guard against a
			// hang. The proof of the bound is the budget diagnostics.
			assert.Less(t, time.Since(start), limits.Total+2*time.Minute)
			var named, budget bool
			for _, d := range rep.Diagnostics {
				if d.Code != "budget" {
					continue
				}
				assert.Equal(t, diag.Error, d.Severity)
				named = named || d.File == tc.policy || d.Rule == tc.policy
				budget = budget || regexp.MustCompile(tc.budget).MatchString(d.Message)
			}
			assert.True(t, named, "a budget diagnostic names %s: %v", tc.policy, rep.Diagnostics)
			assert.True(t, budget, "a budget diagnostic says %q: %v", tc.budget, rep.Diagnostics)
			assert.Positive(t, rep.Errors())
		})
	}
}
