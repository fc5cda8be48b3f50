package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gittest"
	"github.com/cabhq/cab/internal/regtest"
	"github.com/cabhq/cab/ledger"
)

// soakEnv sets the length of TestServeSoak (a Go duration: CAB_SOAK=10m
// is `make soak`); the default is a short run that fits `make test`.
const soakEnv = "CAB_SOAK"

// The secrets planted in the soak: the token cab holds (CAB_GIT_TOKEN, sent
// to the environment repository), a token servers echo back (in error
// bodies of the flapping target, in the ledger remote's refusal, in
// unauthenticated webhook headers) and the webhook secret. None may appear
// in anything cab writes.
const (
	soakHeldToken     = "ghp_S0akHeldT0ken0123456789abcdefghijKL"
	soakEchoedToken   = "ghp_S0akEch0edT0ken987654321zyxwvutsrQP"
	soakWebhookSecret = "soak-webhook-secret-4f9c2a7e"
)

var soakSecrets = []string{soakHeldToken, soakEchoedToken, soakWebhookSecret}

// soakCeiling is the most memory (peak RSS, VmHWM) one life of `cab serve`
// may use in the soak: the flood's ceiling (floodCeiling, webhooks alone,
// with an unencrypted key) plus the 64 MiB that decrypting the soak's
// cosign-format reconciler key takes at start-up (scrypt is memory-hard by
// design; cab serve returns it to the system at once, and the live heap
// stays at 5-12 MiB between passes). The flat check below is what catches
// a leak.
const soakCeiling = floodCeiling + 64<<20

// soakPlan derives every rate and window of the soak from its length, so
// that a long run is the short one for longer.
type soakPlan struct {
	total      time.Duration // storms, ticket batches, ledger refusals
	killUntil  time.Duration // SIGKILLs only in the first half: the second half is one long life, for the memory trend
	batches    int           // each merges and signs one ticket of every kind
	batchEvery time.Duration
	killEvery  [2]time.Duration // a SIGKILL after a random pause in this range
	declineAt  time.Duration    // the ledger remote refuses pushes every declineAt…
	declineMax time.Duration    // …until a pass met the refusal, for at most this long
	flapFor    time.Duration    // each flapping path answers 502/503 this long after its first call
	hangFor    time.Duration    // each hanging path never answers GETs this long after its first call
}

func newSoakPlan(d time.Duration) soakPlan {
	clamp := func(v, lo, hi time.Duration) time.Duration { return max(lo, min(v, hi)) }
	batches := int(max(4, min(40, d/(5*time.Second))))
	return soakPlan{
		total:      d,
		killUntil:  d / 2,
		batches:    batches,
		batchEvery: d / time.Duration(batches),
		killEvery:  [2]time.Duration{clamp(d/40, 2*time.Second, time.Minute), clamp(d/20, 4*time.Second, 2*time.Minute)},
		declineAt:  clamp(d/10, 10*time.Second, time.Minute),
		declineMax: soakPassWarn, // a pass that meets the refusal ends within it
		flapFor:    clamp(d/8, 3*time.Second, 15*time.Second),
		hangFor:    clamp(d/10, 3*time.Second, 10*time.Second),
	}
}

func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv(soakEnv); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "%s=%q: want a duration such as 10m", soakEnv, v)
		require.GreaterOrEqual(t, d, 10*time.Second, "%s: at least 10s", soakEnv)
		return d
	}
	if testing.Short() {
		return 15 * time.Second
	}
	return 30 * time.Second
}

// TestServeSoak runs the cab binary as `cab serve` against real parts on
// loopback — a change repository and an environment repository behind git
// http-backend, an OCI registry, webhook targets — while tickets are merged
// (signed merge commits) and signed (cab sign --forge git) in batches, and
// injects, for CAB_SOAK (default 30s):
//
//   - webhook storms: valid pushes, pings, other branches, bad and missing
//     signatures, oversized and malformed bodies, tokens in headers;
//   - a flapping target: every path answers 502/503 with a new body (a
//     request id, a token) for a while, then works;
//   - a hanging target: GETs accepted and never answered for a while; the
//     first POST of every key applied and its answer never sent;
//   - a ledger remote that declines every push (pre-receive hook, with a
//     token in its message) until serve has met the refusal, then accepts;
//   - SIGKILLs of cab serve at random instants in the first half, each
//     followed by a restart.
//
// Then it lets the work finish and checks: every change applied exactly
// once (registry tag writes, environment repository commits, idempotency
// keys the webhooks applied), every pass ended (no /healthz pass-duration
// condition, passes still ending at the end, a graceful SIGTERM), ledger
// growth bounded (tickets × environments × the events of an outcome, plus
// at most two waits per ticket-environment), memory under a ceiling and
// flat over the long second life, and no secret in any output (logs,
// probes, cab sign/verify/log output, the ledger branch with its
// envelopes decoded, the environment repository).
func TestServeSoak(t *testing.T) {
	for _, tool := range []string{"git", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" || os.Getenv("CAB_REQUIRE_E2E") == "1" {
				t.Fatalf("%s is not installed: run .ci/install-e2e.sh", tool)
			}
			t.Skipf("%s is not installed (.ci/install-e2e.sh installs it)", tool)
		}
	}
	plan := newSoakPlan(soakDuration(t))
	w := newSoakWorld(t, plan)
	s := &soakRun{w: w, plan: plan, logPath: filepath.Join(t.TempDir(), "serve.log")}
	s.run(t)
	s.check(t)
}

// soakKind is what a ticket changes: each kind meets other faults.
type soakKind int

