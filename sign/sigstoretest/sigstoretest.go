// Package sigstoretest runs a fake Sigstore on loopback for tests of
// keyless signing: a Fulcio that answers POST /api/v2/signingCert, a
// Rekor that answers POST /api/v1/log/entries with a signed entry
// timestamp and an inclusion proof, and a GitHub Actions OIDC token
// endpoint. Sigstore's public instances are unreachable here, so the fakes
// replay their documented APIs with a CA, a log key and an OIDC issuer key
// generated for each test, and [Sigstore.TrustedRoot] describes them in
// Sigstore's trusted_root.json format. [New] ties the fakes to a test;
// [Start] and [Sigstore.Close] run them outside one (conformance/fakesigstore
// serves them to the real cosign in `make conformance`). These are the
// only fakes of Sigstore in cab: tests and the conformance run share them.
package sigstoretest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/go-openapi/runtime"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1" // the entry kind cab logs
	rekorutil "github.com/sigstore/rekor/pkg/util"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/transparency-dev/merkle/rfc6962"
)

// GitHubIssuer is the OIDC issuer of GitHub Actions tokens.
const GitHubIssuer = "https://token.actions.githubusercontent.com"

// Sigstore is a fake Fulcio, Rekor and GitHub Actions token endpoint.
type Sigstore struct {
	// Fulcio, Rekor and OIDC are the servers' base URLs; OIDC is what
	// ACTIONS_ID_TOKEN_REQUEST_URL points at.
	Fulcio, Rekor, OIDC string
	// RequestToken is the ACTIONS_ID_TOKEN_REQUEST_TOKEN the token
	// endpoint expects.
	RequestToken string

	rootCert, interCert *x509.Certificate
	interKey            *ecdsa.PrivateKey
	rekorKey            *ecdsa.PrivateKey
	oidcKey             *ecdsa.PrivateKey
	created             time.Time
	servers             []*httptest.Server

	mu       sync.Mutex
	claims   Claims
	backdate time.Duration
	leaves   [][]byte // Merkle leaf hashes of the log
}

// Claims are what the fake issuer puts in the tokens it hands out.
type Claims struct {
	Issuer string `json:"iss"`
	Sub    string `json:"sub"`
	// JobWorkflowRef is GitHub's "owner/repo/path@ref" of the workflow
	// file: Fulcio makes the certificate's subject of it.
	JobWorkflowRef string `json:"job_workflow_ref,omitempty"`
	// CIConfigRefURI is GitLab's "gitlab.com/group/project//.gitlab-ci.yml@ref"
	// of the pipeline definition: Fulcio makes the certificate's subject
	// of it.
	CIConfigRefURI string `json:"ci_config_ref_uri,omitempty"`
}

// GitLabIssuer is the OIDC issuer of gitlab.com's id_tokens.
const GitLabIssuer = "https://gitlab.com"

// GitLabClaims are the claims of a gitlab.com pipeline of acme/app on
// main, whose certificate subject is [GitLabSubject].
func GitLabClaims() Claims {
	return Claims{Issuer: GitLabIssuer, Sub: "project_path:acme/app:ref_type:branch:ref:main",
		CIConfigRefURI: "gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main"}
}

// GitLabSubject is the certificate subject Fulcio issues for [GitLabClaims].
const GitLabSubject = "https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main"

// New starts the fake servers (closed with the test) for a GitHub Actions
// workflow acme/app/.github/workflows/sign.yml on refs/heads/main.
func New(t testing.TB) *Sigstore {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start is [New] outside a test (conformance/fakesigstore serves the fakes
// to the real cosign): it starts the servers on loopback, which run until
// [Sigstore.Close].
func Start() (*Sigstore, error) {
	s := &Sigstore{RequestToken: "gha-request-token", created: time.Now()}
	rootKey, err := newKey()
	if err != nil {
		return nil, err
	}
	s.rootCert, err = newCert(&x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fake-fulcio-root", Organization: []string{"cab test"}},
		NotBefore: s.created.Add(-24 * time.Hour), NotAfter: s.created.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}, nil, rootKey, rootKey)
	if err != nil {
		return nil, err
	}
	if s.interKey, err = newKey(); err != nil {
		return nil, err
	}
	s.interCert, err = newCert(&x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "fake-fulcio-intermediate", Organization: []string{"cab test"}},
		NotBefore: s.created.Add(-24 * time.Hour), NotAfter: s.created.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true, IsCA: true,
	}, s.rootCert, s.interKey, rootKey)
	if err != nil {
		return nil, err
	}
	if s.rekorKey, err = newKey(); err != nil {
		return nil, err
	}
	if s.oidcKey, err = newKey(); err != nil {
		return nil, err
	}
	s.claims = Claims{Issuer: GitHubIssuer, Sub: "repo:acme/app:ref:refs/heads/main",
		JobWorkflowRef: "acme/app/.github/workflows/sign.yml@refs/heads/main"}
	for _, srv := range []struct {
		url *string
		h   http.HandlerFunc
	}{{&s.Fulcio, s.fulcio}, {&s.Rekor, s.rekor}, {&s.OIDC, s.token}} {
		ts := httptest.NewServer(srv.h)
		s.servers = append(s.servers, ts)
		*srv.url = ts.URL
	}
	return s, nil
}

