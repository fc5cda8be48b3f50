package check_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile/check"
	"github.com/cabhq/cab/reconcile/target"
)

// clock is a fake clock: Sleep advances it.
type clock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps int
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.sleeps++
	return nil
}

func (c *clock) options(budget, interval time.Duration) check.Options {
	return check.Options{Budget: budget, Interval: interval, Now: c.Now, Sleep: c.Sleep}
}

// answer is one scripted answer of a test server.
type answer struct {
	status int
	body   string
}

// scripted serves its answers in order, repeating the last one, and
// counts the requests.
type scripted struct {
	answers []answer
	n       atomic.Int64
	mu      sync.Mutex
	paths   []string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(s.n.Add(1)) - 1
	s.mu.Lock()
	s.paths = append(s.paths, r.URL.Path+"?"+r.URL.RawQuery)
	s.mu.Unlock()
	a := s.answers[min(i, len(s.answers)-1)]
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func server(t *testing.T, answers ...answer) (*httptest.Server, *scripted) {
	t.Helper()
	s := &scripted{answers: answers}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, s
}

// value is a Prometheus answer holding one sample.
func value(v string) answer {
	return answer{200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"api"},"value":[1764626400.123,"` + v + `"]}]}}`}
}

func threshold(f float64) *float64 { return &f }

func TestQuery(t *testing.T) {
	tests := []struct {
		name    string
		answer  answer
		want    float64
		wantErr string
		wantIs  error
	}{
		{"scalar", answer{200, `{"status":"success","data":{"resultType":"scalar","result":[1764626400.5,"0.25"]}}`}, 0.25, "", nil},
		{"one-sample vector", value("42"), 42, "", nil},
		{"vector without labels", answer{200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"-1e-3"]}]}}`}, -0.001, "", nil},
		{"+Inf", value("+Inf"), math.Inf(1), "", nil},
		{"warnings are fine", answer{200, `{"status":"success","warnings":["w"],"data":{"resultType":"scalar","result":[1,"7"]}}`}, 7, "", nil},
		{"empty vector", answer{200, `{"status":"success","data":{"resultType":"vector","result":[]}}`}, 0, "no data: the query matched no series", check.ErrNoData},
		{"several samples", answer{200, `{"status":"success","data":{"resultType":"vector","result":[` +
			`{"metric":{"i":"1"},"value":[1,"1"]},{"metric":{"i":"2"},"value":[1,"2"]},{"metric":{"i":"3"},"value":[1,"3"]}]}}`},
			0, "the query returned 3 series, want one: aggregate it", nil},
		{"error status", answer{400, `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected \")\""}`},
			0, `prometheus: bad_data: invalid parameter "query": 1:5: parse error: unexpected ")"`, nil},
		{"error status with 200", answer{200, `{"status":"error","errorType":"timeout","error":"query timed out"}`}, 0, "prometheus: timeout: query timed out", nil},
		{"matrix", answer{200, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]]}]}}`},
			0, "the query returned a matrix, want a vector or a scalar", nil},
		{"string", answer{200, `{"status":"success","data":{"resultType":"string","result":[1,"x"]}}`}, 0, "returned a string", nil},
		{"unknown result type", answer{200, `{"status":"success","data":{"resultType":"table","result":[]}}`}, 0, `result type "table"`, nil},
		{"native histogram", answer{200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{"count":"1","sum":"1"}]}]}}`},
			0, "native histogram", nil},
		{"sample without value", answer{200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}}`}, 0, "vector sample has no value", nil},
		{"value not a number", value("many"), 0, `sample value "many" is not a number`, nil},
		{"value not a string", answer{200, `{"status":"success","data":{"resultType":"scalar","result":[1,2]}}`}, 0, "sample value 2 is not a string", nil},
		{"sample too short", answer{200, `{"status":"success","data":{"resultType":"scalar","result":[1]}}`}, 0, `sample [1] is not [<time>, "<value>"]`, nil},
		{"no data field", answer{200, `{"status":"success"}`}, 0, "answer has no data", nil},
		{"odd status", answer{200, `{"status":"partial"}`}, 0, `status "partial"`, nil},
		{"not JSON", answer{200, `<html>`}, 0, "answer is not a Prometheus API response", nil},
		{"proxy error page", answer{502, `<html>bad gateway</html>`}, 0, "502 Bad Gateway: <html>bad gateway</html>", nil},
		{"too large", answer{200, strings.Repeat(" ", check.MaxBody+1)}, 0, "answer larger than 1048576 bytes", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, s := server(t, tt.answer)
			got, err := check.Query(t.Context(), srv.Client(), srv.URL+"/prom/?tenant=a", `sum(rate(http_errors_total{job="api"}[5m]))`)
			require.Len(t, s.paths, 1)
			assert.Equal(t, `/prom/api/v1/query?query=sum%28rate%28http_errors_total%7Bjob%3D%22api%22%7D%5B5m%5D%29%29&tenant=a`, s.paths[0])
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.ErrorContains(t, err, "querying "+srv.URL+"/prom/?tenant=a for ")
				if tt.wantIs != nil {
					assert.ErrorIs(t, err, tt.wantIs)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestQueryNaN(t *testing.T) {
	srv, _ := server(t, value("NaN"))
	got, err := check.Query(t.Context(), nil, srv.URL, "up")
	require.NoError(t, err)
	assert.True(t, math.IsNaN(got), "got %v, want NaN", got)
}

func TestQueryAPIError(t *testing.T) {
	srv, _ := server(t, answer{422, `{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}`})
	_, err := check.Query(t.Context(), nil, srv.URL, "a / b")
	var apiErr *check.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, check.APIError{Type: "execution", Message: "many-to-many matching not allowed"}, *apiErr)
}

func TestQueryBadServer(t *testing.T) {
	for _, s := range []string{"", "prometheus:9090", "file:///etc", "http://"} {
		_, err := check.Query(t.Context(), nil, s, "up")
		assert.ErrorContains(t, err, "want an http or https URL", "server %q", s)
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	_, err := check.Query(t.Context(), nil, base, "up")
	assert.ErrorContains(t, err, "no answer: ")
}

func TestCompare(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		v    float64
		op   string
		t    float64
		want bool
	}{
		{1, "<", 2, true}, {2, "<", 2, false}, {3, "<", 2, false},
		{1, "<=", 2, true}, {2, "<=", 2, true}, {3, "<=", 2, false},
		{1, ">", 2, false}, {2, ">", 2, false}, {3, ">", 2, true},
		{1, ">=", 2, false}, {2, ">=", 2, true}, {3, ">=", 2, true},
		{1, "==", 2, false}, {2, "==", 2, true},
		{1, "!=", 2, true}, {2, "!=", 2, false},
		{nan, "<", 2, false}, {nan, "<=", 2, false}, {nan, ">", 2, false},
		{nan, ">=", 2, false}, {nan, "==", 2, false}, {nan, "!=", 2, false},
		{nan, "==", nan, false}, {nan, "!=", nan, false}, {1, "!=", nan, false},
		{math.Inf(1), ">", 1e308, true}, {math.Inf(-1), "<", -1e308, true},
		{1, "=", 1, false}, {1, "", 1, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v %s %v", tt.v, tt.op, tt.t), func(t *testing.T) {
			assert.Equal(t, tt.want, check.Compare(tt.v, tt.op, tt.t))
		})
	}
}

func TestPrometheusCheck(t *testing.T) {
	tests := []struct {
		name       string
		answer     answer
		op         string
		threshold  float64
		wantOK     bool
		wantDetail string
	}{
		{"< passes", value("0.1"), "<", 0.5, true, "value 0.1, want < 0.5"},
		{"< fails", value("0.7"), "<", 0.5, false, "value 0.7, want < 0.5"},
		{"<= at the threshold", value("0.5"), "<=", 0.5, true, "value 0.5, want <= 0.5"},
		{"<= above", value("0.51"), "<=", 0.5, false, "value 0.51, want <= 0.5"},
		{"> passes", value("99.9"), ">", 99, true, "value 99.9, want > 99"},
		{"> at the threshold", value("99"), ">", 99, false, "value 99, want > 99"},
		{">= at the threshold", value("99"), ">=", 99, true, "value 99, want >= 99"},
		{">= below", value("98"), ">=", 99, false, "value 98, want >= 99"},
		{"== passes", value("1"), "==", 1, true, "value 1, want == 1"},
		{"== fails", value("0"), "==", 1, false, "value 0, want == 1"},
		{"!= passes", value("0"), "!=", 1, true, "value 0, want != 1"},
		{"!= fails", value("1"), "!=", 1, false, "value 1, want != 1"},
		{"NaN never passes !=", value("NaN"), "!=", 1, false, "value NaN, want != 1"},
		{"NaN never passes <", value("NaN"), "<", 1, false, "value NaN, want < 1"},
		{"empty vector", answer{200, `{"status":"success","data":{"resultType":"vector","result":[]}}`}, "<", 1, false,
			"no data: the query matched no series"},
		{"many samples", answer{200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"0"]},{"metric":{"a":"2"},"value":[1,"0"]}]}}`},
			"<", 1, false, "the query returned 2 series, want one: aggregate it, e.g. sum(…) or max(…)"},
		{"error status", answer{400, `{"status":"error","errorType":"bad_data","error":"parse error"}`}, "<", 1, false,
			"prometheus: bad_data: parse error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := server(t, tt.answer)
			c := model.Check{Type: "prometheus", Name: "errors", Query: "sum(rate(errors[5m]))", Op: tt.op, Threshold: threshold(tt.threshold)}
			out, err := check.Run(t.Context(), []model.Check{c}, check.Options{Prometheus: srv.URL})
			require.Len(t, out, 1)
			assert.Equal(t, check.Outcome{Name: "errors", Type: "prometheus", OK: tt.wantOK, Detail: tt.wantDetail, Attempts: 1}, out[0])
			if tt.wantOK {
				assert.NoError(t, err)
			} else {
				var f *check.Failed
				require.ErrorAs(t, err, &f)
				assert.Equal(t, []string{"errors"}, f.Names())
			}
		})
	}
}

