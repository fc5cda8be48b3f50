package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/diag"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	t1 = "changes/payments/CHG-2027-0001.cue"
	t2 = "changes/payments/CHG-2027-0002.cue"
	t7 = "changes/identity/CHG-2027-0007.cue"
	// odd is a ticket file whose name needs escaping everywhere.
	odd = "changes/we:ird/a,b 100%.cue"
)

// nasty holds what ticket content can put into a message.
const nasty = "100% \"quoted\" 'single' a:b, c <&> `tick` ``double`` | pipe Zürich ✓ 日本 😀\n" +
	"::set-output name=pwned::yes\n" +
	"::endgroup::\n" +
	"# heading [link](https://example.com) <!-- comment --> @someone **bold** &amp;\r\nlast line\\"

func mixed() Check {
	return Check{
		Tool:    "cab",
		Version: "dev",
		Tickets: []Ticket{
			{File: t1, ID: "CHG-2027-0001", OK: true},
			{File: t2, ID: "CHG-2027-0002", OK: false},
			{File: t7, ID: "CHG-2027-0007", OK: true},
		},
		Diagnostics: diag.List{
			{File: "cab.cue", Line: 3, Column: 5, Path: "environments.prod", Severity: diag.Error, Code: "config",
				Message: "environments.prod.registry: incomplete value string", Hint: "set registry to the OCI registry of prod"},
			{File: t2, Line: 14, Column: 9, Path: "window.end", Severity: diag.Error, Code: "schema",
				Message: "must be after window.start", Hint: `use RFC 3339 times, e.g. "2026-12-01T22:00:00Z"`},
			{File: t2, Line: 20, Column: 2, Path: "approvals", Severity: diag.Error, Code: "policy",
				Message: "production changes need 2 approvals, have 1", Hint: "ask a second reviewer from team-payments",
				Rule: "policy/approvals.cue:12:3"},
			{File: t2, Line: 22, Column: 3, Path: "rollback", Severity: diag.Warning, Code: "policy",
				Message: "rollback plan is one line", Rule: "policy/standard.cue"},
			{File: t7, Line: 8, Column: 1, Path: "risk", Severity: diag.Warning, Code: "policy",
				Message: "risk high outside a freeze window", Hint: "consider a quieter time", Rule: "policy/windows.cue:40"},
		},
	}
}

func escaping() Check {
	return Check{
		Tool:    "cab",
		Version: "v1.2.3",
		Tickets: []Ticket{
			{File: odd, OK: false},
			{File: "changes/x/CHG-2027-0100.cue", ID: "CHG-<&>|`", OK: false},
		},
		Diagnostics: diag.List{
			{File: odd, Line: 1, Column: 1, Path: "id,x:y", Severity: diag.Error, Code: "file", Message: nasty, Hint: nasty},
			{File: "changes/x/CHG-2027-0100.cue", Line: 2, Column: 4, Path: "title", Severity: diag.Error, Code: "policy",
				Message: nasty, Rule: "policy/p,q:r.cue:7:2"},
		},
	}
}

func lineZero() Check {
	return Check{
		Tool:    "cab",
		Version: "dev",
		Tickets: []Ticket{{File: t1, ID: "CHG-2027-0001", OK: false}},
		Diagnostics: diag.List{
			{File: "policy", Severity: diag.Warning, Code: "policy", Message: "no policies: only the schema is checked"},
			{File: t1, Line: 5, Path: "owner", Severity: diag.Error, Code: "config-ref", Message: "owner team-x is not declared in cab.cue"},
			{File: t1, Severity: diag.Error, Code: "", Message: "budget exceeded"},
		},
	}
}

func many(n int) Check {
	c := Check{Tool: "cab", Version: "dev", Tickets: []Ticket{{File: t2, ID: "CHG-2027-0002", OK: false}}}
	for i := range n {
		c.Diagnostics = append(c.Diagnostics, diag.Diagnostic{File: t2, Line: i + 1, Column: 3, Path: fmt.Sprintf("actions.%d", i),
			Severity: diag.Error, Code: "schema", Message: "conflicting values \"x\" and int", Hint: "use a number"})
	}
	c.Diagnostics = append(c.Diagnostics, diag.Diagnostic{File: t2, Line: 99, Column: 1, Severity: diag.Warning, Code: "policy", Message: "late"})
	return c
}

