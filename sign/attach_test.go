package sign

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
)

// noRetry keeps failing registry calls from backing off for seconds.
var noRetry = remote.WithRetryBackoff(remote.Backoff{Steps: 1})

// pushRandom pushes a random image to a new in-process registry (with the
// referrers API) and returns its digest reference.
func pushRandom(t *testing.T) name.Digest {
	t.Helper()
	return pushRandomTo(t, registry.WithReferrersSupport(true))
}

// pushRandomTo is [pushRandom] against a registry built with opts.
func pushRandomTo(t *testing.T, opts ...registry.Option) name.Digest {
	t.Helper()
	opts = append(opts, registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(registry.New(opts...))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(64, 1)
	require.NoError(t, err)
	tag, err := name.NewTag(host + "/acme/app:v1")
	require.NoError(t, err)
	require.NoError(t, remote.Write(tag, img))
	d, err := img.Digest()
	require.NoError(t, err)
	return tag.Context().Digest(d.String())
}

// attLayers returns the manifest layers of the .att image of subject and the
// bytes of each layer.
func attLayers(t *testing.T, subject name.Digest) ([]v1.Descriptor, [][]byte, *v1.Manifest) {
	t.Helper()
	tag := subject.Context().Tag(strings.Replace(subject.DigestStr(), ":", "-", 1) + ".att")
	img, err := remote.Image(tag)
	require.NoError(t, err)
	m, err := img.Manifest()
	require.NoError(t, err)
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, len(m.Layers))
	var blobs [][]byte
	for _, l := range layers {
		rc, err := l.Compressed()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, rc.Close())
		require.NoError(t, err)
		blobs = append(blobs, b)
	}
	return m.Layers, blobs, m
}

func TestAttach(t *testing.T) {
	ctx := context.Background()
	keyPath, key := writeKey(t, AlgECDSAP256)
	envA := signA(t, keyPath)
	subject := pushRandom(t)

	att, err := Attach(ctx, subject.String(), envA)
	require.NoError(t, err)
	assert.Equal(t, subject.Context(), att.Context())

	descs, blobs, m := attLayers(t, subject)
	assert.Equal(t, types.OCIManifestSchema1, m.MediaType)
	assert.Equal(t, types.OCIConfigJSON, m.Config.MediaType)
	require.Len(t, descs, 1, "got %d layers, want 1", len(descs))
	assert.Equal(t, EnvelopeMediaType, descs[0].MediaType)
	assert.Equal(t, map[string]string{
		"predicateType":                      PredicateType,
		"dev.cosignproject.cosign/signature": "",
	}, descs[0].Annotations)
	assert.Equal(t, string(envA), string(blobs[0]), "layer bytes differ from the envelope")
	st, err := Verify(blobs[0], []model.Key{key}, expectA())
	require.NoError(t, err)
	assert.Equal(t, "CHG-2026-0042", st.Predicate.ID)

	// The same envelope again: still one layer, same .att manifest.
	again, err := Attach(ctx, subject.String(), envA)
	require.NoError(t, err)
	assert.Equal(t, att, again, "re-attaching changed the .att manifest")
	descs, _, _ = attLayers(t, subject)
	assert.Len(t, descs, 1, "re-attaching: got %d layers, want 1", len(descs))

	// A different envelope (another signature of the same statement) is appended.
	envA2 := signA(t, keyPath)
	require.NotEqual(t, string(envA), string(envA2))
	_, err = Attach(ctx, subject.String(), envA2)
	require.NoError(t, err)
	descs, blobs, _ = attLayers(t, subject)
	require.Len(t, descs, 2, "got %d layers, want 2", len(descs))
	assert.Equal(t, string(envA), string(blobs[0]))
	assert.Equal(t, string(envA2), string(blobs[1]))

	// Both envelopes are referrers of the image, with cab's artifactType.
	idx, err := remote.Referrers(subject)
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 2, "got %d referrers, want 2", len(im.Manifests))
	for _, r := range im.Manifests {
		assert.Equal(t, string(ArtifactType), r.ArtifactType)
		img, err := remote.Image(subject.Context().Digest(r.Digest.String()))
		require.NoError(t, err)
		rm, err := img.Manifest()
		require.NoError(t, err)
		require.NotNil(t, rm.Subject)
		assert.Equal(t, subject.DigestStr(), rm.Subject.Digest.String())
		require.Len(t, rm.Layers, 1)
		assert.Equal(t, EnvelopeMediaType, rm.Layers[0].MediaType)
	}
}

