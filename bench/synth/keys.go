package synth

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
)

// Benchmark keys. cab.cue of a generated repository trusts two Ed25519
// keys derived from the seed: one to sign tickets (role "sign") and one to
// sign the reconciler's outcome events (role "reconcile"). Their private
// halves are written beside the repository's files, unencrypted, under
// the names below (in a hidden directory, which `cab check` does not scan
// for secrets, excluded from git), so that the sign, verify and reconcile
// benchmarks really sign and really verify. They are test keys, public to
// anyone who runs the generator: never trust them anywhere else.
const (
	KeyDir           = ".bench-keys"
	SignKeyFile      = KeyDir + "/BENCH-ONLY-INSECURE-sign.key"
	ReconcileKeyFile = KeyDir + "/BENCH-ONLY-INSECURE-reconcile.key"
	SignKeyName      = "bench-sign"
	ReconcileKeyName = "bench-reconcile"
)

// benchKey derives the key named name from the seed.
func benchKey(seed uint64, name string) ed25519.PrivateKey {
	s := sha256.Sum256(fmt.Appendf(nil, "cab bench/synth insecure test key %s seed %d", name, seed))
	return ed25519.NewKeyFromSeed(s[:])
}

// keyPEMs returns the PKCS#8 private and PKIX public PEM of a key.
func keyPEMs(k ed25519.PrivateKey) (private, public []byte) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err) // an Ed25519 key always marshals
	}
	pub, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
}

// SignKey returns the PEM of the private key cab.cue trusts to sign
// tickets in the repository of opts.
func SignKey(opts Options) []byte {
	priv, _ := keyPEMs(benchKey(opts.withDefaults().Seed, SignKeyName))
	return priv
}

// ReconcileKey returns the PEM of the private key cab.cue trusts to sign
// the reconciler's events in the repository of opts.
func ReconcileKey(opts Options) []byte {
	priv, _ := keyPEMs(benchKey(opts.withDefaults().Seed, ReconcileKeyName))
	return priv
}

// keysConfig is the keys: list of cab.cue.
func (p *plan) keysConfig() []any {
	var out []any
	for _, k := range []struct{ name, role string }{{SignKeyName, "sign"}, {ReconcileKeyName, "reconcile"}} {
		_, pub := keyPEMs(benchKey(p.opts.Seed, k.name))
		out = append(out, obj{{"name", k.name}, {"publicKey", string(pub)}, {"roles", []string{k.role}}})
	}
	return out
}

// writeKeys writes the private keys into dir.
func (r *Repo) writeKeys(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, KeyDir), 0o700); err != nil {
		return err
	}
	for name, pem := range map[string][]byte{SignKeyFile: SignKey(r.Options), ReconcileKeyFile: ReconcileKey(r.Options)} {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), pem, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}
