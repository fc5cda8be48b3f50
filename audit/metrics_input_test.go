package audit_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/audit"
)

func TestReadChanges(t *testing.T) {
	one := `{"id":"CHG-2026-0001","service":"payments","mergedAt":"2026-01-05T11:00:00+01:00","environments":[{"env":"prod","outcome":"verified","verified":"2026-01-06T09:15:00Z"}],"outcome":"verified"}`
	two := `{"id":"CHG-2026-0002","service":"search","mergedAt":"2026-01-07T13:00:00Z","outcome":"pending"}`
	tests := []struct {
		name, in string
		ids      []string
		err      string
	}{
		{"empty", "", []string{}, ""},
		{"blank", " \n\t", []string{}, ""},
		{"empty array", "[]", []string{}, ""},
		{"null array", "null", nil, "change 1: want the JSON of cab log --format json"},
		{"array", "[" + one + "," + two + "]\n", []string{"CHG-2026-0001", "CHG-2026-0002"}, ""},
		{"json lines", one + "\n" + two + "\n", []string{"CHG-2026-0001", "CHG-2026-0002"}, ""},
		{"cab log document", `{"changes":[` + one + "," + two + `],"mainHead":"abc","ledgerHead":"def","merged":2,"rows":2,"problems":[]}`, []string{"CHG-2026-0001", "CHG-2026-0002"}, ""},
		{"cab log document, no changes", `{"changes":[],"rows":0}`, []string{}, ""},
		{"indented", "\n  " + strings.ReplaceAll(one, ",", ",\n  ") + "\n", []string{"CHG-2026-0001"}, ""},
		{"unknown field", `{"id":"x","period":"all"}`, nil, `change 1: want the JSON of cab log --format json: json: unknown field "period"`},
		{"metrics document", `{"period":"all","rows":[]}`, nil, `unknown field "period"`},
		{"second bad", one + "\n{", nil, "change 2: "},
		{"trailing after array", "[" + one + "] {}", nil, "something follows it"},
		{"bad time", `{"id":"x","mergedAt":"yesterday"}`, nil, "change 1: "},
		{"not json", "id,title\n", nil, "change 1: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := audit.ReadChanges(strings.NewReader(tt.in))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			ids := []string{}
			for _, c := range got {
				ids = append(ids, c.ID)
			}
			assert.Equal(t, tt.ids, ids)
		})
	}
	got, err := audit.ReadChanges(strings.NewReader(one))
	require.NoError(t, err)
	assert.Equal(t, "2026-01-05T10:00:00Z", got[0].MergedAt.UTC().Format("2006-01-02T15:04:05Z07:00"), "RFC 3339 offsets are kept")
	assert.Equal(t, "prod", got[0].Environments[0].Env)
}

// FuzzReadChanges: whatever the input, ReadChanges returns changes or an
// error, and what it returns survives a JSON round trip.
func FuzzReadChanges(f *testing.F) {
	f.Add(`[{"id":"CHG-2026-0001","mergedAt":"2026-01-05T11:00:00Z"}]`)
	f.Add(`{"id":"a"}` + "\n" + `{"id":"b","environments":[{"env":"prod"}]}`)
	f.Add(" ")
	f.Add("[")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := audit.ReadChanges(strings.NewReader(in))
		if err != nil {
			return
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("re-encoding %d change(s): %v", len(got), err)
		}
		again, err := audit.ReadChanges(strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("re-reading %s: %v", b, err)
		}
		if len(again) != len(got) {
			t.Fatalf("round trip: %d change(s), then %d", len(got), len(again))
		}
	})
}
