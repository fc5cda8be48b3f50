package validate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/policy"
)

const testConfig = `apiVersion: "cab.dev/v1"
promotion: ["staging", "prod"]
environments: {
	staging: {prometheus: "https://prometheus.staging.example.com", targets: {images: {type: "oci", registry: "registry.staging.example.com"}}}
	prod: {
		protected: true, prometheus: "https://prometheus.example.com"
		targets: {images: {type: "oci", registry: "registry.example.com"}, hooks: {type: "http", url: "https://hooks.example.com"}}
	}
}
approvers: {
	pay: members: ["github:1", "github:2", "github:3", "github:4"]
	"pay-oncall": members: ["github:9"]
	sre: members: ["github:20", "github:2", "github:21"]
}
services: payments: {approvers: "pay", oncall: "pay-oncall"}
approvalSLA: {
	risk: {low: "72h", medium: "24h", high: "4h", critical: "1h"}
	backup: "pay-oncall"
	escalateAfter: "2h"
	services: payments: {risk: medium: "1h", backup: "sre"}
}
freezes: [{name: "year-end", start: "2026-12-20T00:00", end: "2027-01-04T00:00", timezone: "Europe/Berlin"}]
templates: bump: {maxRisk: "low", approvals: 0, actionTypes: ["oci"]}
`

// ticket renders a valid prod ticket; fields overrides whole lines by key.
func ticket(fields map[string]string) string {
	lines := []struct{ k, v string }{
		{"apiVersion", `"cab.dev/v1"`},
		{"id", `"CHG-2026-0042"`},
		{"title", `"Promote payments 1.4.2"`},
		{"kind", `"normal"`},
		{"risk", `"high"`},
		{"owner", `"team-payments"`},
		{"service", `"payments"`},
		{"environments", `["staging", "prod"]`},
		{"window", `{start: "2026-12-01T22:00:00Z", end: "2026-12-01T23:00:00Z"}`},
		{"actions", `[{type: "oci", target: "images", image: "ghcr.io/acme/payments@sha256:` + strings.Repeat("ab", 32) + `", tag: "payments"}]`},
		{"prechecks", `[{type: "http", url: "https://payments.example.com/healthz"}]`},
		{"postchecks", `[{type: "prometheus", query: "errors", op: "<", threshold: 1}]`},
		{"rollback", `{auto: true}`},
	}
	var b strings.Builder
	for _, l := range lines {
		v, ok := fields[l.k]
		if !ok {
			v = l.v
		}
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", l.k, v)
		}
	}
	for k, v := range fields {
		if !strings.Contains(b.String(), k+":") && v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	return b.String()
}

// opened returns r as proposed ago before the test's time.
func opened(r *model.Review, ago time.Duration) *model.Review {
	r.OpenedAt = before.Add(-ago).Format(time.RFC3339)
	return r
}

func review(author string, pushers []string, approvers ...string) *model.Review {
	r := &model.Review{Forge: "github", Author: author, Pushers: pushers, Approvals: []model.Approval{}, Labels: []string{}}
	if r.Pushers == nil {
		r.Pushers = []string{}
	}
	for _, a := range approvers {
		r.Approvals = append(r.Approvals, model.Approval{ID: a})
	}
	return r
}

