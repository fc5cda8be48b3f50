package oci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/reconcile/target"
	"github.com/cabhq/cab/reconcile/target/oci"
)

// fast is a driver whose retries do not slow the tests down.
func fast(opts ...oci.Option) *oci.Driver {
	return oci.New(append([]oci.Option{oci.WithRetry(3, time.Millisecond), oci.WithTimeout(20 * time.Second)}, opts...)...)
}

func TestApply(t *testing.T) {
	type world struct {
		src, dst *testRegistry
	}
	tests := []struct {
		name string
		// setup pushes what the case needs and returns the change, the
		// destination repo:tag in dst and the digest Observe sees first.
		setup func(t *testing.T, w world) (c target.Change, destRepoTag, before string)
		// check asserts the requests dst served for the apply.
		check func(t *testing.T, w world)
		// index: the copy must be a complete index in dst.
		index bool
	}{
		{
			name: "absent tag in the source repository: only the tag is written",
			setup: func(t *testing.T, w world) (target.Change, string, string) {
				img := w.dst.pushImage(t, "app:build-1")
				return change(img.String(), w.dst.Host, "", "prod"), "app:prod", target.Absent
			},
			check: func(t *testing.T, w world) {
				assert.Equal(t, 1, w.dst.count(http.MethodPut, "manifests"), "manifest PUTs")
				assert.Zero(t, w.dst.count(http.MethodPost, "uploads"), "no blob uploads when the image is in the repository")
			},
		},
		{
			name: "tag at another digest moves",
			setup: func(t *testing.T, w world) (target.Change, string, string) {
				old := w.dst.pushImage(t, "app:prod")
				img := w.dst.pushImage(t, "app:build-2")
				return change(img.String(), w.dst.Host, "", "prod"), "app:prod", old.DigestStr()
			},
			check: func(t *testing.T, w world) {
				assert.Equal(t, 1, w.dst.count(http.MethodPut, "manifests"), "manifest PUTs")
			},
		},
		{
			name: "same registry, other repository: blobs are mounted, not streamed",
			setup: func(t *testing.T, w world) (target.Change, string, string) {
				img := w.dst.pushImage(t, "staging/app:build-3")
				return change(img.String(), w.dst.Host, "prod/app", "v1"), "prod/app:v1", target.Absent
			},
			check: func(t *testing.T, w world) {
				assert.Zero(t, w.dst.count(http.MethodPatch, "uploads"), "streamed blob chunks")
				assert.Zero(t, w.dst.count(http.MethodPut, "uploads"), "committed blob uploads")
				assert.Zero(t, w.dst.count(http.MethodGet, "blobs"), "blob downloads")
				assert.Equal(t, 1, w.dst.count(http.MethodPut, "manifests"), "manifest PUTs")
			},
		},
		{
			name: "cross registry image: blobs and manifest copied",
			setup: func(t *testing.T, w world) (target.Change, string, string) {
				img := w.src.pushImage(t, "team/app:build-4")
				return change(img.String(), w.dst.Host, "", "prod"), "team/app:prod", target.Absent
			},
			check: func(t *testing.T, w world) {
				assert.Positive(t, w.src.count(http.MethodGet, "blobs"), "blobs read from the source")
				assert.Equal(t, 1, w.dst.count(http.MethodPut, "manifests"), "manifest PUTs")
			},
		},
		{
			name: "cross registry multi-arch index: every child copied",
			setup: func(t *testing.T, w world) (target.Change, string, string) {
				idx := w.src.pushIndex(t, "team/multi:build-5")
				return change(idx.String(), w.dst.Host, "envs/multi", "prod"), "envs/multi:prod", target.Absent
			},
			check: func(t *testing.T, w world) {
				assert.Equal(t, 4, w.dst.count(http.MethodPut, "manifests"), "three child manifests and the index")
			},
			index: true,
		},
		{
			name: "already done: nothing written",
			setup: func(t *testing.T, w world) (target.Change, string, string) {
				img := w.dst.pushImage(t, "app:prod")
				return change(img.String(), w.dst.Host, "", "prod"), "app:prod", img.DigestStr()
			},
			check: func(t *testing.T, w world) {
				assert.Zero(t, w.dst.writes(), "requests that write")
			},
		},
		{
			name: "target registry with a path prefix",
			setup: func(t *testing.T, w world) (target.Change, string, string) {
				img := w.src.pushImage(t, "app:build-6")
				return change(img.String(), w.dst.Host+"/mirror/prod", "", "live"), "mirror/prod/app:live", target.Absent
			},
			check: func(t *testing.T, w world) {
				assert.Equal(t, 1, w.dst.count(http.MethodPut, "manifests"), "manifest PUTs")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := world{src: newRegistry(t), dst: newRegistry(t)}
			c, destRepoTag, before := tt.setup(t, w)
			d := fast()
			ctx := t.Context()

			got, err := d.Observe(ctx, c)
			require.NoError(t, err)
			assert.Equal(t, before, got.Value, "observed before the apply")
			assert.Equal(t, before == c.Action.Image[strings.LastIndex(c.Action.Image, "@")+1:], got.Done, "done before the apply")

			w.src.reset()
			w.dst.reset()
			state, err := d.Apply(ctx, c)
			require.NoError(t, err)
			want := c.Action.Image[strings.LastIndex(c.Action.Image, "@")+1:]
			assert.Equal(t, want, state.Value, "state returned by Apply")
			assert.True(t, state.Done, "Apply returns a done state")
			assert.JSONEq(t, `{"digest":"`+want+`","mediaType":"`+mediaTypeOf(t, w.dst.Host+"/"+destRepoTag)+`"}`, string(state.Restore))
			assert.Equal(t, want, w.dst.tagDigest(t, destRepoTag), "tag in the destination registry")
			tt.check(t, w)

			// What is in the destination is complete: every blob and child
			// manifest can be read back and hashes to its digest.
			ref, err := name.ParseReference(w.dst.Host + "/" + destRepoTag)
			require.NoError(t, err)
			if tt.index {
				idx, err := remote.Index(ref)
				require.NoError(t, err)
				im, err := idx.IndexManifest()
				require.NoError(t, err)
				require.Len(t, im.Manifests, 3)
				for _, m := range im.Manifests {
					img, err := idx.Image(m.Digest)
					require.NoError(t, err)
					assertComplete(t, img)
				}
			} else {
				img, err := remote.Image(ref)
				require.NoError(t, err)
				assertComplete(t, img)
			}

			// Applying again writes nothing and says the same.
			w.dst.reset()
			again, err := d.Apply(ctx, c)
			require.NoError(t, err)
			assert.Equal(t, state, again, "second apply")
			assert.Zero(t, w.dst.writes(), "requests that write on the second apply")
		})
	}
}