func TestPrometheusServer(t *testing.T) {
	envSrv, envCalls := server(t, value("1"))
	ownSrv, ownCalls := server(t, value("1"))
	c := model.Check{Type: "prometheus", Query: "up", Op: "==", Threshold: threshold(1)}

	_, err := check.Run(t.Context(), []model.Check{c}, check.Options{Prometheus: envSrv.URL})
	require.NoError(t, err)
	assert.EqualValues(t, 1, envCalls.n.Load(), "the environment's server is the default")

	c.Server = ownSrv.URL
	_, err = check.Run(t.Context(), []model.Check{c}, check.Options{Prometheus: envSrv.URL})
	require.NoError(t, err)
	assert.EqualValues(t, 1, ownCalls.n.Load(), "the check's server wins")
	assert.EqualValues(t, 1, envCalls.n.Load())

	c.Server = ""
	out, err := check.Run(t.Context(), []model.Check{c}, check.Options{})
	require.Error(t, err)
	assert.Equal(t, check.Outcome{Name: "up", Type: "prometheus", Detail: "no Prometheus server: set server on the check or prometheus on the environment in cab.cue"}, out[0])
}

func TestFor(t *testing.T) {
	pass, fail := value("0.1"), value("0.9")
	tests := []struct {
		name         string
		answers      []answer
		hold         string
		wantOK       bool
		wantAttempts int
		wantDetail   string
	}{
		{"holding", []answer{pass}, "3s", true, 4, "value 0.1, want < 0.5, held for 3s"},
		{"fails first, then holds", []answer{fail, fail, pass}, "3s", true, 6, "value 0.1, want < 0.5, held for 3s"},
		{"a flap starts the wait over", []answer{pass, pass, fail, pass, pass, pass, pass}, "3s", true, 7, "value 0.1, want < 0.5, held for 3s"},
		{"flapping never holds", flap(pass, fail, 20), "3s", false, 11, "value 0.1, want < 0.5 (held at most 0s of 3s)"},
		{"flapping in pairs never holds", pairs(pass, fail, 20), "3s", false, 11, "value 0.1, want < 0.5 (held at most 1s of 3s)"},
		{"failing", []answer{fail}, "3s", false, 11, "value 0.9, want < 0.5 (held at most 0s of 3s)"},
		{"flapping without for passes on the first success", []answer{fail, pass, fail}, "", true, 2, "value 0.1, want < 0.5"},
		{"for 0s passes at once", []answer{pass}, "0s", true, 1, "value 0.1, want < 0.5"},
		{"for longer than the budget", []answer{pass}, "11s", false, 0,
			"for 11s is longer than the check budget 10s: it cannot pass; shorten for or raise the budget"},
		{"for malformed", []answer{pass}, "soon", false, 0, `for "soon": want a duration such as 500ms or 2m`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, s := server(t, tt.answers...)
			clk := newClock()
			o := clk.options(10*time.Second, time.Second)
			o.Prometheus = srv.URL
			c := model.Check{Type: "prometheus", Name: "errors", Query: "errors", Op: "<", Threshold: threshold(0.5), For: tt.hold}
			out, err := check.Run(t.Context(), []model.Check{c}, o)
			require.Len(t, out, 1)
			assert.Equal(t, check.Outcome{Name: "errors", Type: "prometheus", OK: tt.wantOK, Detail: tt.wantDetail, Attempts: tt.wantAttempts}, out[0])
			assert.EqualValues(t, tt.wantAttempts, s.n.Load(), "queries sent")
			assert.LessOrEqual(t, clk.Now().Sub(newClock().Now()), 10*time.Second, "within the budget")
			if tt.wantOK {
				assert.NoError(t, err)
			} else {
				var f *check.Failed
				assert.ErrorAs(t, err, &f)
			}
		})
	}
}