var before = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestDefaultPolicies(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]string
		mode   policy.Mode
		review *model.Review
		now    time.Time
		// want lists fragments of the expected error messages; warn of
		// the expected warnings. Each diagnostic must be matched.
		want, warn []string
	}{
		{name: "high risk with two approvals passes", mode: policy.PullRequest, review: review("github:7", nil, "github:1", "github:2")},
		{name: "high risk with one approval", mode: policy.PullRequest, review: review("github:7", nil, "github:1"),
			want: []string{`a high-risk normal change needs 2 approval(s) from "pay", has 1`}},
		{name: "the same approver twice counts once", mode: policy.PullRequest, review: review("github:7", nil, "github:1", "github:1"),
			want: []string{"has 1"}},
		{name: "author never counts", mode: policy.PullRequest, review: review("github:1", nil, "github:1", "github:2"),
			want: []string{"has 1"}, warn: []string{"approvals by the author or a pusher do not count: github:1"}},
		{name: "pusher never counts", mode: policy.PullRequest, review: review("github:7", []string{"github:2"}, "github:1", "github:2"),
			want: []string{"has 1"}, warn: []string{"do not count: github:2"}},
		{name: "merger never counts", mode: policy.PullRequest, review: func() *model.Review {
			r := review("github:7", nil, "github:1", "github:2")
			r.Merger = "github:2"
			return r
		}(), want: []string{"has 1"}, warn: []string{"the approval of the merger does not count: github:2"}},
		{name: "outsiders do not count", mode: policy.PullRequest, review: review("github:7", nil, "github:1", "github:99"),
			want: []string{"has 1"}},
		{name: "low risk needs one", fields: map[string]string{"risk": `"low"`}, mode: policy.PullRequest, review: review("github:7", nil, "github:3")},
		{name: "local mode warns about approvals", mode: policy.Local,
			warn: []string{`will need 2 approval(s) from "pay" in its pull request`}},
		{name: "emergency needs on-call", mode: policy.PullRequest, review: review("github:7", nil, "github:1", "github:2"),
			fields: map[string]string{"kind": `"emergency"`, "incident": `{id: "INC-1", url: "https://inc.example.com/1"}`},
			want:   []string{`an emergency change needs 1 approval(s) from "pay-oncall", has 0`}},
		{name: "emergency with on-call", mode: policy.PullRequest, review: review("github:7", nil, "github:9"),
			fields: map[string]string{"kind": `"emergency"`, "incident": `{id: "INC-1", url: "https://inc.example.com/1"}`}},
		{name: "undeclared service", fields: map[string]string{"service": `"billing"`}, mode: policy.Local,
			want: []string{`service "billing" is not declared in cab.cue`, `ticket of service "billing" is filed under changes/payments/`}},
		{name: "prod needs prechecks, postchecks and rollback", mode: policy.Local,
			fields: map[string]string{"prechecks": "", "postchecks": "", "rollback": ""},
			want:   []string{"changes to prod need prechecks", "changes to prod need postchecks", "changes to prod need a rollback"},
			warn:   []string{"will need 2"}},
		{name: "explicit rollback actions are a rollback", mode: policy.Local,
			fields: map[string]string{"rollback": `{actions: [{type: "oci", target: "images", image: "ghcr.io/acme/payments@sha256:` + strings.Repeat("cd", 32) + `", tag: "payments"}]}`},
			warn:   []string{"will need 2"}},
		{name: "staging only needs no safety net", mode: policy.Local,
			fields: map[string]string{"environments": `["staging"]`, "prechecks": "", "postchecks": "", "rollback": ""},
			warn:   []string{"will need 2"}},
		{name: "window inside a freeze", mode: policy.Local,
			fields: map[string]string{"window": `{start: "2026-12-22T10:00:00Z", end: "2026-12-22T11:00:00Z"}`},
			want:   []string{`overlaps the change freeze "year-end" (2026-12-19T23:00:00Z to 2027-01-03T23:00:00Z, Europe/Berlin)`},
			warn:   []string{"will need 2"}},
		{name: "emergency inside a freeze warns", mode: policy.PullRequest, review: review("github:7", nil, "github:9"),
			fields: map[string]string{"window": `{start: "2026-12-22T10:00:00Z", end: "2026-12-22T11:00:00Z"}`, "kind": `"emergency"`, "incident": `{id: "INC-1", url: "https://inc.example.com/1"}`},
			warn:   []string{`emergency change inside the freeze "year-end"`}},
		{name: "window touching the freeze start is outside it", mode: policy.Local,
			fields: map[string]string{"window": `{start: "2026-12-19T22:00:00Z", end: "2026-12-19T23:00:00Z"}`},
			warn:   []string{"will need 2"}},
		{name: "closed window fails the gate", mode: policy.PullRequest, review: review("github:7", nil, "github:1", "github:2"),
			now:  time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC),
			want: []string{"the change window closed at 2026-12-01T23:00:00Z"}},
		{name: "closed window is a warning in local mode", mode: policy.Local, now: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC),
			warn: []string{"the change window closed at 2026-12-01T23:00:00Z: this ticket can no longer be applied"}},
		{name: "a merge is judged at the merge's time", mode: policy.Merge, review: review("github:7", nil, "github:1", "github:2")},
		{name: "a merge after the window closed fails", mode: policy.Merge, review: review("github:7", nil, "github:1", "github:2"),
			now:  time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC),
			want: []string{"the change window closed at 2026-12-01T23:00:00Z"}},
		{name: "standard change within its template", mode: policy.PullRequest, review: review("github:7", nil),
			fields: map[string]string{"kind": `"standard"`, "template": `"bump"`, "risk": `"low"`}},
		{name: "standard change above its template's risk", mode: policy.PullRequest, review: review("github:7", nil),
			fields: map[string]string{"kind": `"standard"`, "template": `"bump"`, "risk": `"medium"`},
			want:   []string{`template "bump" allows risk up to low, not medium`}},
		{name: "unknown template", mode: policy.Local, fields: map[string]string{"kind": `"standard"`, "template": `"nope"`, "risk": `"low"`},
			want: []string{`template "nope" is not declared`}},
		{name: "unknown environment", mode: policy.Local, fields: map[string]string{"environments": `["qa"]`},
			want: []string{`environment "qa" is not declared in cab.cue`}, warn: []string{"will need 2"}},
		{name: "unknown target", mode: policy.Local, fields: map[string]string{"environments": `["staging"]`,
			"actions": `[{type: "http", target: "hooks", path: "/x"}]`},
			want: []string{`environment "staging" has no target "hooks"`}, warn: []string{"will need 2"}},
		// Approval SLA: high risk waits 4h at most; payments' backup is sre after 2h more.
		{name: "within its SLA no warning", mode: policy.PullRequest, review: opened(review("github:7", nil, "github:1"), 3*time.Hour),
			want: []string{"has 1"}},
		{name: "past its SLA names who can approve", mode: policy.PullRequest,
			review: opened(review("github:7", []string{"github:3"}, "github:1"), 5*time.Hour),
			want:   []string{"has 1"},
			warn:   []string{`approval SLA breached: the pull request has waited 5h0m0s for approvals, its SLA is 4h0m0s; pay can approve: github:2, github:4`}},
		{name: "past SLA and escalation names the backup group", mode: policy.PullRequest,
			review: opened(review("github:7", nil, "github:1"), 6*time.Hour+time.Minute),
			want:   []string{"has 1"},
			warn:   []string{`its SLA is 4h0m0s; pay can approve: github:2, github:3, github:4; escalated to the backup group "sre": github:20, github:21`}},
		{name: "at the escalation instant the backup is not named yet", mode: policy.PullRequest,
			review: opened(review("github:7", nil, "github:1"), 6*time.Hour),
			want:   []string{"has 1"},
			warn:   []string{`pay can approve: github:2, github:3, github:4`}},
		{name: "past its SLA with enough approvals no warning", mode: policy.PullRequest,
			review: opened(review("github:7", nil, "github:1", "github:2"), 50*time.Hour)},
		{name: "the service's own SLA and backup", mode: policy.PullRequest, fields: map[string]string{"risk": `"medium"`},
			review: opened(review("github:7", nil), 3*time.Hour+time.Second),
			want:   []string{`a medium-risk normal change needs 1 approval(s) from "pay", has 0`},
			warn:   []string{`waited 3h0m1s for approvals, its SLA is 1h0m0s; pay can approve: github:1, github:2, github:3, github:4; escalated to the backup group "sre": github:20, github:21`}},
		{name: "without openedAt no SLA warning", mode: policy.PullRequest, review: review("github:7", nil, "github:1"),
			want: []string{"has 1"}},
		{name: "a merge is not warned about its SLA", mode: policy.Merge,
			review: opened(review("github:7", nil, "github:1"), 50*time.Hour), want: []string{"has 1"}},
		{name: "target of another type", mode: policy.Local, fields: map[string]string{
			"actions": `[{type: "http", target: "images", path: "/x"}]`},
			want: []string{`target "images" of environment "staging" is of type "oci", not "http"`, `"prod" is of type "oci"`}, warn: []string{"will need 2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = before
			}
			job := Job{Config: &File{Name: "cab.cue", Source: []byte(testConfig)}, Mode: tc.mode, Now: now, Review: tc.review}
			for _, p := range policy.Defaults() {
				job.Policies = append(job.Policies, File{Name: p.Name, Source: p.Source})
			}
			ev, err := NewEvaluator(job, nil)
			require.NoError(t, err)
			require.Empty(t, ev.Setup)
			res := ev.Check(File{Name: "changes/payments/CHG-2026-0042.cue", Source: []byte(ticket(tc.fields))})
			var errs, warns []diag.Diagnostic
			for _, d := range res.Diags {
				assert.Positive(t, d.Line, "every diagnostic has a line: %v", d)
				if d.Severity == diag.Error {
					errs = append(errs, d)
				} else {
					warns = append(warns, d)
				}
			}
			assertMatch(t, "error", tc.want, errs)
			assertMatch(t, "warning", tc.warn, warns)
		})
	}
}