// assertComplete reads every blob of img and checks it hashes to its
// digest.
func assertComplete(t *testing.T, img v1.Image) {
	t.Helper()
	m, err := img.Manifest()
	require.NoError(t, err)
	cfg, err := img.RawConfigFile()
	require.NoError(t, err)
	h, _, err := v1.SHA256(bytes.NewReader(cfg))
	require.NoError(t, err)
	assert.Equal(t, m.Config.Digest, h, "config digest")
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, len(m.Layers))
	for i, l := range layers {
		rc, err := l.Compressed()
		require.NoError(t, err)
		h, n, err := v1.SHA256(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		assert.Equal(t, m.Layers[i].Digest, h, "layer %d digest", i)
		assert.Equal(t, m.Layers[i].Size, n, "layer %d size", i)
	}
}

func mediaTypeOf(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	desc, err := remote.Head(r)
	require.NoError(t, err)
	return string(desc.MediaType)
}

func TestObserve(t *testing.T) {
	reg := newRegistry(t)
	img := reg.pushImage(t, "app:prod")
	other := reg.pushImage(t, "app:canary")
	mt := mediaTypeOf(t, img.String())
	tests := []struct {
		name     string
		c        target.Change
		want     target.State
		restored string
	}{
		{
			name: "repository unknown",
			c:    change(img.String(), reg.Host, "nothing/here", "prod"),
			want: target.State{Value: target.Absent, Restore: json.RawMessage(`{"digest":"","mediaType":""}`)},
		},
		{
			name: "tag unknown",
			c:    change(img.String(), reg.Host, "", "staging"),
			want: target.State{Value: target.Absent, Restore: json.RawMessage(`{"digest":"","mediaType":""}`)},
		},
		{
			name: "tag at the digest",
			c:    change(img.String(), reg.Host, "", "prod"),
			want: target.State{Value: img.DigestStr(), Done: true, Restore: json.RawMessage(`{"digest":"` + img.DigestStr() + `","mediaType":"` + mt + `"}`)},
		},
		{
			name: "tag at another digest",
			c:    change(other.String(), reg.Host, "", "prod"),
			want: target.State{Value: img.DigestStr(), Done: false, Restore: json.RawMessage(`{"digest":"` + img.DigestStr() + `","mediaType":"` + mt + `"}`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg.reset()
			got, err := fast().Observe(t.Context(), tt.c)
			require.NoError(t, err)
			assert.Equal(t, tt.want.Value, got.Value)
			assert.Equal(t, tt.want.Done, got.Done)
			assert.JSONEq(t, string(tt.want.Restore), string(got.Restore))
			assert.Zero(t, reg.writes(), "Observe wrote")
		})
	}
}

func TestRestore(t *testing.T) {
	tests := []struct {
		name string
		// setup returns the change, the state observed before it was
		// applied, and the digest the tag must read after Restore ("" for
		// absent).
		setup   func(t *testing.T, reg *testRegistry) (target.Change, target.State, string)
		wrap    func(http.Handler) http.Handler
		wantErr string
		// wantTag is where the tag points when Restore failed.
		wantTag string
	}{
		{
			name: "back to the previous digest",
			setup: func(t *testing.T, reg *testRegistry) (target.Change, target.State, string) {
				old := reg.pushImage(t, "app:prod")
				img := reg.pushImage(t, "app:build-2")
				c := change(img.String(), reg.Host, "", "prod")
				prev := observe(t, c)
				apply(t, c)
				return c, prev, old.DigestStr()
			},
		},
		{
			name: "previous digest in another repository's copy",
			setup: func(t *testing.T, reg *testRegistry) (target.Change, target.State, string) {
				old := reg.pushImage(t, "staging/app:build-1")
				img := reg.pushImage(t, "staging/app:build-2")
				apply(t, change(old.String(), reg.Host, "prod/app", "live"))
				c := change(img.String(), reg.Host, "prod/app", "live")
				prev := observe(t, c)
				apply(t, c)
				return c, prev, old.DigestStr()
			},
		},
		{
			name: "previously absent: the tag is deleted",
			setup: func(t *testing.T, reg *testRegistry) (target.Change, target.State, string) {
				img := reg.pushImage(t, "app:build-1")
				c := change(img.String(), reg.Host, "", "prod")
				prev := observe(t, c)
				require.Equal(t, target.Absent, prev.Value)
				apply(t, c)
				return c, prev, ""
			},
		},
		{
			name: "previous state given by value only",
			setup: func(t *testing.T, reg *testRegistry) (target.Change, target.State, string) {
				old := reg.pushImage(t, "app:prod")
				img := reg.pushImage(t, "app:build-2")
				c := change(img.String(), reg.Host, "", "prod")
				apply(t, c)
				return c, target.State{Value: old.DigestStr()}, old.DigestStr()
			},
		},
		{
			name: "already restored: nothing written",
			setup: func(t *testing.T, reg *testRegistry) (target.Change, target.State, string) {
				old := reg.pushImage(t, "app:prod")
				img := reg.pushImage(t, "app:build-2")
				c := change(img.String(), reg.Host, "", "prod")
				return c, observe(t, c), old.DigestStr()
			},
		},
		{
			name: "previous image garbage-collected",
			setup: func(t *testing.T, reg *testRegistry) (target.Change, target.State, string) {
				img := reg.pushImage(t, "app:build-1")
				c := change(img.String(), reg.Host, "", "prod")
				apply(t, c)
				gone, err := random.Image(16, 1)
				require.NoError(t, err)
				d, err := gone.Digest()
				require.NoError(t, err)
				return c, target.State{Value: d.String(), Restore: json.RawMessage(`{"digest":"` + d.String() + `","mediaType":"application/vnd.oci.image.manifest.v1+json"}`)}, d.String()
			},
			wantErr: "the previous image is no longer in the repository",
			wantTag: "applied",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var wrap []func(http.Handler) http.Handler
			if tt.wrap != nil {
				wrap = append(wrap, tt.wrap)
			}
			reg := newRegistry(t, wrap...)
			c, prev, want := tt.setup(t, reg)
			applied := c.Action.Image[strings.LastIndex(c.Action.Image, "@")+1:]
			repoTag := strings.TrimPrefix(c.Action.Image, reg.Host+"/")
			repoTag = repoTag[:strings.LastIndex(repoTag, "@")]
			if c.Action.Repository != "" {
				repoTag = c.Action.Repository
			}
			repoTag += ":" + c.Action.Tag
			before := reg.tagDigest(t, repoTag)

			reg.reset()
			err := fast().Restore(t.Context(), c, prev)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, err.Error(), repoTag, "the error names the tag")
				assert.NotErrorIs(t, err, target.ErrUnsafe)
				if tt.wantTag == "applied" {
					assert.Equal(t, applied, reg.tagDigest(t, repoTag), "the tag is left as applied")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, want, reg.tagDigest(t, repoTag), "tag after Restore")
			if before == want {
				assert.Zero(t, reg.writes(), "requests that write when already restored")
			}
			after := observe(t, c)
			assert.Equal(t, prev.Value, after.Value, "Observe after Restore sees the previous state")

			// Restoring again is a no-op.
			reg.reset()
			require.NoError(t, fast().Restore(t.Context(), c, prev))
			assert.Zero(t, reg.writes(), "requests that write on the second restore")
		})
	}
}