func flap(a, b answer, n int) []answer {
	var out []answer
	for i := range n {
		out = append(out, []answer{a, b}[i%2])
	}
	return out
}

func pairs(a, b answer, n int) []answer {
	var out []answer
	for i := range n {
		out = append(out, []answer{a, a, b}[i%3])
	}
	return out
}

func TestForRealClock(t *testing.T) {
	// The same with real time: a steady answer holds, a flapping one
	// does not, and both end within the budget.
	for _, tt := range []struct {
		name    string
		answers []answer
		wantOK  bool
	}{
		{"holding", []answer{value("1")}, true},
		{"flapping", flap(value("1"), value("0"), 1000), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := server(t, tt.answers...)
			c := model.Check{Type: "prometheus", Server: srv.URL, Query: "up", Op: "==", Threshold: threshold(1), For: "30ms"}
			start := time.Now()
			out, err := check.Run(t.Context(), []model.Check{c}, check.Options{Budget: 300 * time.Millisecond, Interval: 5 * time.Millisecond})
			assert.Less(t, time.Since(start), 10*time.Second)
			assert.Equal(t, tt.wantOK, out[0].OK, out[0].Detail)
			assert.Equal(t, tt.wantOK, err == nil, "err %v", err)
			assert.GreaterOrEqual(t, out[0].Attempts, 2, "holding takes two samples at least")
			assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond, "holding for 30ms takes 30ms")
		})
	}
}