const (
	kindOCI   soakKind = iota // a registry tag
	kindGit                   // a file of the environment repository (CAB_GIT_TOKEN is sent)
	kindFlaky                 // a webhook that flaps
	kindSlow                  // a webhook that hangs
	soakKinds
)

var soakEnvs = []string{"staging", "prod"}

// soakWorld is the change repository, its environments and the keys.
type soakWorld struct {
	cab                                string
	withKey                            bool // this cab's reconciler signs its outcomes (--key)
	dir                                string
	home                               string
	git                                *gittest.Server
	changes                            string // bare change repository (main and the ledger)
	changesURL                         string
	env, envURL                        string // bare environment repository
	declineFlag                        string // exists while the change repository declines pushes
	work                               string // where tickets are merged and cab sign runs
	rc                                 string // cab serve's checkout
	reg                                *regtest.Registry
	image                              string
	hooks                              *soakHooks
	signerKey, reconcilerKey, mergeKey string
	tickets                            []string
	kinds                              map[string]soakKind
}

func newSoakWorld(t *testing.T, plan soakPlan) *soakWorld {
	t.Helper()
	w := &soakWorld{cab: buildCab(t), dir: t.TempDir(), kinds: map[string]soakKind{}}
	w.home = filepath.Join(w.dir, "home")
	require.NoError(t, os.MkdirAll(w.home, 0o755))
	help, _, _ := w.runCab(t, w.dir, "serve", "--help")
	w.withKey = strings.Contains(help, "--key")

	w.signerKey = filepath.Join(w.dir, "signer")
	w.mustCab(t, w.dir, "keygen", "--out", w.signerKey)
	if w.withKey {
		w.reconcilerKey = filepath.Join(w.dir, "reconciler")
		w.mustCab(t, w.dir, "keygen", "--out", w.reconcilerKey)
	}
	w.mergeKey = filepath.Join(w.dir, "maintainer")
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "maintainer", "-f", w.mergeKey).CombinedOutput()
	require.NoError(t, err, "ssh-keygen: %s", out)

	w.reg = regtest.New(t)
	w.image = w.reg.Push(t, "build/app")
	w.hooks = newSoakHooks(t, plan.flapFor, plan.hangFor)
	w.git = gittest.NewServer(t)
	w.changes, w.changesURL = w.git.Bare(t, "changes")
	w.declineFlag = gittest.Decline(t, w.changes, "soak: ledger frozen by policy (token "+soakEchoedToken+")")
	require.NoError(t, os.Remove(w.declineFlag)) // accepting until a window opens
	w.env, w.envURL = w.git.Bare(t, "env")

	// The environment repository: one file per ticket a git ticket may use.
	seed := filepath.Join(w.dir, "seed")
	gittest.Git(t, w.dir, "init", "-q", "-b", "main", seed)
	for _, e := range soakEnvs {
		require.NoError(t, os.MkdirAll(filepath.Join(seed, "clusters", e), 0o755))
		for n := range plan.batches * int(soakKinds) {
			p := filepath.Join(seed, "clusters", e, fmt.Sprintf("app-%d.yaml", n))
			require.NoError(t, os.WriteFile(p, []byte("kind: Deployment\nspec:\n  image: app:old\n"), 0o644))
		}
	}
	gitAs(t, seed, "Dev", "add", "-A")
	gitAs(t, seed, "Dev", "commit", "-q", "-m", "seed")
	gitAs(t, seed, "Dev", "push", "-q", w.envURL, "main")

	// The change repository: cab init, then this soak's cab.cue.
	w.work = filepath.Join(w.dir, "work")
	w.mustCab(t, w.dir, "init", "--repository", "example.com/acme/changes", w.work)
	require.NoError(t, os.WriteFile(filepath.Join(w.work, "cab.cue"), []byte(w.config(t)), 0o644))
	gittest.Git(t, w.work, "init", "-q", "-b", "main")
	gittest.Git(t, w.work, "remote", "add", "origin", w.changesURL)
	gitAs(t, w.work, "Dev", "add", "-A")
	gitAs(t, w.work, "Dev", "commit", "-q", "-m", "change repository")
	gitAs(t, w.work, "Dev", "push", "-q", "origin", "main")
	w.rc = filepath.Join(w.dir, "rc")
	gittest.Git(t, w.dir, "clone", "-q", w.changesURL, w.rc)
	return w
}

// gitAs runs git as Dev (who writes tickets) or the Maintainer (who merges).
func gitAs(t *testing.T, dir, who string, args ...string) string {
	t.Helper()
	id := []string{"-c", "user.name=" + who, "-c", "user.email=" + strings.ToLower(who) + "@example.com"}
	return gittest.Git(t, dir, append(id, args...)...)
}

