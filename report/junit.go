package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/cabhq/cab/internal/diag"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit writes c as a JUnit XML report, for artifacts:reports:junit, which
// GitLab shows in the merge request widget and the pipeline's Tests tab.
// It holds one test suite, "<tool> check", with one test case per ticket:
// classname is the ticket's directory (changes/<service>), name its file
// name without ".cue" — the ticket's id when the ticket is right — so that
// a ticket's case has the same name whether it passes, fails or does not
// even parse, and GitLab can tell a fixed test from a new one. Each case
// carries the file attribute GitLab reads to show the file (an extension
// of the common JUnit schema, which pytest writes too). A failing ticket's case has a failure
// whose text lists the diagnostics of its file; a passing ticket's
// warnings go to system-out. Diagnostics of files that are no ticket
// (cab.cue, policies) make one more case per file, named after the file.
func JUnit(w io.Writer, c Check) error {
	v := newView(c)
	suite := junitSuite{Name: v.tool + " check"}
	if v.version != "" {
		suite.Properties = []junitProperty{{Name: v.tool + ".version", Value: v.version}}
	}
	for _, t := range v.tickets {
		tc := junitCase{Name: caseName(t.File), Classname: dir(t.File), File: t.File}
		ds := v.byFile[t.File]
		if t.failed {
			msg := counts(t.errors, t.warnings)
			if msg == "" {
				msg = "fails"
			}
			text := diagText(ds)
			if text == "" {
				text = t.File + ": the ticket fails; its problems are reported on other files\n"
			}
			tc.Failure = &junitFailure{Message: msg, Type: v.tool, Text: text}
		} else {
			tc.SystemOut = diagText(ds)
		}
		suite.Cases = append(suite.Cases, tc)
	}
	for _, f := range v.others {
		ds := v.byFile[f]
		tc := junitCase{Name: f, Classname: dir(f), File: f}
		if e := ds.Errors(); e > 0 {
			tc.Failure = &junitFailure{Message: counts(e, len(ds)-e), Type: v.tool, Text: diagText(ds)}
		} else {
			tc.SystemOut = diagText(ds)
		}
		suite.Cases = append(suite.Cases, tc)
	}
	suite.Tests = len(suite.Cases)
	for _, tc := range suite.Cases {
		if tc.Failure != nil {
			suite.Failures++
		}
	}
	doc := junitSuites{Name: suite.Name, Tests: suite.Tests, Failures: suite.Failures, Suites: []junitSuite{suite}}

	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encoding JUnit report: %w", err)
	}
	b.WriteByte('\n')
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("writing JUnit report: %w", err)
	}
	return nil
}

// caseName names a ticket's test case: its file name without ".cue".
func caseName(file string) string {
	return strings.TrimSuffix(path.Base(file), ".cue")
}

// diagText lists ds as the command line prints them.
func diagText(ds diag.List) string {
	var b bytes.Buffer
	_ = diag.WriteText(&b, ds) // a bytes.Buffer does not fail
	return b.String()
}
