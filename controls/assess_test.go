package controls

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/audit"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// history has one change per exception kind, a clean change, an
// emergency reviewed in time, one not yet due and one merged before the
// period.
func history() []audit.Change {
	mk := func(n int, kind, merged, outcome string) audit.Change {
		m := at(merged)
		return audit.Change{ID: fmt.Sprintf("CHG-2026-%04d", n), Title: fmt.Sprintf("change %d", n), Kind: kind,
			Path: fmt.Sprintf("changes/svc/CHG-2026-%04d.cue", n), Author: "github:1", Merger: "github:9",
			Approvers: []string{"github:2"}, PR: int64(n), PRURL: fmt.Sprintf("https://github.com/acme/changes/pull/%d", n),
			MergedAt: m, Signature: "signed", SignedAt: m.Add(time.Minute), Outcome: outcome,
			Environments: []audit.EnvOutcome{{Env: "prod", Outcome: outcome, Verified: m.Add(time.Hour)}}}
	}
	clean := mk(1, "normal", "2026-01-05T10:00:00Z", "verified")
	unsigned := mk(2, "normal", "2026-01-06T10:00:00Z", "unsigned")
	unsigned.Signature, unsigned.PR, unsigned.PRURL, unsigned.Approvers = "unsigned", 0, "", nil
	unsigned.CommitURL = "https://github.com/acme/changes/commit/abc"
	unsigned.Environments[0].Verified = time.Time{}
	self := mk(3, "normal", "2026-01-07T10:00:00Z", "verified")
	self.Approvers = []string{"github:1", "github:9"} // the author and the merger
	rolled := mk(4, "normal", "2026-01-08T10:00:00Z", "rolled-back")
	rolled.Environments[0] = audit.EnvOutcome{Env: "prod", Outcome: "rolled-back", Reason: "postcheck error-rate failed"}
	emergencyLate := mk(5, "emergency", "2026-01-09T10:00:00Z", "verified")
	emergencyOK := mk(6, "emergency", "2026-01-10T10:00:00Z", "verified")
	review := mk(7, "normal", "2026-01-12T10:00:00Z", "verified")
	review.PostReviewOf = emergencyOK.ID
	emergencyNew := mk(8, "emergency", "2026-03-30T10:00:00Z", "verified") // review due after Now
	before := mk(9, "normal", "2025-12-01T10:00:00Z", "rolled-back")
	before.Environments[0].Outcome = "rolled-back"
	return []audit.Change{clean, unsigned, self, rolled, emergencyLate, emergencyOK, review, emergencyNew, before}
}

func options() Options {
	return Options{Since: at("2026-01-01T00:00:00Z"), Until: at("2026-04-01T00:00:00Z"), Now: at("2026-04-01T00:00:00Z")}
}

func verdict() *audit.Report {
	return &audit.Report{Breaks: []audit.Break{
		{Ticket: "CHG-2026-0002", Path: "changes/svc/CHG-2026-0002.cue", What: "unsigned", Message: "merged without passing the gate"},
		{Ticket: "CHG-2026-0009", What: "changed", Message: "outside the period"},
	}}
}

func TestAssess(t *testing.T) {
	a := Assess(history(), verdict(), options())
	type exc struct {
		Kind   ExceptionKind
		Ticket string
	}
	want := map[string][]exc{
		"approval":     {{Unsigned, "CHG-2026-0002"}},
		"segregation":  {{Unsigned, "CHG-2026-0002"}, {SelfApproved, "CHG-2026-0003"}, {SelfApproved, "CHG-2026-0003"}},
		"testing":      {{FailedChange, "CHG-2026-0004"}},
		"emergency":    {{NoPostReview, "CHG-2026-0005"}},
		"traceability": {{Unsigned, "CHG-2026-0002"}, {VerifyBreak, "CHG-2026-0002"}},
	}
	wantEvidenced := map[string]int{"approval": 7, "segregation": 6, "testing": 6, "emergency": 1, "traceability": 7}
	require.Len(t, a.Results, len(Table()))
	for _, r := range a.Results {
		var got []exc
		for _, e := range r.Exceptions {
			got = append(got, exc{e.Kind, e.Ticket})
			assert.NotEmpty(t, e.Link, "%s: exception %s on %s has no link to its ticket", r.ID, e.Kind, e.Ticket)
		}
		assert.Equal(t, want[r.ID], got, "exceptions of %s", r.ID)
		assert.Equal(t, NotSatisfied, r.Status, "%s", r.ID)
		assert.Equal(t, 8, r.Assessed, "%s: changes merged in the period", r.ID)
		assert.Equal(t, wantEvidenced[r.ID], r.Evidenced, "%s: changes carrying the evidence", r.ID)
	}
}

func TestAssessCleanPeriodIsSatisfied(t *testing.T) {
	h := history()
	a := Assess(h[:1], &audit.Report{}, options())
	for _, r := range a.Results {
		if r.ID == "emergency" {
			assert.Equal(t, 0, r.Evidenced)
		}
		assert.Equal(t, Satisfied, r.Status, "%s: %v", r.ID, r.Exceptions)
		assert.Empty(t, r.Exceptions)
	}
}

