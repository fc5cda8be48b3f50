package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/sign/sigstoretest"
)

// fakesigstore writes what conformance/run.sh reads, serves the fakes those
// files describe, and stops serving when its context ends.
func TestFakesigstoreServesWhatItWrites(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--dir", dir}) }()
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		return strings.TrimSpace(string(b))
	}
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(dir, "ready"))
		return err == nil
	}, time.Minute, 10*time.Millisecond, "ready is written once the fakes serve")

	assert.Equal(t, sigstoretest.GitHubIssuer, read("issuer"))
	assert.Equal(t, sigstoretest.Subject, read("subject"))
	tr, err := root.NewTrustedRootFromJSON([]byte(read("trusted_root.json")))
	require.NoError(t, err, "trusted_root.json is Sigstore's format")
	require.Len(t, tr.FulcioCertificateAuthorities(), 1)
	assert.Equal(t, read("fulcio.url"), tr.FulcioCertificateAuthorities()[0].(*root.FulcioCertificateAuthority).URI)
	require.Len(t, tr.RekorLogs(), 1)
	for _, l := range tr.RekorLogs() {
		assert.Equal(t, read("rekor.url"), l.BaseURL)
	}
	assert.Empty(t, tr.CTLogs(), "the fake Fulcio embeds no SCT, so the root names no CT log")

	// The env file's token endpoint hands out a token for its request token.
	env := map[string]string{}
	for _, line := range strings.Split(read("env"), "\n") {
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, line)
		env[k] = strings.Trim(v, "'")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env["ACTIONS_ID_TOKEN_REQUEST_URL"]+"&audience=sigstore", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "bearer "+env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Contains(t, string(body), `"value":"ey`, "a JWT")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("fakesigstore did not stop when its context ended")
	}
	req, err = http.NewRequestWithContext(context.Background(), http.MethodGet, read("fulcio.url"), nil)
	require.NoError(t, err)
	_, err = http.DefaultClient.Do(req)
	assert.Error(t, err, "the servers are closed")
}

func TestFakesigstoreUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"--dir", t.TempDir(), "extra"}} {
		assert.Error(t, run(context.Background(), args), "%q", args)
	}
}