// huge has more than a megabyte of problems, over many tickets.
func huge() Check {
	c := Check{Tool: "cab", Version: "dev"}
	for i := range 4000 {
		f := fmt.Sprintf("changes/svc%02d/CHG-2027-%04d.cue", i%50, i)
		c.Tickets = append(c.Tickets, Ticket{File: f, ID: fmt.Sprintf("CHG-2027-%04d", i), OK: i%2 == 0})
		if i%2 == 0 {
			continue
		}
		for j := range 10 {
			c.Diagnostics = append(c.Diagnostics, diag.Diagnostic{File: f, Line: j + 1, Column: 1, Path: "window.end",
				Severity: diag.Error, Code: "schema", Message: "must be after window.start, which is 2027-02-10T16:00:00Z",
				Hint: "use RFC 3339 times"})
		}
	}
	return c
}

type format struct {
	name   string
	render func(Check) ([]byte, error)
}

var formats = []format{
	{"github.txt", func(c Check) ([]byte, error) {
		var b bytes.Buffer
		err := GitHub(&b, nil, c)
		return b.Bytes(), err
	}},
	{"summary.md", func(c Check) ([]byte, error) { return []byte(Markdown(c)), nil }},
	{"codequality.json", func(c Check) ([]byte, error) {
		var b bytes.Buffer
		err := GitLabCodeQuality(&b, c)
		return b.Bytes(), err
	}},
	{"junit.xml", func(c Check) ([]byte, error) {
		var b bytes.Buffer
		err := JUnit(&b, c)
		return b.Bytes(), err
	}},
	{"sarif.json", func(c Check) ([]byte, error) {
		var b bytes.Buffer
		err := SARIF(&b, c)
		return b.Bytes(), err
	}},
}

var cases = []struct {
	name  string
	check Check
}{
	{"empty", Check{Tool: "cab", Version: "dev", Tickets: []Ticket{{File: t1, ID: "CHG-2027-0001", OK: true}}}},
	{"mixed", mixed()},
	{"escaping", escaping()},
	{"line-zero", lineZero()},
	{"many", many(12)},
}

func TestGolden(t *testing.T) {
	for _, tc := range cases {
		for _, f := range formats {
			t.Run(tc.name+"/"+f.name, func(t *testing.T) {
				got, err := f.render(tc.check)
				require.NoError(t, err)
				golden(t, tc.name+"."+f.name, got)

				again, err := f.render(tc.check)
				require.NoError(t, err)
				assert.Equal(t, string(got), string(again), "two renderings of the same check differ")
			})
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(p, got, 0o644))
		return
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err, "run go test ./report -update to create it")
	assert.Equal(t, string(want), string(got), "output differs from %s; run go test ./report -update if that is intended", p)
}

func TestDoesNotChangeCheck(t *testing.T) {
	c := mixed()
	// Out of order, with a duplicate: the writers sort a copy.
	c.Diagnostics[0], c.Diagnostics[4] = c.Diagnostics[4], c.Diagnostics[0]
	c.Diagnostics = append(c.Diagnostics, c.Diagnostics[1])
	before := append(diag.List(nil), c.Diagnostics...)
	for _, f := range formats {
		got, err := f.render(c)
		require.NoError(t, err)
		want, err := f.render(mixed())
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "%s: unsorted input gives other output", f.name)
	}
	assert.Equal(t, before, c.Diagnostics, "the writers changed the input")
}

// command is a workflow command as the Actions runner sees it.
type command struct {
	name  string
	props map[string]string
	data  string
}

