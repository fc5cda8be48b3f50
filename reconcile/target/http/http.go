package httptarget

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cabhq/cab/internal/backoff"

	"github.com/cabhq/cab/reconcile/target"

	"github.com/cabhq/cab/internal/redact"
)

// MaxBody is the most of a response body the driver reads (1 MiB).
const MaxBody = 1 << 20

// Defaults of the options.
const (
	DefaultRetries        = 4
	DefaultBackoff        = 250 * time.Millisecond
	DefaultMaxBackoff     = 8 * time.Second
	DefaultAttemptTimeout = 30 * time.Second
)

// Driver applies http actions by calling the target's webhook; see the
// package documentation for the protocol. It is safe for concurrent use.
type Driver struct {
	client         *http.Client
	retries        int
	backoff        time.Duration
	maxBackoff     time.Duration
	attemptTimeout time.Duration
	log            *slog.Logger
}

var _ target.Driver = (*Driver)(nil)

// Option configures a Driver.
type Option func(*Driver)

// WithClient makes the driver send its requests with c (its transport,
// TLS settings and overall timeout). The driver never follows redirects,
// whatever c's CheckRedirect says.
func WithClient(c *http.Client) Option {
	return func(d *Driver) {
		if c != nil {
			d.client = c
		}
	}
}

// WithRetries sets the retry budget: how many times a call that failed
// transiently (no answer, 408, 429, 5xx) is sent again, with the same
// idempotency key, before the driver gives up. 0 sends each call once.
func WithRetries(n int) Option {
	return func(d *Driver) { d.retries = max(n, 0) }
}

// WithBackoff sets the pause before the first retry and its cap; the
// pause doubles with each retry and is jittered (between half and all of
// it).
func WithBackoff(first, limit time.Duration) Option {
	return func(d *Driver) {
		if first > 0 {
			d.backoff = first
		}
		if limit > 0 {
			d.maxBackoff = limit
		}
	}
}

// WithAttemptTimeout bounds each attempt (sending the request and reading
// the answer); an attempt that runs out of time is retried.
func WithAttemptTimeout(t time.Duration) Option {
	return func(d *Driver) {
		if t > 0 {
			d.attemptTimeout = t
		}
	}
}

// WithLogger makes the driver log its retries to l (default: nowhere).
func WithLogger(l *slog.Logger) Option {
	return func(d *Driver) {
		if l != nil {
			d.log = l
		}
	}
}

// New returns a driver with the given options.
func New(opts ...Option) *Driver {
	d := &Driver{
		client:         http.DefaultClient,
		retries:        DefaultRetries,
		backoff:        DefaultBackoff,
		maxBackoff:     DefaultMaxBackoff,
		attemptTimeout: DefaultAttemptTimeout,
		log:            slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(d)
	}
	// A copy that shares the transport: redirects are answers, not hops,
	// so that the key and the body never go to a host nobody configured.
	c := *d.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	d.client = &c
	return d
}

// observation is what the webhook answers a GET with.
type observation struct {
	State   *string  `json:"state"`
	Applied []string `json:"applied"`
}

// restoreData is State.Restore: the state to bring back, nil for absent.
type restoreData struct {
	State *string `json:"state"`
}

// Observe reads the webhook's state for the change's path and whether it
// lists the change's idempotency key as applied.
func (d *Driver) Observe(ctx context.Context, c target.Change) (target.State, error) {
	st, err := d.observe(ctx, c)
	if err != nil {
		return target.State{}, fmt.Errorf("observing http target %s for %s: %w", c.TargetName, c.Ticket, err)
	}
	return st, nil
}

