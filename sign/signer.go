package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/sigstore/sigstore/pkg/signature/kms"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// Signer signs statements with one key, from a PEM file or a KMS, or
// keylessly (see [NewKeylessSigner]).
type Signer struct {
	sv      signature.Signer
	pub     crypto.PublicKey
	keyID   string
	keyless *keylessSigner
}

// LoadSigner loads the key named by keyRef: "file://path" or a plain path to
// a PEM private key (ECDSA P-256 or Ed25519; PKCS#8, or encrypted in the
// cosign/sigstore format or as PKCS#8 "ENCRYPTED PRIVATE KEY"), or a KMS URI
// (awskms://, gcpkms://, hashivault://, azurekms://, ...) handed to sigstore's
// kms.Get. password is called only for an encrypted key; it may be nil, and
// it returns nil for "no password" (an empty, non-nil slice is the empty
// password).
func LoadSigner(ctx context.Context, keyRef string, password func() ([]byte, error)) (*Signer, error) {
	var sv signature.Signer
	scheme, rest, isURI := strings.Cut(keyRef, "://")
	switch {
	case keyRef == "":
		return nil, errors.New("loading key: empty key reference")
	case !isURI || scheme == "file":
		path := keyRef
		if isURI {
			path = rest
		}
		s, err := loadPEMSigner(path, password)
		if err != nil {
			return nil, fmt.Errorf("loading key %s: %w", path, err)
		}
		sv = s
	default:
		s, err := kms.Get(ctx, keyRef, crypto.SHA256)
		if err != nil {
			var nf *kms.ProviderNotFoundError
			if errors.As(err, &nf) {
				return nil, fmt.Errorf("loading key %s: no %s:// KMS provider is built into cab and no sigstore-kms-%s plugin is on PATH: %w", keyRef, scheme, scheme, err)
			}
			return nil, fmt.Errorf("loading key %s from %s:// KMS: %w", keyRef, scheme, err)
		}
		sv = s
	}
	pub, err := sv.PublicKey(options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("loading key %s: public key: %w", keyRef, err)
	}
	id, err := KeyID(pub)
	if err != nil {
		return nil, fmt.Errorf("loading key %s: %w", keyRef, err)
	}
	return &Signer{sv: sv, pub: pub, keyID: id}, nil
}

func loadPEMSigner(path string, password func() ([]byte, error)) (signature.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	encrypted := false
	switch block.Type {
	case string(cryptoutils.EncryptedSigstorePrivateKeyPEMType), "ENCRYPTED COSIGN PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		encrypted = true
	}
	var pw []byte
	if encrypted {
		if password != nil {
			if pw, err = password(); err != nil {
				return nil, fmt.Errorf("reading password: %w", err)
			}
		}
		if pw == nil {
			return nil, ErrNoPassword
		}
	}
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(b, cryptoutils.StaticPasswordFunc(pw))
	if err != nil {
		if encrypted {
			return nil, fmt.Errorf("%w (%v)", ErrDecrypt, err)
		}
		return nil, fmt.Errorf("parsing private key: %w", err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", priv)
	}
	if err := checkKeyType(signer.Public()); err != nil {
		return nil, err
	}
	return signature.LoadSignerVerifier(priv, crypto.SHA256)
}

// checkKeyType accepts the key types cab signs with: ECDSA P-256 and Ed25519.
func checkKeyType(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("unsupported ECDSA curve %s: want P-256", k.Curve.Params().Name)
		}
		return nil
	case ed25519.PublicKey:
		return nil
	}
	return fmt.Errorf("unsupported key type %T: want ECDSA P-256 or Ed25519", pub)
}

// KeyID returns the stable id of a public key written into the keyid of a
// DSSE signature: the SHA256 SSH fingerprint ("SHA256:<base64>"), the id
// securesystemslib's DSSE verifier derives for a key.
func KeyID(pub crypto.PublicKey) (string, error) {
	id, err := ssldsse.SHA256KeyID(pub)
	if err != nil {
		return "", fmt.Errorf("key id: %w", err)
	}
	return id, nil
}

// KeyID returns the stable id of the signer's public key (see [KeyID]);
// empty for a keyless signer, whose key lives for one signature.
func (s *Signer) KeyID() string { return s.keyID }

// PublicKeyPEM returns the signer's public key as PEM, as it goes into
// cab.cue keys. A keyless signer has none.
func (s *Signer) PublicKeyPEM() ([]byte, error) {
	if s.keyless != nil {
		return nil, errKeylessTicketsOnly
	}
	return cryptoutils.MarshalPublicKeyToPEM(s.pub)
}

// Sign returns the DSSE envelope (JSON) of st, payload type [PayloadType],
// with one signature whose keyid is [Signer.KeyID]; a keyless signer
// returns a Sigstore bundle holding that envelope instead.
func (s *Signer) Sign(ctx context.Context, st Statement) ([]byte, error) {
	if st.Type != StatementType || st.PredicateType != PredicateType || len(st.Subject) != 1 {
		return nil, fmt.Errorf("signing: statement must be an in-toto %s of %s with one subject", StatementType, PredicateType)
	}
	payload, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", st.Subject[0].Name, err)
	}
	var env []byte
	if s.keyless != nil {
		env, err = s.keyless.sign(ctx, PayloadType, payload)
	} else {
		env, err = s.SignPayload(ctx, PayloadType, payload)
	}
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", st.Subject[0].Name, err)
	}
	return env, nil
}

// SignPayload returns the DSSE envelope (JSON) of payload with payload
// type payloadType, with one signature whose keyid is [Signer.KeyID]. The
// ledger signs the reconciler's outcome events with it. A keyless signer
// signs tickets only.
func (s *Signer) SignPayload(ctx context.Context, payloadType string, payload []byte) ([]byte, error) {
	if s.keyless != nil {
		return nil, errKeylessTicketsOnly
	}
	es, err := ssldsse.NewEnvelopeSigner(&sigdsse.SignerAdapter{
		SignatureSigner: s.sv,
		Pub:             s.pub,
		PubKeyID:        s.keyID,
	})
	if err != nil {
		return nil, err
	}
	env, err := es.SignPayload(ctx, payloadType, payload)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(env); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}