// runnerCommands reads output as the Actions runner does: a line whose
// text, after leading white space, starts with "::" is a command, unless
// commands are stopped. It also returns the lines printed as text.
func runnerCommands(t *testing.T, out string) (cmds []command, text []string) {
	t.Helper()
	stop := ""
	for line := range strings.SplitSeq(strings.TrimSuffix(out, "\n"), "\n") {
		l := strings.TrimLeft(line, " \t")
		if stop != "" {
			if l == "::"+stop+"::" {
				stop = ""
			} else {
				text = append(text, line)
			}
			continue
		}
		if !strings.HasPrefix(l, "::") {
			text = append(text, line)
			continue
		}
		end := strings.Index(l[2:], "::")
		require.GreaterOrEqual(t, end, 0, "command without ::: %q", line)
		head, data := l[2:2+end], l[2+end+2:]
		c := command{name: head, props: map[string]string{}, data: unescape(data)}
		if name, props, ok := strings.Cut(head, " "); ok {
			c.name = name
			for p := range strings.SplitSeq(props, ",") {
				k, v, ok := strings.Cut(p, "=")
				require.True(t, ok, "property without '=': %q", p)
				c.props[k] = unescape(v)
			}
		}
		if c.name == "stop-commands" {
			stop = data
		}
		cmds = append(cmds, c)
	}
	require.Empty(t, stop, "commands left stopped")
	return cmds, text
}

// sorted returns the diagnostics of c in the order the writers use.
func sorted(c Check) diag.List { return slices.Clone(c.Diagnostics).Sort() }

func unescape(s string) string {
	return strings.NewReplacer("%25", "%", "%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",").Replace(s)
}

func TestGitHubAnnotations(t *testing.T) {
	for _, tc := range append(cases, struct {
		name  string
		check Check
	}{"huge", huge()}) {
		t.Run(tc.name, func(t *testing.T) {
			var out, summary bytes.Buffer
			require.NoError(t, GitHub(&out, &summary, tc.check))
			assert.Equal(t, Markdown(tc.check), summary.String(), "the step summary is not Markdown(c)")

			ds := sorted(tc.check)
			cmds, text := runnerCommands(t, out.String())
			if len(ds) == 0 {
				assert.Empty(t, out.String(), "output without problems")
				return
			}
			require.Len(t, cmds, len(ds)+3, "want one annotation per problem, then group, stop-commands, endgroup")
			for i, d := range ds {
				c := cmds[i]
				want := "error"
				if d.Severity == diag.Warning {
					want = "warning"
				}
				assert.Equal(t, want, c.name, "annotation %d", i)
				assert.Equal(t, d.File, c.props["file"], "annotation %d: file", i)
				if d.Line > 0 {
					assert.Equal(t, strconv.Itoa(d.Line), c.props["line"], "annotation %d: line", i)
				} else {
					assert.NotContains(t, c.props, "line", "annotation %d: a line 0 problem has no line", i)
					assert.NotContains(t, c.props, "col", "annotation %d: a line 0 problem has no col", i)
				}
				if d.Column > 0 && d.Line > 0 {
					assert.Equal(t, strconv.Itoa(d.Column), c.props["col"], "annotation %d: col", i)
				}
				assert.True(t, strings.HasPrefix(c.props["title"], "cab "), "annotation %d: title %q", i, c.props["title"])
				assert.True(t, strings.HasPrefix(c.data, d.Message), "annotation %d: message %q does not start with %q", i, c.data, d.Message)
				if d.Hint != "" {
					assert.Contains(t, c.data, "\nhint: "+d.Hint, "annotation %d: hint", i)
				}
			}
			n := len(ds)
			group := fmt.Sprintf("cab check: all %d problems", n)
			if n == 1 {
				group = "cab check: 1 problem"
			}
			assert.Equal(t, command{name: "group", props: map[string]string{}, data: group}, cmds[n])
			assert.Equal(t, "stop-commands", cmds[n+1].name)
			assert.Equal(t, command{name: "endgroup", props: map[string]string{}}, cmds[n+2])

			var list bytes.Buffer
			require.NoError(t, diag.WriteText(&list, ds))
			assert.Equal(t, list.String(), strings.Join(text, "\n")+"\n", "the group does not hold the full list")
		})
	}
}

func TestEscape(t *testing.T) {
	tests := []struct {
		name, in, data, property string
	}{
		{"plain", "abc", "abc", "abc"},
		{"percent first", "%0A", "%250A", "%250A"},
		{"line breaks", "a\r\nb", "a%0D%0Ab", "a%0D%0Ab"},
		{"colon and comma", "a:b,c", "a:b,c", "a%3Ab%2Cc"},
		{"command", "::error::x", "::error::x", "%3A%3Aerror%3A%3Ax"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.data, escapeData(tc.in), "escapeData")
			assert.Equal(t, tc.property, escapeProperty(tc.in), "escapeProperty")
		})
	}
}

