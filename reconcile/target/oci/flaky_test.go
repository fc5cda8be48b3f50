package oci_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFlakyWrites: a registry that answers the first two writes of a kind
// with 503 still ends with the tag written, within the retry budget (the
// retried PUT carries its body again).
func TestFlakyWrites(t *testing.T) {
	for _, kindToFail := range []string{"manifests", "uploads"} {
		t.Run(kindToFail, func(t *testing.T) {
			var failed atomic.Int32
			dst := newRegistry(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method != http.MethodGet && r.Method != http.MethodHead && kind(r.URL.Path) == kindToFail && failed.Add(1) <= 2 {
						http.Error(w, "try later", http.StatusServiceUnavailable)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			src := newRegistry(t)
			img := src.pushImage(t, "app:build-1")
			s, err := fast().Apply(t.Context(), change(img.String(), dst.Host, "", "prod"))
			require.NoError(t, err)
			assert.True(t, s.Done)
			assert.Equal(t, img.DigestStr(), dst.tagDigest(t, "app:prod"))
			assert.Greater(t, failed.Load(), int32(2), "two writes failed, and then some went through")
		})
	}
}
