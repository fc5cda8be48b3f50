package report

import (
	"encoding/json"
	"fmt"
	"io"
)

// cqIssue is one issue of a GitLab Code Quality report, the subset of the
// Code Climate issue format that GitLab reads.
type cqIssue struct {
	Description string     `json:"description"`
	CheckName   string     `json:"check_name"`
	Fingerprint string     `json:"fingerprint"`
	Severity    string     `json:"severity"`
	Location    cqLocation `json:"location"`
}

type cqLocation struct {
	Path  string  `json:"path"`
	Lines cqLines `json:"lines"`
}

type cqLines struct {
	Begin int `json:"begin"`
}

// GitLabCodeQuality writes c as a GitLab Code Quality report, for
// artifacts:reports:codequality: a JSON array with one issue per
// diagnostic. GitLab shows the issues in the merge request widget and,
// for changed lines, in the diff. Errors are "major" issues, warnings
// "minor"; check_name is "cab/<code>"; a diagnostic without a line is put
// on line 1.
//
// The fingerprint, by which GitLab tells new issues from old ones, is the
// SHA-256 of the file, field path, code and message, not of the line: an
// edit above a problem does not make it new. Identical diagnostics in one
// file are told apart by their occurrence number.
func GitLabCodeQuality(w io.Writer, c Check) error {
	v := newView(c)
	fps := fingerprints(v.diags)
	issues := make([]cqIssue, 0, len(v.diags))
	for i, d := range v.diags {
		severity := "minor"
		if isError(d) {
			severity = "major"
		}
		desc := subject(d)
		if d.Hint != "" {
			desc += " (hint: " + d.Hint + ")"
		}
		issues = append(issues, cqIssue{
			Description: desc,
			CheckName:   v.tool + "/" + code(d),
			Fingerprint: fps[i],
			Severity:    severity,
			Location:    cqLocation{Path: d.File, Lines: cqLines{Begin: max(d.Line, 1)}},
		})
	}
	if err := encodeJSON(w, issues); err != nil {
		return fmt.Errorf("writing code quality report: %w", err)
	}
	return nil
}

// encodeJSON writes x indented, without HTML escaping (the output is not
// embedded in HTML), ending with a newline.
func encodeJSON(w io.Writer, x any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(x)
}
