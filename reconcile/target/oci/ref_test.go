package oci_test

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/reconcile/target"
	"github.com/cabhq/cab/reconcile/target/oci"
)

var hexA = strings.Repeat("a", 64)

func TestResolve(t *testing.T) {
	yes := true
	tests := []struct {
		name       string
		image      string
		registry   string
		insecure   bool
		repository string
		tag        string
		wantTag    string
		wantScheme string
		srcScheme  string
		sameRepo   bool
	}{
		{
			name:  "default repository: the source's path",
			image: "ghcr.io/acme/payments@sha256:" + hexA, registry: "registry.prod.example", tag: "prod",
			wantTag: "registry.prod.example/acme/payments:prod", wantScheme: "https", srcScheme: "https",
		},
		{
			name:  "explicit repository",
			image: "ghcr.io/acme/payments@sha256:" + hexA, registry: "registry.prod.example:5000", repository: "payments/api", tag: "v1.2.3",
			wantTag: "registry.prod.example:5000/payments/api:v1.2.3", wantScheme: "https", srcScheme: "https",
		},
		{
			name:  "registry with a path prefix",
			image: "ghcr.io/acme/payments@sha256:" + hexA, registry: "registry.example/mirror/prod", tag: "live",
			wantTag: "registry.example/mirror/prod/acme/payments:live", wantScheme: "https", srcScheme: "https",
		},
		{
			name:  "same repository",
			image: "registry.example/acme/payments@sha256:" + hexA, registry: "registry.example", tag: "prod",
			wantTag: "registry.example/acme/payments:prod", wantScheme: "https", srcScheme: "https", sameRepo: true,
		},
		{
			name:  "insecure target, source on the same host: both http",
			image: "registry.internal:5000/acme/payments@sha256:" + hexA, registry: "registry.internal:5000", insecure: true, tag: "prod",
			wantTag: "registry.internal:5000/acme/payments:prod", wantScheme: "http", srcScheme: "http", sameRepo: true,
		},
		{
			name:  "insecure target, source elsewhere: source stays https",
			image: "ghcr.io/acme/payments@sha256:" + hexA, registry: "registry.internal:5000", insecure: true, tag: "prod",
			wantTag: "registry.internal:5000/acme/payments:prod", wantScheme: "http", srcScheme: "https",
		},
		{
			name:  "source tag beside the digest is dropped",
			image: "ghcr.io/acme/payments:1.2@sha256:" + hexA, registry: "registry.example", tag: "prod",
			wantTag: "registry.example/acme/payments:prod", wantScheme: "https", srcScheme: "https",
		},
		{
			name:  "localhost",
			image: "localhost/app@sha256:" + hexA, registry: "localhost:5000", tag: "prod",
			wantTag: "localhost:5000/app:prod", wantScheme: "http", srcScheme: "https",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := change(tt.image, tt.registry, tt.repository, tt.tag)
			if tt.insecure {
				c.Target.Insecure = &yes
			}
			got, err := oci.Resolve(c)
			require.NoError(t, err)
			assert.Equal(t, tt.wantTag, got.Tag.String())
			assert.Equal(t, tt.wantScheme, got.Tag.Context().Scheme(), "destination scheme")
			assert.Equal(t, tt.srcScheme, got.Source.Context().Scheme(), "source scheme")
			assert.Equal(t, "sha256:"+hexA, got.Digest())
			assert.Equal(t, strings.TrimSuffix(tt.wantTag, ":"+tt.tag)+"@sha256:"+hexA, got.ByDigest().String())
			assert.Equal(t, tt.sameRepo, got.SameRepository())
		})
	}
}

// FuzzResolve: Resolve never panics, refuses only with ErrUnsafe, and what
// it accepts names the tag and digest it was given, in a repository that
// parses back to itself.
func FuzzResolve(f *testing.F) {
	f.Add("ghcr.io/acme/payments@sha256:"+hexA, "registry.example", "", "prod")
	f.Add("ghcr.io/acme/payments@sha256:"+hexA, "registry.example:5000/prefix", "team/app", "v1.2.3")
	f.Add("ghcr.io/acme/payments:v1", "registry.example", "", "prod")
	f.Add("app@sha256:"+hexA, "registry", "../x", "sha256-"+hexA)
	f.Add("localhost/a@sha256:"+hexA, "localhost", "a//b", "-x")
	f.Fuzz(func(t *testing.T, image, registry, repository, tag string) {
		d, err := oci.Resolve(change(image, registry, repository, tag))
		if err != nil {
			assert.ErrorIs(t, err, target.ErrUnsafe)
			return
		}
		assert.Equal(t, tag, d.Tag.TagStr())
		assert.True(t, strings.HasPrefix(image, d.Source.Context().RegistryStr()+"/") || strings.HasPrefix(image, "docker.io/"), "source registry %s from %s", d.Source.Context().RegistryStr(), image)
		assert.True(t, strings.HasSuffix(image, "@"+d.Digest()))
		back, err := name.ParseReference(d.Tag.String(), name.StrictValidation)
		require.NoError(t, err)
		assert.Equal(t, d.Tag.String(), back.String())
		host, _, _ := strings.Cut(registry, "/")
		assert.Equal(t, host, d.Tag.RegistryStr())
	})
}