var problemLine = regexp.MustCompile(`(?m)^- (❌|⚠️) `)

func TestMarkdown(t *testing.T) {
	for _, tc := range append(cases, struct {
		name  string
		check Check
	}{"huge", huge()}) {
		t.Run(tc.name, func(t *testing.T) {
			md := Markdown(tc.check)
			require.True(t, strings.HasPrefix(md, Marker+"\n"), "does not start with the marker: %.80q", md)
			assert.LessOrEqual(t, len(md), StepSummaryLimit, "summary too big")
			v := newView(tc.check)
			if v.ok() {
				assert.Contains(t, md, "### ✅ cab check passed")
			} else {
				assert.Contains(t, md, "### ❌ cab check failed")
			}
			assert.Equal(t, 1, strings.Count(md, Marker), "the marker appears more than once")
			assert.NotContains(t, md, "<!-- comment", "ticket text came through as HTML")
			assert.NotContains(t, md, "\n# ", "ticket text came through as a heading")
			assert.NotContains(t, md, "\n::", "ticket text starts a line")
		})
	}
}

func TestMarkdownTruncates(t *testing.T) {
	c := huge()
	require.Greater(t, len(MarkdownLimit(c, 1<<30)), 2*StepSummaryLimit, "the huge case is not huge")
	for _, limit := range []int{StepSummaryLimit, GitHubCommentLimit, 10000} {
		t.Run(size(limit), func(t *testing.T) {
			md := MarkdownLimit(c, limit)
			assert.LessOrEqual(t, len(md), limit, "got %d bytes", len(md))
			assert.Greater(t, len(md), limit*3/4, "the room is not used")

			shown := len(problemLine.FindAllString(md, -1))
			m := regexp.MustCompile(`_(\d+) more problems not shown, to keep this summary under ` + regexp.QuoteMeta(size(limit)) + `; `).FindStringSubmatch(md)
			require.NotNil(t, m, "no note on left out problems")
			left, _ := strconv.Atoi(m[1])
			assert.Positive(t, shown, "no problem shown")
			assert.Equal(t, len(c.Diagnostics), shown+left, "shown %d + left out %d", shown, left)

			rows := strings.Count(md, "\n| `CHG-")
			assert.Positive(t, rows, "no ticket listed")
			m = regexp.MustCompile(`_(\d+) (more )?tickets? (without problems )?not listed`).FindStringSubmatch(md)
			require.NotNil(t, m, "no note on left out tickets")
			left, _ = strconv.Atoi(m[1])
			assert.Equal(t, len(c.Tickets), rows+left, "listed %d + left out %d", rows, left)
			assert.NotContains(t, md, "| ✅ passes |", "passing tickets listed before problems")
		})
	}
}

func TestMarkdownDropsPassingTicketsFirst(t *testing.T) {
	c := Check{Tool: "cab"}
	for i := range 3000 {
		c.Tickets = append(c.Tickets, Ticket{File: fmt.Sprintf("changes/s/CHG-2027-%04d.cue", i), ID: fmt.Sprintf("CHG-2027-%04d", i), OK: i != 7})
	}
	c.Diagnostics = diag.List{{File: c.Tickets[7].File, Line: 1, Column: 1, Severity: diag.Error, Code: "schema", Message: "bad"}}
	md := MarkdownLimit(c, GitHubCommentLimit)
	assert.Contains(t, md, "| `CHG-2027-0007` |", "the failing ticket is not listed")
	assert.Contains(t, md, "_2999 tickets without problems not listed")
	assert.Contains(t, md, "- ❌ **line 1, col 1**: bad")
	assert.NotContains(t, md, "more problems not shown")
}

