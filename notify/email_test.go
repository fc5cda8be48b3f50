package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
)

// selfSigned returns a server certificate for 127.0.0.1 and a pool
// trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// mail is one message an SMTP server took.
type mail struct {
	from, user string
	to         []string
	data       string
	tls        bool
}

type smtpBackend struct {
	mu   sync.Mutex
	got  []mail
	user string
	pass string
}

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &smtpSession{b: b, c: c, m: mail{tls: isTLS}}, nil
}

type smtpSession struct {
	b *smtpBackend
	c *smtp.Conn
	m mail
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.b.user || pass != s.b.pass {
			return errors.New("bad credentials")
		}
		s.m.user = user
		return nil
	}), nil
}
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	_, s.m.tls = s.c.TLSConnectionState()
	s.m.from = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.m.to = append(s.m.to, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.data = string(b)
	s.b.mu.Lock()
	s.b.got = append(s.b.got, s.m)
	s.b.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

// startSMTP runs a real SMTP server on loopback; with cert it offers
// STARTTLS.
func startSMTP(t *testing.T, b *smtpBackend, cert *tls.Certificate) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := smtp.NewServer(b)
	s.Domain = "smtp.test"
	s.ReadTimeout, s.WriteTimeout = time.Minute, time.Minute
	if cert != nil {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func emailConfig(port int) *model.Notify {
	return &model.Notify{
		Sinks: map[string]model.Sink{"mail": {Type: "email", Host: "127.0.0.1", Port: port, From: "cab@example.com",
			To: []string{"oncall@example.com", "cm@example.com"}, UsernameEnv: "SMTP_USER", PasswordEnv: "SMTP_PASSWORD"}},
		Routes: []model.Route{{Sinks: []string{"mail"}}},
	}
}

func TestEmailSTARTTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	b := &smtpBackend{user: "cab", pass: "smtp-pass-planted-1234"}
	port := startSMTP(t, b, &cert)
	n := newT(t, Options{Config: emailConfig(port), TLSConfig: &tls.Config{RootCAs: pool},
		Getenv: env(map[string]string{"SMTP_USER": "cab", "SMTP_PASSWORD": b.pass})})
	require.True(t, n.Notify(Event{ID: EventID("CHG-2026-0005", "prod", 3), Kind: KindRollbackFailed, Loud: true,
		Ticket: "CHG-2026-0005", Environment: "prod", Reason: "restore failed; smtp password was " + b.pass}))
	assert.Zero(t, n.Flush(context.Background()))

	b.mu.Lock()
	defer b.mu.Unlock()
	require.Len(t, b.got, 1)
	m := b.got[0]
	assert.True(t, m.tls, "mail is sent only after STARTTLS")
	assert.Equal(t, "cab", m.user, "credentials from the environment")
	assert.Equal(t, "cab@example.com", m.from)
	assert.Equal(t, []string{"oncall@example.com", "cm@example.com"}, m.to)
	assert.Contains(t, m.data, "Subject: [cab][LOUD] rollback-failed: CHG-2026-0005 in prod")
	assert.Contains(t, m.data, "Importance: high")
	assert.Contains(t, m.data, "restore failed")
	assert.NotContains(t, m.data, b.pass, "no secret in any message")
}

func TestEmailRefusesServerWithoutSTARTTLS(t *testing.T) {
	b := &smtpBackend{user: "cab", pass: "smtp-pass-planted-1234"}
	port := startSMTP(t, b, nil)
	m := &mailer{host: "127.0.0.1", port: port, from: "cab@example.com", to: []string{"x@example.com"}, user: "cab", pass: b.pass}
	err := m.send(context.Background(), Event{ID: "x", Kind: KindFailed})
	require.ErrorIs(t, err, ErrNoStartTLS)
	b.mu.Lock()
	assert.Empty(t, b.got, "nothing sent in the clear")
	b.mu.Unlock()

	cert, _ := selfSigned(t)
	port = startSMTP(t, b, &cert)
	m.port = port
	err = m.send(context.Background(), Event{ID: "x", Kind: KindFailed})
	var unknown x509.UnknownAuthorityError
	require.ErrorAs(t, err, &unknown, "an untrusted certificate is refused: %v", err)
}
