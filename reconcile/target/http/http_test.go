package httptarget_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile/target"
	httptarget "github.com/cabhq/cab/reconcile/target/http"
)

// webhook is a webhook that speaks cab's protocol the way a careful one
// would: it applies each idempotency key once and reports what it holds.
type webhook struct {
	mu sync.Mutex
	// state is what the webhook holds (nil: nothing).
	state *string
	// applied lists the keys applied, in order.
	applied []string
	// applies counts changes of state.
	applies int
	// requests records every request.
	requests []request
	// script answers the next writes with these statuses, without acting.
	script []int
	// conflictOnReplay answers a known key with 409 (and the echo) instead
	// of replaying 200.
	conflictOnReplay bool
	// echo is false to answer 409 without the Idempotency-Key echo.
	noEcho bool
	// ignoreWrites accepts writes with 200 and does nothing.
	ignoreWrites bool
	// slow makes the first n requests hang until the client gives up.
	slow int
}

type request struct {
	Method, Path string
	Header       http.Header
	Body         string
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests = append(w.requests, request{r.Method, r.URL.EscapedPath(), r.Header.Clone(), string(body)})
	if w.slow > 0 {
		w.slow--
		w.mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		w.mu.Lock()
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if r.Method == http.MethodGet {
		if w.state == nil && len(w.applied) == 0 {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(map[string]any{"state": w.state, "applied": w.applied})
		return
	}
	if len(w.script) > 0 {
		status := w.script[0]
		w.script = w.script[1:]
		http.Error(rw, "scripted failure", status)
		return
	}
	if w.ignoreWrites {
		return
	}
	if slices.Contains(w.applied, key) {
		if w.conflictOnReplay {
			if !w.noEcho {
				rw.Header().Set("Idempotency-Key", key)
			}
			http.Error(rw, "already applied", http.StatusConflict)
		}
		return
	}
	var in struct {
		State   *string `json:"state"`
		Restore *string `json:"restore"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	if r.Header.Get("X-Cab-Rollback") == "true" {
		w.state = in.Restore
	} else {
		w.state = in.State
	}
	w.applied = append(w.applied, key)
	w.applies++
}

func (w *webhook) seen() []request {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.requests)
}

func (w *webhook) writes() []request {
	var out []request
	for _, r := range w.seen() {
		if r.Method != http.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

func serve(t *testing.T, w *webhook) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	return srv
}

func change(base string, body string) target.Change {
	return target.Change{
		Ticket: "CHG-2026-0042", Env: "prod", Seq: 3, Index: 0,
		Action:     model.Action{Type: "http", Target: "flags", Path: "/flags/checkout", Body: json.RawMessage(body)},
		Target:     model.Target{Type: "http", URL: base + "/hooks"},
		TargetName: "flags",
		Commit:     "0123456789abcdef0123456789abcdef01234567",
	}
}

func fast(opts ...httptarget.Option) *httptarget.Driver {
	return httptarget.New(append([]httptarget.Option{
		httptarget.WithBackoff(time.Millisecond, 4*time.Millisecond),
		httptarget.WithAttemptTimeout(2 * time.Second),
	}, opts...)...)
}

func TestApplyThenObserve(t *testing.T) {
	w := &webhook{}
	srv := serve(t, w)
	d := fast()
	c := change(srv.URL, `{"state": "on"}`)
	ctx := t.Context()

	before, err := d.Observe(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, target.State{Value: target.Absent, Restore: json.RawMessage(`{"state":null}`)}, before)

	after, err := d.Apply(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, target.State{Value: "on", Done: true, Restore: json.RawMessage(`{"state":"on"}`)}, after)

	again, err := d.Observe(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, after, again, "observing after apply")

	writes := w.writes()
	require.Len(t, writes, 1)
	got := writes[0]
	assert.Equal(t, http.MethodPost, got.Method)
	assert.Equal(t, "/hooks/flags/checkout", got.Path)
	assert.Equal(t, "CHG-2026-0042/prod/3/0", got.Header.Get("Idempotency-Key"))
	assert.Equal(t, "application/json", got.Header.Get("Content-Type"))
	assert.Equal(t, "CHG-2026-0042", got.Header.Get("X-Cab-Ticket"))
	assert.Equal(t, "prod", got.Header.Get("X-Cab-Env"))
	assert.Equal(t, c.Commit, got.Header.Get("X-Cab-Commit"))
	assert.Empty(t, got.Header.Get("X-Cab-Rollback"))
	assert.JSONEq(t, `{"state": "on"}`, got.Body)
	for _, r := range w.seen() {
		if r.Method == http.MethodGet {
			assert.Equal(t, "CHG-2026-0042/prod/3/0", r.Header.Get("Idempotency-Key"), "observe carries the key")
		}
	}
}

func TestApplyDefaults(t *testing.T) {
	tests := []struct {
		name, method, body string
		wantMethod         string
		wantBody           string
	}{
		{"no body is an empty object", "", "", http.MethodPost, `{}`},
		{"put", "PUT", `{"state": "x"}`, http.MethodPut, `{"state": "x"}`},
		{"lower-case patch", "patch", `{"state": "x"}`, http.MethodPatch, `{"state": "x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &webhook{}
			srv := serve(t, w)
			c := change(srv.URL, tt.body)
			c.Action.Method = tt.method
			_, err := fast().Apply(t.Context(), c)
			require.NoError(t, err)
			writes := w.writes()
			require.Len(t, writes, 1)
			assert.Equal(t, tt.wantMethod, writes[0].Method)
			assert.JSONEq(t, tt.wantBody, writes[0].Body)
		})
	}
}

func TestApplyTwiceAppliesOnce(t *testing.T) {
	for _, conflict := range []bool{false, true} {
		name := map[bool]string{false: "replayed 200", true: "409 with the key"}[conflict]
		t.Run(name, func(t *testing.T) {
			w := &webhook{conflictOnReplay: conflict}
			srv := serve(t, w)
			d := fast()
			c := change(srv.URL, `{"state": "on"}`)
			first, err := d.Apply(t.Context(), c)
			require.NoError(t, err)
			second, err := d.Apply(t.Context(), c)
			require.NoError(t, err, "a second apply of the same change is success")
			assert.Equal(t, first, second)

			writes := w.writes()
			require.Len(t, writes, 2, "the webhook saw the key twice")
			assert.Equal(t, writes[0].Header.Get("Idempotency-Key"), writes[1].Header.Get("Idempotency-Key"))
			assert.Equal(t, 1, w.applies, "but applied it once")
		})
	}
}

func TestConflictWithoutEchoIsPermanent(t *testing.T) {
	w := &webhook{conflictOnReplay: true, noEcho: true}
	srv := serve(t, w)
	d := fast(httptarget.WithRetries(3))
	c := change(srv.URL, `{"state": "on"}`)
	_, err := d.Apply(t.Context(), c)
	require.NoError(t, err)
	_, err = d.Apply(t.Context(), c)
	var ce *httptarget.CallError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, http.StatusConflict, ce.Status)
	assert.Equal(t, 1, ce.Attempts)
	assert.ErrorContains(t, err, "does not echo the Idempotency-Key")
	assert.Len(t, w.writes(), 2, "not retried")
}

