package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile"
)

const (
	hookSecret = "whsec-planted-0123456789"
	ghToken    = "ghp_plantedPlantedPlanted0123456789"
)

// hook is a webhook receiver that records what it was sent.
type hook struct {
	mu     sync.Mutex
	bodies [][]byte
	sigs   []string
	status int
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bodies = append(h.bodies, b)
	h.sigs = append(h.sigs, r.Header.Get(SignatureHeader))
	if h.status != 0 {
		w.WriteHeader(h.status)
	}
}

func (h *hook) setStatus(code int) { h.mu.Lock(); h.status = code; h.mu.Unlock() }

func (h *hook) got() ([][]byte, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.bodies...), append([]string(nil), h.sigs...)
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func webhookConfig(url string) *model.Notify {
	return &model.Notify{
		Sinks:  map[string]model.Sink{"hook": {Type: "webhook", URL: url, SecretEnv: "HOOK_SECRET"}},
		Routes: []model.Route{{Sinks: []string{"hook"}}},
	}
}

func newT(t *testing.T, o Options) *Notifier {
	t.Helper()
	if o.Getenv == nil {
		o.Getenv = env(map[string]string{"HOOK_SECRET": hookSecret, "SLACK_URL": "http://unused.invalid/T000/B000/slack-planted-path"})
	}
	o.Backoff = time.Millisecond
	n, err := New(o)
	require.NoError(t, err)
	return n
}

func TestRoute(t *testing.T) {
	cfg := &model.Notify{
		Sinks: map[string]model.Sink{"all": {}, "prod-high": {}, "payments": {}, "pager": {}},
		Routes: []model.Route{
			{Sinks: []string{"all"}},
			{Sinks: []string{"prod-high"}, Environments: []string{"prod"}, Risks: []string{"high", "critical"}},
			{Sinks: []string{"payments"}, Services: []string{"payments"}, Events: []string{KindFailed}},
		},
	}
	for _, tc := range []struct {
		name string
		ev   Event
		want []string
	}{
		{"staging low", Event{Kind: KindFailed, Environment: "staging", Risk: "low", Service: "search"}, []string{"all"}},
		{"prod high", Event{Kind: KindRolledBack, Environment: "prod", Risk: "high", Service: "search"}, []string{"all", "prod-high"}},
		{"payments failed", Event{Kind: KindFailed, Environment: "prod", Risk: "low", Service: "payments"}, []string{"all", "payments"}},
		{"payments expired: route limited to failed", Event{Kind: KindExpired, Environment: "prod", Risk: "low", Service: "payments"}, []string{"all"}},
		{"no service does not match a service filter", Event{Kind: KindLedgerRewritten}, []string{"all"}},
		{"loud goes everywhere", Event{Kind: KindRollbackFailed, Loud: true, Environment: "dev"}, []string{"all", "pager", "payments", "prod-high"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Route(cfg, tc.ev))
		})
	}
}

func TestWebhookSignedAndScrubbed(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	n := newT(t, Options{Config: webhookConfig(srv.URL), Secrets: []string{ghToken},
		Describe: func(context.Context, string) (Ticket, error) {
			return Ticket{Service: "payments", Risk: "high", PR: 42}, nil
		}})
	reason := "postcheck failed: curl -H 'Authorization: Bearer " + ghToken + "' said " + hookSecret + " token=" + ghToken
	require.True(t, n.Notify(Event{ID: EventID("CHG-2026-0001", "prod", 4), Kind: KindFailed, Ticket: "CHG-2026-0001", Environment: "prod", Reason: reason}))
	assert.False(t, n.Notify(Event{ID: EventID("CHG-2026-0001", "prod", 4), Kind: KindFailed}), "the same event is queued once")
	assert.Zero(t, n.Flush(context.Background()))

	bodies, sigs := h.got()
	require.Len(t, bodies, 1)
	assert.Equal(t, Sign([]byte(hookSecret), bodies[0]), sigs[0], "the body is signed with the secret from the environment")
	assert.NotContains(t, string(bodies[0]), hookSecret)
	assert.NotContains(t, string(bodies[0]), ghToken)
	var ev Event
	require.NoError(t, json.Unmarshal(bodies[0], &ev))
	assert.Equal(t, "payments", ev.Service, "the ticket is described before routing")
	assert.Equal(t, int64(42), ev.PR)
	assert.Contains(t, ev.Reason, "postcheck failed")
}

func TestSlackLoud(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	cfg := &model.Notify{Sinks: map[string]model.Sink{"chat": {Type: "slack", URLEnv: "SLACK_URL"}},
		Routes: []model.Route{{Sinks: []string{"chat"}, Events: []string{KindExpired}}}}
	n := newT(t, Options{Config: cfg, Getenv: env(map[string]string{"SLACK_URL": srv.URL + "/services/T0/B0/planted"})})
	ev, ok := FromStep(reconcile.Step{Ticket: "CHG-2026-0002", Env: "prod", Kind: ledger.KindRollbackFailed, Seq: 7, Reason: "restore failed at " + srv.URL + "/services/T0/B0/planted"})
	require.True(t, ok)
	require.True(t, n.Notify(ev), "rollback-failed goes to every sink, whatever the routes")
	assert.Zero(t, n.Flush(context.Background()))
	bodies, _ := h.got()
	require.Len(t, bodies, 1)
	var msg struct{ Text string }
	require.NoError(t, json.Unmarshal(bodies[0], &msg))
	assert.True(t, strings.HasPrefix(msg.Text, "<!channel> :rotating_light: [cab][LOUD] rollback-failed: CHG-2026-0002 in prod"), msg.Text)
	assert.NotContains(t, msg.Text, "/services/T0/B0/planted", "the slack URL is a secret")
}