// config is cab.cue: staging and prod (protected), each with a registry,
// the environment repository and the two webhooks; the signer's key, and
// the reconciler's with the reconcile role when this cab signs outcomes.
// It and serveArgs are the one place that knows about the reconciler key.
func (w *soakWorld) config(t *testing.T) string {
	var targets strings.Builder
	for _, e := range soakEnvs {
		fmt.Fprintf(&targets, `	%[1]s: {
		protected: %[2]t
		targets: {
			images: {type: "oci", registry: "%[3]s/%[1]s", insecure: true}
			deploy: {type: "git", url: "%[4]s", branch: "main", root: "clusters/%[1]s"}
			flaky: {type: "http", url: "%[5]s/flaky/%[1]s"}
			slow: {type: "http", url: "%[5]s/slow/%[1]s"}
		}
	}
`, e, e == "prod", w.reg.Host, w.envURL, w.hooks.URL)
	}
	key := func(name, prefix, roles string) string {
		pub, err := os.ReadFile(prefix + ".pub")
		require.NoError(t, err)
		return fmt.Sprintf("{name: %q, publicKey: \"\"\"\n%s\n\t\"\"\"%s}", name, indent(string(pub)), roles)
	}
	keys := key("ci", w.signerKey, "")
	if w.withKey {
		keys = key("ci", w.signerKey, `, roles: ["sign"]`) + ", " + key("reconciler", w.reconcilerKey, `, roles: ["reconcile"]`)
	}
	mergePub, err := os.ReadFile(w.mergeKey + ".pub")
	require.NoError(t, err)
	return fmt.Sprintf(`apiVersion: "cab.dev/v1"
repository: "example.com/acme/changes"
promotion: ["staging", "prod"]
environments: {
%s}
approvers: app: members: ["git:alice@example.com", "git:bob@example.com"]
services: app: approvers: "app"
keys: [%s]
mergeSigners: [{identity: "git:maintainer@example.com", publicKey: %q}]
`, targets.String(), keys, strings.TrimSpace(string(mergePub)))
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "\t" + l
	}
	return strings.Join(lines, "\n")
}

// serveArgs are the flags of every life of cab serve: short timers, short
// target timeouts (the hanging target), one instance name across restarts
// (a restarted serve resumes its own unfinished applies).
func (w *soakWorld) serveArgs() []string {
	args := []string{"--webhook", "github", "--interval", "500ms", "--instance", "soak",
		"--retries", "2", "--target-timeout", "2s", "--git-timeout", "20s",
		"--check-interval", "100ms", "--check-budget", "5s",
		"--pass-warn", soakPassWarn.String(), "--pass-wedged", (3 * soakPassWarn).String()}
	if w.withKey {
		args = append(args, "--key", "file://"+w.reconcilerKey+".key")
	}
	return args
}

// soakPassWarn is --pass-warn: no pass of the soak may run longer (a hang
// attempt ends after 2s, three attempts a call; a git call after 20s).
const soakPassWarn = time.Minute

// env is the environment of every cab command: no user configuration, the
// token cab holds for the environment repository and the webhook secret.
func (w *soakWorld) cabEnv() []string {
	return []string{"HOME=" + w.home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "CAB_KEY_PASSWORD=",
		"CAB_GIT_TOKEN=" + soakHeldToken, webhookSecretEnv + "=" + soakWebhookSecret}
}

// runCab runs a cab command (bounded) and returns its output and exit code.
func (w *soakWorld) runCab(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.cab, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), w.cabEnv()...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		code = ee.ExitCode()
	default:
		require.NoError(t, err, "cab %s: %s%s", strings.Join(args, " "), out.String(), errb.String())
	}
	return out.String(), errb.String(), code
}

func (w *soakWorld) mustCab(t *testing.T, dir string, args ...string) string {
	t.Helper()
	stdout, stderr, code := w.runCab(t, dir, args...)
	require.Zero(t, code, "cab %s failed:\n%s%s", strings.Join(args, " "), stdout, stderr)
	return stdout + stderr
}

// ticket is the source of ticket n: a low-risk change of service app in
// a window open now, with pre- and postchecks and automatic rollback.
func (w *soakWorld) ticket(id string, n int, k soakKind) string {
	var action string
	switch k {
	case kindOCI:
		action = fmt.Sprintf(`{type: "oci", target: "images", image: %q, repository: "app", tag: "t%d"}`, w.image, n)
	case kindGit:
		action = fmt.Sprintf(`{type: "git", target: "deploy", file: "app-%d.yaml", set: {path: ".spec.image", value: "app:%d"}}`, n, n)
	case kindFlaky:
		action = fmt.Sprintf(`{type: "http", target: "flaky", path: "/flags/t%d", body: {enabled: true}}`, n)
	case kindSlow:
		action = fmt.Sprintf(`{type: "http", target: "slow", path: "/jobs/t%d", body: {run: "%d"}}`, n, n)
	}
	now := time.Now().UTC().Truncate(time.Second)
	check := fmt.Sprintf(`[{type: "http", url: %q, expectStatus: 200}]`, w.hooks.URL+"/health")
	return fmt.Sprintf(`apiVersion: "cab.dev/v1"
id:          %q
title:       "Soak change %d"
kind:        "normal"
risk:        "low"
owner:       "team-app"
service:     "app"
environments: ["staging", "prod"]
window: {start: %q, end: %q}
actions: [%s]
prechecks: %s
postchecks: %s
rollback: auto: true
`, id, n, now.Add(-time.Hour).Format(time.RFC3339), now.Add(6*time.Hour).Format(time.RFC3339), action, check, check)
}

// mergeAndSign opens a pull request adding one ticket of each kind
// (written by Dev), merges it with a merge commit the maintainer signs with
// Alice's and Bob's approvals, pushes main and runs cab sign.
func (w *soakWorld) mergeAndSign(t *testing.T, batch int) string {
	t.Helper()
	branch := fmt.Sprintf("pr-%d", batch)
	gittest.Git(t, w.work, "checkout", "-q", "-b", branch, "main")
	for k := range soakKinds {
		n := batch*int(soakKinds) + int(k)
		id := fmt.Sprintf("CHG-2026-%04d", n+1)
		p := filepath.Join(w.work, "changes", "app", id+".cue")
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(w.ticket(id, n, k)), 0o644))
		w.tickets = append(w.tickets, id)
		w.kinds[id] = k
	}
	gitAs(t, w.work, "Dev", "add", "changes")
	gitAs(t, w.work, "Dev", "commit", "-q", "-m", "add batch "+strconv.Itoa(batch))
	gittest.Git(t, w.work, "checkout", "-q", "main")
	gitAs(t, w.work, "Maintainer", "-c", "gpg.format=ssh", "-c", "user.signingkey="+w.mergeKey,
		"merge", "-q", "--no-ff", "-S", branch, "-m", "Merge "+branch,
		"-m", "Approved-by: Alice <alice@example.com>\nApproved-by: Bob <bob@example.com>")
	gittest.Git(t, w.work, "push", "-q", "origin", "main")
	return w.mustCab(t, w.work, "sign", "--key", "file://"+w.signerKey+".key", "--forge", "git")
}