func TestApplyRetries(t *testing.T) {
	tests := []struct {
		name       string
		script     []int
		retries    int
		wantWrites int
		wantStatus int // of the CallError; 0: success
		wantRetry  bool
		wantIn     string
	}{
		{"500 twice then ok", []int{500, 500}, 3, 3, 0, false, ""},
		{"503 429 408 then ok", []int{503, 429, 408}, 3, 4, 0, false, ""},
		{"500 forever", slices.Repeat([]int{500}, 100), 3, 4, 500, true, "500 Internal Server Error after 4 attempts: scripted failure"},
		{"no retries", []int{502}, 0, 1, 502, true, "after 1 attempt:"},
		{"400 is not retried", []int{400}, 3, 1, 400, false, "400 Bad Request: scripted failure (the webhook refused the request: not retried"},
		{"403 is not retried", []int{403, 200}, 3, 1, 403, false, "403 Forbidden"},
		{"422 is not retried", []int{422}, 3, 1, 422, false, "422 Unprocessable Entity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &webhook{script: tt.script}
			srv := serve(t, w)
			c := change(srv.URL, `{"state": "on"}`)
			st, err := fast(httptarget.WithRetries(tt.retries)).Apply(t.Context(), c)
			writes := w.writes()
			assert.Len(t, writes, tt.wantWrites)
			for _, r := range writes {
				assert.Equal(t, "CHG-2026-0042/prod/3/0", r.Header.Get("Idempotency-Key"), "every retry carries the same key")
			}
			if tt.wantStatus == 0 {
				require.NoError(t, err)
				assert.True(t, st.Done)
				assert.Equal(t, 1, w.applies)
				return
			}
			var ce *httptarget.CallError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.wantStatus, ce.Status)
			assert.Equal(t, tt.wantWrites, ce.Attempts)
			assert.Equal(t, tt.wantRetry, ce.Retryable)
			assert.ErrorContains(t, err, tt.wantIn)
			assert.ErrorContains(t, err, "applying CHG-2026-0042 to http target flags in prod")
			assert.Zero(t, w.applies)
		})
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	elsewhere := &webhook{}
	other := serve(t, elsewhere)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	_, err := fast(httptarget.WithRetries(3)).Apply(t.Context(), change(srv.URL, `{"state": "on"}`))
	var ce *httptarget.CallError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, http.StatusTemporaryRedirect, ce.Status)
	assert.Equal(t, 1, ce.Attempts)
	assert.ErrorContains(t, err, "not followed: set the target's url in cab.cue to the final location")
	assert.Empty(t, elsewhere.seen(), "the key and body went nowhere else")
}

