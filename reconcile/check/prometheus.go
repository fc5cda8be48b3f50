package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cabhq/cab/model"

	"github.com/cabhq/cab/internal/redact"
	"github.com/cabhq/cab/reconcile/target"
)

// ErrNoData is matched (errors.Is) by the error of a query that returned
// an empty vector: no series matched, which is not the same as 0.
var ErrNoData = errors.New("no data: the query matched no series")

// APIError is an error Prometheus answered a query with
// ("status": "error").
type APIError struct {
	// Type is Prometheus' errorType, e.g. bad_data or timeout.
	Type string
	// Message is Prometheus' error text.
	Message string
}

// Error is Prometheus' message with its type.
func (e *APIError) Error() string {
	if e.Type == "" {
		return "prometheus: " + e.Message
	}
	return "prometheus: " + e.Type + ": " + e.Message
}

// Query runs an instant query (GET <server>/api/v1/query?query=…) and
// returns its single value: the value of a scalar, or of a vector of
// exactly one sample. An empty vector is an error matching ErrNoData; a
// vector of several samples, a matrix or a string result is an error; an
// answer with status "error" is an *APIError. NaN is returned as a value;
// callers compare it as failing. client nil is http.DefaultClient; the
// answer is read up to MaxBody.
func Query(ctx context.Context, client *http.Client, server, query string) (float64, error) {
	v, err := instant(ctx, client, server, query)
	if err != nil {
		return 0, fmt.Errorf("querying %s for %q: %w", redactURL(server), query, err)
	}
	return v, nil
}

func instant(ctx context.Context, client *http.Client, server, query string) (float64, error) {
	if client == nil {
		client = http.DefaultClient
	}
	u, err := serverURL(server)
	if err != nil {
		return 0, err
	}
	u = u.JoinPath("api", "v1", "query")
	q := u.Query()
	q.Set("query", query)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "cab-check")
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("no answer: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return 0, fmt.Errorf("reading the answer: %w", err)
	}
	if len(body) > MaxBody {
		return 0, fmt.Errorf("answer larger than %d bytes", MaxBody)
	}
	v, err := decode(body)
	var apiErr *APIError
	switch {
	case errors.As(err, &apiErr):
		return 0, err
	case resp.StatusCode/100 != 2:
		return 0, fmt.Errorf("%d %s: %s", resp.StatusCode, http.StatusText(resp.StatusCode), snippet(body))
	case err != nil:
		return 0, err
	}
	return v, nil
}

func serverURL(server string) (*url.URL, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %q: want an http or https URL such as http://prometheus:9090", redactURL(server))
	}
	// A Prometheus behind basic auth is reached over https (or loopback):
	// its password never crosses the network in the clear.
	if err := target.CheckPlainHTTP(server, false, false); err != nil {
		return nil, fmt.Errorf("prometheus server: %w", err)
	}
	return u, nil
}

// response is the envelope of the Prometheus HTTP API.
type response struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      *struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// vectorSample is one element of a vector result.
type vectorSample struct {
	Metric    map[string]string `json:"metric"`
	Value     json.RawMessage   `json:"value"`
	Histogram json.RawMessage   `json:"histogram"`
}

