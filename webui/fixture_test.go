package webui

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gittest"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/sign"
)

// now is the fixture's present: Wednesday 2 December 2026, noon UTC.
var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// fixtureConfig has one freeze in the fixture's week.
const fixtureConfig = `apiVersion: "cab.dev/v1"
repository: "github.com/acme/changes"
promotion: ["staging", "prod"]
environments: {
	staging: targets: images: {type: "oci", registry: "registry.staging.example/apps"}
	prod: targets: images: {type: "oci", registry: "registry.prod.example/apps"}
}
emergency: postReviewDays: 5
freezes: [{
	name:     "december-peak"
	start:    "2026-12-04T00:00"
	end:      "2026-12-05T00:00"
	timezone: "UTC"
	reason:   "peak sales, <b>no changes</b>"
	environments: ["prod"]
}]
`

// fixtureTicket is one ticket of the fixture.
type fixtureTicket struct {
	id, title, kind, risk, service string
	envs                           []string
	start, end                     time.Time
	extra                          string // more CUE fields
}

func (f fixtureTicket) path() string { return "changes/" + f.service + "/" + f.id + ".cue" }

func (f fixtureTicket) source() string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	var envs []string
	for _, e := range f.envs {
		envs = append(envs, q(e))
	}
	return fmt.Sprintf("apiVersion: \"cab.dev/v1\"\nid: %s\ntitle: %s\nkind: %s\nrisk: %s\nowner: %s\nservice: %s\nenvironments: [%s]\nwindow: {\n\tstart: %s\n\tend: %s\n}\n%s",
		q(f.id), q(f.title), q(f.kind), q(f.risk), q("team-"+f.service), q(f.service), strings.Join(envs, ", "),
		q(f.start.Format(time.RFC3339)), q(f.end.Format(time.RFC3339)), f.extra)
}

// fixtureTickets: one ticket per board column, plus holds.
var fixtureTickets = []fixtureTicket{
	{id: "CHG-2026-0001", title: `Promote payments <script>alert("x")</script>`, kind: "normal", risk: "high", service: "payments", envs: []string{"staging", "prod"},
		start: now.Add(-26 * time.Hour), end: now.Add(-22 * time.Hour),
		extra: "links: {runbook: \"javascript:alert(1)\", dashboard: \"https://grafana.example/d/pay\"}\ndescription: \"line one\\nline, two; three\"\n"},
	{id: "CHG-2026-0002", title: "Reindex search", kind: "standard", risk: "low", service: "search", envs: []string{"prod"},
		start: now.Add(40 * time.Hour), end: now.Add(44 * time.Hour)},
	{id: "CHG-2026-0003", title: "Rotate payments keys", kind: "normal", risk: "medium", service: "payments", envs: []string{"staging", "prod"},
		start: now.Add(-time.Hour), end: now.Add(3 * time.Hour), extra: "dependsOn: [\"CHG-2026-0001\"]\n"},
	{id: "CHG-2026-0004", title: "Hotfix ingress timeouts", kind: "emergency", risk: "critical", service: "platform", envs: []string{"prod"},
		start: now.Add(-6 * 24 * time.Hour), end: now.Add(-6*24*time.Hour + time.Hour),
		extra: "incident: {id: \"INC-7\", url: \"https://status.example/INC-7\"}\n"},
	{id: "CHG-2026-0005", title: "Bump search replicas", kind: "normal", risk: "low", service: "search", envs: []string{"staging"},
		start: now.Add(24 * time.Hour), end: now.Add(25 * time.Hour)},
	{id: "CHG-2026-0006", title: "Search cache warmup", kind: "normal", risk: "low", service: "search", envs: []string{"staging"},
		start: now.Add(-2 * time.Hour), end: now.Add(2 * time.Hour)},
	{id: "CHG-2026-0007", title: "Tune payments pool", kind: "standard", risk: "low", service: "payments", envs: []string{"staging"},
		start: now.Add(-30 * time.Minute), end: now.Add(90 * time.Minute)},
}