// Close stops the servers.
func (s *Sigstore) Close() {
	for _, ts := range s.servers {
		ts.Close()
	}
}

// Subject is the certificate subject Fulcio issues for the default
// claims.
const Subject = "https://github.com/acme/app/.github/workflows/sign.yml@refs/heads/main"

// SetClaims changes what the next tokens say.
func (s *Sigstore) SetClaims(c Claims) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claims = c
}

// Backdate makes Fulcio issue certificates that expired d ago (their
// ten minutes of validity end d before the request).
func (s *Sigstore) Backdate(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backdate = d
}

// Env is the environment of a GitHub Actions job allowed to request an
// identity token (permissions: id-token: write).
func (s *Sigstore) Env() []string {
	return []string{
		"ACTIONS_ID_TOKEN_REQUEST_URL=" + s.OIDC + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + s.RequestToken,
	}
}

// Token returns an identity token of the fake issuer with audience
// "sigstore" and the current claims.
func (s *Sigstore) Token(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	c := s.claims
	s.mu.Unlock()
	tok, err := s.jwt(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TrustedRoot returns trusted_root.json for this fake: its Fulcio CA and
// Rekor log key.
func (s *Sigstore) TrustedRoot(t testing.TB) []byte {
	t.Helper()
	return must(t)(s.trustedRoot(s, false))
}

// TrustedRootJSON is [Sigstore.TrustedRoot] outside a test.
func (s *Sigstore) TrustedRootJSON() ([]byte, error) {
	return s.trustedRoot(s, false)
}

// TrustedRootWithCA returns trusted_root.json trusting this fake's Rekor
// log but the Fulcio CA of ca.
func (s *Sigstore) TrustedRootWithCA(t testing.TB, ca *Sigstore) []byte {
	t.Helper()
	return must(t)(s.trustedRoot(ca, false))
}

// TrustedRootWithCTLog returns trusted_root.json that also names a
// certificate transparency log, as the public-good root does: this fake
// Fulcio embeds no SCT in its certificates.
func (s *Sigstore) TrustedRootWithCTLog(t testing.TB) []byte {
	t.Helper()
	return must(t)(s.trustedRoot(s, true))
}

// must fails the test on err, else returns b.
func must(t testing.TB) func([]byte, error) []byte {
	return func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

func (s *Sigstore) trustedRoot(ca *Sigstore, ctlog bool) ([]byte, error) {
	logID, err := s.logID()
	if err != nil {
		return nil, err
	}
	id, _ := hex.DecodeString(logID)
	cts, err := ctlogs(ctlog, s.created)
	if err != nil {
		return nil, err
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{
			Root: ca.rootCert, Intermediates: []*x509.Certificate{ca.interCert},
			ValidityPeriodStart: ca.created.Add(-24 * time.Hour), URI: ca.Fulcio,
		}},
		cts, nil,
		map[string]*root.TransparencyLog{logID: {
			BaseURL: s.Rekor, ID: id, ValidityPeriodStart: s.created.Add(-24 * time.Hour),
			HashFunc: crypto.SHA256, PublicKey: s.rekorKey.Public(), SignatureHashFunc: crypto.SHA256,
		}})
	if err != nil {
		return nil, err
	}
	return tr.MarshalJSON()
}

// token answers GitHub Actions' OIDC token request: GET with the request
// token as bearer and ?audience=sigstore, answered by {"value": jwt}.
func (s *Sigstore) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/token" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "bearer "+s.RequestToken {
		http.Error(w, "bad request token", http.StatusUnauthorized)
		return
	}
	if r.URL.Query().Get("audience") != "sigstore" || r.URL.Query().Get("api-version") == "" {
		http.Error(w, "want audience=sigstore and the api-version of the request URL", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	c := s.claims
	s.mu.Unlock()
	tok, err := s.jwt(c)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": 1, "value": tok})
}

func (s *Sigstore) jwt(c Claims) (string, error) {
	now := time.Now()
	claims := map[string]any{"iss": c.Issuer, "sub": c.Sub, "aud": "sigstore", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	if c.JobWorkflowRef != "" {
		claims["job_workflow_ref"] = c.JobWorkflowRef
	}
	if c.CIConfigRefURI != "" {
		claims["ci_config_ref_uri"] = c.CIConfigRefURI
	}
	h, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT"})
	p, _ := json.Marshal(claims)
	signing := b64(h) + "." + b64(p)
	d := sha256.Sum256([]byte(signing))
	r, ss, err := ecdsa.Sign(rand.Reader, s.oidcKey, d[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return signing + "." + b64(sig), nil
}

// verifyJWT checks a token of the fake issuer and returns its claims, as
// Fulcio checks a token against its issuer's keys.
func (s *Sigstore) verifyJWT(tok string) (*Claims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, errors.New("bad JWT signature encoding")
	}
	d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(&s.oidcKey.PublicKey, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, errors.New("JWT signature does not verify")
	}
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var c struct {
		Claims
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
	}
	if err := json.Unmarshal(p, &c); err != nil {
		return nil, err
	}
	if c.Aud != "sigstore" || time.Unix(c.Exp, 0).Before(time.Now()) {
		return nil, errors.New("token audience is not sigstore, or it expired")
	}
	return &c.Claims, nil
}

// fulcio answers POST /api/v2/signingCert: a certificate for the public
// key of the request, whose possession is proven by a signature over the
// token's subject, naming the token's identity.
func (s *Sigstore) fulcio(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v2/signingCert" {
		http.NotFound(w, r)
		return
	}
	c, err := s.verifyJWT(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var req struct {
		PublicKeyRequest struct {
			PublicKey struct {
				Algorithm string `json:"algorithm"`
				Content   string `json:"content"`
			} `json:"publicKey"`
			ProofOfPossession []byte `json:"proofOfPossession"`
		} `json:"publicKeyRequest"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(req.PublicKeyRequest.PublicKey.Content))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err == nil {
		err = v.VerifySignature(bytes.NewReader(req.PublicKeyRequest.ProofOfPossession), strings.NewReader(c.Sub))
	}
	if err != nil {
		http.Error(w, "proof of possession: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	back := s.backdate
	s.mu.Unlock()
	start := time.Now().Add(-back)
	if back > 0 {
		start = start.Add(-10 * time.Minute)
	}
	issuerExt, _ := asn1.Marshal(c.Issuer) // Fulcio's v2 issuer extension is a DER UTF8String
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore:    start, NotAfter: start.Add(10 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}, Value: []byte(c.Issuer)},
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}, Value: issuerExt},
		},
	}
	subject := c.Sub
	switch {
	case c.JobWorkflowRef != "":
		subject = "https://github.com/" + c.JobWorkflowRef
	case c.CIConfigRefURI != "":
		subject = "https://" + c.CIConfigRefURI
	}
	if strings.Contains(subject, "@") && !strings.Contains(subject, "://") {
		tmpl.EmailAddresses = []string{subject}
	} else if u, err := url.Parse(subject); err == nil {
		tmpl.URIs = append(tmpl.URIs, u)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.interCert, pub, s.interKey)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	chain := []string{pemCert(der), pemCert(s.interCert.Raw), pemCert(s.rootCert.Raw)}
	writeJSON(w, http.StatusOK, map[string]any{"signedCertificateEmbeddedSct": map[string]any{"chain": map[string]any{"certificates": chain}}})
}

// rekor answers POST /api/v1/log/entries: it canonicalizes the proposed
// entry as Rekor does, appends it to its log, and returns the entry with
// its signed entry timestamp and an inclusion proof against a signed
// checkpoint.
func (s *Sigstore) rekor(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/log/entries" {
		http.NotFound(w, r)
		return
	}
	pe, err := models.UnmarshalProposedEntry(r.Body, runtime.JSONConsumer())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	entry, err := types.UnmarshalEntry(pe)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body, err := types.CanonicalizeEntry(ctx, entry)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	logID, err := s.logID()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	s.leaves = append(s.leaves, rfc6962.DefaultHasher.HashLeaf(body))
	leaves := append([][]byte(nil), s.leaves...)
	s.mu.Unlock()
	index := int64(len(leaves) - 1)
	integrated := time.Now().Unix()
	set, err := s.signSET(body, integrated, index, logID)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	proof, err := s.inclusionProof(ctx, leaves, int(index))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// Rekor names the entry by its UUID in ETag and Location; clients
	// pick the entry out of the response by the ETag.
	uuid := hex.EncodeToString(leaves[index])
	w.Header().Set("ETag", uuid)
	w.Header().Set("Location", "/api/v1/log/entries/"+uuid)
	writeJSON(w, http.StatusCreated, map[string]any{uuid: map[string]any{
		"body":           base64.StdEncoding.EncodeToString(body),
		"integratedTime": integrated,
		"logID":          logID,
		"logIndex":       index,
		"verification":   map[string]any{"signedEntryTimestamp": set, "inclusionProof": proof},
	}})
}

// signSET signs the canonical JSON of {body, integratedTime, logIndex,
// logID}, as Rekor's signed entry timestamp.
func (s *Sigstore) signSET(body []byte, integrated, index int64, logID string) ([]byte, error) {
	p, err := json.Marshal(map[string]any{"body": base64.StdEncoding.EncodeToString(body), "integratedTime": integrated, "logIndex": index, "logID": logID})
	if err != nil {
		return nil, err
	}
	c, err := jsoncanonicalizer.Transform(p)
	if err != nil {
		return nil, err
	}
	d := sha256.Sum256(c)
	return ecdsa.SignASN1(rand.Reader, s.rekorKey, d[:])
}

func (s *Sigstore) inclusionProof(ctx context.Context, leaves [][]byte, index int) (*models.InclusionProof, error) {
	signer, err := signature.LoadECDSASignerVerifier(s.rekorKey, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	rootHash := treeHash(leaves)
	cp, err := rekorutil.CreateAndSignCheckpoint(ctx, "rekor.localhost", 1, uint64(len(leaves)), rootHash, signer)
	if err != nil {
		return nil, err
	}
	var hashes []string
	for _, h := range auditPath(index, leaves) {
		hashes = append(hashes, hex.EncodeToString(h))
	}
	rh, size, idx, cps := hex.EncodeToString(rootHash), int64(len(leaves)), int64(index), string(cp)
	return &models.InclusionProof{TreeSize: &size, RootHash: &rh, LogIndex: &idx, Hashes: hashes, Checkpoint: &cps}, nil
}

// treeHash is the RFC 6962 Merkle tree hash of leaves (leaf hashes).
func treeHash(leaves [][]byte) []byte {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := split(len(leaves))
	return rfc6962.DefaultHasher.HashChildren(treeHash(leaves[:k]), treeHash(leaves[k:]))
}

// auditPath is the RFC 6962 audit path of leaf m, deepest first.
func auditPath(m int, leaves [][]byte) [][]byte {
	if len(leaves) <= 1 {
		return nil
	}
	k := split(len(leaves))
	if m < k {
		return append(auditPath(m, leaves[:k]), treeHash(leaves[k:]))
	}
	return append(auditPath(m-k, leaves[k:]), treeHash(leaves[:k]))
}

// split is the largest power of two smaller than n (n > 1).
func split(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// ctlogs is a certificate transparency log of a fresh key, or none.
func ctlogs(want bool, created time.Time) (map[string]*root.TransparencyLog, error) {
	if !want {
		return nil, nil
	}
	k, err := newKey()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return nil, err
	}
	d := sha256.Sum256(der)
	id := hex.EncodeToString(d[:])
	return map[string]*root.TransparencyLog{id: {
		BaseURL: "https://ctfe.localhost/test", ID: d[:], ValidityPeriodStart: created.Add(-24 * time.Hour),
		HashFunc: crypto.SHA256, PublicKey: k.Public(), SignatureHashFunc: crypto.SHA256,
	}}, nil
}

func (s *Sigstore) logID() (string, error) {
	der, err := x509.MarshalPKIXPublicKey(s.rekorKey.Public())
	if err != nil {
		return "", err
	}
	d := sha256.Sum256(der)
	return hex.EncodeToString(d[:]), nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// newCert issues tmpl for key, signed by parentKey as parent (nil: self-signed).
func newCert(tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) (*x509.Certificate, error) {
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func pemCert(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
