package sign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgsign "github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/sign/statement"
)

// Public-good Sigstore instances, the defaults of [KeylessOptions].
const (
	DefaultFulcioURL = "https://fulcio.sigstore.dev"
	DefaultRekorURL  = "https://rekor.sigstore.dev"
)

// ErrNoIdentityToken means keyless signing found no OIDC identity token:
// no --identity-token file, no SIGSTORE_ID_TOKEN, and not in a GitHub
// Actions job allowed to request one.
var ErrNoIdentityToken = errors.New("no OIDC identity token: pass --identity-token FILE, set SIGSTORE_ID_TOKEN (GitLab: id_tokens), or grant the GitHub Actions job permissions: id-token: write")

var errKeylessTicketsOnly = errors.New("a keyless signer signs tickets only")

// KeylessOptions configure [NewKeylessSigner].
type KeylessOptions struct {
	// FulcioURL and RekorURL default to the public-good instances.
	FulcioURL, RekorURL string
	// IDToken is the OIDC identity token Fulcio certifies (see
	// [IdentityToken]).
	IDToken string
	// Timeout bounds each request to Fulcio and Rekor (default 30s).
	Timeout time.Duration
}

// keylessSigner signs each statement with a fresh ephemeral key, certified
// by Fulcio for the identity token and logged in Rekor.
type keylessSigner struct {
	o KeylessOptions
}

// NewKeylessSigner returns a Signer whose [Signer.Sign] produces a Sigstore
// bundle (v0.3 JSON) holding the DSSE envelope, the short-lived Fulcio
// certificate of an ephemeral key, and the Rekor entry with its signed
// entry timestamp and inclusion proof. It signs tickets only: its
// [Signer.SignPayload] fails, and [Signer.KeyID] is empty.
func NewKeylessSigner(o KeylessOptions) (*Signer, error) {
	if o.IDToken == "" {
		return nil, ErrNoIdentityToken
	}
	if o.FulcioURL == "" {
		o.FulcioURL = DefaultFulcioURL
	}
	if o.RekorURL == "" {
		o.RekorURL = DefaultRekorURL
	}
	return &Signer{keyless: &keylessSigner{o: o}}, nil
}

// Keyless reports whether s signs with Fulcio certificates rather than a key.
func (s *Signer) Keyless() bool { return s.keyless != nil }

func (k *keylessSigner) sign(ctx context.Context, payloadType string, payload []byte) ([]byte, error) {
	kp, err := sgsign.NewEphemeralKeypair(nil)
	if err != nil {
		return nil, fmt.Errorf("ephemeral key: %w", err)
	}
	b, err := sgsign.Bundle(&sgsign.DSSEData{Data: payload, PayloadType: payloadType}, kp, sgsign.BundleOptions{
		Context:                    ctx,
		CertificateProvider:        sgsign.NewFulcio(&sgsign.FulcioOptions{BaseURL: k.o.FulcioURL, Timeout: k.o.Timeout}),
		CertificateProviderOptions: &sgsign.CertificateProviderOptions{IDToken: k.o.IDToken},
		TransparencyLogs:           []sgsign.Transparency{sgsign.NewRekor(&sgsign.RekorOptions{BaseURL: k.o.RekorURL, Timeout: k.o.Timeout})},
	})
	if err != nil {
		return nil, fmt.Errorf("keyless signing (Fulcio %s, Rekor %s): %w", k.o.FulcioURL, k.o.RekorURL, err)
	}
	pb, err := bundle.NewBundle(b)
	if err != nil {
		return nil, fmt.Errorf("keyless signing: %w", err)
	}
	return pb.MarshalJSON()
}

// IsBundle reports whether signed (what the ledger stores for a signed
// ticket) is a Sigstore bundle rather than a plain DSSE envelope: see
// [statement.IsBundle], the one rule [Verify] and [PredicateOf] share.
func IsBundle(signed []byte) bool { return statement.IsBundle(signed) }