func TestTimeout(t *testing.T) {
	t.Run("retried with the same key", func(t *testing.T) {
		w := &webhook{slow: 1}
		srv := serve(t, w)
		d := fast(httptarget.WithAttemptTimeout(50*time.Millisecond), httptarget.WithRetries(2))
		st, err := d.Apply(t.Context(), change(srv.URL, `{"state": "on"}`))
		require.NoError(t, err)
		assert.True(t, st.Done)
		writes := w.writes()
		require.Len(t, writes, 2)
		assert.Equal(t, writes[0].Header.Get("Idempotency-Key"), writes[1].Header.Get("Idempotency-Key"))
	})
	t.Run("budget spent", func(t *testing.T) {
		w := &webhook{slow: 100}
		srv := serve(t, w)
		d := fast(httptarget.WithAttemptTimeout(30*time.Millisecond), httptarget.WithRetries(2))
		start := time.Now()
		_, err := d.Apply(t.Context(), change(srv.URL, `{"state": "on"}`))
		var ce *httptarget.CallError
		require.ErrorAs(t, err, &ce)
		assert.Zero(t, ce.Status)
		assert.Equal(t, 3, ce.Attempts)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorContains(t, err, "no answer after 3 attempts")
		assert.Less(t, time.Since(start), 10*time.Second)
	})
	t.Run("no answer at all", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close()
		_, err := fast(httptarget.WithRetries(1)).Apply(t.Context(), change(base, `{}`))
		var ce *httptarget.CallError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, 2, ce.Attempts)
		assert.ErrorContains(t, err, "is the webhook up?")
	})
}

func TestCancelStopsRetrying(t *testing.T) {
	w := &webhook{script: slices.Repeat([]int{500}, 100)}
	srv := serve(t, w)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	d := httptarget.New(httptarget.WithRetries(1000), httptarget.WithBackoff(20*time.Millisecond, 20*time.Millisecond))
	start := time.Now()
	_, err := d.Apply(ctx, change(srv.URL, `{"state": "on"}`))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 10*time.Second) // generous: the machine may be loaded; the write count is the real check
	assert.Less(t, len(w.writes()), 20)
}

func TestObserve(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    target.State
		wantErr string
	}{
		{"404 is absent", 404, "gone", target.State{Value: target.Absent, Restore: json.RawMessage(`{"state":null}`)}, ""},
		{"state, key applied", 200, `{"state": "v2", "applied": ["x", "CHG-2026-0042/prod/3/0"]}`,
			target.State{Value: "v2", Done: true, Restore: json.RawMessage(`{"state":"v2"}`)}, ""},
		{"state, other keys", 200, `{"state": "v1", "applied": ["CHG-2026-0042/prod/2/0"], "extra": 1}`,
			target.State{Value: "v1", Restore: json.RawMessage(`{"state":"v1"}`)}, ""},
		{"null state is absent", 200, `{"state": null}`,
			target.State{Value: target.Absent, Restore: json.RawMessage(`{"state":null}`)}, ""},
		{"not JSON", 200, `<html>`, target.State{}, `answer is not {"state": "…", "applied": ["…"]}`},
		{"state not a string", 200, `{"state": 3}`, target.State{}, "answer is not"},
		{"500", 500, "down", target.State{}, "500 Internal Server Error after 2 attempts: down"},
		{"401", 401, "who are you", target.State{}, "401 Unauthorized: who are you"},
		{"too large", 200, `{"state": "` + strings.Repeat("x", httptarget.MaxBody) + `"}`, target.State{}, "answer larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gets []string
			var mu sync.Mutex
			obs := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				mu.Lock()
				gets = append(gets, r.Method+" "+r.URL.Path)
				mu.Unlock()
				rw.WriteHeader(tt.status)
				_, _ = io.WriteString(rw, tt.body)
			}))
			t.Cleanup(obs.Close)
			c := change("http://127.0.0.1:1", "")
			c.Target.Observe = obs.URL + "/state"
			st, err := fast(httptarget.WithRetries(1)).Observe(t.Context(), c)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.ErrorContains(t, err, "observing http target flags for CHG-2026-0042")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, st)
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, []string{"GET /state/flags/checkout"}, gets, "observe reads from the observe URL")
		})
	}
}