func TestMarkdownEscapes(t *testing.T) {
	tests := []struct {
		name string
		f    func(string) string
		in   string
		want string
	}{
		{"text punctuation", mdText, "a_b *c* [d](e) <f> | #", `a\_b \*c\* \[d\]\(e\) \<f\> \| \#`},
		{"text control", mdText, "a\nb\tc", "a b c"},
		{"text unicode", mdText, "Zürich ✓", "Zürich ✓"},
		{"code plain", mdCode, "a/b.cue", "`a/b.cue`"},
		{"code backticks", mdCode, "a`b``c", "```a`b``c```"},
		{"code edge backtick", mdCode, "`a", "`` `a ``"},
		{"code edge spaces", mdCode, " a ", "`  a  `"},
		{"code empty", mdCode, "", "—"},
		{"cell pipe", mdCell, "a|b", "`a\\|b`"},
		{"lines", mdLines, "a\r\n\n  b*  \n", "a\\\n  b\\*"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.f(tc.in))
		})
	}
}

// cqIssueJSON is a Code Quality issue as GitLab documents it.
type cqIssueJSON struct {
	Description string `json:"description"`
	CheckName   string `json:"check_name"`
	Fingerprint string `json:"fingerprint"`
	Severity    string `json:"severity"`
	Location    struct {
		Path  string `json:"path"`
		Lines struct {
			Begin *int `json:"begin"`
		} `json:"lines"`
	} `json:"location"`
}

func TestGitLabCodeQualityStructure(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, GitLabCodeQuality(&b, tc.check))
			var issues []cqIssueJSON
			dec := json.NewDecoder(&b)
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(&issues))
			require.NotNil(t, issues, "want an array, even an empty one")

			ds := sorted(tc.check)
			require.Len(t, issues, len(ds))
			seen := map[string]bool{}
			for i, is := range issues {
				d := ds[i]
				assert.Equal(t, d.File, is.Location.Path, "issue %d: path", i)
				require.NotNil(t, is.Location.Lines.Begin, "issue %d: lines.begin missing", i)
				assert.Equal(t, max(d.Line, 1), *is.Location.Lines.Begin, "issue %d: lines.begin", i)
				want := map[diag.Severity]string{diag.Error: "major", diag.Warning: "minor"}[d.Severity]
				assert.Equal(t, want, is.Severity, "issue %d: severity", i)
				assert.Equal(t, "cab/"+code(d), is.CheckName, "issue %d: check_name", i)
				assert.Contains(t, is.Description, d.Message, "issue %d: description", i)
				assert.Regexp(t, `^[0-9a-f]{64}$`, is.Fingerprint, "issue %d: fingerprint", i)
				assert.False(t, seen[is.Fingerprint], "issue %d: fingerprint %s repeats", i, is.Fingerprint)
				seen[is.Fingerprint] = true
			}
		})
	}
}

func TestFingerprintIgnoresLine(t *testing.T) {
	d := diag.Diagnostic{File: t2, Line: 14, Column: 9, Path: "window.end", Severity: diag.Error, Code: "schema", Message: "m"}
	moved := d
	moved.Line, moved.Column = 40, 2
	other := d
	other.Message = "n"
	fp := func(ds ...diag.Diagnostic) []string { return fingerprints(ds) }
	assert.Equal(t, fp(d), fp(moved), "moving a problem changed its fingerprint")
	assert.NotEqual(t, fp(d), fp(other), "another message has the same fingerprint")
	twice := fp(d, moved)
	assert.NotEqual(t, twice[0], twice[1], "identical problems share a fingerprint")
	assert.Equal(t, fp(d)[0], twice[0], "the first of identical problems keeps its fingerprint")
}

