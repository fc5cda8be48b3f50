package check

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/prometheus/common/model"
)

// FuzzDecode feeds the Prometheus answer decoder arbitrary bodies. It must
// never panic, must explain every refusal, and whatever it accepts must be
// a successful scalar or one-sample vector whose value Prometheus' own
// types (prometheus/common/model) read the same.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"status":"success","data":{"resultType":"scalar","result":[1764626400.5,"0.25"]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"api"},"value":[1764626400.123,"42"]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]},{"metric":{},"value":[1,"2"]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"-Inf"]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{"count":"1","sum":"1"}]}]}}`,
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]]}]}}`,
		`{"status":"success","data":{"resultType":"string","result":[1,"x"]}}`,
		`{"status":"error","errorType":"bad_data","error":"parse error"}`,
		`{"status":"success","data":null}`,
		`{"status":"success","data":{"resultType":"scalar","result":null}}`,
		`{"status":"success","data":{"resultType":"scalar","result":[1,"1",2]}}`,
		`{}`, `null`, `[]`, ``, `{"status":"success","data":{"resultType":"vector","result":[null]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := decode(body)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("decode(%q): an error without a message", body)
			}
			return
		}
		var r struct {
			Status string `json:"status"`
			Data   struct {
				ResultType string          `json:"resultType"`
				Result     json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("decode(%q) = %v, but the body is not JSON: %v", body, v, err)
		}
		if r.Status != "success" {
			t.Fatalf("decode(%q) = %v for status %q", body, v, r.Status)
		}
		switch r.Data.ResultType {
		case "scalar":
			var s model.Scalar
			if json.Unmarshal(r.Data.Result, &s) == nil {
				same(t, body, v, float64(s.Value))
			}
		case "vector":
			var vec model.Vector
			if json.Unmarshal(r.Data.Result, &vec) != nil {
				return
			}
			if len(vec) != 1 {
				t.Fatalf("decode(%q) = %v for a vector of %d samples", body, v, len(vec))
			}
			if vec[0].Histogram == nil {
				same(t, body, v, float64(vec[0].Value))
			}
		default:
			t.Fatalf("decode(%q) = %v for result type %q", body, v, r.Data.ResultType)
		}
	})
}

func same(t *testing.T, body []byte, got, want float64) {
	t.Helper()
	if got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
		t.Fatalf("decode(%q) = %v, Prometheus reads %v", body, got, want)
	}
}
