package webui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newTestServer serves the UI over the fixture repository at /ui.
func newTestServer(t *testing.T, auth *Auth) (*httptest.Server, *Source) {
	t.Helper()
	dir := fixtureRepo(t)
	src := NewSource(Options{Dir: dir, Now: func() time.Time { return now }})
	h, err := New(Config{Source: src, Auth: auth, Now: func() time.Time { return now }})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, src
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

func TestSmoke(t *testing.T) {
	srv, _ := newTestServer(t, nil)
	for _, p := range []string{"/ui/", "/ui/board", "/ui/calendar", "/ui/tickets/CHG-2026-0001", "/ui/api/v1/board", "/ui/calendar.ics", "/ui/api/v1/overview"} {
		code, _, body := get(t, srv.URL+p)
		t.Logf("%s %d\n%s", p, code, body)
	}
}
