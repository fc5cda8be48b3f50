package htmlreport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	stdhtml "html"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/audit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: go test ./audit/htmlreport -run %s -update", t.Name())
	assert.Equal(t, string(want), string(got), "output differs from %s (go test ./audit/htmlreport -update rewrites it)", path)
}

func at(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// xssTitle is a ticket title that would run a script if it were not
// escaped.
const xssTitle = `Fix login</td><script>document.title="pwned"</script><img src=x onerror="document.title='pwned'">`

func envAt(name, outcome, applying, verified, failed, rolledBack string) audit.EnvOutcome {
	e := audit.EnvOutcome{Env: name, Outcome: outcome, Applying: at(applying), Verified: at(verified),
		Failed: at(failed), RolledBack: at(rolledBack)}
	if !e.Applying.IsZero() {
		e.Applied = e.Applying.Add(5 * time.Minute)
	}
	return e
}

// fixture is a small fixed history over three months: two services, a
// rollback, an emergency, an unsigned bypass, and a hostile title.
func fixture() []audit.Change {
	mk := func(n int, service, kind, title, merged, outcome string, envs ...audit.EnvOutcome) audit.Change {
		m := at(merged)
		return audit.Change{
			ID: fmt.Sprintf("CHG-2026-%04d", n), Title: title, Service: service, Kind: kind, Risk: "medium",
			Owner: "team-" + service, Path: fmt.Sprintf("changes/%s/CHG-2026-%04d.cue", service, n),
			Author: "github:1001", Approvers: []string{"github:2002", "github:2003"}, PR: int64(40 + n),
			MergeCommit: fmt.Sprintf("%02d%038x", n, n*104729), MergedAt: m,
			OpenedAt: m.Add(-6 * time.Hour), ApprovedAt: m.Add(-2 * time.Hour),
			Signature: "signed", SignedBy: "ci", SignedAt: m.Add(time.Minute),
			Environments: envs, Outcome: outcome,
		}
	}
	unsigned := mk(6, "search", "normal", "Hotfix pushed straight to main", "2026-02-11T16:00:00Z", "unsigned",
		audit.EnvOutcome{Env: "prod", Outcome: "pending"})
	unsigned.Signature = "unsigned"
	unsigned.PR = 0
	hostile := mk(7, "search", "normal", xssTitle, "2026-03-03T09:00:00Z", "verified",
		envAt("prod", "verified", "2026-03-03T10:00:00Z", "2026-03-03T10:20:00Z", "", ""))
	hostile.PRURL = "javascript:document.title='pwned'"
	hostile.Author = `"><b id="injected">x</b>`
	return []audit.Change{
		mk(1, "payments", "normal", "Promote payments 1.4.2", "2026-01-05T11:00:00Z", "verified",
			envAt("staging", "verified", "2026-01-05T12:00:00Z", "2026-01-05T12:10:00Z", "", ""),
			envAt("prod", "verified", "2026-01-06T09:00:00Z", "2026-01-06T09:15:00Z", "", "")),
		mk(2, "payments", "normal", "Promote payments 1.4.3", "2026-01-07T13:00:00Z", "rolled-back",
			envAt("staging", "verified", "2026-01-07T13:30:00Z", "2026-01-07T14:00:00Z", "", ""),
			envAt("prod", "rolled-back", "2026-01-08T09:00:00Z", "", "2026-01-08T09:20:00Z", "2026-01-08T09:30:00Z")),
		mk(3, "payments", "emergency", "Revert payments to 1.4.2", "2026-01-08T10:00:00Z", "verified",
			envAt("prod", "verified", "2026-01-08T10:05:00Z", "2026-01-08T10:20:00Z", "", "")),
		mk(4, "search", "standard", "Rotate the search index", "2026-01-20T10:00:00Z", "verified",
			envAt("staging", "verified", "2026-01-20T11:00:00Z", "2026-01-20T11:10:00Z", "", ""),
			envAt("prod", "verified", "2026-01-21T08:00:00Z", "2026-01-21T08:30:00Z", "", "")),
		mk(5, "payments", "normal", "Raise the payments pool size", "2026-02-03T10:00:00Z", "verified",
			envAt("staging", "verified", "2026-02-03T10:30:00Z", "2026-02-03T11:00:00Z", "", ""),
			envAt("prod", "verified", "2026-02-04T09:00:00Z", "2026-02-04T11:00:00Z", "", "")),
		unsigned,
		hostile,
		mk(8, "payments", "normal", "Promote payments 1.5.0", "2026-03-16T10:00:00Z", "in-progress",
			envAt("staging", "verified", "2026-03-16T10:30:00Z", "2026-03-16T11:00:00Z", "", ""),
			audit.EnvOutcome{Env: "prod", Outcome: "scheduled", Reason: "window opens 2026-03-20T22:00:00Z"}),
	}
}

func verdict() *audit.Report {
	return &audit.Report{Tickets: 8, Signed: 7, Events: 31, LedgerHead: strings.Repeat("ab", 20),
		Breaks: []audit.Break{{Ticket: "CHG-2026-0006", Path: "changes/search/CHG-2026-0006.cue",
			Commit: strings.Repeat("06", 20), What: "unsigned", Message: "merged without passing the gate: <direct push>"}}}
}

func fixtureOptions() Options {
	return Options{Title: "Q1 2026 changes", Repository: "github.com/acme/changes", Period: audit.PeriodMonth,
		ProdEnv: "prod", Now: at("2026-04-01T08:00:00Z"), Since: at("2026-01-01T00:00:00Z"), Until: at("2026-04-01T00:00:00Z"),
		Verify: verdict()}
}

func render(t *testing.T, changes []audit.Change, o Options) string {
	t.Helper()
	d, err := Build(changes, o)
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, Render(&b, d))
	return b.String()
}