// soakHooks serves the two webhook targets (the package doc of
// reconcile/target/http is their protocol) and /health for the checks.
type soakHooks struct {
	URL     string
	flapFor time.Duration
	hangFor time.Duration
	closing chan struct{}

	mu    sync.Mutex
	paths map[string]*hookPath
	// applied: "ticket/env" → the distinct idempotency keys applied.
	applied             map[string][]string
	flapped, hung, lost atomic.Int64
}

type hookPath struct {
	first   time.Time
	state   *string
	applied []string
}

func newSoakHooks(t *testing.T, flapFor, hangFor time.Duration) *soakHooks {
	h := &soakHooks{flapFor: flapFor, hangFor: hangFor, closing: make(chan struct{}),
		paths: map[string]*hookPath{}, applied: map[string][]string{}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(h.closing) }) // before Close: hanging handlers return
	h.URL = srv.URL
	return h
}

func (h *soakHooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" {
		fmt.Fprintln(w, "ok")
		return
	}
	kind, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	h.mu.Lock()
	p := h.paths[r.URL.Path]
	if p == nil {
		p = &hookPath{first: time.Now()}
		h.paths[r.URL.Path] = p
	}
	age := time.Since(p.first)
	h.mu.Unlock()

	switch {
	case kind == "flaky" && age < h.flapFor:
		n := h.flapped.Add(1)
		status := []int{http.StatusBadGateway, http.StatusServiceUnavailable}[n%2]
		http.Error(w, fmt.Sprintf("upstream unavailable (request id %016x, attempt %d) Authorization: Bearer %s",
			rand.Uint64(), n, soakEchoedToken), status)
		return
	case kind == "slow" && r.Method == http.MethodGet && age < h.hangFor:
		h.hung.Add(1)
		h.hang(r)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	h.mu.Lock()
	if r.Method == http.MethodGet {
		obs := struct {
			State   *string  `json:"state"`
			Applied []string `json:"applied"`
		}{p.state, p.applied}
		h.mu.Unlock()
		if obs.State == nil && len(obs.Applied) == 0 {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(obs)
		return
	}
	if slices.Contains(p.applied, key) {
		h.mu.Unlock()
		fmt.Fprintln(w, `{"replayed": true}`)
		return
	}
	p.applied = append(p.applied, key)
	if r.Header.Get("X-Cab-Rollback") == "true" {
		var rb struct{ Restore *string }
		_ = json.Unmarshal(body, &rb)
		p.state = rb.Restore
	} else {
		v := "on:" + key
		p.state = &v
		te := r.Header.Get("X-Cab-Ticket") + "/" + r.Header.Get("X-Cab-Env")
		h.applied[te] = append(h.applied[te], key)
	}
	h.mu.Unlock()
	if kind == "slow" {
		// Applied, and the answer lost: cab must retry with the same key.
		h.lost.Add(1)
		h.hang(r)
		return
	}
	fmt.Fprintln(w, `{"applied": true}`)
}

// hang holds the request unanswered until the client gives up.
func (h *soakHooks) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-h.closing:
	}
}

// keys returns the distinct keys applied for ticket in env.
func (h *soakHooks) keys(ticket, env string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.applied[ticket+"/"+env])
}

// soakRun is one soak: the lives of cab serve and what was seen of them.
type soakRun struct {
	w       *soakWorld
	plan    soakPlan
	logPath string

	mu      sync.Mutex
	logFile *os.File
	proc    *process
	life    int
	leaks   []string // where a secret was seen
	samples []memSample
	lifeHWM []int64
	outputs []string // cab sign/verify/log output, scanned at the end

	addr         atomic.Pointer[string]
	passes       atomic.Int64 // passes ended, all lives
	passesFailed atomic.Int64
	maxPass      atomic.Int64 // longest pass logged, in ns
	refusals     atomic.Int64 // passes that met the ledger remote's refusal
	lifePasses   atomic.Int64 // passes ended in the current life
	stopped      atomic.Bool  // the last life logged "stopped"

	kills, windows, windowsRefused int
	storm                          stormStats
	health                         healthStats
	startedAt                      time.Time
	soakEnd, settled               time.Duration
}

type memSample struct {
	at       time.Duration
	life     int
	rss, hwm int64
}

// onLine sees every line a life of cab serve prints.
func (s *soakRun) onLine(line string) {
	s.scan("cab serve output", line)
	s.mu.Lock()
	if s.logFile != nil {
		fmt.Fprintln(s.logFile, line)
	}
	s.mu.Unlock()
	var rec struct {
		Msg      string `json:"msg"`
		Duration int64  `json:"duration"`
		Err      string `json:"err"`
	}
	if json.Unmarshal([]byte(line), &rec) != nil {
		return
	}
	switch rec.Msg {
	case "reconcile pass failed":
		s.passesFailed.Add(1)
		if strings.Contains(rec.Err, "ledger frozen") {
			s.refusals.Add(1)
		}
		fallthrough
	case "reconcile pass":
		s.passes.Add(1)
		s.lifePasses.Add(1)
		for {
			m := s.maxPass.Load()
			if rec.Duration <= m || s.maxPass.CompareAndSwap(m, rec.Duration) {
				break
			}
		}
	case "stopped":
		s.stopped.Store(true)
	}
}

