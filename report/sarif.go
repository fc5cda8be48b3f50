package report

import (
	"fmt"
	"io"
	"net/url"
	"slices"
)

// SARIF constants.
const (
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion = "2.1.0"
	// srcRoot is the base of every artifact URI: the repository root.
	srcRoot = "%SRCROOT%"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	ShortDescription sarifMessage `json:"shortDescription"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	RelatedLocations    []sarifLocation   `json:"relatedLocations,omitempty"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
}

type sarifLocation struct {
	ID               *int                  `json:"id,omitempty"`
	PhysicalLocation sarifPhysicalLocation `json:"physicalLocation"`
	Message          *sarifMessage         `json:"message,omitempty"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           *sarifRegion          `json:"region,omitempty"`
}

type sarifArtifactLocation struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

// ruleDescriptions describes the codes cab reports with.
var ruleDescriptions = map[string]string{
	"budget":       "Checking took more time or memory than allowed.",
	"config":       "The repository configuration (cab.cue) is invalid.",
	"config-ref":   "The ticket names an environment or target that cab.cue does not declare.",
	"data-only":    "A ticket must be plain data: no definitions, comprehensions, references or imports.",
	"duplicate-id": "Two tickets have the same id.",
	"file":         "The file cannot be read as a ticket.",
	"governance":   "A change of the rules needs the approvals that governance requires.",
	"immutable":    "A merged ticket was changed.",
	"internal":     "cab failed to check the file.",
	"layout":       "The ticket is not filed under the directory of its service.",
	"policy":       "A policy of the repository rejects the ticket.",
	"reference":    "The ticket refers to a ticket that does not exist.",
	"review":       "Review evidence (approvals) is missing or unusable.",
	"schema":       "The ticket does not match the ticket schema.",
}

// SARIF writes c as a SARIF 2.1.0 log with one run, for GitHub code
// scanning (github/codeql-action/upload-sarif) and other SARIF viewers.
// Each diagnostic is a result whose ruleId is its code, with one rule per
// code in tool.driver.rules; the message holds the hint, and a policy
// rule's position (Rule) is a related location linked from the message.
// Paths are URIs relative to %SRCROOT%, the repository root; a result
// without a line has no region. Columns are cab's, which count bytes.
// partialFingerprints["cab/v1"] is the fingerprint described at
// GitLabCodeQuality. The output depends on c alone.
func SARIF(w io.Writer, c Check) error {
	v := newView(c)
	var codes []string
	for _, d := range v.diags {
		codes = append(codes, code(d))
	}
	slices.Sort(codes)
	codes = slices.Compact(codes)
	index := map[string]int{}
	driver := sarifDriver{Name: v.tool, Version: v.version, InformationURI: InformationURI, Rules: []sarifRule{}}
	for i, c := range codes {
		index[c] = i
		desc, ok := ruleDescriptions[c]
		if !ok {
			desc = "Problems of kind " + c + "."
		}
		driver.Rules = append(driver.Rules, sarifRule{ID: c, ShortDescription: sarifMessage{Text: desc}})
	}

	fps := fingerprints(v.diags)
	results := make([]sarifResult, 0, len(v.diags))
	for i, d := range v.diags {
		r := sarifResult{
			RuleID:              code(d),
			RuleIndex:           index[code(d)],
			Level:               "warning",
			Locations:           []sarifLocation{{PhysicalLocation: physical(d.File, d.Line, d.Column)}},
			PartialFingerprints: map[string]string{"cab/v1": fps[i]},
		}
		if isError(d) {
			r.Level = "error"
		}
		msg := subject(d)
		if d.Hint != "" {
			msg += "\nhint: " + d.Hint
		}
		if d.Rule != "" {
			id := 1
			file, line, col := position(d.Rule)
			r.RelatedLocations = []sarifLocation{{
				ID:               &id,
				PhysicalLocation: physical(file, line, col),
				Message:          &sarifMessage{Text: "policy rule " + d.Rule},
			}}
			msg += "\nrule: [" + d.Rule + "](1)"
		}
		r.Message = sarifMessage{Text: msg}
		results = append(results, r)
	}

	log := sarifLog{
		Schema:  sarifSchema,
		Version: sarifVersion,
		Runs:    []sarifRun{{Tool: sarifTool{Driver: driver}, Results: results}},
	}
	if err := encodeJSON(w, log); err != nil {
		return fmt.Errorf("writing SARIF log: %w", err)
	}
	return nil
}

// physical locates a position in a file relative to the repository root.
func physical(file string, line, col int) sarifPhysicalLocation {
	loc := sarifPhysicalLocation{ArtifactLocation: sarifArtifactLocation{URI: fileURI(file), URIBaseID: srcRoot}}
	if line > 0 {
		loc.Region = &sarifRegion{StartLine: line}
		if col > 0 {
			loc.Region.StartColumn = col
		}
	}
	return loc
}

// fileURI turns a '/'-separated relative path into a relative URI
// reference, escaping what a URI cannot hold (spaces, '%', '#', '?').
func fileURI(file string) string { return (&url.URL{Path: file}).String() }