func TestHTTPCheck(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		check      model.Check
		wantOK     bool
		wantDetail string // prefix
		attempts   int
	}{
		{"ok", respond(200, "ok"), model.Check{}, true, "status 200 in ", 1},
		{"status mismatch", respond(503, "down"), model.Check{}, false, "status 503, want 200", 1},
		{"expected status", respond(204, ""), model.Check{ExpectStatus: 204}, true, "status 204 in ", 1},
		{"expected status mismatch", respond(200, ""), model.Check{ExpectStatus: 204}, false, "status 200, want 204", 1},
		{"regex matches", respond(200, `{"status":"green","version":"1.4.2"}`), model.Check{BodyRegex: `"version":"1\.4\.\d+"`}, true, "status 200 in ", 1},
		{"regex mismatch", respond(200, `{"version":"1.3.9"}`), model.Check{BodyRegex: `"version":"1\.4\.\d+"`}, false, `body does not match "\"version\":\"1\\.4\\.\\d+\""`, 1},
		{"regex beyond the cap", respond(200, strings.Repeat("x", check.MaxBody)+"ok"), model.Check{BodyRegex: "ok"}, false, `body does not match "ok"`, 1},
		{"invalid regex", respond(200, "ok"), model.Check{BodyRegex: "(ok"}, false, "bodyRegex: error parsing regexp: missing closing ): `(ok` (RE2 syntax", 0},
		{"latency within", respond(200, "ok"), model.Check{MaxLatency: "5s"}, true, "status 200 in ", 1},
		{"latency over", slow(80*time.Millisecond, 200), model.Check{MaxLatency: "20ms"}, false, "latency ", 1},
		{"status before latency", slow(80*time.Millisecond, 500), model.Check{MaxLatency: "20ms"}, false, "status 500, want 200", 1},
		{"timeout", slow(5*time.Second, 200), model.Check{Timeout: "50ms"}, false, "no answer within 50ms", 1},
		{"bad maxLatency", respond(200, "ok"), model.Check{MaxLatency: "fast"}, false, `maxLatency "fast": want a duration such as 500ms or 2m`, 0},
		{"bad timeout", respond(200, "ok"), model.Check{Timeout: "-1s"}, false, `timeout "-1s": must not be negative`, 0},
		{"bad expectStatus", respond(200, "ok"), model.Check{ExpectStatus: 99}, false, "expectStatus 99: want an HTTP status between 100 and 599", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			c := tt.check
			c.Type, c.Name, c.URL = "http", "health", srv.URL+"/healthz"
			out, err := check.Run(t.Context(), []model.Check{c}, check.Options{})
			require.Len(t, out, 1)
			o := out[0]
			assert.Equal(t, tt.wantOK, o.OK, "detail %q", o.Detail)
			assert.True(t, strings.HasPrefix(o.Detail, tt.wantDetail), "detail %q, want it to start with %q", o.Detail, tt.wantDetail)
			assert.Equal(t, tt.attempts, o.Attempts)
			assert.Equal(t, tt.wantOK, err == nil, "err %v", err)
		})
	}
}