func (d *Driver) observe(ctx context.Context, c target.Change) (target.State, error) {
	base := c.Target.Observe
	if base == "" {
		base = c.Target.URL
	}
	u, err := resolve(base, c.Action.Path)
	if err != nil {
		return target.State{}, err
	}
	if err := plainHTTP(c, base); err != nil {
		return target.State{}, err
	}
	key := c.IdempotencyKey()
	h := http.Header{}
	h.Set("Idempotency-Key", key)
	h.Set("Accept", "application/json")
	ans, err := d.send(ctx, call{method: http.MethodGet, url: u, header: h}, func(status int, _ http.Header) bool {
		return status/100 == 2 || status == http.StatusNotFound
	})
	if err != nil {
		return target.State{}, err
	}
	if ans.status == http.StatusNotFound {
		return state(nil, false)
	}
	var o observation
	if err := json.Unmarshal(ans.body, &o); err != nil {
		return target.State{}, fmt.Errorf(`GET %s: answer is not {"state": "…", "applied": ["…"]}: %w`, u.Redacted(), err)
	}
	return state(o.State, slices.Contains(o.Applied, key))
}

func state(s *string, done bool) (target.State, error) {
	restore, err := json.Marshal(restoreData{State: s})
	if err != nil {
		return target.State{}, fmt.Errorf("encoding the restore data: %w", err)
	}
	v := target.Absent
	if s != nil {
		v = *s
	}
	return target.State{Value: v, Done: done, Restore: restore}, nil
}

// Apply calls the webhook with the action's body and the change's
// idempotency key, then reads the target back: it returns the observed
// state, or an error matching target.ErrMismatch when the webhook does not
// list the key as applied.
func (d *Driver) Apply(ctx context.Context, c target.Change) (target.State, error) {
	st, err := d.apply(ctx, c)
	if err != nil {
		return target.State{}, fmt.Errorf("applying %s to http target %s in %s: %w", c.Ticket, c.TargetName, c.Env, err)
	}
	return st, nil
}

func (d *Driver) apply(ctx context.Context, c target.Change) (target.State, error) {
	method, u, err := d.write(c)
	if err != nil {
		return target.State{}, err
	}
	body := []byte(c.Action.Body)
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := jsonObject(body); err != nil {
		return target.State{}, err
	}
	key := c.IdempotencyKey()
	h := headers(c, key)
	if _, err := d.send(ctx, call{method: method, url: u, header: h, body: body}, replayOK(key)); err != nil {
		return target.State{}, err
	}
	st, err := d.observe(ctx, c)
	if err != nil {
		return target.State{}, fmt.Errorf("reading back: %w", err)
	}
	if !st.Done {
		return st, fmt.Errorf("the webhook accepted %s but does not list it as applied (state %q): %w", key, st.Value, target.ErrMismatch)
	}
	return st, nil
}

// Restore asks the webhook to bring back prev (a state Observe returned)
// under the key <change key>/rollback, then reads the target back: the
// error matches target.ErrMismatch when it does not hold prev again.
func (d *Driver) Restore(ctx context.Context, c target.Change, prev target.State) error {
	if err := d.restore(ctx, c, prev); err != nil {
		return fmt.Errorf("restoring http target %s in %s for %s: %w", c.TargetName, c.Env, c.Ticket, err)
	}
	return nil
}

func (d *Driver) restore(ctx context.Context, c target.Change, prev target.State) error {
	want, err := previous(prev)
	if err != nil {
		return err
	}
	method, u, err := d.write(c)
	if err != nil {
		return err
	}
	key := c.IdempotencyKey()
	body, err := json.Marshal(struct {
		Restore    *string `json:"restore"`
		RollbackOf string  `json:"rollbackOf"`
	}{want, key})
	if err != nil {
		return fmt.Errorf("encoding the rollback body: %w", err)
	}
	rkey := key + "/rollback"
	h := headers(c, rkey)
	h.Set("X-Cab-Rollback", "true")
	if _, err := d.send(ctx, call{method: method, url: u, header: h, body: body}, replayOK(rkey)); err != nil {
		return err
	}
	st, err := d.observe(ctx, c)
	if err != nil {
		return fmt.Errorf("reading back: %w", err)
	}
	wantValue := target.Absent
	if want != nil {
		wantValue = *want
	}
	if st.Value != wantValue {
		return fmt.Errorf("the webhook accepted %s but holds %q, want %q: %w", rkey, st.Value, wantValue, target.ErrMismatch)
	}
	return nil
}

