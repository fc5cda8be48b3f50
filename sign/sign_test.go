package sign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
)

const (
	ticketA = "changes/payments/CHG-2026-0042.cue"
	ticketB = "changes/payments/CHG-2026-0043.cue"
)

var (
	jsonA = []byte(`{"id":"CHG-2026-0042","title":"rotate keys"}`)
	jsonB = []byte(`{"id":"CHG-2026-0043","title":"bump image"}`)
)

// writeKey generates a key pair for alg, writes the private key into a
// temporary directory and returns its path and the trusted public key.
func writeKey(t *testing.T, alg string, opts ...KeygenOption) (string, model.Key) {
	t.Helper()
	priv, pub, err := Keygen(alg, opts...)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "cab.key")
	require.NoError(t, os.WriteFile(path, priv, 0o600))
	return path, model.Key{Name: alg, PublicKey: string(pub)}
}

func statementA() Statement {
	return NewStatement(ticketA, Digest(jsonA), Predicate{
		ID:           "CHG-2026-0042",
		MergeCommit:  "0123456789abcdef0123456789abcdef01234567",
		PR:           42,
		Author:       "github:1001",
		Approvals:    []model.Approval{{ID: "github:2002", Login: "bob"}},
		PolicyDigest: "sha256:" + Digest([]byte("rules")),
		Environments: []string{"staging"},
		Repository:   "github.com/acme/changes",
		SignedAt:     time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC),
	})
}

func expectA() Expect {
	return Expect{
		TicketPath:   ticketA,
		TicketDigest: Digest(jsonA),
		ID:           "CHG-2026-0042",
		Environments: []string{"staging"},
		Repository:   "github.com/acme/changes",
		MergeCommit:  "0123456789abcdef0123456789abcdef01234567",
	}
}

func signA(t *testing.T, keyPath string) []byte {
	t.Helper()
	s, err := LoadSigner(context.Background(), keyPath, nil)
	require.NoError(t, err)
	env, err := s.Sign(context.Background(), statementA())
	require.NoError(t, err)
	return env
}

func TestRoundTrip(t *testing.T) {
	for _, alg := range []string{AlgECDSAP256, AlgEd25519} {
		t.Run(alg, func(t *testing.T) {
			path, key := writeKey(t, alg)
			for _, ref := range []string{path, "file://" + path} {
				s, err := LoadSigner(context.Background(), ref, nil)
				require.NoError(t, err)
				env, err := s.Sign(context.Background(), statementA())
				require.NoError(t, err)

				var raw struct {
					PayloadType string `json:"payloadType"`
					Signatures  []struct {
						KeyID string `json:"keyid"`
					} `json:"signatures"`
				}
				require.NoError(t, json.Unmarshal(env, &raw))
				assert.Equal(t, PayloadType, raw.PayloadType)
				require.Len(t, raw.Signatures, 1)
				assert.Equal(t, s.KeyID(), raw.Signatures[0].KeyID)
				assert.NotEmpty(t, s.KeyID())

				pub, err := s.PublicKeyPEM()
				require.NoError(t, err)
				assert.Equal(t, key.PublicKey, string(pub))

				_, otherKey := writeKey(t, AlgEd25519)
				st, err := Verify(env, []model.Key{otherKey, key}, expectA())
				require.NoError(t, err)
				assert.Equal(t, statementA(), *st)
			}
		})
	}
}

// tamper decodes the envelope, lets edit change it and re-encodes it,
// keeping the original signature.
func tamper(t *testing.T, env []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(env, &m))
	edit(m)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func editPayload(t *testing.T, edit func(st map[string]any)) func(m map[string]any) {
	return func(m map[string]any) {
		p, err := base64.StdEncoding.DecodeString(m["payload"].(string))
		require.NoError(t, err)
		var st map[string]any
		require.NoError(t, json.Unmarshal(p, &st))
		edit(st)
		p, err = json.Marshal(st)
		require.NoError(t, err)
		m["payload"] = base64.StdEncoding.EncodeToString(p)
	}
}