func TestHTTPLatencyDetail(t *testing.T) {
	srv := httptest.NewServer(slow(60*time.Millisecond, 200))
	t.Cleanup(srv.Close)
	c := model.Check{Type: "http", URL: srv.URL, MaxLatency: "10ms"}
	out, _ := check.Run(t.Context(), []model.Check{c}, check.Options{})
	fields := strings.Fields(out[0].Detail)
	require.Len(t, fields, 6, out[0].Detail)
	assert.Equal(t, []string{"latency", "want", "at", "most", "10ms"}, append(fields[:1:1], fields[2:]...))
	got, err := time.ParseDuration(strings.TrimSuffix(fields[1], ","))
	require.NoError(t, err, out[0].Detail)
	assert.GreaterOrEqual(t, got, 60*time.Millisecond)
}

func respond(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func slow(d time.Duration, status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(status)
	}
}

func TestRetriesUntilPass(t *testing.T) {
	srv, s := server(t, answer{503, "starting"}, answer{503, "starting"}, answer{200, "ok"})
	c := model.Check{Type: "http", URL: srv.URL + "/healthz"}
	out, err := check.Run(t.Context(), []model.Check{c}, check.Options{Budget: 2 * time.Second, Interval: 5 * time.Millisecond})
	require.NoError(t, err)
	assert.True(t, out[0].OK)
	assert.Equal(t, 3, out[0].Attempts)
	assert.EqualValues(t, 3, s.n.Load(), "a passing check is not tried again")
}

func TestBudgetSpent(t *testing.T) {
	down, _ := server(t, answer{500, "down"})
	up, upCalls := server(t, answer{200, "ok"})
	prom, _ := server(t, value("0.9"))
	checks := []model.Check{
		{Type: "http", Name: "api", URL: down.URL + "/healthz"},
		{Type: "http", URL: up.URL + "/healthz"},
		{Type: "prometheus", Name: "error rate", Query: "errors", Op: "<", Threshold: threshold(0.5)},
		{Type: "http", Name: "typo", URL: up.URL, BodyRegex: "["},
	}
	clk := newClock()
	o := clk.options(3*time.Second, time.Second)
	o.Prometheus = prom.URL
	out, err := check.Run(t.Context(), checks, o)
	var f *check.Failed
	require.ErrorAs(t, err, &f)
	assert.Equal(t, []string{"api", "error rate", "typo"}, f.Names())
	assert.Equal(t, 4, f.Total)
	assert.Equal(t, "3 of 4 checks failed: api: status 500, want 200; error rate: value 0.9, want < 0.5; "+
		"typo: bodyRegex: error parsing regexp: missing closing ]: `[` (RE2 syntax, see https://pkg.go.dev/regexp/syntax)", err.Error())

	want := []check.Outcome{
		{Name: "api", Type: "http", Detail: "status 500, want 200", Attempts: 4},
		{Name: "GET " + up.URL + "/healthz", Type: "http", OK: true, Attempts: 1},
		{Name: "error rate", Type: "prometheus", Detail: "value 0.9, want < 0.5", Attempts: 4},
		{Name: "typo", Type: "http", Detail: "bodyRegex: error parsing regexp: missing closing ]: `[` (RE2 syntax, see https://pkg.go.dev/regexp/syntax)"},
	}
	require.Len(t, out, len(want))
	assert.True(t, strings.HasPrefix(out[1].Detail, "status 200 in "), out[1].Detail)
	out[1].Detail = ""
	assert.Equal(t, want, out)
	assert.EqualValues(t, 1, upCalls.n.Load())
	assert.Equal(t, 3, clk.sleeps, "one pause between rounds, not one per check")
}

