package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// ErrNoStartTLS means an SMTP server did not offer STARTTLS: cab never
// sends mail (or credentials) in the clear.
var ErrNoStartTLS = errors.New("smtp server does not offer STARTTLS")

// mailer sends the event as a plain-text email over SMTP with STARTTLS.
type mailer struct {
	host       string
	port       int
	from       string
	to         []string
	user, pass string
	// tls, when not nil, is the TLS configuration (tests add their CA);
	// ServerName is set to host.
	tls *tls.Config
}

func (m *mailer) send(ctx context.Context, ev Event) error {
	addr := net.JoinHostPort(m.host, strconv.Itoa(m.port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dialing %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(time.Minute))
	}
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		return fmt.Errorf("smtp greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello("cab"); err != nil {
		return fmt.Errorf("smtp EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return ErrNoStartTLS
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if m.tls != nil {
		conf = m.tls.Clone()
	}
	conf.ServerName = m.host
	if err := c.StartTLS(conf); err != nil {
		return fmt.Errorf("smtp STARTTLS: %w", err)
	}
	if m.user != "" {
		if err := c.Auth(smtp.PlainAuth("", m.user, m.pass, m.host)); err != nil {
			return fmt.Errorf("smtp AUTH: %w", err)
		}
	}
	if err := c.Mail(m.from); err != nil {
		return fmt.Errorf("smtp MAIL FROM: %w", err)
	}
	for _, to := range m.to {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("smtp RCPT TO: %w", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if _, err := w.Write(m.message(ev)); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	return c.Quit()
}

// message is the RFC 5322 message of ev.
func (m *mailer) message(ev Event) []byte {
	var b strings.Builder
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", m.from)
	h("To", strings.Join(m.to, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", Subject(ev)))
	h("Date", ev.At.UTC().Format(time.RFC1123Z))
	h("Message-ID", "<"+strings.NewReplacer("/", ".").Replace(ev.ID)+"@cab>")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	if ev.Loud {
		h("Importance", "high")
		h("X-Priority", "1")
	}
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(Text(ev), "\n", "\r\n"))
	b.WriteString("\r\n")
	return []byte(b.String())
}
