package serve

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cabhq/cab/internal/gitpush"
	"github.com/cabhq/cab/ledger"
)

// Conditions of a Server's health, by name. /healthz reports them all;
// /readyz the ones that say whether the daemon can do its job; /livez only
// whether the loop is wedged.
const (
	// CondLoop: the reconcile loop runs and is not shutting down.
	CondLoop = "loop"
	// CondPass: the last finished pass succeeded (its reason says how many
	// passes in a row failed, and since when).
	CondPass = "pass"
	// CondPassDuration: the running pass has not run longer than
	// Config.PassWarn (a remote or target may hang).
	CondPassDuration = "pass-duration"
	// CondLedger: the last pass could push to the ledger (a refusal by the
	// server or endless contention makes it false until a pass succeeds).
	CondLedger = "ledger"
	// CondLedgerRewritten: the ledger is the reconciler's checkpoint plus
	// added events. Config.Healthy reports it (asked on every probe).
	CondLedgerRewritten = "ledger-rewritten"
)

// readyConds are the conditions /readyz requires; /healthz requires all.
var readyConds = []string{CondLoop, CondPass, CondLedger, CondLedgerRewritten}

// condition is the state of one named condition; ok when reason is "".
type condition struct {
	reason string
	since  time.Time
}

// SetCondition sets the named condition (one of the Cond constants, or a
// name of the caller's own, which /healthz then reports too): healthy
// when err is nil, failing with err's message (credentials redacted)
// otherwise.
func (s *Server) SetCondition(name string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setCondLocked(name, err)
}

func (s *Server) setCondLocked(name string, err error) {
	if err == nil {
		delete(s.conds, name)
		return
	}
	c, had := s.conds[name]
	if !had {
		c.since = s.cfg.Now()
	}
	c.reason = s.redact.String(err.Error())
	s.conds[name] = c
}

// passEnded updates the conditions a finished pass decides.
func (s *Server) passEnded(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.passStart = time.Time{}
	if err == nil {
		s.failures = 0
		s.setCondLocked(CondPass, nil)
		s.setCondLocked(CondLedger, nil)
		return
	}
	s.failures++
	if s.failures == 1 {
		s.failingSince = s.cfg.Now()
	}
	msg := fmt.Sprintf("last reconcile pass failed at %s", s.cfg.Now().UTC().Format(time.RFC3339))
	if s.failures > 1 {
		msg = fmt.Sprintf("%d reconcile passes in a row failed, since %s; the last at %s", s.failures,
			s.failingSince.UTC().Format(time.RFC3339), s.cfg.Now().UTC().Format(time.RFC3339))
	}
	s.setCondLocked(CondPass, fmt.Errorf("%s: %w", msg, err))
	if errors.Is(err, gitpush.ErrRejected) || errors.Is(err, ledger.ErrContention) {
		s.setCondLocked(CondLedger, fmt.Errorf("the ledger cannot be pushed: %w", err))
	}
}

// check is one condition as a probe reports it.
type check struct {
	name, reason string
}

// conditions returns the failing conditions, in a stable order, with the
// running pass judged against warn (zero: not judged).
func (s *Server) conditions(warn time.Duration) []check {
	var hook error
	if s.cfg.Healthy != nil {
		hook = s.cfg.Healthy() // asked outside s.mu: the hook has locks of its own
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []check
	if hook != nil {
		out = append(out, check{CondLedgerRewritten, s.redact.String(hook.Error())})
	}
	if !s.running {
		out = append(out, check{CondLoop, "reconcile loop not running"})
	}
	if warn > 0 && !s.passStart.IsZero() {
		if took := time.Since(s.passStart); took > warn {
			out = append(out, check{CondPassDuration, fmt.Sprintf("reconcile pass running for %s, longer than %s: a remote or target may hang",
				took.Round(time.Second), warn)})
		}
	}
	names := make([]string, 0, len(s.conds))
	for n := range s.conds {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		out = append(out, check{n, s.conds[n].reason})
	}
	return out
}

// probe writes 200 "ok" when none of the failing conditions is in want
// (nil: all count), and 503 with one line per failing one otherwise.
func probe(w http.ResponseWriter, failing []check, want []string) {
	var lines []string
	for _, c := range failing {
		if want == nil || slices.Contains(want, c.name) {
			lines = append(lines, c.reason)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if len(lines) == 0 {
		fmt.Fprintln(w, "ok")
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

// healthz answers 200 "ok" when every condition holds, and 503 with the
// reason of each failing one otherwise: the loop is not running, the
// running pass is overdue, the last pass failed (and how many in a row),
// the ledger cannot be pushed, the ledger was rewritten.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	probe(w, s.conditions(s.cfg.PassWarn), nil)
}

// readyz answers 200 while the daemon can do its job: the loop runs, the
// last pass succeeded, the ledger can be pushed and was not rewritten.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	probe(w, s.conditions(0), readyConds)
}

// livez answers 200 while the process is alive and its loop is not
// wedged: no pass has run longer than Config.PassWedged. A failing pass
// is not a reason to restart; a wedged one is.
func (s *Server) livez(w http.ResponseWriter, _ *http.Request) {
	var failing []check
	for _, c := range s.conditions(s.cfg.PassWedged) {
		if c.name == CondPassDuration {
			failing = append(failing, c)
		}
	}
	probe(w, failing, nil)
}
