package sign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/sign/sigstoretest"
)

// Keyless tests run against sigstoretest's fake Fulcio, Rekor and GitHub
// Actions token endpoint: they replay the documented APIs
// (POST /api/v2/signingCert, POST /api/v1/log/entries, the Actions OIDC
// token request) because Sigstore's public instances are unreachable here.

func keylessSign(t *testing.T, ss *sigstoretest.Sigstore, st Statement) []byte {
	t.Helper()
	s, err := NewKeylessSigner(KeylessOptions{FulcioURL: ss.Fulcio, RekorURL: ss.Rekor, IDToken: ss.Token(t)})
	require.NoError(t, err)
	require.True(t, s.Keyless())
	env, err := s.Sign(context.Background(), st)
	require.NoError(t, err)
	return env
}

func identity(ss *sigstoretest.Sigstore, t *testing.T, mod func(*model.Keyless)) []model.Key {
	k := &model.Keyless{Issuer: sigstoretest.GitHubIssuer, Subject: sigstoretest.Subject, TrustedRoot: ss.TrustedRoot(t)}
	if mod != nil {
		mod(k)
	}
	return []model.Key{{Name: "ci", Keyless: k, Roles: []string{model.RoleSign}}}
}

// editBundle decodes a bundle, lets edit change it and encodes it again.
func editBundle(t *testing.T, b []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	edit(m)
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

func tlogEntry(m map[string]any) map[string]any {
	return m["verificationMaterial"].(map[string]any)["tlogEntries"].([]any)[0].(map[string]any)
}

func TestKeylessRoundTrip(t *testing.T) {
	ss := sigstoretest.New(t)
	b := keylessSign(t, ss, statementA())
	require.True(t, IsBundle(b), "a keyless signature is a sigstore bundle: %.80s", b)

	for name, mod := range map[string]func(*model.Keyless){
		"exact subject": nil,
		"subject regexp": func(k *model.Keyless) {
			k.Subject, k.SubjectRegexp = "", `https://github\.com/acme/app/\.github/workflows/sign\.yml@refs/heads/(main|release)`
		},
	} {
		t.Run(name, func(t *testing.T) {
			st, err := Verify(b, identity(ss, t, mod), expectA())
			require.NoError(t, err)
			assert.Equal(t, "CHG-2026-0042", st.Predicate.ID)
		})
	}

	p, err := PredicateOf(b)
	require.NoError(t, err, "readers that index what was signed read a bundle too")
	assert.Equal(t, []string{"staging"}, p.Environments)

	// The signature is bound to the ticket like a key's: another ticket's
	// expectations are a mismatch, not a trust failure.
	want := expectA()
	want.TicketDigest = Digest(jsonB)
	_, err = Verify(b, identity(ss, t, nil), want)
	var mm *MismatchError
	require.ErrorAs(t, err, &mm)
	assert.Equal(t, "subject.digest.sha256", mm.Field)
}

func TestKeylessRejects(t *testing.T) {
	ss := sigstoretest.New(t)
	good := keylessSign(t, ss, statementA())
	other := sigstoretest.New(t) // another Fulcio CA and Rekor log

	expired := sigstoretest.New(t)
	expired.Backdate(time.Hour)
	expiredBundle := keylessSign(t, expired, statementA())

	otherPayload := keylessSign(t, ss, NewStatement(ticketB, Digest(jsonB), statementA().Predicate))

	for _, tc := range []struct {
		name   string
		bundle []byte
		keys   []model.Key
		reason string // in the error
	}{
		{"wrong subject", good, identity(ss, t, func(k *model.Keyless) {
			k.Subject = "https://github.com/acme/app/.github/workflows/other.yml@refs/heads/main"
		}), "expected SAN value"},
		{"wrong issuer", good, identity(ss, t, func(k *model.Keyless) { k.Issuer = "https://gitlab.com" }), "expected issuer value"},
		{"subject regexp matching a prefix only", good, identity(ss, t, func(k *model.Keyless) {
			k.Subject, k.SubjectRegexp = "", `https://github\.com/acme/app/`
		}), "expected SAN value to match regex"},
		{"subject regexp matching a suffix only", good, identity(ss, t, func(k *model.Keyless) {
			k.Subject, k.SubjectRegexp = "", `sign\.yml@refs/heads/main`
		}), "expected SAN value to match regex"},
		{"certificate from another CA", good, identity(ss, t, func(k *model.Keyless) { k.TrustedRoot = ss.TrustedRootWithCA(t, other) }), "certificate"},
		{"another Sigstore altogether", good, identity(other, t, nil), "log entries"},
		{"no Rekor entry", editBundle(t, good, func(m map[string]any) {
			delete(m["verificationMaterial"].(map[string]any), "tlogEntries")
		}), identity(ss, t, nil), "log entries"},
		{"bad signed entry timestamp", editBundle(t, good, func(m map[string]any) {
			p := tlogEntry(m)["inclusionPromise"].(map[string]any)
			set, err := base64.StdEncoding.DecodeString(p["signedEntryTimestamp"].(string))
			require.NoError(t, err)
			set[len(set)-3] ^= 0x55
			p["signedEntryTimestamp"] = base64.StdEncoding.EncodeToString(set)
		}), identity(ss, t, nil), "log entries"},
		{"Rekor entry with its SET removed", editBundle(t, good, func(m map[string]any) {
			delete(tlogEntry(m), "inclusionPromise")
		}), identity(ss, t, nil), "integrated timestamps"},
		{"bundle for other bytes", editBundle(t, good, func(m map[string]any) {
			var o map[string]any
			require.NoError(t, json.Unmarshal(otherPayload, &o))
			m["dsseEnvelope"].(map[string]any)["payload"] = o["dsseEnvelope"].(map[string]any)["payload"]
		}), identity(ss, t, nil), "payload hash"},
		{"no SCT while the root names a CT log", good, identity(ss, t, func(k *model.Keyless) { k.TrustedRoot = ss.TrustedRootWithCTLog(t) }), "SCT"},
		{"envelope signature altered", editBundle(t, good, func(m map[string]any) {
			sig := m["dsseEnvelope"].(map[string]any)["signatures"].([]any)[0].(map[string]any)
			b, err := base64.StdEncoding.DecodeString(sig["sig"].(string))
			require.NoError(t, err)
			b[len(b)-2] ^= 0x55
			sig["sig"] = base64.StdEncoding.EncodeToString(b)
		}), identity(ss, t, nil), "signature does not match"},
		{"certificate expired at the integrated time", expiredBundle, identity(expired, t, nil), "outside certificate validity"},
		{"no keyless identity trusted", good, []model.Key{{Name: "ci", PublicKey: "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"}}, "trusts no keyless identity"},
		{"keyless identity trusted for reconcile only", good, func() []model.Key {
			k := identity(ss, t, nil)
			k[0].Roles = []string{model.RoleReconcile}
			return k
		}(), "trusts no keyless identity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(tc.bundle, tc.keys, expectA())
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrUntrusted) || errors.Is(err, ErrMalformed), "got %v", err)
			assert.NotErrorIs(t, err, ErrMismatch, "a signature that does not verify is not a mismatch")
			assert.Contains(t, err.Error(), ticketA, "the error names the ticket")
			assert.Contains(t, err.Error(), tc.reason)
			t.Log(err)
		})
	}
}