func TestApplyMismatch(t *testing.T) {
	w := &webhook{ignoreWrites: true, state: new("off")}
	srv := serve(t, w)
	_, err := fast().Apply(t.Context(), change(srv.URL, `{"state": "on"}`))
	require.ErrorIs(t, err, target.ErrMismatch)
	assert.ErrorContains(t, err, `does not list it as applied (state "off")`)
}

func TestRestore(t *testing.T) {
	tests := []struct {
		name        string
		initial     *string
		wantRestore string
	}{
		{"to absent", nil, `null`},
		{"to a previous state", new("off"), `"off"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &webhook{state: tt.initial}
			srv := serve(t, w)
			d := fast()
			c := change(srv.URL, `{"state": "on"}`)
			prev, err := d.Observe(t.Context(), c)
			require.NoError(t, err)
			_, err = d.Apply(t.Context(), c)
			require.NoError(t, err)

			require.NoError(t, d.Restore(t.Context(), c, prev))
			now, err := d.Observe(t.Context(), c)
			require.NoError(t, err)
			assert.Equal(t, prev.Value, now.Value)

			writes := w.writes()
			require.Len(t, writes, 2)
			rb := writes[1]
			assert.Equal(t, http.MethodPost, rb.Method)
			assert.Equal(t, "/hooks/flags/checkout", rb.Path)
			assert.Equal(t, "CHG-2026-0042/prod/3/0/rollback", rb.Header.Get("Idempotency-Key"))
			assert.Equal(t, "true", rb.Header.Get("X-Cab-Rollback"))
			assert.Equal(t, "application/json", rb.Header.Get("Content-Type"))
			assert.JSONEq(t, `{"restore": `+tt.wantRestore+`, "rollbackOf": "CHG-2026-0042/prod/3/0"}`, rb.Body)

			// A second restore (a resumed rollback) is a replay.
			require.NoError(t, d.Restore(t.Context(), c, prev))
			assert.Equal(t, 2, w.applies)
		})
	}
}

func TestRestoreFromValueOnly(t *testing.T) {
	w := &webhook{}
	srv := serve(t, w)
	d := fast()
	c := change(srv.URL, `{"state": "on"}`)
	require.NoError(t, d.Restore(t.Context(), c, target.State{Value: "off"}))
	assert.JSONEq(t, `{"restore": "off", "rollbackOf": "CHG-2026-0042/prod/3/0"}`, w.writes()[0].Body)

	err := d.Restore(t.Context(), c, target.State{})
	assert.ErrorContains(t, err, "no previous state recorded")
	err = d.Restore(t.Context(), c, target.State{Value: "x", Restore: json.RawMessage(`[1]`)})
	assert.ErrorContains(t, err, `recorded restore data is not {"state": …}`)
	assert.Len(t, w.writes(), 1, "nothing sent for a bad previous state")
}

func TestRestoreMismatch(t *testing.T) {
	w := &webhook{}
	srv := serve(t, w)
	d := fast()
	c := change(srv.URL, `{"state": "on"}`)
	prev, err := d.Observe(t.Context(), c)
	require.NoError(t, err)
	_, err = d.Apply(t.Context(), c)
	require.NoError(t, err)
	w.mu.Lock()
	w.ignoreWrites = true
	w.mu.Unlock()
	err = d.Restore(t.Context(), c, prev)
	require.ErrorIs(t, err, target.ErrMismatch)
	assert.ErrorContains(t, err, `holds "on", want "absent"`)
}

func TestUnsafe(t *testing.T) {
	tests := []struct {
		name, base, path, method, body string
		want                           string
	}{
		{"dot-dot", "", "/../admin", "", "", `".." segment`},
		{"dot-dot inside", "", "/a/../../admin", "", "", `".." segment`},
		{"encoded dot-dot", "", "/a/%2e%2E/admin", "", "", `".." segment`},
		{"dot", "", "/./a", "", "", `"." segment`},
		{"other host", "", "//evil.example/x", "", "", "empty segment"},
		{"empty segment", "", "/a//b", "", "", "empty segment"},
		{"query", "", "/a?admin=1", "", "", "query or fragment"},
		{"fragment", "", "/a#x", "", "", "query or fragment"},
		{"encoded slash", "", "/a%2Fb", "", "", "encoded slash"},
		{"backslash", "", `/a\..\b`, "", "", "backslash"},
		{"encoded backslash", "", "/a%5c..", "", "", "backslash"},
		{"space", "", "/a b", "", "", "must not hold a space"},
		{"encoded NUL", "", "/a%00", "", "", "control"},
		{"CRLF", "", "/a%0d%0aX-Evil:%201", "", "", "control"},
		{"relative", "", "a/b", "", "", "must start with /"},
		{"bad escape", "", "/a%zz", "", "", "bad escape"},
		{"file scheme", "file:///etc", "/passwd", "", "", `scheme "file"`},
		{"ftp scheme", "ftp://h", "/x", "", "", `scheme "ftp"`},
		{"no scheme", "hooks.example.com", "/x", "", "", "scheme"},
		{"GET", "", "/x", "GET", "", `method "GET"`},
		{"DELETE", "", "/x", "DELETE", "", `method "DELETE"`},
		{"body array", "", "/x", "", `[1]`, "not a JSON object"},
		{"body null", "", "/x", "", `null`, "not a JSON object"},
		{"body broken", "", "/x", "", `{`, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &webhook{}
			srv := serve(t, w)
			c := change(srv.URL, tt.body)
			c.Action.Path = tt.path
			c.Action.Method = tt.method
			if tt.base != "" {
				c.Target.URL = tt.base
			}
			_, err := fast().Apply(t.Context(), c)
			require.ErrorIs(t, err, target.ErrUnsafe)
			assert.ErrorContains(t, err, tt.want)
			assert.Empty(t, w.seen(), "nothing was sent")
		})
	}
}

func TestURLJoining(t *testing.T) {
	tests := []struct {
		name, base, path, want string
	}{
		{"below a prefix", "/hooks", "/flags/checkout", "/hooks/flags/checkout"},
		{"prefix with slash", "/hooks/", "/flags", "/hooks/flags"},
		{"no prefix", "", "/flags", "/flags"},
		{"no path", "/hooks", "", "/hooks"},
		{"root path", "/hooks", "/", "/hooks/"},
		{"trailing slash kept", "/hooks", "/flags/", "/hooks/flags/"},
		{"escapes kept", "/hooks", "/a%20b/c.d", "/hooks/a%20b/c.d"},
		{"encoded question mark stays data", "/hooks", "/a%3Fb", "/hooks/a%3Fb"},
		{"dots inside names", "/hooks", "/v1.2/..x/x..", "/hooks/v1.2/..x/x.."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &webhook{}
			srv := serve(t, w)
			c := change(srv.URL, `{"state": "on"}`)
			c.Target.URL = srv.URL + tt.base + "?token=t"
			c.Action.Path = tt.path
			_, err := fast().Apply(t.Context(), c)
			require.NoError(t, err)
			writes := w.writes()
			require.Len(t, writes, 1)
			assert.Equal(t, tt.want, writes[0].Path)
		})
	}
}

func TestCredentialsRedacted(t *testing.T) {
	w := &webhook{script: []int{500, 500}}
	srv := serve(t, w)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	u.User = url.UserPassword("cab", "s3cret")
	_, err = fast(httptarget.WithRetries(1)).Apply(t.Context(), change(u.String(), `{}`))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
	assert.Contains(t, err.Error(), "cab:xxxxx@")
}

func TestClientRedirectPolicyIsOverridden(t *testing.T) {
	// A caller's client that follows redirects must not make the driver
	// follow them; the caller's client itself is left as it was.
	follows := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	srv := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:1/", http.StatusFound))
	t.Cleanup(srv.Close)
	_, err := fast(httptarget.WithClient(follows)).Apply(t.Context(), change(srv.URL, `{}`))
	require.ErrorContains(t, err, "302 Found")
	assert.NotNil(t, follows.CheckRedirect)
	assert.NoError(t, follows.CheckRedirect(nil, nil))
}

func TestErrorsAreDistinct(t *testing.T) {
	// The reconciler branches on these; a CallError is neither unsafe nor
	// a mismatch.
	w := &webhook{script: []int{400}}
	srv := serve(t, w)
	_, err := fast().Apply(t.Context(), change(srv.URL, `{}`))
	require.Error(t, err)
	assert.False(t, errors.Is(err, target.ErrUnsafe))
	assert.False(t, errors.Is(err, target.ErrMismatch))
}