// scan records where a planted secret appears in text.
func (s *soakRun) scan(where, text string) {
	for _, sec := range soakSecrets {
		if strings.Contains(text, sec) {
			s.mu.Lock()
			if len(s.leaks) < 20 {
				s.leaks = append(s.leaks, fmt.Sprintf("%s: %.300s", where, text))
			}
			s.mu.Unlock()
		}
	}
}

func (s *soakRun) start(t *testing.T) {
	t.Helper()
	s.lifePasses.Store(0)
	p := startProcessLines(t, s.w.rc, s.w.cabEnv(), s.onLine, s.w.serveArgs()...)
	s.mu.Lock()
	s.proc, s.life = p, s.life+1
	s.mu.Unlock()
	addr := "http://" + p.addr
	s.addr.Store(&addr)
}

// kill SIGKILLs the running life and records its peak memory.
func (s *soakRun) kill(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if hwm, err := procStatus(p.cmd.Process.Pid, "VmHWM"); err == nil {
		s.mu.Lock()
		s.lifeHWM = append(s.lifeHWM, hwm)
		s.mu.Unlock()
	}
	p.kill()
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	require.True(t, ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL, "cab serve ended before it was killed: %v\n%s", p.cmd.ProcessState, tail(p.log(), 40))
	s.kills++
}

func (s *soakRun) run(t *testing.T) {
	f, err := os.Create(s.logPath)
	require.NoError(t, err)
	s.logFile = f
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		_ = s.logFile.Close()
		s.logFile = nil
	})

	s.startedAt = time.Now()
	s.start(t)
	ctx, stopBackground := context.WithCancel(t.Context())
	var bg sync.WaitGroup
	bg.Go(func() { s.sample(ctx) })
	bg.Go(func() { s.probe(ctx) })
	for i := range 6 {
		bg.Go(func() { s.stormWorker(ctx, i) })
	}
	defer func() { stopBackground(); bg.Wait() }()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13))
	pause := func(r [2]time.Duration) time.Duration { return r[0] + time.Duration(rng.Int64N(int64(r[1]-r[0])+1)) }
	since := func() time.Duration { return time.Since(s.startedAt) }
	nextBatch, nextKill, nextDecline := time.Duration(0), pause(s.plan.killEvery), s.plan.declineAt
	batch := 0
	var declining bool
	var declineFrom time.Duration
	var refusalsBefore int64
	// Bounded: every step moves time on, and the loop ends once the
	// soak's length has passed, every batch is signed and the remote
	// accepts again (a window lasts at most declineMax).
	for since() < s.plan.total || batch < s.plan.batches || declining {
		now := since()
		switch {
		case now < s.plan.killUntil && now >= nextKill:
			s.kill(t)
			s.start(t)
			nextKill = since() + pause(s.plan.killEvery)
		case declining && (s.refusals.Load() > refusalsBefore && now-declineFrom >= time.Second || now-declineFrom >= s.plan.declineMax):
			require.NoError(t, os.Remove(s.w.declineFlag))
			declining = false
			s.windows++
			if s.refusals.Load() > refusalsBefore {
				s.windowsRefused++
			}
		case !declining && batch < s.plan.batches && now >= nextBatch:
			s.outputs = append(s.outputs, s.w.mergeAndSign(t, batch))
			batch++
			nextBatch += s.plan.batchEvery
		case !declining && now >= nextDecline && now < s.plan.total:
			// Right after a batch, so that serve has something to record.
			require.NoError(t, os.WriteFile(s.w.declineFlag, nil, 0o644))
			declining, declineFrom, refusalsBefore = true, now, s.refusals.Load()
			nextDecline += s.plan.declineAt
		default:
			time.Sleep(100 * time.Millisecond)
		}
	}
	s.soakEnd = since()
	stopBackground() // the storm ends; probes and samples end with it
	bg.Wait()
	s.settle(t)
}

// settle waits until every ticket is verified in every environment,
// failing when the ledger stops moving for longer than any fault lasts.
func (s *soakRun) settle(t *testing.T) {
	stall := 3*soakPassWarn + s.plan.flapFor + s.plan.hangFor
	last, lastMove := "", time.Now()
	for i := 0; ; i++ {
		require.Less(t, i, 100000, "settling never ended")
		head := gittest.Git(t, s.w.changes, "rev-parse", "refs/heads/"+ledger.DefaultBranch)
		if head != last {
			last, lastMove = head, time.Now()
		}
		if s.pending(t) == 0 {
			break
		}
		if time.Since(lastMove) > stall {
			t.Fatalf("the ledger has not moved for %s with %d ticket-environments unfinished: %v\nlast lines of cab serve:\n%s",
				stall, s.pending(t), s.states(t), tail(s.current().log(), 60))
		}
		time.Sleep(500 * time.Millisecond)
	}
	s.settled = time.Since(s.startedAt)
}

