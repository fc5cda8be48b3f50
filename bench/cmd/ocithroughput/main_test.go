package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestSeedApplyVerify(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	images := filepath.Join(t.TempDir(), "images.txt")

	code, out, errOut := runArgs(t, "seed", "-registry", host, "-repo", "staging/app", "-n", "5", "-jobs", "2", "-out", images)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "seed: 5 images")
	b, err := os.ReadFile(images)
	require.NoError(t, err)
	lines := strings.Fields(string(b))
	require.Len(t, lines, 5)
	for _, l := range lines {
		assert.Regexp(t, `^`+host+`/staging/app@sha256:[0-9a-f]{64}$`, l)
	}

	// Nothing tagged yet: verify fails.
	code, _, errOut = runArgs(t, "verify", "-registry", host, "-repo", "prod/app", "-images", images)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "reads absent")

	code, out, errOut = runArgs(t, "apply", "-stats", "-registry", host, "-repo", "prod/app", "-images", images, "-jobs", "2")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `apply: 5 applies in [0-9.]+s: [0-9.]+ applies/s \(jobs 2\)`, out)
	assert.Contains(t, errOut, "PUT http://manifests 201")

	code, out, errOut = runArgs(t, "verify", "-registry", host, "-repo", "prod/app", "-images", images)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "verify: 5 tags")
}

func TestServe(t *testing.T) {
	addr := filepath.Join(t.TempDir(), "addr")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int)
	go func() { done <- run(ctx, []string{"serve", "-addr-file", addr, "-for", "20s"}, io.Discard, io.Discard) }()
	var host string
	for range 100 {
		if b, err := os.ReadFile(addr); err == nil && len(b) > 0 {
			host = strings.TrimSpace(string(b))
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NotEmpty(t, host, "serve wrote its address")
	code, out, errOut := runArgs(t, "seed", "-registry", host, "-repo", "staging/app", "-n", "2", "-out", filepath.Join(t.TempDir(), "i.txt"))
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "seed: 2 images")
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"nope"}, {"apply", "extra"}, {"serve", "-addr", "0.0.0.0:0"}, {"apply"}} {
		code, _, _ := runArgs(t, args...)
		assert.NotZero(t, code, "%q", args)
	}
}