type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Cases    []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			File      string `xml:"file,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnitStructure(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, JUnit(&b, tc.check))
			var doc junitDoc
			require.NoError(t, xml.Unmarshal(b.Bytes(), &doc), "not XML:\n%s", b.String())
			require.Len(t, doc.Suites, 1)
			s := doc.Suites[0]
			assert.Equal(t, "cab check", s.Name)

			ticketFiles := map[string]bool{}
			for _, tk := range tc.check.Tickets {
				ticketFiles[tk.File] = true
			}
			others := map[string]bool{}
			for _, d := range tc.check.Diagnostics {
				if !ticketFiles[d.File] {
					others[d.File] = true
				}
			}
			require.Len(t, s.Cases, len(tc.check.Tickets)+len(others), "want one case per ticket and per other file")
			assert.Equal(t, len(s.Cases), s.Tests)
			assert.Equal(t, s.Tests, doc.Tests)

			failures := 0
			for i, c := range s.Cases {
				if c.Failure != nil {
					failures++
				}
				if i < len(tc.check.Tickets) {
					tk := tc.check.Tickets[i]
					assert.Equal(t, tk.File, c.File, "case %d: file", i)
					assert.Equal(t, dir(tk.File), c.Classname, "case %d: classname", i)
					// The name is the file name without .cue whether the
					// ticket passes, fails or has no id: GitLab matches
					// cases across pipelines by name.
					assert.Equal(t, strings.TrimSuffix(path.Base(tk.File), ".cue"), c.Name, "case %d: name", i)
					assert.Equal(t, !tk.OK, c.Failure != nil, "case %d: failure", i)
				} else {
					assert.True(t, others[c.Name], "case %d: %q is no file with problems", i, c.Name)
				}
				out := c.SystemOut
				if c.Failure != nil {
					out = c.Failure.Text
				}
				for _, d := range tc.check.Diagnostics {
					if d.File == c.File {
						assert.Contains(t, out, d.String(), "case %d: problem missing", i)
					}
				}
			}
			assert.Equal(t, failures, s.Failures)
			assert.Equal(t, failures, doc.Failures)
		})
	}
}

type sarifDoc struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name           string `json:"name"`
				Version        string `json:"version"`
				InformationURI string `json:"informationUri"`
				Rules          []struct {
					ID               string `json:"id"`
					Name             string `json:"name"`
					ShortDescription struct {
						Text string `json:"text"`
					} `json:"shortDescription"`
					FullDescription struct {
						Text string `json:"text"`
					} `json:"fullDescription"`
					Help struct {
						Text     string `json:"text"`
						Markdown string `json:"markdown"`
					} `json:"help"`
					HelpURI string `json:"helpUri"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Results []struct {
			RuleID    string `json:"ruleId"`
			RuleIndex int    `json:"ruleIndex"`
			Level     string `json:"level"`
			Message   struct {
				Text string `json:"text"`
			} `json:"message"`
			Locations           []sarifLoc        `json:"locations"`
			RelatedLocations    []sarifLoc        `json:"relatedLocations"`
			PartialFingerprints map[string]string `json:"partialFingerprints"`
		} `json:"results"`
	} `json:"runs"`
}

type sarifLoc struct {
	ID               int `json:"id"`
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI       string `json:"uri"`
			URIBaseID string `json:"uriBaseId"`
		} `json:"artifactLocation"`
		Region *struct {
			StartLine   int `json:"startLine"`
			StartColumn int `json:"startColumn"`
		} `json:"region"`
	} `json:"physicalLocation"`
	Message *struct {
		Text string `json:"text"`
	} `json:"message"`
}

