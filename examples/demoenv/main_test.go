package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/reconcile/check"
)

// cab's own Prometheus client reads demoenv's answer as one value, 0; an
// answer without a query is Prometheus' error envelope; the health
// endpoints answer as the demo's checks expect.
func TestHandler(t *testing.T) {
	srv := httptest.NewServer(handler())
	t.Cleanup(srv.Close)

	v, err := check.Query(t.Context(), srv.Client(), srv.URL+"/", `sum(rate(errors[5m]))`)
	require.NoError(t, err)
	assert.Zero(t, v)

	resp, err := srv.Client().Get(srv.URL + "/api/v1/query")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	var e struct{ Status, ErrorType string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	assert.Equal(t, "error", e.Status)
	assert.Equal(t, "bad_data", e.ErrorType)

	for path, want := range map[string]int{"/healthz": 200, "/health/ok": 200, "/health/fail": 503, "/v2/": 200} {
		resp, err := srv.Client().Get(srv.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, path)
	}
}