// previous is the state to restore, nil for absent.
func previous(prev target.State) (*string, error) {
	if len(prev.Restore) > 0 {
		var r restoreData
		if err := json.Unmarshal(prev.Restore, &r); err != nil {
			return nil, fmt.Errorf(`recorded restore data is not {"state": …}: %w`, err)
		}
		return r.State, nil
	}
	switch prev.Value {
	case "":
		return nil, errors.New("no previous state recorded: nothing to restore to")
	case target.Absent:
		return nil, nil
	}
	v := prev.Value
	return &v, nil
}

// write checks the method of c and resolves its URL.
func (d *Driver) write(c target.Change) (string, resolved, error) {
	method := strings.ToUpper(c.Action.Method)
	switch method {
	case "":
		method = http.MethodPost
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return "", resolved{}, fmt.Errorf("method %q: want POST, PUT or PATCH: %w", c.Action.Method, target.ErrUnsafe)
	}
	u, err := resolve(c.Target.URL, c.Action.Path)
	if err != nil {
		return "", resolved{}, err
	}
	if err := plainHTTP(c, c.Target.URL); err != nil {
		return "", resolved{}, err
	}
	return method, u, nil
}

// plainHTTP refuses a URL's user:password over plain http to a host that
// is not loopback, unless the target says insecure: true.
func plainHTTP(c target.Change, rawURL string) error {
	insecure := c.Target.Insecure != nil && *c.Target.Insecure
	if err := target.CheckPlainHTTP(rawURL, false, insecure); err != nil {
		return fmt.Errorf("http target %s of %s: %w", c.TargetName, c.Env, err)
	}
	return nil
}

func headers(c target.Change, key string) http.Header {
	h := http.Header{}
	h.Set("Idempotency-Key", key)
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	h.Set("X-Cab-Ticket", c.Ticket)
	h.Set("X-Cab-Env", c.Env)
	if c.Commit != "" {
		h.Set("X-Cab-Commit", c.Commit)
	}
	return h
}

// replayOK accepts 2xx, and 409 when the webhook echoes key: it already
// applied that key.
func replayOK(key string) func(int, http.Header) bool {
	return func(status int, h http.Header) bool {
		return status/100 == 2 || (status == http.StatusConflict && h.Get("Idempotency-Key") == key)
	}
}

func jsonObject(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return fmt.Errorf("action body is not a JSON object: %w", target.ErrUnsafe)
	}
	return nil
}

// call is one request the driver sends, maybe several times.
type call struct {
	method string
	url    resolved
	header http.Header
	body   []byte
}

// answer is the final response to a call.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// CallError is a call to the webhook that failed for good: refused,
// redirected, or still failing when the retry budget ran out.
type CallError struct {
	// Method and URL of the call (credentials in the URL redacted).
	Method, URL string
	// Status is the last HTTP status seen; 0 when there was no answer.
	Status int
	// Body is the start of the last answer's body.
	Body string
	// Attempts is how many times the call was sent.
	Attempts int
	// Retryable reports whether the last failure was transient (the
	// budget ran out) rather than a refusal.
	Retryable bool
	// Err is the transport error when there was no answer.
	Err  error
	hint string
}

// Error says what happened and what to do about it.
func (e *CallError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", e.Method, e.URL)
	if e.Status == 0 {
		fmt.Fprintf(&b, "no answer after %d attempt%s: %v", e.Attempts, plural(e.Attempts), e.Err)
	} else {
		fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
		if e.Retryable {
			fmt.Fprintf(&b, " after %d attempt%s", e.Attempts, plural(e.Attempts))
		}
		if e.Body != "" {
			fmt.Fprintf(&b, ": %s", e.Body)
		}
	}
	if e.hint != "" {
		fmt.Fprintf(&b, " (%s)", e.hint)
	}
	return b.String()
}