// TestRenderGolden pins the page and report.json for the fixture.
func TestRenderGolden(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, Write(context.Background(), filepath.Join(dir, "out"), fixture(), fixtureOptions()))
	html, err := os.ReadFile(filepath.Join(dir, "out", IndexFile))
	require.NoError(t, err)
	js, err := os.ReadFile(filepath.Join(dir, "out", JSONFile))
	require.NoError(t, err)
	golden(t, "report.html", html)
	golden(t, "report.json", js)

	var d Data
	require.NoError(t, json.Unmarshal(js, &d))
	assert.Len(t, d.Changes, 8)
	assert.Equal(t, 3, len(d.Series), "January to March")
	assert.Equal(t, "https://github.com/acme/changes/pull/41", d.Changes[0].PRURL)
	entries, err := os.ReadDir(filepath.Join(dir, "out"))
	require.NoError(t, err)
	assert.Len(t, entries, 2, "only index.html and report.json, no temporary files left")
}

// TestRenderEscapes: values from the history are text, never markup or
// script, and unsafe links are neutralised.
func TestRenderEscapes(t *testing.T) {
	html := render(t, fixture(), fixtureOptions())
	assert.NotContains(t, html, "<script", "no script element, whatever a title holds")
	assert.NotContains(t, html, "<img", "no element from a title")
	assert.NotContains(t, html, `<b id="injected">`, "no element from an author")
	assert.Contains(t, html, "Fix login&lt;/td&gt;&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;")
	assert.NotContains(t, html, `href="javascript:`, "javascript: links are not links")
	assert.Contains(t, html, `href="#ZgotmplZ"`, "html/template replaced the unsafe link")
	assert.Contains(t, html, "merged without passing the gate: &lt;direct push&gt;")
}

// TestContentSecurityPolicy: the page forbids scripts and allows exactly
// its own inline style sheet, by hash.
func TestContentSecurityPolicy(t *testing.T) {
	html := render(t, fixture(), fixtureOptions())
	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(html)
	require.Len(t, style, 2, "one style element")
	sum := sha256.Sum256([]byte(style[1]))
	csp := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindStringSubmatch(html)
	require.Len(t, csp, 2, "a CSP meta element")
	policy := stdhtml.UnescapeString(csp[1])
	assert.Contains(t, policy, "default-src 'none'")
	assert.Contains(t, policy, "style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	assert.NotContains(t, policy, "script-src", "scripts fall under default-src 'none'")
	for _, external := range []string{`src="http`, `href="http://`, "@import", "url(http", "<link rel=\"stylesheet\""} {
		assert.NotContains(t, html, external, "the page loads nothing")
	}
}

func TestFillLinks(t *testing.T) {
	sha := strings.Repeat("ab", 20)
	tests := []struct {
		name, repository string
		in               audit.Change
		commit, pr       string
	}{
		{"github", "github.com/acme/changes", audit.Change{MergeCommit: sha, PR: 42},
			"https://github.com/acme/changes/commit/" + sha, "https://github.com/acme/changes/pull/42"},
		{"github url with .git", "https://github.com/acme/changes.git", audit.Change{MergeCommit: sha, PR: 42},
			"https://github.com/acme/changes/commit/" + sha, "https://github.com/acme/changes/pull/42"},
		{"gitlab subgroup", "gitlab.com/acme/platform/changes", audit.Change{MergeCommit: sha, PR: 7},
			"https://gitlab.com/acme/platform/changes/-/commit/" + sha, "https://gitlab.com/acme/platform/changes/-/merge_requests/7"},
		{"kept", "github.com/acme/changes", audit.Change{MergeCommit: sha, PR: 42, CommitURL: "https://git.example/c", PRURL: "https://git.example/p"},
			"https://git.example/c", "https://git.example/p"},
		{"no pr", "github.com/acme/changes", audit.Change{MergeCommit: sha}, "https://github.com/acme/changes/commit/" + sha, ""},
		{"other host", "git.example.com/acme/changes", audit.Change{MergeCommit: sha, PR: 42}, "", ""},
		{"github subpath", "github.com/acme/changes/extra", audit.Change{MergeCommit: sha, PR: 42}, "", ""},
		{"no path", "github.com", audit.Change{MergeCommit: sha, PR: 42}, "", ""},
		{"dot dot", "gitlab.com/acme/../x", audit.Change{MergeCommit: sha, PR: 42}, "", ""},
		{"query", "github.com/acme/changes?x=<y>", audit.Change{MergeCommit: sha, PR: 42}, "", ""},
		{"not a sha", "github.com/acme/changes", audit.Change{MergeCommit: "HEAD~1/../x", PR: 42}, "", "https://github.com/acme/changes/pull/42"},
		{"none", "", audit.Change{MergeCommit: sha, PR: 42}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.in
			fillLinks(&c, tt.repository)
			assert.Equal(t, tt.commit, c.CommitURL, "commit URL")
			assert.Equal(t, tt.pr, c.PRURL, "PR URL")
		})
	}
}

