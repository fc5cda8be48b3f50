package serve

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestUIMount: Config.UI answers under /ui/ and nowhere else; the
// daemon's own routes are unchanged.
func TestUIMount(t *testing.T) {
	c := &counter{}
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ui " + r.URL.Path)) })
	s := serveT(t, Config{Reconcile: c.reconcile, Interval: time.Hour, UI: ui})
	code, body := get(t, s.url+"/ui/board")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ui /ui/board", body)
	code, _ = get(t, s.url+"/board")
	assert.Equal(t, http.StatusNotFound, code)
	code, _ = get(t, s.url+"/livez")
	assert.Equal(t, http.StatusOK, code)

	bare := serveT(t, Config{Reconcile: c.reconcile, Interval: time.Hour})
	code, _ = get(t, bare.url+"/ui/board")
	assert.Equal(t, http.StatusNotFound, code, "no UI unless configured")
}