func TestSARIFStructure(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, SARIF(&b, tc.check))
			var doc sarifDoc
			dec := json.NewDecoder(&b)
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(&doc))
			assert.Equal(t, "https://json.schemastore.org/sarif-2.1.0.json", doc.Schema)
			assert.Equal(t, "2.1.0", doc.Version)
			require.Len(t, doc.Runs, 1)
			run := doc.Runs[0]
			assert.Equal(t, "cab", run.Tool.Driver.Name)
			assert.Equal(t, tc.check.Version, run.Tool.Driver.Version)
			assert.Equal(t, "https://github.com/cabhq/cab", run.Tool.Driver.InformationURI)

			rules := map[string]int{}
			for i, r := range run.Tool.Driver.Rules {
				assert.NotContains(t, rules, r.ID, "rule %s twice", r.ID)
				rules[r.ID] = i
				assert.NotEmpty(t, r.ShortDescription.Text, "rule %s without description", r.ID)
				// GitHub code scanning shows these with every alert.
				assert.NotEmpty(t, r.FullDescription.Text, "rule %s without fullDescription", r.ID)
				assert.NotEmpty(t, r.Help.Text, "rule %s without help", r.ID)
				assert.NotEmpty(t, r.Help.Markdown, "rule %s without help.markdown", r.ID)
				assert.NotEmpty(t, r.Name, "rule %s without name", r.ID)
				assert.True(t, strings.HasPrefix(r.HelpURI, "https://"), "rule %s helpUri %q", r.ID, r.HelpURI)
			}
			ds := sorted(tc.check)
			require.Len(t, run.Results, len(ds))
			used := map[string]bool{}
			for i, r := range run.Results {
				d := ds[i]
				require.Contains(t, rules, r.RuleID, "result %d: rule %q not among the rules", i, r.RuleID)
				assert.Equal(t, rules[r.RuleID], r.RuleIndex, "result %d: ruleIndex", i)
				used[r.RuleID] = true
				assert.Equal(t, code(d), r.RuleID, "result %d: ruleId", i)
				assert.Equal(t, string(d.Severity), r.Level, "result %d: level", i)
				assert.Contains(t, r.Message.Text, d.Message, "result %d: message", i)
				if d.Hint != "" {
					assert.Contains(t, r.Message.Text, "\nhint: "+d.Hint, "result %d: hint", i)
				}
				assert.NotEmpty(t, r.PartialFingerprints["cab/v1"], "result %d: fingerprint", i)

				require.Len(t, r.Locations, 1, "result %d: locations", i)
				loc := r.Locations[0].PhysicalLocation
				assert.Equal(t, "%SRCROOT%", loc.ArtifactLocation.URIBaseID, "result %d: uriBaseId", i)
				u, err := url.Parse(loc.ArtifactLocation.URI)
				require.NoError(t, err, "result %d: uri", i)
				assert.Equal(t, d.File, u.Path, "result %d: uri %q", i, loc.ArtifactLocation.URI)
				assert.False(t, u.IsAbs(), "result %d: uri %q is absolute", i, loc.ArtifactLocation.URI)
				if d.Line == 0 {
					assert.Nil(t, loc.Region, "result %d: region without a line", i)
				} else {
					require.NotNil(t, loc.Region, "result %d: region", i)
					assert.Equal(t, d.Line, loc.Region.StartLine, "result %d: startLine", i)
					assert.Equal(t, d.Column, loc.Region.StartColumn, "result %d: startColumn", i)
				}

				if d.Rule == "" {
					assert.Empty(t, r.RelatedLocations, "result %d: related locations without a rule", i)
					continue
				}
				require.Len(t, r.RelatedLocations, 1, "result %d: related locations", i)
				rel := r.RelatedLocations[0]
				file, line, col := position(d.Rule)
				assert.Equal(t, 1, rel.ID, "result %d: related location id", i)
				assert.Contains(t, r.Message.Text, "](1)", "result %d: message does not link the rule", i)
				u, err = url.Parse(rel.PhysicalLocation.ArtifactLocation.URI)
				require.NoError(t, err)
				assert.Equal(t, file, u.Path, "result %d: rule file", i)
				if line > 0 {
					require.NotNil(t, rel.PhysicalLocation.Region, "result %d: rule region", i)
					assert.Equal(t, line, rel.PhysicalLocation.Region.StartLine)
					assert.Equal(t, col, rel.PhysicalLocation.Region.StartColumn)
				} else {
					assert.Nil(t, rel.PhysicalLocation.Region, "result %d: rule region without a line", i)
				}
			}
			assert.Len(t, used, len(rules), "rules without results")
		})
	}
}

func TestPosition(t *testing.T) {
	tests := []struct {
		in        string
		file      string
		line, col int
	}{
		{"policy/x.cue:12:3", "policy/x.cue", 12, 3},
		{"policy/x.cue:12", "policy/x.cue", 12, 0},
		{"policy/x.cue", "policy/x.cue", 0, 0},
		{"policy/a:b.cue:4:5", "policy/a:b.cue", 4, 5},
		{"policy/a:b.cue", "policy/a:b.cue", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			file, line, col := position(tc.in)
			assert.Equal(t, tc.file, file, "file")
			assert.Equal(t, tc.line, line, "line")
			assert.Equal(t, tc.col, col, "col")
		})
	}
}

func TestClip(t *testing.T) {
	assert.Equal(t, "abc", clip("abc", 3))
	got := clip(strings.Repeat("ü", 10), 8)
	assert.Equal(t, "üü…", got, "cut inside a rune")
	assert.LessOrEqual(t, len(got), 8)
}