// refuseDelete answers every DELETE as distribution does without
// storage.delete (and as a registry with immutable tags does, by status).
func refuseDelete(status int, code string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodDelete {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_, _ = w.Write([]byte(`{"errors":[{"code":"` + code + `","message":"The operation is unsupported."}]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// TestRestoreTombstone: rolling back a tag the change created, on a
// registry that refuses to delete tags, points the tag at a tombstone
// image that cannot run; restoring again writes nothing; a registry that
// fails (5xx) instead of refusing gets no tombstone but an error.
func TestRestoreTombstone(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		code   string
	}{
		{"distribution without storage.delete", http.StatusMethodNotAllowed, "UNSUPPORTED"},
		{"immutable tags", http.StatusForbidden, "DENIED"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := newRegistry(t, refuseDelete(tt.status, tt.code))
			img := reg.pushImage(t, "app:build-1")
			c := change(img.String(), reg.Host, "", "prod")
			prev := observe(t, c)
			require.Equal(t, target.Absent, prev.Value)
			apply(t, c)

			require.NoError(t, fast().Restore(t.Context(), c, prev), "a registry that cannot delete tags still rolls back")
			stone, err := oci.Tombstone(c.Ticket, reg.Host+"/app:prod")
			require.NoError(t, err)
			want, err := stone.Digest()
			require.NoError(t, err)
			assert.Equal(t, want.String(), reg.tagDigest(t, "app:prod"), "the tag points at the tombstone")
			assert.NotEqual(t, img.DigestStr(), want.String())

			// What the tag now names cannot run, and says why.
			ref, err := name.ParseReference(reg.Host + "/app:prod")
			require.NoError(t, err)
			got, err := remote.Image(ref)
			require.NoError(t, err)
			layers, err := got.Layers()
			require.NoError(t, err)
			assert.Empty(t, layers, "a tombstone has no content")
			cf, err := got.ConfigFile()
			require.NoError(t, err)
			assert.Empty(t, cf.Config.Entrypoint)
			assert.Empty(t, cf.Config.Cmd)
			assert.Equal(t, "true", cf.Config.Labels[oci.TombstoneLabel])
			assert.Equal(t, c.Ticket, cf.Config.Labels[oci.TombstoneTicketLabel])
			assert.Equal(t, reg.Host+"/app:prod", cf.Config.Labels[oci.TombstoneTagLabel])

			reg.reset()
			require.NoError(t, fast().Restore(t.Context(), c, prev))
			assert.Zero(t, reg.writes(), "requests that write on the second restore")
		})
	}

	t.Run("registry failing, not refusing", func(t *testing.T) {
		reg := newRegistry(t, refuseDelete(http.StatusServiceUnavailable, "UNAVAILABLE"))
		img := reg.pushImage(t, "app:build-1")
		c := change(img.String(), reg.Host, "", "prod")
		prev := observe(t, c)
		apply(t, c)
		err := fast().Restore(t.Context(), c, prev)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "deleting the tag, which did not exist before the change")
		assert.Equal(t, img.DigestStr(), reg.tagDigest(t, "app:prod"), "no tombstone on a failing registry: the tag is left as applied")
	})
}

func observe(t *testing.T, c target.Change) target.State {
	t.Helper()
	s, err := fast().Observe(t.Context(), c)
	require.NoError(t, err)
	return s
}

func apply(t *testing.T, c target.Change) target.State {
	t.Helper()
	s, err := fast().Apply(t.Context(), c)
	require.NoError(t, err)
	return s
}

func TestRefusals(t *testing.T) {
	reg := newRegistry(t)
	img := reg.pushImage(t, "app:build-1")
	digest := img.DigestStr()
	tests := []struct {
		name   string
		mutate func(c *target.Change)
		want   string
	}{
		{"image by tag", func(c *target.Change) { c.Action.Image = reg.Host + "/app:build-1" }, "is not named by digest"},
		{"image without registry", func(c *target.Change) { c.Action.Image = "app@" + digest }, "does not name its registry"},
		{"image with a bad digest", func(c *target.Change) { c.Action.Image = reg.Host + "/app@sha256:1234" }, "is not a valid reference"},
		{"image with uppercase repository", func(c *target.Change) { c.Action.Image = reg.Host + "/App@" + digest }, "is not a valid reference"},
		{"image empty", func(c *target.Change) { c.Action.Image = "" }, "names no image"},
		{"tag spells a digest", func(c *target.Change) { c.Action.Tag = digest }, "spells a digest"},
		{"tag is a cosign attestation tag", func(c *target.Change) { c.Action.Tag = "sha256-" + digest[7:] + ".att" }, "spells a digest"},
		{"tag with a path", func(c *target.Change) { c.Action.Tag = "prod/../x" }, "is not a valid tag"},
		{"tag starting with a dot", func(c *target.Change) { c.Action.Tag = ".prod" }, "is not a valid tag"},
		{"tag empty", func(c *target.Change) { c.Action.Tag = "" }, "names no tag"},
		{"repository leaving its path", func(c *target.Change) { c.Action.Repository = "../admin" }, "is not a valid repository name"},
		{"repository with uppercase", func(c *target.Change) { c.Action.Repository = "Prod/app" }, "is not a valid repository name"},
		{"repository with a host", func(c *target.Change) { c.Action.Repository = "evil.example:5000/app" }, "is not a valid repository name"},
		{"action of another type", func(c *target.Change) { c.Action.Type = "git" }, "not oci"},
		{"target of another type", func(c *target.Change) { c.Target.Type = "git" }, "not oci"},
		{"target registry without a host", func(c *target.Change) { c.Target.Registry = "registry" }, "does not start with a registry host"},
		{"target registry empty", func(c *target.Change) { c.Target.Registry = "" }, "does not start with a registry host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := change(img.String(), reg.Host, "", "prod")
			tt.mutate(&c)
			reg.reset()
			d := fast()
			_, err := d.Observe(t.Context(), c)
			require.ErrorIs(t, err, target.ErrUnsafe, "Observe")
			assert.Contains(t, err.Error(), tt.want)
			_, err = d.Apply(t.Context(), c)
			require.ErrorIs(t, err, target.ErrUnsafe, "Apply")
			assert.Contains(t, err.Error(), tt.want)
			err = d.Restore(t.Context(), c, target.State{Value: target.Absent})
			require.ErrorIs(t, err, target.ErrUnsafe, "Restore")
			assert.Zero(t, reg.total(), "requests made for a refused change")
		})
	}

	t.Run("recorded previous state not a digest", func(t *testing.T) {
		reg.reset()
		err := fast().Restore(t.Context(), change(img.String(), reg.Host, "", "prod"), target.State{Value: "sha256:nope", Restore: json.RawMessage(`{"digest":"sha256:nope"}`)})
		require.ErrorIs(t, err, target.ErrUnsafe)
		assert.Zero(t, reg.total(), "requests made")
	})
}

// failManifests answers every manifest request with status.
func failManifests(status int, calls *atomic.Int32) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if kind(r.URL.Path) == "manifests" {
				calls.Add(1)
				http.Error(w, http.StatusText(status), status)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestRegistryErrors(t *testing.T) {
	t.Run("5xx: bounded retries then an error, never absent", func(t *testing.T) {
		for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
			var calls atomic.Int32
			reg := newRegistry(t, failManifests(status, &calls))
			c := change(reg.Host+"/app@sha256:"+strings.Repeat("a", 64), reg.Host, "", "prod")

			start := time.Now()
			s, err := oci.New(oci.WithRetry(4, time.Millisecond)).Observe(t.Context(), c)
			require.Error(t, err)
			assert.Less(t, time.Since(start), 5*time.Second)
			assert.Zero(t, s, "no state with the error")
			assert.Equal(t, int32(4), calls.Load(), "attempts for status %d", status)
			assert.Contains(t, err.Error(), "gave up after 4 attempts")
			assert.Contains(t, err.Error(), http.StatusText(status))
			assert.Contains(t, err.Error(), reg.Host+"/app:prod")

			calls.Store(0)
			_, err = oci.New(oci.WithRetry(1, time.Millisecond)).Apply(t.Context(), c)
			require.Error(t, err)
			assert.Equal(t, int32(1), calls.Load(), "attempts without retries")
			assert.NotErrorIs(t, err, target.ErrUnsafe)
		}
	})

	t.Run("403 is an error, not absent", func(t *testing.T) {
		var calls atomic.Int32
		reg := newRegistry(t, failManifests(http.StatusForbidden, &calls))
		_, err := fast().Observe(t.Context(), change(reg.Host+"/app@sha256:"+strings.Repeat("a", 64), reg.Host, "", "prod"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "403")
		assert.Equal(t, int32(1), calls.Load(), "a 403 is not retried")
	})

	t.Run("not a registry: 404 on /v2/ is an error, not absent", func(t *testing.T) {
		reg := newRegistry(t, func(http.Handler) http.Handler { return http.NotFoundHandler() })
		_, err := fast().Observe(t.Context(), change(reg.Host+"/app@sha256:"+strings.Repeat("a", 64), reg.Host, "", "prod"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "404")
	})

	slow := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if kind(r.URL.Path) == "manifests" {
				select {
				case <-r.Context().Done():
				case <-time.After(time.Minute):
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	t.Run("timeout: the caller's deadline", func(t *testing.T) {
		reg := newRegistry(t, slow)
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		s, err := fast().Observe(ctx, change(reg.Host+"/app@sha256:"+strings.Repeat("a", 64), reg.Host, "", "prod"))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotEqual(t, target.Absent, s.Value)
		assert.Less(t, time.Since(start), 30*time.Second, "well before the registry's minute")
	})
	t.Run("timeout: the driver's own bound", func(t *testing.T) {
		reg := newRegistry(t, slow)
		img := newRegistry(t).pushImage(t, "app:build-1")
		start := time.Now()
		_, err := fast(oci.WithTimeout(200*time.Millisecond)).Apply(t.Context(), change(img.String(), reg.Host, "", "prod"))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 30*time.Second, "well before the registry's minute")
	})

	t.Run("read-back mismatch", func(t *testing.T) {
		// After the tag is written, the registry serves another tag's
		// manifest for it.
		var written atomic.Bool
		reg := newRegistry(t, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/manifests/prod") {
					switch {
					case r.Method == http.MethodPut:
						written.Store(true)
					case written.Load():
						r.URL.Path = strings.TrimSuffix(r.URL.Path, "prod") + "decoy"
					}
				}
				next.ServeHTTP(w, r)
			})
		})
		decoy := reg.pushImage(t, "app:decoy")
		img := reg.pushImage(t, "app:build-1")
		s, err := fast().Apply(t.Context(), change(img.String(), reg.Host, "", "prod"))
		require.ErrorIs(t, err, target.ErrMismatch)
		assert.Equal(t, decoy.DigestStr(), s.Value, "the state read back")
		assert.False(t, s.Done)
		assert.Contains(t, err.Error(), img.DigestStr())
	})

	t.Run("source image missing", func(t *testing.T) {
		src, dst := newRegistry(t), newRegistry(t)
		src.pushImage(t, "app:build-1") // the repository exists
		missing := src.Host + "/app@sha256:" + strings.Repeat("b", 64)
		for _, c := range []target.Change{
			change(missing, dst.Host, "", "prod"),                                             // cross registry
			change(missing, src.Host, "", "prod"),                                             // same repository
			change(missing, src.Host, "prod/app", "prod"),                                     // same registry
			change(src.Host+"/nothing@sha256:"+strings.Repeat("c", 64), dst.Host, "", "prod"), // unknown repository
		} {
			_, err := fast().Apply(t.Context(), c)
			require.Error(t, err, c.Action.Image)
			assert.Contains(t, err.Error(), "source image "+c.Action.Image+" not found")
			assert.NotErrorIs(t, err, target.ErrUnsafe)
		}
		assert.Zero(t, dst.count(http.MethodPut, "manifests"), "nothing tagged")
	})
}

func TestConcurrentApplies(t *testing.T) {
	src, dst := newRegistry(t), newRegistry(t)
	d := fast()
	const n = 8
	changes := make([]target.Change, n)
	for i := range changes {
		img := src.pushImage(t, "app:build")
		changes[i] = change(img.String(), dst.Host, "", "t"+string(rune('a'+i)))
	}
	errs := make(chan error, n)
	for _, c := range changes {
		go func() {
			_, err := d.Apply(t.Context(), c)
			errs <- err
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
	for _, c := range changes {
		assert.Equal(t, c.Action.Image[strings.LastIndex(c.Action.Image, "@")+1:], dst.tagDigest(t, "app:"+c.Action.Tag))
	}
}

func TestKeychainIsUsed(t *testing.T) {
	reg := newRegistry(t)
	img := reg.pushImage(t, "app:build-1")
	var asked atomic.Int32
	d := fast(oci.WithKeychain(keychainFunc(func() { asked.Add(1) })))
	_, err := d.Apply(t.Context(), change(img.String(), reg.Host, "", "prod"))
	require.NoError(t, err)
	assert.Positive(t, asked.Load(), "the keychain was asked for credentials")
}

func TestTransportIsUsed(t *testing.T) {
	reg := newRegistry(t)
	img := reg.pushImage(t, "app:build-1")
	reg.reset()
	var trips atomic.Int32
	rt := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		trips.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})
	_, err := fast(oci.WithTransport(rt)).Apply(t.Context(), change(img.String(), reg.Host, "", "prod"))
	require.NoError(t, err)
	// Every request the registry served went through the transport (which
	// also saw the https ping go-containerregistry tries first).
	require.Positive(t, reg.total())
	assert.GreaterOrEqual(t, trips.Load(), int32(reg.total()), "requests through the transport")
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// keychainFunc is a keychain that records that it was asked and answers
// anonymous.
type keychainFunc func()

func (f keychainFunc) Resolve(authn.Resource) (authn.Authenticator, error) {
	f()
	return authn.Anonymous, nil
}
