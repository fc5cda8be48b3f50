package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/cabhq/cab/model"
)

// SignatureHeader carries a webhook body's HMAC-SHA256 as "sha256=<hex>".
const SignatureHeader = "X-Cab-Signature-256"

// ErrMissingSecret means an environment variable a sink names is unset.
var ErrMissingSecret = errors.New("notify: environment variable not set")

// sender delivers one event to one sink.
type sender interface {
	send(ctx context.Context, ev Event) error
}

// SinkError is a sink that refused or could not take an event.
type SinkError struct {
	Sink string
	Err  error
}

func (e *SinkError) Error() string { return fmt.Sprintf("notify: sink %s: %v", e.Sink, e.Err) }
func (e *SinkError) Unwrap() error { return e.Err }

// newSender builds the sender of sink s, reading its secrets with getenv,
// and returns them so that they are scrubbed from every message.
func newSender(name string, s model.Sink, getenv func(string) string, client *http.Client, tlsConf *tls.Config) (sender, []string, error) {
	env := func(v string) (string, error) {
		x := getenv(v)
		if x == "" {
			return "", fmt.Errorf("%w: %s (sink %s)", ErrMissingSecret, v, name)
		}
		return x, nil
	}
	switch s.Type {
	case model.SinkWebhook:
		secret, err := env(s.SecretEnv)
		if err != nil {
			return nil, nil, err
		}
		return &webhook{url: s.URL, secret: []byte(secret), client: client}, []string{secret}, nil
	case model.SinkSlack:
		u, err := env(s.URLEnv)
		if err != nil {
			return nil, nil, err
		}
		return &slack{url: u, client: client}, []string{u}, nil
	case model.SinkEmail:
		m := &mailer{host: s.Host, port: s.Port, from: s.From, to: s.To, tls: tlsConf}
		var secrets []string
		if s.UsernameEnv != "" {
			if m.user, _ = env(s.UsernameEnv); m.user == "" {
				return nil, nil, fmt.Errorf("%w: %s (sink %s)", ErrMissingSecret, s.UsernameEnv, name)
			}
		}
		if s.PasswordEnv != "" {
			p, err := env(s.PasswordEnv)
			if err != nil {
				return nil, nil, err
			}
			m.pass = p
			secrets = append(secrets, p)
		}
		return m, secrets, nil
	}
	return nil, nil, fmt.Errorf("notify: sink %s: unknown type %q", name, s.Type)
}

// Sign returns the X-Cab-Signature-256 value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// webhook posts the event as JSON, signed.
type webhook struct {
	url    string
	secret []byte
	client *http.Client
}

func (w *webhook) send(ctx context.Context, ev Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return post(ctx, w.client, w.url, body, map[string]string{
		SignatureHeader:  Sign(w.secret, body),
		"X-Cab-Event":    ev.Kind,
		"X-Cab-Delivery": ev.ID,
	})
}

// slack posts the event's text in the incoming-webhook format.
type slack struct {
	url    string
	client *http.Client
}

func (s *slack) send(ctx context.Context, ev Event) error {
	text := Text(ev)
	if ev.Loud {
		text = "<!channel> :rotating_light: " + text
	}
	body, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return err
	}
	return post(ctx, s.client, s.url, body, nil)
}

// errStatus is a sink's HTTP answer other than 2xx.
type errStatus struct{ code int }

func (e errStatus) Error() string { return fmt.Sprintf("answered %d", e.code) }

func post(ctx context.Context, client *http.Client, url string, body []byte, header map[string]string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		// The URL may be the secret (slack): never quote it.
		return errors.New("invalid sink URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cab-notify")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			return fmt.Errorf("posting: %w", ue.Unwrap())
		}
		return errors.New("posting failed")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return errStatus{resp.StatusCode}
	}
	return nil
}

// Subject is the one-line summary of ev (an email's subject).
func Subject(ev Event) string {
	var b strings.Builder
	b.WriteString("[cab]")
	if ev.Loud {
		b.WriteString("[LOUD]")
	}
	b.WriteString(" " + ev.Kind)
	if ev.Ticket != "" {
		b.WriteString(": " + ev.Ticket)
	}
	if ev.Environment != "" {
		b.WriteString(" in " + ev.Environment)
	}
	if ev.PR != 0 && ev.Ticket == "" {
		fmt.Fprintf(&b, ": pull request #%d", ev.PR)
	}
	return b.String()
}

// Text is ev in a few lines of plain text.
func Text(ev Event) string {
	var b strings.Builder
	b.WriteString(Subject(ev))
	for _, kv := range [][2]string{{"service", ev.Service}, {"risk", ev.Risk}, {"reason", ev.Reason},
		{"can approve", strings.Join(ev.Approvers, ", ")}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "\n%s: %s", kv[0], kv[1])
		}
	}
	if ev.PR != 0 && ev.Ticket != "" {
		fmt.Fprintf(&b, "\npull request: #%d", ev.PR)
	}
	return b.String()
}
