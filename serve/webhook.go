package serve

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Webhook results, as cab_webhooks_total{result} and the response body
// name them.
const (
	resultQueued       = "queued"
	resultIgnored      = "ignored"
	resultPing         = "ping"
	resultUnauthorized = "unauthorized"
	resultDisabled     = "disabled"
	resultTooLarge     = "too-large"
	resultBadRequest   = "bad-request"
	resultBusy         = "busy"
	resultTimeout      = "timeout"
)

// webhookResponse is the JSON body of every webhook answer.
type webhookResponse struct {
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
}

// delivery is one webhook request as it is logged and answered.
type delivery struct {
	provider, event, id string
}

// answer writes the response, counts it and logs it.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, d delivery, status int, result, reason string) {
	s.m.webhook(d.provider, result)
	level := s.log.Info
	if status == http.StatusUnauthorized || status >= 500 {
		level = s.log.Warn
	}
	level("webhook", "provider", d.provider, "event", clip(d.event), "delivery", clip(d.id),
		"result", result, "reason", reason, "status", status, "remote", r.RemoteAddr)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(webhookResponse{Result: result, Reason: reason})
}

// clip bounds a header value that is logged before anything is
// authenticated.
func clip(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// readBody reads the request body up to Config.MaxBody, within
// Config.BodyTimeout, holding one of the Config.MaxBodies slots: this is
// all the memory and time an unauthenticated request can take. It answers
// and returns false when no slot is free (503 with Retry-After), the body
// is too large (413), too slow (408) or cannot be read (400). release
// frees the slot once the caller is done with the body.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, d delivery) (body []byte, release func(), ok bool) {
	if r.ContentLength > s.cfg.MaxBody {
		s.answer(w, r, d, http.StatusRequestEntityTooLarge, resultTooLarge,
			fmt.Sprintf("body of %d bytes exceeds the limit of %d", r.ContentLength, s.cfg.MaxBody))
		return nil, nil, false
	}
	select {
	case s.bodies <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "5")
		s.answer(w, r, d, http.StatusServiceUnavailable, resultBusy,
			fmt.Sprintf("%d webhook bodies are being read: retry later (the timer's pass runs anyway)", s.cfg.MaxBodies))
		return nil, nil, false
	}
	release = func() { <-s.bodies }
	// A deadline for this body only; the server's ReadTimeout stays the
	// outer bound. Not every ResponseWriter supports it (tests).
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		defer release()
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.answer(w, r, d, http.StatusRequestEntityTooLarge, resultTooLarge,
				fmt.Sprintf("body exceeds the limit of %d bytes", s.cfg.MaxBody))
			return nil, nil, false
		}
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			s.answer(w, r, d, http.StatusRequestTimeout, resultTimeout,
				fmt.Sprintf("body not received within %s", s.cfg.BodyTimeout))
			return nil, nil, false
		}
		s.answer(w, r, d, http.StatusBadRequest, resultBadRequest, "reading the body: "+err.Error())
		return nil, nil, false
	}
	return body, release, true
}

// push is what cab reads from a push event: the ref and whether the push
// deleted it.
type push struct {
	Ref     string `json:"ref"`
	Deleted bool   `json:"deleted"` // GitHub
	After   string `json:"after"`
}

// zeroSHA is the "after" of a push that deleted the branch (GitLab).
const zeroSHA = "0000000000000000000000000000000000000000"

// onPush queues a pass for a push to the watched branch and ignores the
// others.
func (s *Server) onPush(w http.ResponseWriter, r *http.Request, d delivery, p push) {
	switch {
	case p.Ref == "":
		s.answer(w, r, d, http.StatusBadRequest, resultBadRequest, "push event without a ref")
	case p.Ref != s.ref:
		s.answer(w, r, d, http.StatusAccepted, resultIgnored,
			fmt.Sprintf("push to %s; cab watches %s", p.Ref, s.ref))
	case p.Deleted || p.After == zeroSHA:
		s.answer(w, r, d, http.StatusAccepted, resultIgnored, "push deleted "+p.Ref)
	default:
		reason := "push to " + p.Ref + ": pass queued"
		trigger := d.provider
		if d.id != "" {
			trigger += " " + clip(d.id)
		}
		if !s.trigger(trigger) {
			reason = "push to " + p.Ref + ": a pass is already queued"
		}
		s.answer(w, r, d, http.StatusAccepted, resultQueued, reason)
	}
}