func TestAttachWithoutReferrersAPI(t *testing.T) {
	keyPath, key := writeKey(t, AlgEd25519)
	env := signA(t, keyPath)
	subject := pushRandomTo(t) // no referrers API

	_, err := Attach(context.Background(), subject.String(), env)
	require.NoError(t, err)
	descs, blobs, _ := attLayers(t, subject)
	require.Len(t, descs, 1, "got %d layers, want 1", len(descs))
	_, err = Verify(blobs[0], []model.Key{key}, expectA())
	require.NoError(t, err)

	// No referrers fallback tag (sha256-<hex>) was written.
	fallback := subject.Context().Tag(strings.Replace(subject.DigestStr(), ":", "-", 1))
	_, err = remote.Head(fallback)
	assert.Error(t, err, "got a referrers fallback tag %s, want none", fallback)
}

func TestAttachRefuses(t *testing.T) {
	keyPath, _ := writeKey(t, AlgEd25519)
	env := signA(t, keyPath)
	subject := pushRandom(t)

	tests := []struct {
		name     string
		image    string
		envelope []byte
		want     string
	}{
		{"tag", subject.Context().Tag("v1").String(), env, "want a digest reference"},
		{"not an envelope", subject.String(), []byte("not json"), "malformed attestation"},
		{"other payload type", subject.String(), []byte(`{"payloadType":"text/plain","payload":"","signatures":[]}`), "payloadType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Attach(context.Background(), tt.image, tt.envelope)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestAttachUnreachable(t *testing.T) {
	keyPath, _ := writeKey(t, AlgEd25519)
	env := signA(t, keyPath)
	srv := httptest.NewServer(registry.New())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close() // nothing listens on host any more

	image := host + "/acme/app@sha256:" + strings.Repeat("a", 64)
	_, err := Attach(context.Background(), image, env, noRetry)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "registry "+host)
	t.Log(err)
}

// AttachImages attests the ticket on the image itself: the image digest is
// the statement's subject, as cosign's claim check wants.
func TestAttachImages(t *testing.T) {
	img := pushRandom(t)
	keyFile, pub := writeKey(t, AlgECDSAP256)
	signer, err := LoadSigner(context.Background(), keyFile, nil)
	require.NoError(t, err)
	p := Predicate{ID: "CHG-2026-0042", MergeCommit: "0123456789abcdef0123456789abcdef01234567", Environments: []string{"prod"}}
	got, err := AttachImages(context.Background(), signer, []Outcome{
		{Ticket: "CHG-2026-0042", Images: []string{img.String()}, Predicate: &p},
		{Ticket: "CHG-2026-0043", Images: []string{img.String()}}, // not signed in this run: skipped
	})
	require.NoError(t, err)
	require.Len(t, got, 1)
	_, layers, _ := attLayers(t, img)
	require.Len(t, layers, 1)
	hex := strings.TrimPrefix(img.DigestStr(), "sha256:")
	st, err := Verify(layers[0], []model.Key{pub}, Expect{
		TicketPath: img.Context().Name(), TicketDigest: hex, ID: "CHG-2026-0042", Environments: []string{"prod"},
	})
	require.NoError(t, err)
	assert.Equal(t, hex, st.Subject[0].Digest["sha256"])
}
