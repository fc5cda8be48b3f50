//go:build e2e

package e2e

import (
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/stretchr/testify/require"
)

// fault is what the proxy does to the requests it matches.
type fault struct {
	// match selects the requests (nil: every request).
	match func(*http.Request) bool
	// status answers a matched request with this status (500, 503...).
	status int
	// hang holds a matched request without answering until the client
	// gives up or the test ends.
	hang bool
	// times is how many matched requests get the fault (0: all of them).
	times int
}

// proxy is one test's way to the shared docker-registry: a reverse proxy
// on loopback that injects faults and counts the manifest writes that
// went through per repository:tag (how many times a tag was really
// written).
type proxy struct {
	*httptest.Server
	// host is host:port of the proxy, the registry host in cab.cue.
	host string
	// ns prefixes every repository of the test, so tests share the
	// registry without seeing each other.
	ns string

	mu       sync.Mutex
	fault    *fault
	injected int            // requests the current fault was applied to
	tagPuts  map[string]int // "repo:tag" → successful manifest PUTs by tag
	released chan struct{}  // closed at cleanup: hung requests end
}

// newProxy starts a proxy to the suite's registry for t, with repositories
// under ns.
func newProxy(t *testing.T, ns string) *proxy {
	t.Helper()
	backend, err := url.Parse("http://" + suite.registry)
	require.NoError(t, err)
	p := &proxy{ns: ns, tagPuts: map[string]int{}, released: make(chan struct{})}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(backend)
			// distribution writes upload locations for the host it was
			// asked by: keep the proxy's, so every request comes back here.
			r.Out.Host = r.In.Host
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := p.take(r); f != nil {
			if f.hang {
				select {
				case <-r.Context().Done():
				case <-p.released:
				case <-time.After(time.Minute): // bounded even if nobody gives up
				}
				return
			}
			http.Error(w, "injected fault", f.status)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		rp.ServeHTTP(rec, r)
		if repo, tag, ok := manifestTag(r); ok && r.Method == http.MethodPut && rec.status/100 == 2 {
			p.mu.Lock()
			p.tagPuts[repo+":"+tag]++
			p.mu.Unlock()
		}
	}))
	t.Cleanup(p.Close)
	t.Cleanup(func() { close(p.released) }) // runs before Close: hung requests end first
	u, err := url.Parse(p.URL)
	require.NoError(t, err)
	p.host = u.Host
	return p
}

// take returns the fault to apply to r, if any, and counts it.
func (p *proxy) take(r *http.Request) *fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.fault
	if f == nil || (f.match != nil && !f.match(r)) {
		return nil
	}
	if f.times > 0 && p.injected >= f.times {
		return nil
	}
	p.injected++
	return f
}

// inject makes the proxy apply f from now on (nil: heal).
func (p *proxy) inject(f *fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault, p.injected = f, 0
}

// injectedCount returns how many requests met the current fault.
func (p *proxy) injectedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected
}

// puts returns how many times repo:tag (under the test's namespace) was
// written through the proxy.
func (p *proxy) puts(repoTag string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tagPuts[p.ns+"/"+repoTag]
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// manifestTag splits /v2/<repo>/manifests/<tag>; digests are not tags.
func manifestTag(r *http.Request) (repo, tag string, ok bool) {
	p, found := strings.CutPrefix(r.URL.Path, "/v2/")
	if !found {
		return "", "", false
	}
	repo, tag, found = strings.Cut(p, "/manifests/")
	if !found || strings.HasPrefix(tag, "sha256:") {
		return "", "", false
	}
	return repo, tag, true
}

// isWrite matches the requests that change the registry.
func isWrite(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead
}

// isManifest matches manifest requests (reads and writes).
func isManifest(r *http.Request) bool { return strings.Contains(r.URL.Path, "/manifests/") }

// pushImage writes a random image to repo (under the namespace) straight
// to the registry, tagged when tag is not "", and returns it by digest as
// the proxy names it: what a ticket's image field holds.
func (p *proxy) pushImage(t *testing.T, repo, tag string) string {
	t.Helper()
	img, err := random.Image(512, 1)
	require.NoError(t, err)
	d, err := img.Digest()
	require.NoError(t, err)
	var ref name.Reference
	if tag != "" {
		ref, err = name.NewTag(suite.registry+"/"+p.ns+"/"+repo+":"+tag, name.Insecure)
	} else {
		ref, err = name.NewDigest(suite.registry+"/"+p.ns+"/"+repo+"@"+d.String(), name.Insecure)
	}
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img, remote.WithContext(t.Context())))
	return p.host + "/" + p.ns + "/" + repo + "@" + d.String()
}

// tagDigest returns the digest repo:tag points at in the registry ("" when
// the tag does not exist), read straight from the registry.
func (p *proxy) tagDigest(t *testing.T, repoTag string) string {
	t.Helper()
	tag, err := name.NewTag(suite.registry+"/"+p.ns+"/"+repoTag, name.Insecure)
	require.NoError(t, err)
	desc, err := remote.Get(tag, remote.WithContext(t.Context()))
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return ""
	}
	require.NoError(t, err, "reading %s", tag)
	return desc.Digest.String()
}

// digestOf is the digest part of an image reference.
func digestOf(ref string) string {
	_, d, _ := strings.Cut(ref, "@")
	return d
}
