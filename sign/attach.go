package sign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// OCI layout of an attached envelope. The first four values are cosign's
// (sigstore/cosign: pkg/types DssePayloadType, pkg/oci/static
// SignatureAnnotationKey, the "predicateType" annotation of cosign attest,
// and the ".att" suffix of pkg/oci/remote AttestationTag).
const (
	// EnvelopeMediaType is the media type of a layer holding one DSSE
	// envelope, as cosign attest writes it.
	EnvelopeMediaType types.MediaType = "application/vnd.dsse.envelope.v1+json"
	// ArtifactType is the config media type, and so the artifactType, of
	// the referrer manifest [Attach] pushes next to the cosign tag.
	ArtifactType types.MediaType = "application/vnd.cab.change.v1+json"

	signatureAnnotation     = "dev.cosignproject.cosign/signature"
	predicateTypeAnnotation = "predicateType"
	attestationTagSuffix    = ".att"
)

// Attach stores envelope, a DSSE envelope of a cab change statement (the
// output of [Signer.Sign]), as an attestation of the image at image, which
// must be a digest reference (registry/repo@sha256:<hex>); a tag is refused
// because what it names can change between signing and attaching.
//
// The envelope is stored the way cosign attest stores attestations: as one
// layer of media type [EnvelopeMediaType], annotated with predicateType
// [PredicateType] and an empty dev.cosignproject.cosign/signature, of the
// OCI image tagged sha256-<hex>.att in the image's repository. If that image
// exists the layer is appended to it, unless a layer with the same digest
// (the same envelope bytes) is already there, so attaching twice is a no-op.
// When the registry serves the OCI referrers API, the envelope is also
// pushed as a referrer of the image: a manifest with the image as subject,
// config media type [ArtifactType] and the same single layer. No referrers
// fallback tag is ever written.
//
// Updating the .att tag is a read-modify-write that the registry does not
// make atomic: two concurrent Attach calls for the same image can lose one
// envelope. Callers must serialize Attach per image digest.
//
// Attach returns the digest reference of the .att manifest it left in place.
// ctx bounds all registry calls and overrides any [remote.WithContext] in
// opts.
//
// cosign verify-attestation also checks, unless --check-claims=false, that a
// statement subject carries the image digest: the ledger's statements name
// the ticket, so AttachImages signs a statement about the image (same
// predicate) for this. There is no transparency-log entry: verify with
// cosign's --insecure-ignore-tlog (key-based, as cab's trust model is).
func Attach(ctx context.Context, image string, envelope []byte, opts ...remote.Option) (name.Digest, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return name.Digest{}, fmt.Errorf("attaching to %s: %w", image, err)
	}
	subject, ok := ref.(name.Digest)
	if !ok {
		return name.Digest{}, fmt.Errorf("attaching to %s: a tag names no fixed image; want a digest reference (registry/repo@sha256:<hex>)", image)
	}
	if err := checkEnvelope(envelope); err != nil {
		return name.Digest{}, fmt.Errorf("attaching to %s: %w", subject, err)
	}
	opts = slices.Clip(append(slices.Clone(opts), remote.WithContext(ctx)))
	registry := subject.RegistryStr()

	desc, err := remote.Head(subject, opts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("attaching to %s: registry %s: image: %w", subject, registry, err)
	}

	layer := static.NewLayer(envelope, EnvelopeMediaType)
	layerDigest, err := layer.Digest()
	if err != nil {
		return name.Digest{}, fmt.Errorf("attaching to %s: %w", subject, err)
	}
	add := mutate.Addendum{
		Layer:     layer,
		MediaType: EnvelopeMediaType,
		Annotations: map[string]string{
			signatureAnnotation:     "",
			predicateTypeAnnotation: PredicateType,
		},
	}

	tag := subject.Context().Tag(strings.Replace(subject.DigestStr(), ":", "-", 1) + attestationTagSuffix)
	att, err := appendAttestation(tag, add, layerDigest, opts)
	if err != nil {
		return name.Digest{}, fmt.Errorf("attaching to %s: registry %s: %s: %w", subject, registry, tag.TagStr(), err)
	}

	supported, err := referrersSupported(subject, opts)
	if err != nil {
		return name.Digest{}, fmt.Errorf("attaching to %s: registry %s: referrers: %w", subject, registry, err)
	}
	if supported {
		if err := pushReferrer(subject, *desc, add, opts); err != nil {
			return name.Digest{}, fmt.Errorf("attaching to %s: registry %s: referrer: %w", subject, registry, err)
		}
	}
	return att, nil
}

// checkEnvelope refuses what is not a DSSE envelope of an in-toto statement
// of [PredicateType], so that the layer's predicateType annotation is true.
// It does not verify the signature.
func checkEnvelope(envelope []byte) error {
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil {
		return fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	if env.PayloadType != PayloadType {
		return fmt.Errorf("%w: envelope payloadType %q, want %q", ErrMalformed, env.PayloadType, PayloadType)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return fmt.Errorf("%w: envelope payload: %v", ErrMalformed, err)
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		return fmt.Errorf("%w: statement: %v", ErrMalformed, err)
	}
	if st.PredicateType != PredicateType {
		return fmt.Errorf("%w: statement predicateType %q, want %q", ErrMalformed, st.PredicateType, PredicateType)
	}
	return nil
}

// appendAttestation adds add to the image tagged tag, creating it if absent,
// unless a layer with digest layerDigest is already there.
func appendAttestation(tag name.Tag, add mutate.Addendum, layerDigest v1.Hash, opts []remote.Option) (name.Digest, error) {
	base, err := remote.Image(tag, opts...)
	var terr *transport.Error
	switch {
	case errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound:
		// cosign's empty.Signatures: an empty OCI image.
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	case err != nil:
		return name.Digest{}, err
	default:
		m, err := base.Manifest()
		if err != nil {
			return name.Digest{}, err
		}
		for _, l := range m.Layers {
			if l.Digest == layerDigest {
				d, err := base.Digest()
				if err != nil {
					return name.Digest{}, err
				}
				return tag.Context().Digest(d.String()), nil
			}
		}
	}
	img, err := mutate.Append(base, add)
	if err != nil {
		return name.Digest{}, err
	}
	if err := remote.Write(tag, img, opts...); err != nil {
		return name.Digest{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return tag.Context().Digest(d.String()), nil
}

// referrersSupported reports whether the registry serves the OCI referrers
// API for subject's repository.
func referrersSupported(subject name.Digest, opts []remote.Option) (bool, error) {
	_, err := remote.Referrers(subject, append(opts, remote.WithReferrersTagFallback(false))...)
	if err == nil {
		return true, nil
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return false, err
	}
	// remote.Referrers reports a missing API with a plain error once the
	// tag fallback is off; anything else is a transport failure above.
	return false, nil
}

// pushReferrer pushes add as the only layer of a manifest whose subject is
// the image described by desc and whose config media type is [ArtifactType].
// Its content is deterministic, so pushing the same envelope again is a
// no-op.
func pushReferrer(subject name.Digest, desc v1.Descriptor, add mutate.Addendum, opts []remote.Option) error {
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), ArtifactType)
	img, err := mutate.Append(base, add)
	if err != nil {
		return err
	}
	img, ok := mutate.Subject(img, v1.Descriptor{MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest}).(v1.Image)
	if !ok {
		return errors.New("subject: not an image")
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	return remote.Write(subject.Context().Digest(d.String()), img, append(opts, remote.WithReferrersTagFallback(false))...)
}
