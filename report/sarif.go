package report

import (
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
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
	ID               string           `json:"id"`
	Name             string           `json:"name"`
	ShortDescription sarifMessage     `json:"shortDescription"`
	FullDescription  sarifMessage     `json:"fullDescription"`
	Help             sarifMultiformat `json:"help"`
	HelpURI          string           `json:"helpUri"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifMultiformat struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
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

// ruleDoc documents one code cab reports with: what it means and how to
// fix it. GitHub code scanning shows the description next to each alert
// and the help in the alert's "Show more" panel.
type ruleDoc struct{ short, full, help string }

// ruleDocs documents every code cab reports with.
var ruleDocs = map[string]ruleDoc{
	"budget": {"Checking took more time or memory than allowed.",
		"Evaluating the ticket or a policy exceeded the per-ticket time or memory budget, so cab could not judge it; a blown budget is a failed check, never a pass.",
		"Make the ticket plain data and the policy simpler, or raise `--ticket-timeout` / `--max-memory` if the repository legitimately needs more."},
	"config": {"The repository configuration (cab.cue) is invalid.",
		"cab.cue does not match the #Config schema, or a value in it is inconsistent (an unknown environment in promotion, a target without a type, a key that does not parse).",
		"Run `cab schema` to see #Config and fix cab.cue at the position given; `cab check` on the repository shows every problem."},
	"config-ref": {"The ticket names an environment or target that cab.cue does not declare.",
		"Every environment in `environments` and every `target` of an action must be declared in the repository's cab.cue (read from the base branch in a pull request).",
		"Use one of the environments and targets cab.cue declares, or add the new one to cab.cue in a separate, approved governance change first."},
	"data-only": {"A ticket must be plain data: no definitions, comprehensions, references or imports.",
		"Tickets are data, policies are code: a ticket file may hold only literal CUE values, so that it cannot compute what the policies see.",
		"Write every value out literally: no imports, references, comprehensions, interpolations, definitions, defaults or disjunctions."},
	"duplicate-id": {"Two tickets have the same id.",
		"Ticket ids are unique across the whole change repository, merged tickets included.",
		"Give the new ticket the next free id (`cab new` picks one) and rename its file to match."},
	"file": {"The file cannot be read as a ticket.",
		"The file is not valid CUE, not UTF-8, too large, a symlink or submodule, or outside `changes/<service>/`.",
		"Fix the syntax at the position given, or move the file to `changes/<service>/<id>.cue` as a regular text file."},
	"governance": {"A change of the rules needs the approvals that governance requires.",
		"A pull request that changes cab.cue or policy/ changes the rules every ticket is judged by, so it needs the approvals of the base branch's governance group.",
		"Ask the members of the governance approver group named in cab.cue to approve the pull request."},
	"immutable": {"A merged ticket was changed.",
		"Tickets merged to the main line are the record of what was approved: editing, renaming or deleting one is refused.",
		"Revert the edit and open a new ticket with `supersedes:` (to replace it) or `cancels:` (to withdraw it)."},
	"internal": {"cab failed to check the file.",
		"An internal error stopped cab from judging the file; the check fails rather than passing unjudged.",
		"Re-run the check; if it fails again, report the message with the file that triggers it."},
	"layout": {"The ticket is not filed under the directory of its service.",
		"A ticket lives at `changes/<service>/<id>.cue`: the directory names its service and the file name its id.",
		"Move the file to the directory of the service the ticket names, or fix its `service` field."},
	"policy": {"A policy of the repository rejects the ticket.",
		"A policy in policy/ (read from the base branch in a pull request) denied the ticket; the message is the policy's, and the related location is the rule that denied it.",
		"Change the ticket so that the rule holds (the message says what it wants), or change the policy in a separate, approved governance change."},
	"post-review": {"The author owes a post-incident review of an emergency change.",
		"After an emergency change, its author's next ticket is refused once the review period has passed until a ticket with `postReviewOf:` records the review.",
		"File the post-incident review ticket (`postReviewOf: \"<emergency id>\"`) first."},
	"reference": {"The ticket refers to a ticket that does not exist.",
		"`dependsOn`, `supersedes` and `cancels` must name tickets that exist in the repository.",
		"Fix the id, or merge the ticket it depends on first."},
	"review": {"Review evidence (approvals) is missing or unusable.",
		"Approvals come from the forge by stable user id, for the current head; the author and anyone who pushed never count.",
		"Ask the required approvers to approve the current head of the pull request."},
	"schema": {"The ticket does not match the ticket schema.",
		"The ticket must match the closed #Ticket schema: every required field present, no unknown field, values of the right type and form.",
		"Fix the field at the position given; `cab schema` prints every field with its constraints."},
}

// ruleHelpURI is where the codes are documented for people.
const ruleHelpURI = InformationURI + "#the-pull-request-gate"

// rule describes code as a SARIF reportingDescriptor.
func rule(code string) sarifRule {
	doc, ok := ruleDocs[code]
	if !ok {
		doc = ruleDoc{
			short: "Problems of kind " + code + ".",
			full:  "cab reported a problem of kind " + code + ".",
			help:  "Read the message of each result: it says what is wrong and how to fix it.",
		}
	}
	return sarifRule{
		ID:               code,
		Name:             ruleName(code),
		ShortDescription: sarifMessage{Text: doc.short},
		FullDescription:  sarifMessage{Text: doc.full},
		Help:             sarifMultiformat{Text: doc.help, Markdown: doc.help},
		HelpURI:          ruleHelpURI,
	}
}

// ruleName is code in UpperCamelCase ("config-ref" → "ConfigRef"), as
// SARIF suggests for reportingDescriptor.name.
func ruleName(code string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(code, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// SARIF writes c as a SARIF 2.1.0 log with one run, for GitHub code
// scanning (github/codeql-action/upload-sarif) and other SARIF viewers.
// Each diagnostic is a result whose ruleId is its code, with one rule per
// code in tool.driver.rules, each with the shortDescription,
// fullDescription, help and helpUri that GitHub code scanning shows; the message holds the hint, and a policy
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
		driver.Rules = append(driver.Rules, rule(c))
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