// Unwrap returns the transport error, if any.
func (e *CallError) Unwrap() error { return e.Err }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func transient(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status/100 == 5
}

// send sends c until an answer ok accepts, a permanent refusal, or the
// retry budget runs out.
func (d *Driver) send(ctx context.Context, c call, ok func(int, http.Header) bool) (answer, error) {
	for attempt := 1; ; attempt++ {
		ans, err := d.once(ctx, c)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return answer{}, fmt.Errorf("%s %s: %w", c.method, c.url.Redacted(), ctxErr)
		}
		var fail *CallError
		switch {
		case errors.Is(err, errTooLarge):
			return answer{}, fmt.Errorf("%s %s: %w", c.method, c.url.Redacted(), err)
		case err != nil:
			fail = &CallError{Err: err, Retryable: true, hint: "is the webhook up? cab retried with the same idempotency key"}
		case ok(ans.status, ans.header):
			return ans, nil
		case transient(ans.status):
			fail = &CallError{Status: ans.status, Body: snippet(ans.body), Retryable: true,
				hint: "the webhook keeps failing; cab retried with the same idempotency key"}
		case ans.status/100 == 3:
			fail = &CallError{Status: ans.status, hint: fmt.Sprintf("redirect to %q not followed: set the target's url in cab.cue to the final location", redact.Bound(ans.header.Get("Location"), 256))}
		case ans.status == http.StatusConflict:
			fail = &CallError{Status: ans.status, Body: snippet(ans.body), hint: "a 409 that does not echo the Idempotency-Key header is not a replay: not retried"}
		default:
			fail = &CallError{Status: ans.status, Body: snippet(ans.body), hint: "the webhook refused the request: not retried; fix the action or the webhook"}
		}
		fail.Method, fail.URL, fail.Attempts = c.method, c.url.Redacted(), attempt
		if !fail.Retryable || attempt > d.retries {
			return answer{}, fail
		}
		wait := d.pause(attempt)
		d.log.WarnContext(ctx, "webhook call failed; retrying", "method", c.method, "url", c.url.Redacted(),
			"attempt", attempt, "status", fail.Status, "error", fail.Err, "wait", wait)
		if err := backoff.Sleep(ctx, wait); err != nil {
			return answer{}, fmt.Errorf("%s %s: waiting to retry: %w", c.method, c.url.Redacted(), err)
		}
	}
}

var errTooLarge = fmt.Errorf("answer larger than %d bytes", MaxBody)

// once sends c one time, bounded by the attempt timeout.
func (d *Driver) once(ctx context.Context, c call) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, d.attemptTimeout)
	defer cancel()
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, c.url.String(), body)
	if err != nil {
		return answer{}, fmt.Errorf("building the request: %w", err)
	}
	req.Header = c.header.Clone()
	req.Header.Set("User-Agent", "cab")
	resp, err := d.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return answer{}, fmt.Errorf("reading the answer: %w", err)
	}
	if len(b) > MaxBody {
		return answer{}, errTooLarge
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// pause is the jittered exponential backoff before retry n (1, 2, …).
func (d *Driver) pause(n int) time.Duration {
	p := d.backoff
	for i := 1; i < n && p < d.maxBackoff; i++ {
		p *= 2
	}
	p = min(p, d.maxBackoff)
	half := p / 2
	if half <= 0 {
		return p
	}
	return half + rand.N(p-half+1)
}

// snippet is the start of a body, printable and scrubbed of credentials
// (before it is cut), for an error message.
func snippet(b []byte) string {
	s := redact.Bound(string(b[:min(len(b), redact.ScanLimit)]), 200)
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s))
}