func TestNoBudgetOneAttempt(t *testing.T) {
	srv, s := server(t, answer{500, "down"})
	out, err := check.Run(t.Context(), []model.Check{{Type: "http", URL: srv.URL}}, check.Options{})
	require.Error(t, err)
	assert.Equal(t, 1, out[0].Attempts)
	assert.EqualValues(t, 1, s.n.Load())
}

func TestCancel(t *testing.T) {
	srv, _ := server(t, answer{500, "down"})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	out, err := check.Run(ctx, []model.Check{{Type: "http", URL: srv.URL}}, check.Options{Budget: time.Hour, Interval: 10 * time.Millisecond})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var f *check.Failed
	assert.False(t, errors.As(err, &f), "a cancelled run is not a failed check")
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.False(t, out[0].OK)
}

func TestNames(t *testing.T) {
	long := "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m])) / sum by (job) (rate(http_requests_total[5m]))"
	tests := []struct {
		check model.Check
		want  string
	}{
		{model.Check{Type: "http", Name: "health", URL: "http://127.0.0.1:1/"}, "health"},
		{model.Check{Type: "http", URL: "http://user:secret@127.0.0.1:1/healthz"}, "GET http://user:xxxxx@127.0.0.1:1/healthz"},
		{model.Check{Type: "prometheus", Query: "sum(\n  up\n)"}, "sum( up )"},
		{model.Check{Type: "prometheus", Query: long}, long[:59] + "…"},
		{model.Check{Type: "tcp"}, "tcp check"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			out, err := check.Run(t.Context(), []model.Check{tt.check}, check.Options{})
			require.Error(t, err)
			assert.Equal(t, tt.want, out[0].Name)
			assert.NotContains(t, out[0].Detail, "secret")
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		check model.Check
		want  string
	}{
		{"unknown type", model.Check{Type: "tcp"}, `unknown check type "tcp": want http or prometheus`},
		{"http without URL", model.Check{Type: "http"}, `url "": want an http or https URL`},
		{"http ftp URL", model.Check{Type: "http", URL: "ftp://x/"}, `url "ftp://x/": want an http or https URL`},
		{"unknown op", model.Check{Type: "prometheus", Server: "http://p", Query: "up", Op: "=>", Threshold: threshold(1)}, `op "=>": want one of < <= > >= == !=`},
		{"no threshold", model.Check{Type: "prometheus", Server: "http://p", Query: "up", Op: "<"}, "threshold is missing"},
		{"no query", model.Check{Type: "prometheus", Server: "http://p", Op: "<", Threshold: threshold(1)}, "query is empty"},
		{"bad server", model.Check{Type: "prometheus", Server: "p:9090", Query: "up", Op: "<", Threshold: threshold(1)}, `server "p:9090": want an http or https URL such as http://prometheus:9090`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := check.Run(t.Context(), []model.Check{tt.check}, check.Options{Budget: time.Minute})
			require.Error(t, err)
			assert.Equal(t, tt.want, out[0].Detail)
			assert.Zero(t, out[0].Attempts, "a check that cannot pass is not tried")
		})
	}
}

func TestEmpty(t *testing.T) {
	out, err := check.Run(t.Context(), nil, check.Options{Budget: time.Hour})
	require.NoError(t, err)
	assert.Empty(t, out)
}

// TestPrometheusPlainHTTPPassword: a Prometheus URL with a password is
// refused over plain http to a host that is not loopback; nothing is sent.
func TestPrometheusPlainHTTPPassword(t *testing.T) {
	_, err := check.Query(context.Background(), http.DefaultClient, "http://cab:s3cret@prometheus.example.invalid:9090", "up")
	require.ErrorIs(t, err, target.ErrPlainHTTP)
	assert.NotContains(t, err.Error(), "s3cret")
}