func (s *soakRun) current() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// events reads the change repository's ledger branch: per ticket, its
// events as "env:kind" ("kind" for ticket-wide events).
func (s *soakRun) events(t *testing.T) (map[string][]string, *ledger.Log) {
	repo, err := gogit.PlainOpen(s.w.changes)
	require.NoError(t, err)
	log, err := ledger.Open(repo, "", "").Read(t.Context())
	require.NoError(t, err)
	out := map[string][]string{}
	for _, ev := range log.Events() {
		k := ev.Kind
		if ev.Env != "" {
			k = ev.Env + ":" + k
		}
		out[ev.Ticket] = append(out[ev.Ticket], k)
	}
	return out, log
}

// pending counts the ticket-environments not verified yet.
func (s *soakRun) pending(t *testing.T) int {
	ev, _ := s.events(t)
	n := 0
	for _, id := range s.w.tickets {
		for _, e := range soakEnvs {
			if !slices.Contains(ev[id], e+":"+ledger.KindVerified) {
				n++
			}
		}
	}
	return n
}

func (s *soakRun) states(t *testing.T) map[string]string {
	_, log := s.events(t)
	out := map[string]string{}
	for _, id := range s.w.tickets {
		st := log.State(id)
		out[id] = fmt.Sprint(st.Status, st.Envs)
	}
	return out
}

// sample reads the memory of the running life twice a second.
func (s *soakRun) sample(ctx context.Context) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.mu.Lock()
		p, life := s.proc, s.life
		s.mu.Unlock()
		rss, err1 := procStatus(p.cmd.Process.Pid, "VmRSS")
		hwm, err2 := procStatus(p.cmd.Process.Pid, "VmHWM")
		if err1 != nil || err2 != nil {
			continue // between a kill and the restart
		}
		s.mu.Lock()
		s.samples = append(s.samples, memSample{at: time.Since(s.startedAt), life: life, rss: rss, hwm: hwm})
		s.mu.Unlock()
	}
}

// healthStats is what the probes saw.
type healthStats struct {
	mu                      sync.Mutex
	probes, down            int
	byStatus                map[string]int
	ledgerCond, passOverdue int
	livezFailed             int
	lastHealthz             string
}