// TestBuildRange: only changes merged in Since..Until are listed, oldest
// first; the verdict is carried as given.
func TestBuildRange(t *testing.T) {
	o := fixtureOptions()
	o.Since, o.Until = at("2026-01-08T10:00:00Z"), at("2026-02-11T16:00:00Z")
	d, err := Build(fixture(), o)
	require.NoError(t, err)
	var ids []string
	for _, c := range d.Changes {
		ids = append(ids, c.ID)
	}
	assert.Equal(t, []string{"CHG-2026-0003", "CHG-2026-0004", "CHG-2026-0005"}, ids)
	assert.Equal(t, 3, d.Summary.Merged)
	assert.Same(t, o.Verify, d.Verify)

	d, err = Build(nil, Options{})
	require.NoError(t, err)
	assert.Equal(t, "Change report", d.Title)
	assert.Empty(t, d.Changes)
	assert.Empty(t, d.Series)
	var b bytes.Buffer
	require.NoError(t, Render(&b, d))
	assert.Contains(t, b.String(), "No change was merged in this range.")
	assert.Contains(t, b.String(), "Not verified")
	assert.Contains(t, b.String(), "no data in this range")
}

func TestNiceStep(t *testing.T) {
	tests := []struct{ max, want float64 }{
		{0, 1}, {-3, 1}, {math.NaN(), 1}, {1, 0.2}, {4, 1}, {5, 1}, {7, 2}, {10, 2}, {12, 5}, {100, 20}, {101, 50}, {2600, 1000},
	}
	for _, tt := range tests {
		assert.InDelta(t, tt.want, niceStep(tt.max), 1e-9, "niceStep(%v)", tt.max)
	}
}

// TestChartGeometry checks the bars and lines land where their values
// say.
func TestChartGeometry(t *testing.T) {
	periods := []string{"2026-01", "2026-02", "2026-03", "2026-04"}
	c := barChart("c", "T", "n", periods, []series{{Label: "a", Class: "s1", Values: []float64{2, 4, math.NaN(), 0},
		Titles: []string{"a", "b", "c", "d"}}}, true)
	require.Len(t, c.Bars, 3, "no bar for a missing value")
	plot := c.Y1 - c.Y0
	assert.InDelta(t, plot/2, c.Bars[0].H, 1e-9, "2 of an axis up to 4 is half the height")
	assert.InDelta(t, plot, c.Bars[1].H, 1e-9)
	assert.InDelta(t, 0, c.Bars[2].H, 1e-9)
	assert.Equal(t, "d", c.Bars[2].Title)
	assert.Less(t, c.Bars[0].X, c.Bars[1].X)
	assert.Equal(t, []string{"0", "1", "2", "3", "4"}, labels(c.YTicks))
	assert.False(t, c.Empty)

	l := lineChart("l", "T", "h", periods, []series{{Label: "a", Class: "s1", Values: []float64{1, 3, math.NaN(), 2},
		Titles: []string{"a", "b", "", "d"}}})
	require.Len(t, l.Lines, 1)
	assert.Len(t, l.Lines[0].Segments, 2, "the line breaks where a period has no value")
	assert.Len(t, l.Lines[0].Dots, 3)
	assert.Equal(t, 1, strings.Count(l.Lines[0].Segments[0], " "), "two points in the first segment")

	e := lineChart("e", "T", "h", periods, []series{{Values: []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN()},
		Titles: make([]string, 4)}})
	assert.True(t, e.Empty)

	many := make([]string, 53)
	for i := range many {
		many[i] = fmt.Sprintf("2026-W%02d", i+1)
	}
	assert.LessOrEqual(t, len(newChart("w", "T", "n", many, 1, true).XLabels), maxXLabels, "x labels thinned out")
}