func TestKeylessAndKeysTogether(t *testing.T) {
	ss := sigstoretest.New(t)
	path, key := writeKey(t, AlgECDSAP256)
	keys := append(identity(ss, t, nil), key)
	_, err := Verify(signA(t, path), keys, expectA())
	require.NoError(t, err, "a key-signed envelope verifies beside keyless identities")
	_, err = Verify(keylessSign(t, ss, statementA()), keys, expectA())
	require.NoError(t, err, "a bundle verifies beside keys")

	v, err := NewVerifier(keys, model.RoleSign)
	require.NoError(t, err, "a keyless identity does not break the outcome verifier")
	assert.Equal(t, 1, v.Len(), "only keys verify outcome events")

	s, err := NewKeylessSigner(KeylessOptions{IDToken: "x"})
	require.NoError(t, err)
	_, err = s.SignPayload(context.Background(), "application/vnd.cab.event+json", []byte("{}"))
	assert.Error(t, err, "a keyless signer signs tickets only")
	assert.Empty(t, s.KeyID())
}

func TestIdentityToken(t *testing.T) {
	ss := sigstoretest.New(t)
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for _, e := range kv {
			k, v, _ := cutEq(e)
			m[k] = v
		}
		return func(k string) string { return m[k] }
	}
	file := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(file, []byte("file-token\n"), 0o600))
	empty := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	gha := ss.Env()

	for _, tc := range []struct {
		name    string
		src     IdentitySource
		want    string // "" with wantErr
		wantErr error
	}{
		{"file first", IdentitySource{File: file, Getenv: env("SIGSTORE_ID_TOKEN=env-token")}, "file-token", nil},
		{"empty file", IdentitySource{File: empty}, "", ErrNoIdentityToken},
		{"GitLab id_tokens variable", IdentitySource{Getenv: env(append(gha, "SIGSTORE_ID_TOKEN=env-token")...)}, "env-token", nil},
		{"nothing", IdentitySource{Getenv: env()}, "", ErrNoIdentityToken},
		{"GitHub request token without URL", IdentitySource{Getenv: env(gha[1])}, "", ErrNoIdentityToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := IdentityToken(context.Background(), tc.src)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}

	t.Run("GitHub Actions", func(t *testing.T) {
		tok, err := IdentityToken(context.Background(), IdentitySource{Getenv: env(gha...)})
		require.NoError(t, err)
		s, err := NewKeylessSigner(KeylessOptions{FulcioURL: ss.Fulcio, RekorURL: ss.Rekor, IDToken: tok})
		require.NoError(t, err)
		b, err := s.Sign(context.Background(), statementA())
		require.NoError(t, err, "Fulcio accepts the token GitHub's endpoint handed out")
		_, err = Verify(b, identity(ss, t, nil), expectA())
		require.NoError(t, err)
	})
	t.Run("GitLab id_tokens", func(t *testing.T) {
		gl := sigstoretest.New(t)
		gl.SetClaims(sigstoretest.GitLabClaims())
		tok, err := IdentityToken(context.Background(), IdentitySource{Getenv: env("SIGSTORE_ID_TOKEN=" + gl.Token(t))})
		require.NoError(t, err)
		s, err := NewKeylessSigner(KeylessOptions{FulcioURL: gl.Fulcio, RekorURL: gl.Rekor, IDToken: tok})
		require.NoError(t, err)
		b, err := s.Sign(context.Background(), statementA())
		require.NoError(t, err)
		_, err = Verify(b, identity(gl, t, func(k *model.Keyless) {
			k.Issuer, k.Subject = sigstoretest.GitLabIssuer, sigstoretest.GitLabSubject
		}), expectA())
		require.NoError(t, err)
		_, err = Verify(b, identity(gl, t, nil), expectA())
		assert.ErrorIs(t, err, ErrUntrusted, "the GitHub identity does not cover a GitLab pipeline")
	})
	t.Run("GitHub Actions refuses the request token", func(t *testing.T) {
		_, err := IdentityToken(context.Background(), IdentitySource{Getenv: env(gha[0], "ACTIONS_ID_TOKEN_REQUEST_TOKEN=wrong")})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "id-token: write")
	})
}