// probe polls /healthz and /livez (and /metrics now and then) of the
// running life.
func (s *soakRun) probe(ctx context.Context) {
	client := &http.Client{Timeout: 10 * time.Second}
	s.health.byStatus = map[string]int{}
	for i := 0; ctx.Err() == nil; i++ {
		base := *s.addr.Load()
		paths := []string{"/healthz", "/livez"}
		if i%8 == 0 {
			paths = append(paths, "/metrics")
		}
		for _, path := range paths {
			body, code, err := get(ctx, client, base+path)
			s.health.mu.Lock()
			s.health.probes++
			switch {
			case err != nil:
				s.health.down++
			default:
				s.health.byStatus[fmt.Sprintf("%s %d", path, code)]++
				s.scan(path, body)
				if path == "/healthz" {
					s.health.lastHealthz = body
					if strings.Contains(body, "ledger cannot be pushed") {
						s.health.ledgerCond++
					}
					if strings.Contains(body, "reconcile pass running for") {
						s.health.passOverdue++
					}
				}
				if path == "/livez" && code != http.StatusOK {
					s.health.livezFailed++
				}
			}
			s.health.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func get(ctx context.Context, c *http.Client, url string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return string(b), resp.StatusCode, err
}

// stormStats counts the storm's deliveries by kind and answer.
type stormStats struct {
	mu      sync.Mutex
	answers map[string]map[int]int // kind → status → count (0: no answer)
	sent    int
}

// A storm delivery: what it sends and which answers it may get (503 when
// the body slots are taken, which any delivery may meet).
type delivery struct {
	name    string
	event   string
	body    []byte
	sign    bool // a valid signature
	badSig  bool
	declare int64 // a Content-Length far over the limit
	allowed []int
}

var stormKinds = []delivery{
	{name: "push main", event: "push", body: []byte(`{"ref":"refs/heads/main","after":"1111111111111111111111111111111111111111"}`), sign: true, allowed: []int{202}},
	{name: "push other branch", event: "push", body: []byte(`{"ref":"refs/heads/feature","after":"2222222222222222222222222222222222222222"}`), sign: true, allowed: []int{202}},
	{name: "ping", event: "ping", body: []byte(`{"zen":"soak"}`), sign: true, allowed: []int{200}},
	{name: "malformed", event: "push", body: []byte(`{"ref": [`), sign: true, allowed: []int{400}},
	{name: "bad signature", event: "push", body: []byte(`{"ref":"refs/heads/main","after":"3333333333333333333333333333333333333333"}`), badSig: true, allowed: []int{401}},
	{name: "unsigned", event: "push", body: []byte(`{"ref":"refs/heads/main"}`), allowed: []int{401}},
	{name: "oversized", event: "push", body: []byte(`{}`), badSig: true, declare: 64 << 20, allowed: []int{413}},
}

func (s *soakRun) stormWorker(ctx context.Context, w int) {
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	for i := w; ctx.Err() == nil; i += 6 {
		d := stormKinds[i%len(stormKinds)]
		code := s.deliver(ctx, client, d, i)
		if ctx.Err() != nil {
			return
		}
		s.storm.mu.Lock()
		if s.storm.answers == nil {
			s.storm.answers = map[string]map[int]int{}
		}
		if s.storm.answers[d.name] == nil {
			s.storm.answers[d.name] = map[int]int{}
		}
		s.storm.answers[d.name][code]++
		s.storm.sent++
		s.storm.mu.Unlock()
		time.Sleep(15 * time.Millisecond)
	}
}

// deliver posts one delivery to the running life; 0 when nothing answered
// (the life was being killed).
func (s *soakRun) deliver(ctx context.Context, c *http.Client, d delivery, i int) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *s.addr.Load()+"/webhook/github", bytes.NewReader(d.body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", d.event)
	mac := hmac.New(sha256.New, []byte(soakWebhookSecret))
	mac.Write(d.body)
	sig := mac.Sum(nil)
	switch {
	case d.sign:
		req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("soak-%d", i))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(sig))
	case d.badSig:
		// Unauthenticated requests carrying a token where a log may show it.
		req.Header.Set("X-GitHub-Delivery", soakEchoedToken)
		sig[0] ^= 0xff
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(sig))
	default:
		req.Header.Set("X-GitHub-Delivery", "token="+soakEchoedToken)
	}
	if d.declare > 0 {
		req.ContentLength = d.declare
		req.Body = io.NopCloser(io.LimitReader(neverEnding{}, d.declare))
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	s.scan("webhook answer", string(b))
	return resp.StatusCode
}

// check asserts what the soak promises.
func (s *soakRun) check(t *testing.T) {
	p := s.current()
	base := *s.addr.Load()
	client := &http.Client{Timeout: 10 * time.Second}

	// Every pass ended: passes keep ending after the work is done, and
	// the last one succeeded (bounded by progress, not a clock).
	passesAtSettle := s.lifePasses.Load()
	var healthz string
	var code int
	deadline := time.Now().Add(3 * soakPassWarn)
	for time.Now().Before(deadline) {
		var err error
		healthz, code, err = get(t.Context(), client, base+"/healthz")
		if err == nil && code == http.StatusOK && s.lifePasses.Load() >= passesAtSettle+2 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	assert.Equal(t, http.StatusOK, code, "/healthz at the end: %s", healthz)
	assert.GreaterOrEqual(t, s.lifePasses.Load(), passesAtSettle+2, "passes still end once the work is done")
	metrics, code, err := get(t.Context(), client, base+"/metrics")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	s.scan("/metrics", metrics)
	passesTotal := soakMetric(metrics, "cab_reconcile_passes_total")
	assert.Positive(t, passesTotal, "cab_reconcile_passes_total of the last life")
	hwm, err := procStatus(p.cmd.Process.Pid, "VmHWM")
	require.NoError(t, err)
	s.lifeHWM = append(s.lifeHWM, hwm)
	// A graceful stop: SIGTERM ends the last life at once (no pass is
	// left running).
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(2 * soakPassWarn):
		t.Fatalf("cab serve did not stop on SIGTERM:\n%s", tail(p.log(), 40))
	}
	require.NoError(t, p.cmd.Wait(), "cab serve's exit on SIGTERM:\n%s", tail(p.log(), 40))
	assert.True(t, s.stopped.Load(), "cab serve logged that it stopped")

	// Every change applied exactly once, on every kind of target.
	envCommits := map[string]int{}
	for _, l := range strings.Split(gittest.Git(t, s.w.env, "log", "--format=%(trailers:key=Cab-Ticket,valueonly,separator=)/%(trailers:key=Cab-Env,valueonly,separator=)", "main"), "\n") {
		envCommits[strings.TrimSpace(l)]++
	}
	for i, id := range s.w.tickets {
		for _, e := range soakEnvs {
			switch s.w.kinds[id] {
			case kindOCI:
				assert.Equal(t, 1, s.w.reg.Puts(fmt.Sprintf("%s/app:t%d", e, i)), "%s in %s: tag writes", id, e)
			case kindGit:
				assert.Equal(t, 1, envCommits[id+"/"+e], "%s in %s: environment repository commits", id, e)
			default:
				assert.Len(t, s.w.hooks.keys(id, e), 1, "%s in %s: idempotency keys the webhook applied", id, e)
			}
		}
	}

	// Ledger growth bounded: the events of each outcome, and at most two
	// waits (one per stable cause: the flapping or hanging target) per
	// ticket-environment and per ticket (a merge commit signed before the
	// pass fetched it), whatever the number of passes, error texts,
	// refusals and restarts.
	events, log := s.events(t)
	const maxWaits = 2
	want := []string{ledger.KindSigned}
	for _, e := range soakEnvs {
		want = append(want, e+":"+ledger.KindApplying, e+":"+ledger.KindApplied, e+":"+ledger.KindVerified)
	}
	waits := 0
	for _, id := range s.w.tickets {
		var outcome []string
		perEnv := map[string]int{} // "" for ticket-wide waits (a merge commit not fetched yet)
		for _, k := range events[id] {
			if k == ledger.KindScheduled || strings.HasSuffix(k, ":"+ledger.KindScheduled) {
				perEnv[strings.TrimSuffix(strings.TrimSuffix(k, ledger.KindScheduled), ":")]++
				waits++
				continue
			}
			outcome = append(outcome, k)
		}
		assert.Equal(t, want, outcome, "%s: the events of a change applied once in each environment", id)
		for env, n := range perEnv {
			assert.LessOrEqual(t, n, maxWaits, "%s in %s: waits recorded", id, env)
		}
	}
	bound := len(s.w.tickets) * (1 + maxWaits + len(soakEnvs)*(3+maxWaits))
	assert.LessOrEqual(t, len(log.Events()), bound, "ledger events (bound: tickets × (signed + %[1]d waits + environments × (3 outcome events + %[1]d waits)))", maxWaits)
	ledgerCommits := gittest.Git(t, s.w.changes, "rev-list", "--count", "refs/heads/"+ledger.DefaultBranch)

	// Faults met and survived.
	assert.GreaterOrEqual(t, s.kills, 2, "SIGKILLs")
	assert.Positive(t, s.windows, "windows in which the ledger remote declined pushes")
	assert.Positive(t, s.windowsRefused, "windows in which serve met the refusal")
	assert.Positive(t, s.w.hooks.flapped.Load(), "502/503 answers of the flapping target")
	assert.Positive(t, s.w.hooks.hung.Load(), "calls the hanging target never answered")
	assert.Positive(t, s.w.hooks.lost.Load(), "applies whose answer was lost")

	// Every pass ended within --pass-warn, and no probe saw one overdue.
	s.health.mu.Lock()
	assert.Zero(t, s.health.passOverdue, "/healthz reported a pass running longer than %s", soakPassWarn)
	assert.Zero(t, s.health.livezFailed, "/livez failed")
	assert.Positive(t, s.health.byStatus["/healthz 200"], "/healthz answered ok at times")
	s.health.mu.Unlock()
	assert.Less(t, time.Duration(s.maxPass.Load()), soakPassWarn, "longest pass")

	// The storm: every delivery got one of its answers, or none while a
	// life was being killed, or 503 while the body slots were taken.
	s.storm.mu.Lock()
	for _, d := range stormKinds {
		got := s.storm.answers[d.name]
		for code, n := range got {
			assert.Contains(t, append([]int{0, http.StatusServiceUnavailable}, d.allowed...), code, "%s: %d answered %d", d.name, n, code)
		}
		assert.Positive(t, got[d.allowed[0]], "%s answered %d at least once: %v", d.name, d.allowed[0], got)
	}
	s.storm.mu.Unlock()

	// Memory: every life under the ceiling; the long last life flat (its
	// last third no higher than its first third, plus a margin for the
	// heap's own breathing).
	s.mu.Lock()
	samples := slices.Clone(s.samples)
	lifeHWM := slices.Clone(s.lifeHWM)
	s.mu.Unlock()
	peak := slices.Max(lifeHWM)
	assert.Less(t, peak, int64(soakCeiling), "peak RSS of a life of cab serve")
	var last []memSample
	for _, m := range samples {
		if m.life == s.life && m.at >= s.plan.killUntil {
			last = append(last, m)
		}
	}
	first, final := int64(0), int64(0)
	if assert.GreaterOrEqual(t, len(last), 9, "memory samples of the last life under the storm") {
		third := len(last) / 3
		for _, m := range last[:third] {
			first = max(first, m.rss)
		}
		for _, m := range last[len(last)-third:] {
			final = max(final, m.rss)
		}
		assert.LessOrEqual(t, final, first+max(first/4, 16<<20), "RSS of the last life: highest in its last third vs its first third")
	}

	// No secret anywhere: serve's output (scanned as it came), probes and
	// webhook answers (scanned), cab's own commands, the ledger with its
	// envelopes decoded, the environment repository.
	verify := s.w.mustCab(t, s.w.work, "verify")
	logOut := s.w.mustCab(t, s.w.work, "log", "--format", "json")
	for _, out := range append(s.outputs, verify, logOut) {
		s.scan("cab command output", out)
	}
	s.scanRepo(t, "ledger", s.w.changes, "refs/heads/"+ledger.DefaultBranch)
	s.scanRepo(t, "environment repository", s.w.env, "main")
	s.mu.Lock()
	assert.Empty(t, s.leaks, "secrets in the output")
	s.mu.Unlock()

	s.storm.mu.Lock()
	s.health.mu.Lock()
	t.Logf("SOAK %s (settled at %s), load average %s: %d tickets × %d environments; %d SIGKILLs, %d lives; "+
		"%d webhook deliveries %v; ledger remote declined in %d window(s), met in %d (%d refused passes); "+
		"flapping target 502/503 ×%d, hanging target unanswered ×%d, answers lost after apply ×%d; "+
		"%d passes ended (%d failed; longest %s; last life %g); ledger: %d events (%d waits; bound %d), %s commits; "+
		"peak RSS %d MiB (ceiling %d MiB); last life RSS first third ≤%d MiB, last third ≤%d MiB; probes %v",
		s.soakEnd.Round(time.Second), s.settled.Round(time.Second), loadAvg(), len(s.w.tickets), len(soakEnvs), s.kills, s.life,
		s.storm.sent, s.storm.answers, s.windows, s.windowsRefused, s.refusals.Load(),
		s.w.hooks.flapped.Load(), s.w.hooks.hung.Load(), s.w.hooks.lost.Load(),
		s.passes.Load(), s.passesFailed.Load(), time.Duration(s.maxPass.Load()).Round(time.Millisecond), passesTotal,
		len(log.Events()), waits, bound, ledgerCommits, peak>>20, soakCeiling>>20, first>>20, final>>20, s.health.byStatus)
	s.health.mu.Unlock()
	s.storm.mu.Unlock()
}

// payloadRE finds the base64 payloads of DSSE envelopes.
var payloadRE = regexp.MustCompile(`"payload"\s*:\s*"([A-Za-z0-9+/=]+)"`)

// scanRepo scans every commit message and every blob version reachable
// from ref of the bare repository dir, decoding envelope payloads.
func (s *soakRun) scanRepo(t *testing.T, what, dir, ref string) {
	text := gittest.Git(t, dir, "log", "-p", "--format=%B", ref)
	s.scan(what, text)
	for _, m := range payloadRE.FindAllStringSubmatch(text, -1) {
		if b, err := base64.StdEncoding.DecodeString(m[1]); err == nil {
			s.scan(what+" (envelope payload)", string(b))
		}
	}
}

// soakMetric returns the value of an unlabelled metric (0 when absent).
func soakMetric(text, name string) float64 {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