// assertMatch checks that every diagnostic matches one fragment and every
// fragment one diagnostic.
func assertMatch(t *testing.T, kind string, want []string, got []diag.Diagnostic) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, d := range got {
			if !used[i] && strings.Contains(d.Message, w) {
				used[i], found = true, true
				break
			}
		}
		assert.True(t, found, "want %s containing %q, got %v", kind, w, got)
	}
	for i, d := range got {
		assert.True(t, used[i], "unexpected %s: %v", kind, d)
	}
}

// What the reconciler would fail at apply time fails the check, at the
// ticket's position, with a hint.
func TestCheckApplicable(t *testing.T) {
	noProm := strings.Replace(testConfig, `{prometheus: "https://prometheus.staging.example.com", targets:`, `{targets:`, 1)
	tests := []struct {
		name   string
		config string
		fields map[string]string
		// want lists "line:col path: message fragment".
		want []string
	}{
		{name: "prometheus server from cab.cue", config: testConfig},
		{name: "no prometheus server anywhere", config: noProm,
			want: []string{`12:14 postchecks.0: this prometheus check names no server, and environment "staging" has no prometheus in cab.cue`}},
		{name: "server on the check", config: noProm,
			fields: map[string]string{"postchecks": `[{type: "prometheus", server: "https://prom.example.com", query: "errors", op: "<", threshold: 1}]`}},
		{name: "postcheck holds longer than the check budget", config: testConfig,
			fields: map[string]string{"postchecks": `[{type: "prometheus", query: "errors", op: "<", threshold: 1, for: "10m"}]`},
			want:   []string{"12:75 postchecks.0.for: for: 10m is longer than the reconciler's check budget (2m0s)"}},
		{name: "postcheck holds within the budget", config: testConfig,
			fields: map[string]string{"postchecks": `[{type: "prometheus", query: "errors", op: "<", threshold: 1, for: "90s"}]`}},
		{name: "precheck with a hold", config: testConfig,
			fields: map[string]string{"prechecks": `[{type: "prometheus", query: "up", op: ">", threshold: 0, for: "30s"}]`},
			want:   []string{"11:70 prechecks.0.for: prechecks run once before the change, so for: 30s can never be met"}},
		{name: "image without a registry", config: testConfig,
			fields: map[string]string{"actions": `[{type: "oci", target: "images", image: "acme/payments@sha256:` + strings.Repeat("ab", 32) + `", tag: "payments"}]`},
			want:   []string{`10:43 actions.0.image: image "acme/payments@sha256:abab`}},
		{name: "environment without the target", config: testConfig,
			fields: map[string]string{"actions": `[{type: "http", target: "hooks", path: "/x"}]`},
			want:   []string{`10:26 actions.0.target: environment "staging" has no target "hooks"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job := Job{Config: &File{Name: "cab.cue", Source: []byte(tc.config)}, Mode: policy.Local, Now: before}
			ev, err := NewEvaluator(job, nil)
			require.NoError(t, err)
			require.Empty(t, ev.Setup)
			res := ev.Check(File{Name: "changes/payments/CHG-2026-0042.cue", Source: []byte(ticket(tc.fields))})
			var got []string
			for _, d := range res.Diags {
				if d.Severity == diag.Error {
					got = append(got, fmt.Sprintf("%d:%d %s: %s", d.Line, d.Column, d.Path, d.Message))
					assert.NotEmpty(t, d.Hint, "a hint for %s", d.Message)
				}
			}
			require.Len(t, got, len(tc.want), "errors:\n%s", strings.Join(got, "\n"))
			for i, w := range tc.want {
				assert.True(t, strings.HasPrefix(got[i], w), "got %q, want it to start with %q", got[i], w)
			}
		})
	}
}