func labels(ts []tick) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Label)
	}
	return out
}

// TestReasonsAreVisibleText: failure and rollback reasons and the details
// of a break are text on the page, not only tooltips, so a printed report
// keeps them; a break's event data is not printed as JSON.
func TestReasonsAreVisibleText(t *testing.T) {
	changes := fixture()
	changes[1].Environments[1].Reason = "postcheck p99 latency: 0.41 > 0.25; restored sha256:1111"
	o := fixtureOptions()
	o.Verify = &audit.Report{Tickets: 1, Breaks: []audit.Break{{Ticket: "CHG-2026-0006", What: "unsigned",
		Message: "reached main without passing the gate: {\"path\": \"changes/search/CHG-2026-0006.cue\", \"reasons\": [\"added by a root commit\"]}"}}}
	page := render(t, changes, o)
	printed := regexp.MustCompile(`(?s)<title[^>]*>.*?</title>| title="[^"]*"`).ReplaceAllString(page, "")
	assert.Contains(t, printed, "prod: postcheck p99 latency: 0.41 &gt; 0.25; restored sha256:1111")
	assert.Contains(t, printed, "reached main without passing the gate")
	assert.Contains(t, printed, "reasons: added by a root commit")
	assert.NotContains(t, printed, "{&#34;path", "no JSON blob")
	assert.NotContains(t, printed, `{"path`, "no JSON blob")
}

// TestChartAxesHaveDistinctLabels: every chart names its y axis by its unit
// and its x axis by the period, and no two axis titles of a chart are the
// same.
func TestChartAxesHaveDistinctLabels(t *testing.T) {
	page := render(t, fixture(), fixtureOptions())
	charts := regexp.MustCompile(`(?s)<svg class="chart".*?</svg>`).FindAllString(page, -1)
	require.NotEmpty(t, charts)
	axis := regexp.MustCompile(`<text class="axis-title (x|y)"[^>]*>([^<]+)</text>`)
	for _, c := range charts {
		m := axis.FindAllStringSubmatch(c, -1)
		require.Len(t, m, 2, "an x and a y axis title: %.200s", c)
		assert.NotEqual(t, m[0][2], m[1][2], "distinct axis titles")
		assert.NotEmpty(t, strings.TrimSpace(m[0][2]))
	}
}

// TestControlsSection checks the controls section of the fixture by hand:
// the unsigned hotfix breaks approval, segregation and traceability (and
// is a verify break), the rollback breaks testing, the emergency without a
// post-review breaks its objective; each exception links to its ticket.
func TestControlsSection(t *testing.T) {
	var html bytes.Buffer
	d, err := Build(fixture(), fixtureOptions())
	require.NoError(t, err)
	require.NoError(t, Render(&html, d))
	page := html.String()
	require.Contains(t, page, `<section id="controls"`)
	for _, want := range []string{
		`<tr data-ticket="CHG-2026-0006" data-kind="unsigned-merge">
<td class="id"><a href="https://github.com/acme/changes/commit/0600000000000000000000000000000000099696">CHG-2026-0006</a>`,
		"<td>approval, segregation, traceability</td>",
		`<tr data-ticket="CHG-2026-0002" data-kind="failed-or-rolled-back">
<td class="id"><a href="https://github.com/acme/changes/pull/42">CHG-2026-0002</a>`,
		`<tr data-ticket="CHG-2026-0003" data-kind="emergency-without-post-review">`,
		`<tr data-ticket="CHG-2026-0006" data-kind="verify-break">`,
		"<h3>Exceptions (4)</h3>",
	} {
		assert.Contains(t, page, want)
	}
	status := map[string]string{}
	for _, r := range d.Controls.Results {
		status[r.ID] = string(r.Status)
	}
	assert.Equal(t, map[string]string{"approval": "not-satisfied", "segregation": "not-satisfied", "testing": "not-satisfied",
		"emergency": "not-satisfied", "traceability": "not-satisfied"}, status)

	// A post-review ticket for the emergency satisfies that objective.
	changes := append(fixture(), audit.Change{ID: "CHG-2026-0009", Kind: "normal", PostReviewOf: "CHG-2026-0003",
		MergedAt: at("2026-01-09T10:00:00Z"), Signature: "signed", Approvers: []string{"github:2002"}})
	d, err = Build(changes, fixtureOptions())
	require.NoError(t, err)
	for _, r := range d.Controls.Results {
		if r.ID == "emergency" {
			assert.Equal(t, "satisfied", string(r.Status), "%v", r.Exceptions)
			assert.Equal(t, 1, r.Evidenced)
		}
	}
}