// TestTableIsComplete checks the mapping: every objective maps to the
// three frameworks, is broken by some exception, and every exception kind
// breaks some objective.
func TestTableIsComplete(t *testing.T) {
	broken := map[ExceptionKind]bool{}
	for _, o := range Table() {
		fw := map[Framework]bool{}
		for _, c := range o.Controls {
			fw[c.Framework] = true
		}
		assert.Equal(t, map[Framework]bool{SOC2: true, ISO2022: true, SOX: true}, fw, "%s", o.ID)
		assert.NotEmpty(t, o.Breaks, "%s", o.ID)
		assert.NotEmpty(t, o.Evidence, "%s", o.ID)
		for _, k := range o.Breaks {
			broken[k] = true
		}
	}
	for _, k := range []ExceptionKind{Unsigned, SelfApproved, FailedChange, NoPostReview, VerifyBreak} {
		assert.True(t, broken[k], "exception %s breaks no objective", k)
	}
}

func nistSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "oscal", "oscal_complete_schema-1.1.1.json"))
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	require.Positive(t, refsWithID(doc), "the schema should have $id beside $ref (see refsWithID)")
	id, _ := doc.(map[string]any)["$id"].(string)
	require.NotEmpty(t, id)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	require.NoError(t, c.AddResource(id, doc))
	s, err := c.Compile(id)
	require.NoError(t, err)
	return s
}

// refsWithID rewrites, in memory, the subschemas of NIST's schema that
// hold both "$id": "#anchor" and "$ref" (draft-07 ignores every sibling
// of $ref, so the anchor would not exist) into the same constraint with
// the reference under allOf, which keeps the anchor and the reference; it
// is what NIST means and what the validators of the OSCAL project do. The
// file in testdata stays as published. It returns how many it rewrote.
func refsWithID(v any) int {
	n := 0
	switch x := v.(type) {
	case map[string]any:
		if id, ok := x["$id"].(string); ok && strings.HasPrefix(id, "#") {
			if ref, ok := x["$ref"]; ok {
				delete(x, "$ref")
				x["allOf"] = []any{map[string]any{"$ref": ref}}
				n++
			}
		}
		for _, e := range x {
			n += refsWithID(e)
		}
	case []any:
		for _, e := range x {
			n += refsWithID(e)
		}
	}
	return n
}

func validate(t *testing.T, s *jsonschema.Schema, b []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	return s.Validate(inst)
}

func TestOSCALValidatesAgainstNISTSchema(t *testing.T) {
	s := nistSchema(t)
	gen := at("2026-04-01T08:00:00Z")
	cases := map[string]*Assessment{
		"exceptions": Assess(history(), verdict(), options()),
		"clean":      Assess(history()[:1], nil, options()),
		"unbounded":  Assess(history(), nil, Options{Now: gen}),
		"no changes": Assess(nil, nil, options()),
	}
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := OSCAL(a, DocumentOptions{Repository: "github.com/acme/changes", Generated: gen, Version: "ledger abc"})
			require.NoError(t, err)
			assert.NoError(t, validate(t, s, b))
			again, err := OSCAL(a, DocumentOptions{Repository: "github.com/acme/changes", Generated: gen, Version: "ledger abc"})
			require.NoError(t, err)
			assert.Equal(t, string(b), string(again), "the document must be a function of its inputs")
		})
	}
}

// TestOSCALSchemaRejects proves the validation can fail: documents broken
// in ways the schema forbids are rejected.
func TestOSCALSchemaRejects(t *testing.T) {
	s := nistSchema(t)
	b, err := OSCAL(Assess(history(), verdict(), options()), DocumentOptions{Generated: at("2026-04-01T08:00:00Z")})
	require.NoError(t, err)
	for name, edit := range map[string]func(string) string{
		"bad state":     func(d string) string { return strings.Replace(d, `"state": "not-satisfied"`, `"state": "mostly"`, 1) },
		"bad uuid":      func(d string) string { return strings.Replace(d, `"uuid": "`, `"uuid": "x`, 1) },
		"unknown field": func(d string) string { return strings.Replace(d, `"results": [`, `"verdict": 1, "results": [`, 1) },
		"no timezone": func(d string) string {
			return strings.Replace(d, `"collected": "2026-04-01T08:00:00Z"`, `"collected": "2026-04-01T08:00:00"`, 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			broken := edit(string(b))
			require.NotEqual(t, string(b), broken, "the edit must apply")
			assert.Error(t, validate(t, s, []byte(broken)))
		})
	}
}

func TestOSCALLinksExceptionsToTickets(t *testing.T) {
	b, err := OSCAL(Assess(history(), verdict(), options()), DocumentOptions{Generated: at("2026-04-01T08:00:00Z")})
	require.NoError(t, err)
	var doc struct {
		AR struct {
			Results []struct {
				Observations []struct {
					Props            []struct{ Name, Value string }
					RelevantEvidence []struct{ Href string } `json:"relevant-evidence"`
				}
				Findings []struct {
					Target struct {
						TargetID string `json:"target-id"`
						Status   struct{ State string }
					}
				}
			}
		} `json:"assessment-results"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	require.Len(t, doc.AR.Results, 1)
	r := doc.AR.Results[0]
	tickets := map[string]string{}
	for _, o := range r.Observations {
		for _, p := range o.Props {
			if p.Name == "ticket" {
				require.Len(t, o.RelevantEvidence, 1)
				tickets[p.Value] = o.RelevantEvidence[0].Href
			}
		}
	}
	assert.Equal(t, map[string]string{
		"CHG-2026-0002": "https://github.com/acme/changes/commit/abc",
		"CHG-2026-0003": "https://github.com/acme/changes/pull/3",
		"CHG-2026-0004": "https://github.com/acme/changes/pull/4",
		"CHG-2026-0005": "https://github.com/acme/changes/pull/5",
	}, tickets)
	assert.Len(t, r.Findings, 15, "five objectives, three controls each")
	for _, f := range r.Findings {
		assert.Equal(t, "not-satisfied", f.Target.Status.State, f.Target.TargetID)
	}
}