func TestVerifyRefuses(t *testing.T) {
	path, key := writeKey(t, AlgECDSAP256)
	_, otherKey := writeKey(t, AlgECDSAP256)
	_, otherEd := writeKey(t, AlgEd25519)
	env := signA(t, path)

	tests := []struct {
		name     string
		envelope []byte
		trusted  []model.Key // nil: the signing key
		want     func(e *Expect)
		err      error
		field    string
	}{
		{
			name:    "wrong key",
			trusted: []model.Key{otherKey, otherEd},
			err:     ErrUntrusted,
		},
		{
			name:    "no trusted keys",
			trusted: []model.Key{},
			err:     ErrUntrusted,
		},
		{
			name: "replayed as another ticket",
			want: func(e *Expect) {
				e.TicketPath, e.TicketDigest, e.ID = ticketB, Digest(jsonB), "CHG-2026-0043"
			},
			err:   ErrMismatch,
			field: "subject.digest.sha256",
		},
		{
			name:  "same digest under another path",
			want:  func(e *Expect) { e.TicketPath = ticketB },
			err:   ErrMismatch,
			field: "subject.name",
		},
		{
			name:  "edited ticket bytes",
			want:  func(e *Expect) { e.TicketDigest = Digest([]byte(`{"id":"CHG-2026-0042","title":"rotate all keys"}`)) },
			err:   ErrMismatch,
			field: "subject.digest.sha256",
		},
		{
			name:  "other id",
			want:  func(e *Expect) { e.ID = "CHG-2026-0099" },
			err:   ErrMismatch,
			field: "predicate.id",
		},
		{
			name:  "more environments than signed",
			want:  func(e *Expect) { e.Environments = []string{"staging", "prod"} },
			err:   ErrMismatch,
			field: "predicate.environments",
		},
		{
			name:  "other repository",
			want:  func(e *Expect) { e.Repository = "github.com/evil/changes" },
			err:   ErrMismatch,
			field: "predicate.repository",
		},
		{
			name:  "other merge commit",
			want:  func(e *Expect) { e.MergeCommit = "fedcba9876543210fedcba9876543210fedcba98" },
			err:   ErrMismatch,
			field: "predicate.mergeCommit",
		},
		{
			name: "payload edited after signing",
			envelope: tamper(t, env, editPayload(t, func(st map[string]any) {
				st["predicate"].(map[string]any)["environments"] = []string{"staging", "prod"}
			})),
			want: func(e *Expect) { e.Environments = []string{"staging", "prod"} },
			err:  ErrUntrusted,
		},
		{
			name: "subject digest edited to match another ticket",
			envelope: tamper(t, env, editPayload(t, func(st map[string]any) {
				st["subject"] = []map[string]any{{"name": ticketB, "digest": map[string]string{"sha256": Digest(jsonB)}}}
			})),
			want: func(e *Expect) {
				e.TicketPath, e.TicketDigest = ticketB, Digest(jsonB)
			},
			err: ErrUntrusted,
		},
		{
			name:     "payload type changed",
			envelope: tamper(t, env, func(m map[string]any) { m["payloadType"] = "application/json" }),
			err:      ErrMismatch,
			field:    "payloadType",
		},
		{
			name:     "signature removed",
			envelope: tamper(t, env, func(m map[string]any) { m["signatures"] = []any{} }),
			err:      ErrMalformed,
		},
		{
			name:     "not an envelope",
			envelope: []byte("not json"),
			err:      ErrMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			envelope := env
			if tt.envelope != nil {
				envelope = tt.envelope
			}
			trusted := tt.trusted
			if trusted == nil {
				trusted = []model.Key{key}
			}
			want := expectA()
			if tt.want != nil {
				tt.want(&want)
			}
			st, err := Verify(envelope, trusted, want)
			require.Error(t, err, "Verify accepted a bad envelope")
			assert.Nil(t, st)
			assert.ErrorIs(t, err, tt.err)
			assert.Contains(t, err.Error(), want.TicketPath, "the error names the ticket")
			if tt.field != "" {
				var me *MismatchError
				require.ErrorAs(t, err, &me)
				assert.Equal(t, tt.field, me.Field)
			}
		})
	}
}

