package controls

import (
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// OSCALVersion is the OSCAL version the documents of OSCAL declare and are
// tested against (NIST's published JSON schema, see testdata/oscal).
const OSCALVersion = "1.1.1"

// ns is the namespace of cab's own OSCAL properties.
const ns = "https://github.com/cabhq/cab/ns/oscal"

// DocumentOptions describe the OSCAL document around an assessment.
type DocumentOptions struct {
	// Title of the document; Version of its content (e.g. the ledger head).
	Title, Version string
	// Repository is the change repository the assessment covers.
	Repository string
	// Generated is when the document was made (last-modified).
	Generated time.Time
}

type (
	arDoc struct {
		AR assessmentResults `json:"assessment-results"`
	}
	assessmentResults struct {
		UUID       string     `json:"uuid"`
		Metadata   metadata   `json:"metadata"`
		ImportAP   href       `json:"import-ap"`
		Results    []result   `json:"results"`
		BackMatter backMatter `json:"back-matter"`
	}
	metadata struct {
		Title        string `json:"title"`
		LastModified string `json:"last-modified"`
		Version      string `json:"version"`
		OSCALVersion string `json:"oscal-version"`
	}
	href struct {
		Href    string `json:"href"`
		Remarks string `json:"remarks,omitempty"`
	}
	result struct {
		UUID             string        `json:"uuid"`
		Title            string        `json:"title"`
		Description      string        `json:"description"`
		Start            string        `json:"start"`
		End              string        `json:"end,omitempty"`
		ReviewedControls reviewed      `json:"reviewed-controls"`
		Observations     []observation `json:"observations,omitempty"`
		Findings         []finding     `json:"findings,omitempty"`
	}
	reviewed struct {
		ControlSelections []controlSelection `json:"control-selections"`
	}
	controlSelection struct {
		IncludeControls []controlID `json:"include-controls"`
	}
	controlID struct {
		ControlID string `json:"control-id"`
	}
	prop struct {
		Name  string `json:"name"`
		NS    string `json:"ns"`
		Value string `json:"value"`
	}
	evidenceRef struct {
		Href        string `json:"href,omitempty"`
		Description string `json:"description"`
	}
	observation struct {
		UUID             string        `json:"uuid"`
		Title            string        `json:"title"`
		Description      string        `json:"description"`
		Props            []prop        `json:"props,omitempty"`
		Methods          []string      `json:"methods"`
		Types            []string      `json:"types,omitempty"`
		RelevantEvidence []evidenceRef `json:"relevant-evidence,omitempty"`
		Collected        string        `json:"collected"`
	}
	finding struct {
		UUID                string       `json:"uuid"`
		Title               string       `json:"title"`
		Description         string       `json:"description"`
		Props               []prop       `json:"props,omitempty"`
		Target              target       `json:"target"`
		RelatedObservations []relatedObs `json:"related-observations,omitempty"`
	}
	target struct {
		Type     string `json:"type"`
		TargetID string `json:"target-id"`
		Status   status `json:"status"`
	}
	status struct {
		State  string `json:"state"`
		Reason string `json:"reason"`
	}
	relatedObs struct {
		ObservationUUID string `json:"observation-uuid"`
	}
	backMatter struct {
		Resources []resource `json:"resources"`
	}
	resource struct {
		UUID        string `json:"uuid"`
		Title       string `json:"title"`
		Description string `json:"description"`
	}
)

// uuidOf derives a version-5 style UUID from parts, so that the same
// assessment gives the same document.
func uuidOf(parts ...string) string {
	h := sha1.Sum([]byte("cab-oscal\x00" + strings.Join(parts, "\x00")))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// OSCAL writes a as an OSCAL assessment-results document (JSON, OSCAL
// 1.1): one result for the period, one observation per objective (the
// evidence) and per exception (linked to its ticket), and one finding per
// objective and control, satisfied or not.
func OSCAL(a *Assessment, o DocumentOptions) ([]byte, error) {
	if o.Title == "" {
		o.Title = "cab change-management controls"
	}
	if o.Version == "" {
		o.Version = "1"
	}
	gen := stamp(o.Generated)
	start := gen
	if !a.Since.IsZero() {
		start = stamp(a.Since)
	}
	end := ""
	if !a.Until.IsZero() {
		end = stamp(a.Until)
	}
	seed := o.Repository + "\x00" + start + "\x00" + end
	planUUID := uuidOf(seed, "plan")
	r := result{
		UUID: uuidOf(seed, "result"), Title: "Change management in " + periodText(a),
		Description: "Evidence from the cab ledger and change repository " + o.Repository + " mapped to SOC 2 CC8.1, ISO/IEC 27001:2022 A.8.32 and SOX ITGC change-management objectives.",
		Start:       start, End: end,
	}
	seen := map[string]bool{}
	var sel controlSelection
	for _, res := range a.Results {
		evid := observation{
			UUID: uuidOf(seed, "evidence", res.ID), Title: res.Title,
			Description: fmt.Sprintf("%s. %d of %d change(s) merged in the period carry it.", res.Evidence, res.Evidenced, res.Assessed),
			Props:       []prop{{Name: "objective", NS: ns, Value: res.ID}},
			Methods:     []string{"EXAMINE"}, Types: []string{"control-objective"}, Collected: gen,
		}
		r.Observations = append(r.Observations, evid)
		related := []relatedObs{{ObservationUUID: evid.UUID}}
		for i, e := range res.Exceptions {
			ob := observation{
				UUID: uuidOf(seed, "exception", res.ID, fmt.Sprint(i), e.Ticket, string(e.Kind)), Title: string(e.Kind) + " " + e.Ticket,
				Description: strings.TrimSpace(e.Ticket + " " + e.Title + ": " + e.Detail),
				Props:       []prop{{Name: "exception", NS: ns, Value: string(e.Kind)}},
				Methods:     []string{"EXAMINE"}, Types: []string{"finding"}, Collected: gen,
			}
			if e.Ticket != "" {
				ob.Props = append(ob.Props, prop{Name: "ticket", NS: ns, Value: e.Ticket})
			}
			ref := evidenceRef{Href: e.Link, Description: "the ticket " + e.Ticket}
			if e.Path != "" {
				ref.Description += " (" + e.Path + ")"
			}
			ob.RelevantEvidence = []evidenceRef{ref}
			r.Observations = append(r.Observations, ob)
			related = append(related, relatedObs{ObservationUUID: ob.UUID})
		}
		for _, c := range res.Controls {
			if !seen[c.OSCALID] {
				seen[c.OSCALID] = true
				sel.IncludeControls = append(sel.IncludeControls, controlID{ControlID: c.OSCALID})
			}
			reason := "pass"
			if res.Status != Satisfied {
				reason = "fail"
			}
			r.Findings = append(r.Findings, finding{
				UUID: uuidOf(seed, "finding", res.ID, c.OSCALID), Title: string(c.Framework) + " " + c.ID + ": " + res.Title,
				Description:         fmt.Sprintf("%s (%s %s, %s): %d exception(s) in the period.", res.Title, c.Framework, c.ID, c.Title, len(res.Exceptions)),
				Props:               []prop{{Name: "framework", NS: ns, Value: string(c.Framework)}, {Name: "control", NS: ns, Value: c.ID}},
				Target:              target{Type: "objective-id", TargetID: c.OSCALID + "_obj." + res.ID, Status: status{State: string(res.Status), Reason: reason}},
				RelatedObservations: related,
			})
		}
	}
	r.ReviewedControls = reviewed{ControlSelections: []controlSelection{sel}}
	doc := arDoc{AR: assessmentResults{
		UUID:     uuidOf(seed, "assessment-results"),
		Metadata: metadata{Title: o.Title, LastModified: gen, Version: o.Version, OSCALVersion: OSCALVersion},
		ImportAP: href{Href: "#" + planUUID, Remarks: "The plan is cab's control table (controls.Table): each objective, the evidence that answers it and the exceptions that break it."},
		Results:  []result{r},
		BackMatter: backMatter{Resources: []resource{{UUID: planUUID, Title: "cab control table",
			Description: "The mapping of cab evidence to change-management controls, documented in cab's README (Evidence mapped to controls)."}}},
	}}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the OSCAL document: %w", err)
	}
	return append(b, '\n'), nil
}

func periodText(a *Assessment) string {
	switch {
	case a.Since.IsZero() && a.Until.IsZero():
		return "all history"
	case a.Until.IsZero():
		return "the period since " + stamp(a.Since)
	case a.Since.IsZero():
		return "the period until " + stamp(a.Until)
	}
	return "the period " + stamp(a.Since) + " to " + stamp(a.Until)
}