func TestFromStep(t *testing.T) {
	for _, tc := range []struct {
		st   reconcile.Step
		want bool
		loud bool
	}{
		{reconcile.Step{Ticket: "T", Env: "prod", Kind: ledger.KindFailed, Seq: 3}, true, false},
		{reconcile.Step{Ticket: "T", Env: "prod", Kind: ledger.KindRolledBack, Seq: 4}, true, false},
		{reconcile.Step{Ticket: "T", Env: "prod", Kind: ledger.KindRollbackFailed, Seq: 4}, true, true},
		{reconcile.Step{Ticket: "T", Env: "prod", Kind: ledger.KindExpired, Seq: 2}, true, false},
		{reconcile.Step{Ticket: "T", Kind: ledger.KindQuarantined, Seq: 2}, true, false},
		{reconcile.Step{Ticket: "T", Env: "prod", Kind: ledger.KindVerified, Seq: 5}, false, false},
		{reconcile.Step{Ticket: "T", Env: "prod", Kind: ledger.KindFailed}, false, false},
		{reconcile.Step{Ticket: "T", Env: "prod", Kind: ledger.KindDrifted, Seq: 6}, true, false},
		{reconcile.Step{Ticket: "T", Env: "prod", Kind: ledger.KindDriftCleared, Seq: 7}, false, false},
	} {
		ev, ok := FromStep(tc.st)
		assert.Equal(t, tc.want, ok, "%+v", tc.st)
		assert.Equal(t, tc.loud, ev.Loud, "%+v", tc.st)
		if ok {
			assert.Equal(t, EventID(tc.st.Ticket, tc.st.Env, tc.st.Seq), ev.ID)
		}
	}
}

// TestDriftedRoutes: a drifted step, whose reason is the event's data,
// becomes an event in words that a route naming "drifted" takes.
func TestDriftedRoutes(t *testing.T) {
	data := `{"target":"images","key":"payments:live","index":0,"want":"sha256:aa","live":"sha256:bb"}`
	ev, ok := FromStep(reconcile.Step{Ticket: "CHG-2026-0001", Env: "prod", Kind: ledger.KindDrifted, Seq: 5, Reason: data})
	require.True(t, ok)
	assert.Equal(t, KindDrifted, ev.Kind)
	assert.Equal(t, "images payments:live holds sha256:bb, not sha256:aa as the ticket set it (changed outside cab)", ev.Reason)
	cfg := &model.Notify{Sinks: map[string]model.Sink{"ops": {Type: "webhook", URL: "https://example.com/hook"}, "other": {Type: "webhook", URL: "https://example.com/other"}},
		Routes: []model.Route{{Sinks: []string{"ops"}, Events: []string{KindDrifted}}, {Sinks: []string{"other"}, Events: []string{KindFailed}}}}
	assert.Equal(t, []string{"ops"}, Route(cfg, ev))
}

// TestRestartResendsWhatWasNotAcknowledged: a sink that is down leaves the
// event pending in the state file; a new process sends it once the sink is
// back, and a third sends nothing.
func TestRestartResendsWhatWasNotAcknowledged(t *testing.T) {
	h := &hook{status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(h)
	defer srv.Close()
	state := filepath.Join(t.TempDir(), "notify", "state.json")
	o := Options{Config: webhookConfig(srv.URL), StateFile: state, Attempts: 3}
	ev := Event{ID: EventID("CHG-2026-0003", "prod", 5), Kind: KindFailed, Ticket: "CHG-2026-0003", Environment: "prod"}

	n := newT(t, o)
	require.True(t, n.Notify(ev))
	assert.Equal(t, 1, n.Flush(context.Background()), "still pending while the sink is down")
	bodies, _ := h.got()
	assert.Len(t, bodies, 3, "tried Attempts times")

	h.setStatus(0)
	n2 := newT(t, o)
	assert.Equal(t, []string{ev.ID}, n2.Pending(), "a restart knows what is pending")
	assert.False(t, n2.Notify(ev), "and does not queue it twice")
	assert.Zero(t, n2.Flush(context.Background()))
	bodies, _ = h.got()
	assert.Len(t, bodies, 4)

	n3 := newT(t, o)
	assert.False(t, n3.Notify(ev), "a sent event is never sent again")
	assert.Zero(t, n3.Flush(context.Background()))
	bodies, _ = h.got()
	assert.Len(t, bodies, 4)
}

// TestSinkDownNeverBlocks: a sink that never answers does not block
// Notify, and Run gives up on it after its timeout.
func TestSinkDownNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	n := newT(t, Options{Config: webhookConfig(srv.URL), Timeout: 50 * time.Millisecond, Attempts: 2, Queue: 2})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	for i := range 20 { // more than the queue holds
		n.Notify(Event{ID: EventID("CHG-2026-0004", "prod", i+1), Kind: KindFailed, Ticket: "CHG-2026-0004"})
	}
	assert.Len(t, n.Pending(), 20, "every event is kept, queued or not")
	cancel()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Run did not stop when its context ended")
	}
}

func TestMissingSecret(t *testing.T) {
	_, err := New(Options{Config: webhookConfig("http://127.0.0.1:1"), Getenv: env(nil)})
	require.ErrorIs(t, err, ErrMissingSecret)
	assert.Contains(t, err.Error(), "HOOK_SECRET")
}