func TestLoadSignerEncrypted(t *testing.T) {
	for _, alg := range []string{AlgECDSAP256, AlgEd25519} {
		t.Run(alg, func(t *testing.T) {
			path, key := writeKey(t, alg, WithPassword([]byte("s3cret")))
			pem, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Contains(t, string(pem), "ENCRYPTED SIGSTORE PRIVATE KEY")

			tests := []struct {
				name     string
				password func() ([]byte, error)
				err      error
				msg      string
			}{
				{name: "right password", password: func() ([]byte, error) { return []byte("s3cret"), nil }},
				{name: "wrong password", password: func() ([]byte, error) { return []byte("guess"), nil }, err: ErrDecrypt, msg: "decrypting key: wrong password?"},
				{name: "no password callback", password: nil, err: ErrNoPassword, msg: "no password"},
				{name: "no password given", password: func() ([]byte, error) { return nil, nil }, err: ErrNoPassword, msg: "no password"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s, err := LoadSigner(context.Background(), path, tt.password)
					if tt.err != nil {
						require.Error(t, err)
						assert.ErrorIs(t, err, tt.err)
						assert.Contains(t, err.Error(), tt.msg)
						assert.Contains(t, err.Error(), path, "the error names the key file")
						return
					}
					require.NoError(t, err)
					env, err := s.Sign(context.Background(), statementA())
					require.NoError(t, err)
					_, err = Verify(env, []model.Key{key}, expectA())
					assert.NoError(t, err)
				})
			}
		})
	}
}

func TestLoadSignerErrors(t *testing.T) {
	tests := []struct {
		name, ref string
		msg       []string
	}{
		{name: "aws kms without provider", ref: "awskms:///arn:aws:kms:eu-west-1:1:key/abc", msg: []string{"awskms://", "no awskms:// KMS provider", "no kms provider found"}},
		{name: "gcp kms without provider", ref: "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k", msg: []string{"no gcpkms:// KMS provider"}},
		{name: "vault without provider", ref: "hashivault://cab", msg: []string{"no hashivault:// KMS provider"}},
		{name: "missing file", ref: "file:///nonexistent/cab.key", msg: []string{"loading key /nonexistent/cab.key"}},
		{name: "empty", ref: "", msg: []string{"empty key reference"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir()) // no sigstore-kms-* plugins
			_, err := LoadSigner(context.Background(), tt.ref, nil)
			require.Error(t, err)
			for _, m := range tt.msg {
				assert.Contains(t, err.Error(), m)
			}
		})
	}
}

func TestKeygen(t *testing.T) {
	_, _, err := Keygen("rsa-4096")
	assert.ErrorContains(t, err, `key algorithm "rsa-4096"`)

	for _, alg := range []string{AlgECDSAP256, AlgEd25519} {
		priv, pub, err := Keygen(alg)
		require.NoError(t, err)
		assert.Contains(t, string(priv), "-----BEGIN PRIVATE KEY-----", alg)
		assert.Contains(t, string(pub), "-----BEGIN PUBLIC KEY-----", alg)
	}
}

func TestSignRefusesIncompleteStatement(t *testing.T) {
	path, _ := writeKey(t, AlgEd25519)
	s, err := LoadSigner(context.Background(), path, nil)
	require.NoError(t, err)
	st := statementA()
	st.Subject = append(st.Subject, st.Subject[0])
	_, err = s.Sign(context.Background(), st)
	assert.Error(t, err)
}