// decode reads an instant query's answer down to its single value.
func decode(body []byte) (float64, error) {
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, fmt.Errorf("answer is not a Prometheus API response: %w", err)
	}
	switch r.Status {
	case "success":
	case "error":
		return 0, &APIError{Type: r.ErrorType, Message: r.Error}
	default:
		return 0, fmt.Errorf("answer has status %q, want success or error", r.Status)
	}
	if r.Data == nil {
		return 0, errors.New("answer has no data")
	}
	switch r.Data.ResultType {
	case "scalar":
		return pair(r.Data.Result)
	case "vector":
		var vec []vectorSample
		if err := json.Unmarshal(r.Data.Result, &vec); err != nil {
			return 0, fmt.Errorf("vector result: %w", err)
		}
		switch len(vec) {
		case 0:
			return 0, ErrNoData
		case 1:
		default:
			return 0, fmt.Errorf("the query returned %d series, want one: aggregate it, e.g. sum(…) or max(…)", len(vec))
		}
		s := vec[0]
		if len(s.Value) == 0 || string(s.Value) == "null" {
			if len(s.Histogram) > 0 && string(s.Histogram) != "null" {
				return 0, errors.New("the query returned a native histogram, want a number: use e.g. histogram_quantile(…)")
			}
			return 0, errors.New("vector sample has no value")
		}
		return pair(s.Value)
	case "matrix", "string":
		return 0, fmt.Errorf("the query returned a %s, want a vector or a scalar: use an instant query without a range selector", r.Data.ResultType)
	}
	return 0, fmt.Errorf("answer has result type %q, want vector or scalar", r.Data.ResultType)
}

// pair reads a sample [<unix time>, "<value>"].
func pair(raw json.RawMessage) (float64, error) {
	var p []json.RawMessage
	if err := json.Unmarshal(raw, &p); err != nil || len(p) != 2 {
		return 0, fmt.Errorf(`sample %s is not [<time>, "<value>"]`, snippet(raw))
	}
	var ts float64
	if err := json.Unmarshal(p[0], &ts); err != nil {
		return 0, fmt.Errorf("sample time %s is not a number", snippet(p[0]))
	}
	var s string
	if err := json.Unmarshal(p[1], &s); err != nil {
		return 0, fmt.Errorf("sample value %s is not a string", snippet(p[1]))
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("sample value %q is not a number", s)
	}
	return v, nil
}

// promProbe is a prometheus check.
type promProbe struct {
	client    *http.Client
	server    string
	query     string
	op        string
	threshold float64
}

// ops are the comparisons a prometheus check may make.
var ops = []string{"<", "<=", ">", ">=", "==", "!="}

func newPromProbe(c model.Check, o Options) (*promProbe, error) {
	p := &promProbe{client: o.Client, server: c.Server, query: c.Query, op: c.Op}
	if p.server == "" {
		p.server = o.Prometheus
	}
	if p.server == "" {
		return nil, errors.New("no Prometheus server: set server on the check or prometheus on the environment in cab.cue")
	}
	if _, err := serverURL(p.server); err != nil {
		return nil, err
	}
	if strings.TrimSpace(p.query) == "" {
		return nil, errors.New("query is empty")
	}
	if !slices.Contains(ops, p.op) {
		return nil, fmt.Errorf("op %q: want one of %s", p.op, strings.Join(ops, " "))
	}
	if c.Threshold == nil {
		return nil, errors.New("threshold is missing")
	}
	p.threshold = *c.Threshold
	return p, nil
}

func (p *promProbe) probe(ctx context.Context) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	v, err := instant(ctx, p.client, p.server, p.query)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return false, fmt.Sprintf("no answer within %s", DefaultTimeout)
		}
		return false, err.Error()
	}
	return Compare(v, p.op, p.threshold), fmt.Sprintf("value %s, want %s %s", number(v), p.op, number(p.threshold))
}

// Compare reports whether v op threshold holds, for the ops of a
// prometheus check (< <= > >= == !=). NaN on either side never holds, not
// even for !=; an unknown op never holds.
func Compare(v float64, op string, threshold float64) bool {
	if math.IsNaN(v) || math.IsNaN(threshold) {
		return false
	}
	switch op {
	case "<":
		return v < threshold
	case "<=":
		return v <= threshold
	case ">":
		return v > threshold
	case ">=":
		return v >= threshold
	case "==":
		return v == threshold
	case "!=":
		return v != threshold
	}
	return false
}

func number(v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// snippet is the start of a body, printable and scrubbed of credentials
// (before it is cut), for an error message.
func snippet(b []byte) string {
	s := redact.Bound(string(b[:min(len(b), redact.ScanLimit)]), 120)
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s))
}
