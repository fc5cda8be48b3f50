// Package regtest runs an OCI registry (go-containerregistry's, in
// process) on loopback for tests, counting the manifest writes per tag:
// how many times a change was really applied to a registry target.
package regtest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// Registry is an in-process registry at Host (host:port, plain http).
type Registry struct {
	Host string
	mu   sync.Mutex
	puts map[string]int // "repo:tag" → manifest PUTs
}

// New starts a registry that lives until the test ends.
func New(t testing.TB) *Registry {
	t.Helper()
	r := &Registry{puts: map[string]int{}}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPut {
			repo, ref, ok := strings.Cut(strings.TrimPrefix(req.URL.Path, "/v2/"), "/manifests/")
			if ok && !strings.HasPrefix(ref, "sha256:") {
				r.mu.Lock()
				r.puts[repo+":"+ref]++
				r.mu.Unlock()
			}
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	r.Host = u.Host
	return r
}

// Puts returns how many times a manifest was written to repo:tag (a
// repository path below Host, without it).
func (r *Registry) Puts(repoTag string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.puts[repoTag]
}

// Push uploads a small random image to repo and returns its digest
// reference (Host/repo@sha256:…).
func (r *Registry) Push(t testing.TB, repo string) string {
	t.Helper()
	img, err := random.Image(256, 1)
	require.NoError(t, err)
	d, err := img.Digest()
	require.NoError(t, err)
	ref, err := name.NewDigest(r.Host+"/"+repo+"@"+d.String(), name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img))
	return ref.Name()
}