// github serves POST /webhook/github.
//
// The signature is checked over the raw body before anything in it is
// read: X-Hub-Signature-256 is "sha256=" and the hex HMAC-SHA256 of the
// body under the secret. GitHub's form content type (payload=<json>) is
// accepted besides application/json.
func (s *Server) github(w http.ResponseWriter, r *http.Request) {
	d := delivery{provider: "github", event: r.Header.Get("X-GitHub-Event"), id: r.Header.Get("X-GitHub-Delivery")}
	if len(s.cfg.GitHubSecret) == 0 {
		s.answer(w, r, d, http.StatusNotFound, resultDisabled, "the GitHub webhook is not enabled on this server")
		return
	}
	sig, ok := strings.CutPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256=")
	if !ok {
		s.answer(w, r, d, http.StatusUnauthorized, resultUnauthorized, "missing X-Hub-Signature-256: set the webhook's secret")
		return
	}
	want, err := hex.DecodeString(sig)
	if err != nil || len(want) != sha256.Size {
		s.answer(w, r, d, http.StatusUnauthorized, resultUnauthorized, "malformed X-Hub-Signature-256")
		return
	}
	body, release, ok := s.readBody(w, r, d)
	if !ok {
		return
	}
	defer release()
	mac := hmac.New(sha256.New, s.cfg.GitHubSecret)
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), want) {
		s.answer(w, r, d, http.StatusUnauthorized, resultUnauthorized, "X-Hub-Signature-256 does not match the body: check the webhook's secret")
		return
	}

	// Authenticated from here on.
	payload, err := githubPayload(r.Header.Get("Content-Type"), body)
	if err != nil {
		s.answer(w, r, d, http.StatusBadRequest, resultBadRequest, err.Error())
		return
	}
	switch d.event {
	case "ping":
		s.answer(w, r, d, http.StatusOK, resultPing, "pong")
	case "push":
		var p push
		if err := json.Unmarshal(payload, &p); err != nil {
			s.answer(w, r, d, http.StatusBadRequest, resultBadRequest, "decoding the push event: "+err.Error())
			return
		}
		s.onPush(w, r, d, p)
	default:
		s.answer(w, r, d, http.StatusAccepted, resultIgnored,
			fmt.Sprintf("event %q: cab acts on push (and answers ping)", clip(d.event)))
	}
}

// githubPayload returns the JSON of a GitHub delivery, which is the body
// (application/json) or its payload form field
// (application/x-www-form-urlencoded).
func githubPayload(contentType string, body []byte) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != "application/x-www-form-urlencoded" {
		return body, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("decoding the form body: %w", err)
	}
	p := form.Get("payload")
	if p == "" {
		return nil, errors.New("form body without a payload field")
	}
	return []byte(p), nil
}

// gitlab serves POST /webhook/gitlab.
//
// X-Gitlab-Token must equal the secret token; both are hashed before the
// constant-time comparison so that neither their contents nor their
// lengths leak through timing. The token is checked before the body is
// read.
func (s *Server) gitlab(w http.ResponseWriter, r *http.Request) {
	d := delivery{provider: "gitlab", event: r.Header.Get("X-Gitlab-Event"), id: r.Header.Get("X-Gitlab-Event-UUID")}
	if len(s.cfg.GitLabToken) == 0 {
		s.answer(w, r, d, http.StatusNotFound, resultDisabled, "the GitLab webhook is not enabled on this server")
		return
	}
	token := r.Header.Get("X-Gitlab-Token")
	if token == "" {
		s.answer(w, r, d, http.StatusUnauthorized, resultUnauthorized, "missing X-Gitlab-Token: set the webhook's secret token")
		return
	}
	got, want := sha256.Sum256([]byte(token)), sha256.Sum256(s.cfg.GitLabToken)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		s.answer(w, r, d, http.StatusUnauthorized, resultUnauthorized, "X-Gitlab-Token does not match: check the webhook's secret token")
		return
	}
	body, release, ok := s.readBody(w, r, d)
	if !ok {
		return
	}
	defer release()

	// Authenticated from here on.
	if d.event != "Push Hook" {
		s.answer(w, r, d, http.StatusAccepted, resultIgnored,
			fmt.Sprintf("event %q: cab acts on Push Hook", clip(d.event)))
		return
	}
	var p push
	if err := json.Unmarshal(body, &p); err != nil {
		s.answer(w, r, d, http.StatusBadRequest, resultBadRequest, "decoding the push event: "+err.Error())
		return
	}
	s.onPush(w, r, d, p)
}
