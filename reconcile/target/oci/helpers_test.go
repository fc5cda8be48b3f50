package oci_test

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile/target"
)

// testRegistry is an in-process registry (go-containerregistry's
// pkg/registry) on loopback that counts the requests it serves.
type testRegistry struct {
	Host string

	mu   sync.Mutex
	hits map[string]int
}

// newRegistry starts a registry; wrap, when given, sits between the
// counter and the registry (to make it fail or lie).
func newRegistry(tb testing.TB, wrap ...func(http.Handler) http.Handler) *testRegistry {
	tb.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	for _, w := range wrap {
		h = w(h)
	}
	r := &testRegistry{hits: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.hits[req.Method+" "+kind(req.URL.Path)]++
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	tb.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// kind names what a registry API path addresses: manifests, blobs,
// uploads, tags, or ping for /v2/.
func kind(path string) string {
	elems := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(elems) <= 1:
		return "ping"
	case len(elems) >= 3 && elems[len(elems)-2] == "uploads":
		return "uploads"
	case len(elems) >= 3:
		if elems[len(elems)-1] == "uploads" {
			return "uploads"
		}
		return elems[len(elems)-2]
	}
	return "other"
}

// count returns how many requests of method on kind were served.
func (r *testRegistry) count(method, kind string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits[method+" "+kind]
}

// writes returns how many requests could have changed the registry.
func (r *testRegistry) writes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for k, v := range r.hits {
		m, _, _ := strings.Cut(k, " ")
		if m != http.MethodGet && m != http.MethodHead {
			n += v
		}
	}
	return n
}

// total returns how many requests were served.
func (r *testRegistry) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, v := range r.hits {
		n += v
	}
	return n
}

func (r *testRegistry) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.hits)
}

// pushImage pushes a small random image to repo:tag and returns its digest
// reference.
func (r *testRegistry) pushImage(tb testing.TB, repoTag string) name.Digest {
	tb.Helper()
	img, err := random.Image(512, 2)
	require.NoError(tb, err)
	return r.push(tb, repoTag, img)
}

func (r *testRegistry) push(tb testing.TB, repoTag string, img v1.Image) name.Digest {
	tb.Helper()
	ref, err := name.NewTag(r.Host + "/" + repoTag)
	require.NoError(tb, err)
	require.NoError(tb, remote.Write(ref, img))
	d, err := img.Digest()
	require.NoError(tb, err)
	return ref.Context().Digest(d.String())
}

// pushIndex pushes a random index of three platform images.
func (r *testRegistry) pushIndex(tb testing.TB, repoTag string) name.Digest {
	tb.Helper()
	idx, err := random.Index(256, 2, 3)
	require.NoError(tb, err)
	ref, err := name.NewTag(r.Host + "/" + repoTag)
	require.NoError(tb, err)
	require.NoError(tb, remote.WriteIndex(ref, idx))
	d, err := idx.Digest()
	require.NoError(tb, err)
	return ref.Context().Digest(d.String())
}

// tagDigest reads where repo:tag points, "" when it does not exist.
func (r *testRegistry) tagDigest(tb testing.TB, repoTag string) string {
	tb.Helper()
	ref, err := name.NewTag(r.Host + "/" + repoTag)
	require.NoError(tb, err)
	desc, err := remote.Head(ref)
	if err != nil {
		return ""
	}
	return desc.Digest.String()
}

// change is an oci change of image to registry (the environment's
// target), optionally into repository, tagged tag.
func change(image, registry, repository, tag string) target.Change {
	return target.Change{
		Ticket: "CHG-2026-0042",
		Env:    "prod",
		Seq:    7,
		Action: model.Action{
			Type: "oci", Target: "images",
			Image: image, Repository: repository, Tag: tag,
		},
		Target:     model.Target{Type: "oci", Registry: registry},
		TargetName: "images",
		Commit:     "0123456789abcdef0123456789abcdef01234567",
	}
}
