package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/cabhq/cab/model"
)

// httpProbe is an http check.
type httpProbe struct {
	client     *http.Client
	url        string
	expect     int
	re         *regexp.Regexp
	maxLatency time.Duration
	timeout    time.Duration
	now        func() time.Time
}

func newHTTPProbe(c model.Check, o Options) (*httpProbe, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url %q: want an http or https URL", redactURL(c.URL))
	}
	p := &httpProbe{client: o.Client, url: c.URL, expect: c.ExpectStatus, now: o.Now}
	if p.expect == 0 {
		p.expect = http.StatusOK
	}
	if p.expect < 100 || p.expect > 599 {
		return nil, fmt.Errorf("expectStatus %d: want an HTTP status between 100 and 599", p.expect)
	}
	if c.BodyRegex != "" {
		if p.re, err = regexp.Compile(c.BodyRegex); err != nil {
			return nil, fmt.Errorf("bodyRegex: %w (RE2 syntax, see https://pkg.go.dev/regexp/syntax)", err)
		}
	}
	if p.maxLatency, err = duration("maxLatency", c.MaxLatency, 0); err != nil {
		return nil, err
	}
	if p.timeout, err = duration("timeout", c.Timeout, DefaultTimeout); err != nil {
		return nil, err
	}
	if p.timeout == 0 {
		p.timeout = DefaultTimeout
	}
	return p, nil
}

func (p *httpProbe) probe(ctx context.Context) (bool, string) {
	actx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, p.url, nil)
	if err != nil {
		return false, fmt.Sprintf("bad request: %v", err)
	}
	req.Header.Set("User-Agent", "cab-check")
	start := p.now()
	resp, err := p.client.Do(req)
	if err != nil {
		return false, p.noAnswer(ctx, actx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	latency := p.now().Sub(start)
	if err != nil {
		return false, p.noAnswer(ctx, actx, err)
	}
	if resp.StatusCode != p.expect {
		return false, fmt.Sprintf("status %d, want %d", resp.StatusCode, p.expect)
	}
	if p.maxLatency > 0 && latency > p.maxLatency {
		return false, fmt.Sprintf("latency %s, want at most %s", round(latency), p.maxLatency)
	}
	if p.re != nil && !p.re.Match(body) {
		return false, fmt.Sprintf("body does not match %q", p.re.String())
	}
	return true, fmt.Sprintf("status %d in %s", resp.StatusCode, round(latency))
}

// noAnswer describes a failed request in a few words.
func (p *httpProbe) noAnswer(ctx, actx context.Context, err error) string {
	if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", p.timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Sprintf("no answer: %v", err)
}

// round shortens a measured duration for a detail.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d
}

// redactURL hides credentials in a URL shown in a name or a detail.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}