// fixtureRepo writes a change repository whose tickets are merged
// through pull requests (merge commits), and a ledger telling what
// happened to them, and returns its directory.
func fixtureRepo(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	g := func(at time.Time, args ...string) string {
		t.Helper()
		t.Setenv("GIT_AUTHOR_DATE", at.Format(time.RFC3339))
		t.Setenv("GIT_COMMITTER_DATE", at.Format(time.RFC3339))
		return gittest.Git(t, dir, append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.com",
			"-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"}, args...)...)
	}
	gittest.Git(t, dir, "init", "-q", "-b", "main")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cab.cue"), []byte(fixtureConfig), 0o644))
	g(now, "add", "cab.cue")
	g(now, "commit", "-q", "-m", "Initial commit")
	merges := map[string]string{}
	for i, ft := range fixtureTickets {
		branch := fmt.Sprintf("pr-%d", i+1)
		g(now, "checkout", "-q", "-b", branch)
		p := filepath.Join(dir, ft.path())
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(ft.source()), 0o644))
		g(now, "add", ".")
		g(now, "commit", "-q", "-m", "Add "+ft.id)
		g(now, "checkout", "-q", "main")
		g(now, "merge", "-q", "--no-ff", "-m", fmt.Sprintf("Merge pull request #%d from dev/%s", i+1, branch), branch)
		merges[ft.id] = g(now, "rev-parse", "HEAD")
	}

	repo, err := git.PlainOpen(dir)
	require.NoError(t, err)
	signed := func(id string, at time.Time, envs ...string) ledger.Event {
		var ft fixtureTicket
		for _, x := range fixtureTickets {
			if x.id == id {
				ft = x
			}
		}
		p := sign.Predicate{ID: id, MergeCommit: merges[id], PR: 1, Author: "github:1001", Environments: envs,
			Approvals:  []model.Approval{{ID: "github:1002", Login: "bob", At: at.Add(-time.Hour).Format(time.RFC3339)}},
			Repository: "github.com/acme/changes", SignedAt: at}
		payload, err := json.Marshal(sign.NewStatement(ft.path(), strings.Repeat("ab", 32), p))
		require.NoError(t, err)
		env, err := json.Marshal(map[string]any{"payloadType": sign.PayloadType, "payload": base64.StdEncoding.EncodeToString(payload),
			"signatures": []map[string]string{{"keyid": "SHA256:test", "sig": "AAAA"}}})
		require.NoError(t, err)
		d, _ := json.Marshal(map[string]string{"path": ft.path(), "keyid": "SHA256:test"})
		return ledger.Event{Ticket: id, Kind: ledger.KindSigned, At: at, Actor: "ci/sign", Commit: merges[id], Data: d, Envelope: env}
	}
	ev := func(id, env, kind string, at time.Time, data string) ledger.Event {
		e := ledger.Event{Ticket: id, Env: env, Kind: kind, At: at, Actor: "reconciler"}
		if data != "" {
			e.Data = json.RawMessage(data)
		}
		return e
	}
	day := 24 * time.Hour
	events := []ledger.Event{
		signed("CHG-2026-0001", now.Add(-3*day), "staging", "prod"),
		ev("CHG-2026-0001", "staging", ledger.KindApplying, now.Add(-26*time.Hour), ""),
		ev("CHG-2026-0001", "staging", ledger.KindApplied, now.Add(-26*time.Hour+time.Minute), `{"changes":["images: sha256:1111 -> sha256:2222"]}`),
		ev("CHG-2026-0001", "staging", ledger.KindVerified, now.Add(-25*time.Hour), ""),
		ev("CHG-2026-0001", "prod", ledger.KindApplying, now.Add(-24*time.Hour), ""),
		ev("CHG-2026-0001", "prod", ledger.KindApplied, now.Add(-24*time.Hour+time.Minute), ""),
		ev("CHG-2026-0001", "prod", ledger.KindFailed, now.Add(-24*time.Hour+5*time.Minute), `{"reason":"postcheck p99 latency 0.41 > 0.25 <img src=x>","step":"postchecks"}`),
		ev("CHG-2026-0001", "prod", ledger.KindRolledBack, now.Add(-24*time.Hour+7*time.Minute), `{"reason":"restored sha256:1111"}`),
		signed("CHG-2026-0002", now.Add(-day), "prod"),
		ev("CHG-2026-0002", "prod", ledger.KindScheduled, now.Add(-day+time.Minute), `{"reason":"frozen: december-peak","cause":"freeze:december-peak"}`),
		signed("CHG-2026-0003", now.Add(-2*time.Hour), "staging", "prod"),
		ev("CHG-2026-0003", "staging", ledger.KindApplying, now.Add(-time.Hour), ""),
		signed("CHG-2026-0004", now.Add(-6*day), "prod"),
		ev("CHG-2026-0004", "prod", ledger.KindApplying, now.Add(-6*day+time.Minute), ""),
		ev("CHG-2026-0004", "prod", ledger.KindApplied, now.Add(-6*day+2*time.Minute), ""),
		ev("CHG-2026-0004", "prod", ledger.KindVerified, now.Add(-6*day+3*time.Minute), ""),
		signed("CHG-2026-0006", now.Add(-3*time.Hour), "staging"),
		ev("CHG-2026-0006", "staging", ledger.KindScheduled, now.Add(-2*time.Hour), `{"reason":"search burns its error budget (burn rate 0.03 > 0.0144)","cause":"budget:search"}`),
		signed("CHG-2026-0007", now.Add(-time.Hour), "staging"),
	}
	_, err = ledger.Open(repo, "", "").Update(context.Background(), func(*ledger.Log) ([]ledger.Event, error) { return events, nil })
	require.NoError(t, err)
	return dir
}
