package oci_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/reconcile/target"
	"github.com/cabhq/cab/reconcile/target/oci"
)

// startDistribution runs Debian's docker-registry (CNCF distribution) on
// a loopback port with storage in a temporary directory, or skips the test
// when it is not installed (apt-get install docker-registry).
func startDistribution(t *testing.T) *testRegistry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry is not installed (apt-get install docker-registry)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	host := ln.Addr().String()
	require.NoError(t, ln.Close())
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "storage"), host)), 0o644))
	cmd := exec.Command(bin, "serve", cfg)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for range 100 {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &testRegistry{Host: host, hits: map[string]int{}}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("docker-registry on %s did not answer: %s", host, logs.String())
	return nil
}

// TestDistribution runs the driver against the registry most
// self-hosted environment registries are: apply across repositories, an
// index from another registry, restore to the previous digest, and the
// restore of a tag that did not exist, which distribution refuses (it
// deletes manifests only by digest).
func TestDistribution(t *testing.T) {
	reg := startDistribution(t)
	other := newRegistry(t)
	d := fast()
	ctx := t.Context()

	old := reg.pushImage(t, "staging/app:build-1")
	img := reg.pushImage(t, "staging/app:build-2")
	first := change(old.String(), reg.Host, "prod/app", "prod")
	prev := observe(t, first)
	require.Equal(t, target.Absent, prev.Value)
	_, err := d.Apply(ctx, first)
	require.NoError(t, err)

	second := change(img.String(), reg.Host, "prod/app", "prod")
	before := observe(t, second)
	assert.Equal(t, old.DigestStr(), before.Value)
	s, err := d.Apply(ctx, second)
	require.NoError(t, err)
	assert.Equal(t, img.DigestStr(), s.Value)
	assert.Equal(t, img.DigestStr(), reg.tagDigest(t, "prod/app:prod"))

	require.NoError(t, d.Restore(ctx, second, before))
	assert.Equal(t, old.DigestStr(), reg.tagDigest(t, "prod/app:prod"))

	idx := other.pushIndex(t, "team/multi:build-1")
	multi := change(idx.String(), reg.Host, "envs/multi", "prod")
	s, err = d.Apply(ctx, multi)
	require.NoError(t, err)
	assert.Equal(t, idx.DigestStr(), s.Value)

	// distribution cannot delete a tag: the rollback of the change that
	// created it points it at the change's tombstone instead.
	require.NoError(t, d.Restore(ctx, first, prev))
	stone, err := oci.Tombstone(first.Ticket, reg.Host+"/prod/app:prod")
	require.NoError(t, err)
	want, err := stone.Digest()
	require.NoError(t, err)
	assert.Equal(t, want.String(), reg.tagDigest(t, "prod/app:prod"), "the tag names the tombstone")
	require.NoError(t, d.Restore(ctx, first, prev), "restoring again is a no-op")
	assert.Equal(t, want.String(), reg.tagDigest(t, "prod/app:prod"))
}
