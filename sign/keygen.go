package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Key algorithms accepted by [Keygen].
const (
	AlgECDSAP256 = "ecdsa-p256"
	AlgEd25519   = "ed25519"
)

// KeygenOption configures [Keygen].
type KeygenOption func(*keygenConfig)

type keygenConfig struct{ password []byte }

// WithPassword encrypts the private key with password in the cosign/sigstore
// format ("ENCRYPTED SIGSTORE PRIVATE KEY": scrypt and secretbox), which
// cosign reads too. A nil password leaves the key unencrypted; an empty,
// non-nil one encrypts with the empty password, as cosign does.
func WithPassword(password []byte) KeygenOption {
	return func(c *keygenConfig) { c.password = password }
}

// Keygen generates a key pair for alg ([AlgECDSAP256] or [AlgEd25519]) and
// returns the private key as PEM (PKCS#8 "PRIVATE KEY", or encrypted with
// [WithPassword]) and the public key as PKIX PEM.
func Keygen(alg string, opts ...KeygenOption) (privatePEM, publicPEM []byte, err error) {
	var cfg keygenConfig
	for _, o := range opts {
		o(&cfg)
	}
	var priv crypto.Signer
	switch alg {
	case AlgECDSAP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgEd25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, nil, fmt.Errorf("key algorithm %q: want %s or %s", alg, AlgECDSAP256, AlgEd25519)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("generating %s key: %w", alg, err)
	}
	publicPEM, err = cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		return nil, nil, fmt.Errorf("encoding public key: %w", err)
	}
	if cfg.password == nil {
		privatePEM, err = cryptoutils.MarshalPrivateKeyToPEM(priv)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding private key: %w", err)
		}
		return privatePEM, publicPEM, nil
	}
	der, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(priv, cryptoutils.StaticPasswordFunc(cfg.password))
	if err != nil {
		return nil, nil, fmt.Errorf("encrypting private key: %w", err)
	}
	return cryptoutils.PEMEncode(cryptoutils.EncryptedSigstorePrivateKeyPEMType, der), publicPEM, nil
}