func cutEq(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == '=' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// PredicateOf and Verify pick the envelope to read by one rule: a
// Sigstore bundle's media type means its dsseEnvelope, anything else the
// top-level envelope, so an unverified reader never sees other bytes than
// the verifier checks.
func TestPredicateOfPicksTheVerifiedEnvelope(t *testing.T) {
	ss := sigstoretest.New(t)
	path, _ := writeKey(t, AlgECDSAP256)
	plain := signA(t, path)
	bundled := keylessSign(t, ss, NewStatement(ticketB, Digest(jsonB), Predicate{ID: "CHG-2026-0043", Environments: []string{"prod"}}))
	var b map[string]any
	require.NoError(t, json.Unmarshal(bundled, &b))

	// A plain envelope with a bundle's dsseEnvelope smuggled beside it.
	smuggled := editBundle(t, plain, func(m map[string]any) { m["dsseEnvelope"] = b["dsseEnvelope"] })
	p, err := PredicateOf(smuggled)
	require.NoError(t, err)
	assert.Equal(t, "CHG-2026-0042", p.ID, "without a bundle media type the top-level envelope is read, as Verify does")

	_, err = PredicateOf(editBundle(t, bundled, func(m map[string]any) { delete(m, "dsseEnvelope") }))
	assert.ErrorIs(t, err, ErrMalformed, "a bundle without an envelope")
	p, err = PredicateOf(bundled)
	require.NoError(t, err)
	assert.Equal(t, []string{"prod"}, p.Environments)
}