// verifyBundle checks a Sigstore bundle against the keyless identities of
// trusted and returns the DSSE payload its signature covers. An identity
// counts only when its trusted root certifies the certificate chain, the
// bundle carries a Rekor entry of one of the root's logs whose signed
// entry timestamp verifies, the certificate was valid at the integrated
// time, and the certificate's issuer equals the identity's and its subject
// equals (or, anchored, matches) the identity's.
func verifyBundle(signed []byte, trusted []model.Key, payloadType string) ([]byte, error) {
	var b bundle.Bundle
	if err := b.UnmarshalJSON(signed); err != nil {
		return nil, fmt.Errorf("%w: sigstore bundle: %v", ErrMalformed, err)
	}
	env := b.GetDsseEnvelope()
	if env == nil {
		return nil, fmt.Errorf("%w: the sigstore bundle holds no DSSE envelope", ErrMalformed)
	}
	if env.GetPayloadType() != payloadType {
		return nil, fmt.Errorf("%w: payload type %q, want %q", ErrMalformed, env.GetPayloadType(), payloadType)
	}
	if len(env.GetSignatures()) != 1 {
		return nil, fmt.Errorf("%w: envelope has %d signatures, want 1", ErrMalformed, len(env.GetSignatures()))
	}
	var reasons []string
	for _, k := range trusted {
		if k.Keyless == nil {
			continue
		}
		err := verifyIdentity(&b, k.Keyless)
		if err == nil {
			return env.GetPayload(), nil
		}
		reasons = append(reasons, fmt.Sprintf("%s: %v", k.Name, err))
	}
	if len(reasons) == 0 {
		return nil, fmt.Errorf("%w: signed keylessly, and cab.cue trusts no keyless identity to sign", ErrUntrusted)
	}
	return nil, fmt.Errorf("%w: no trusted keyless identity verifies the bundle (%s)", ErrUntrusted, strings.Join(reasons, "; "))
}

func verifyIdentity(b *bundle.Bundle, id *model.Keyless) error {
	tr, err := root.NewTrustedRootFromJSON(id.TrustedRoot)
	if err != nil {
		return fmt.Errorf("trusted root: %w", err)
	}
	// One Rekor entry whose SET verifies, and the certificate checked at
	// its integrated time (the SET signs that time).
	opts := []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1)}
	if len(tr.CTLogs()) > 0 {
		// A root naming certificate transparency logs (the public-good
		// one does) also requires the certificate's embedded SCT, as
		// cosign does.
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	v, err := verify.NewVerifier(tr, opts...)
	if err != nil {
		return fmt.Errorf("verifier: %w", err)
	}
	ci, err := verify.NewShortCertificateIdentity(id.Issuer, "", id.Subject, id.AnchoredSubjectRegexp())
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	// The statement's subject is checked by the caller against the digest
	// it computed; here only the signature, certificate, log entry and
	// identity.
	if _, err := v.Verify(b, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithCertificateIdentity(ci))); err != nil {
		return err
	}
	return nil
}

// IdentitySource says where [IdentityToken] looks for an OIDC token.
type IdentitySource struct {
	// File, if set, holds the token (--identity-token).
	File string
	// Getenv reads the environment (os.Getenv).
	Getenv func(string) string
	// Client asks GitHub Actions for a token (if nil, one whose requests
	// time out after 30s).
	Client *http.Client
}

// IdentityToken returns the OIDC identity token for Fulcio, from the first
// of: src.File; $SIGSTORE_ID_TOKEN (GitLab CI: declare it under id_tokens:
// with aud: sigstore); GitHub Actions' token endpoint
// ($ACTIONS_ID_TOKEN_REQUEST_URL with $ACTIONS_ID_TOKEN_REQUEST_TOKEN,
// audience "sigstore"; the job needs permissions: id-token: write).
// Without any it returns [ErrNoIdentityToken].
func IdentityToken(ctx context.Context, src IdentitySource) (string, error) {
	getenv := src.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if src.File != "" {
		b, err := os.ReadFile(src.File)
		if err != nil {
			return "", fmt.Errorf("reading the identity token: %w", err)
		}
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
		return "", fmt.Errorf("identity token file %s is empty: %w", src.File, ErrNoIdentityToken)
	}
	if t := strings.TrimSpace(getenv("SIGSTORE_ID_TOKEN")); t != "" {
		return t, nil
	}
	reqURL, reqToken := getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL == "" || reqToken == "" {
		return "", ErrNoIdentityToken
	}
	return githubToken(ctx, src.Client, reqURL, reqToken)
}

// githubToken asks GitHub Actions' OIDC endpoint for a token with
// audience "sigstore": GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore
// with the request token as bearer, answered by {"value": "<jwt>"}.
func githubToken(ctx context.Context, c *http.Client, reqURL, reqToken string) (string, error) {
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	u, err := url.Parse(reqURL)
	if err != nil {
		return "", fmt.Errorf("ACTIONS_ID_TOKEN_REQUEST_URL: %w", err)
	}
	q := u.Query()
	q.Set("audience", "sigstore")
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "bearer "+reqToken)
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("requesting the GitHub Actions identity token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("requesting the GitHub Actions identity token: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("requesting the GitHub Actions identity token: %s: %s (does the job have permissions: id-token: write?)", resp.Status, strings.TrimSpace(string(body)))
	}
	var out struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Value == "" {
		return "", fmt.Errorf("the GitHub Actions identity token response has no value: %w", ErrNoIdentityToken)
	}
	return out.Value, nil
}
