//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/ledger"
)

// debug (E2E_DEBUG=1) logs every command the tests run with its duration,
// and cab reconcile's debug logs.
var debug = os.Getenv("E2E_DEBUG") != ""

// cmdTimeout bounds every command a test runs.
const cmdTimeout = 90 * time.Second

// gitEnv are the identities of the people in the tests: Dev writes the
// tickets, a maintainer merges them with Alice's and Bob's approvals.
var gitEnv = []string{
	"GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com",
	"GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com",
}

// runIn runs a command in dir (bounded) and returns its stdout; it fails
// the test when the command fails.
func runIn(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	stdout, stderr, code := try(t, dir, env, name, args...)
	require.Zero(t, code, "%s %s failed:\n%s%s", name, strings.Join(args, " "), stdout, stderr)
	return stdout
}

// try runs a command in dir (bounded) and returns its output and exit
// code.
func try(t *testing.T, dir string, env []string, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = commandEnv(env)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	if debug {
		t.Logf("%s: %s %s", time.Since(start).Round(time.Millisecond), name, strings.Join(args, " "))
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		code = ee.ExitCode()
	default:
		require.NoError(t, err, "%s %s: %s%s", name, strings.Join(args, " "), out.String(), errb.String())
	}
	return out.String(), errb.String(), code
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return strings.TrimSpace(runIn(t, dir, gitEnv, "git", args...))
}

// gitServer serves the bare repositories under root over smart HTTP: git
// http-backend behind net/http/cgi, pushes allowed.
type gitServer struct {
	root string
	url  string
}

func newGitServer(t *testing.T) *gitServer {
	t.Helper()
	execPath := git(t, t.TempDir(), "--exec-path")
	root := t.TempDir()
	srv := httptest.NewServer(&cgi.Handler{
		Path:   filepath.Join(execPath, "git-http-backend"),
		Stderr: io.Discard,
		Env:    []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + root},
	})
	t.Cleanup(srv.Close)
	return &gitServer{root: root, url: srv.URL}
}

// bare creates an empty bare repository name.git that accepts pushes and
// returns its directory and URL.
func (s *gitServer) bare(t *testing.T, name string) (dir, url string) {
	t.Helper()
	dir = filepath.Join(s.root, name+".git")
	git(t, s.root, "init", "-q", "--bare", "-b", "main", dir)
	git(t, dir, "config", "http.receivepack", "true")
	return dir, s.url + "/" + name + ".git"
}

// appYAML is an environment's deployment in the environment repository.
func appYAML(image string) string {
	return fmt.Sprintf(`# deployed by Argo CD from this repository
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 2
  image: %s
`, image)
}

// world is one test's change repository, environment repository and
// registry, and the cab commands that act on them.
type world struct {
	t *testing.T
	// reg is the test's proxy to the registry.
	reg *proxy
	git *gitServer
	// changes is the bare change repository (the remote of work and rc).
	changes, changesURL string
	// env is the bare environment repository.
	env, envURL string
	// work is where tickets are written and merged and cab sign runs.
	work string
	// rc is the reconciler's checkout.
	rc string
	// prs counts the pull requests merged.
	prs int
}

// newWorld sets up a change repository scaffolded by cab init, with a
// cab.cue whose staging and prod (protected) environments each have an oci
// target (images) and a git target (deploy, clusters/<env> of the
// environment repository), trusting suite.key.
func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldWith(t, "")
}

// newWorldWith is newWorld with extra appended to its cab.cue.
func newWorldWith(t *testing.T, extra string) *world {
	t.Helper()
	ns := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"))
	w := &world{t: t, reg: newProxy(t, strings.Trim(ns, "-")), git: newGitServer(t)}
	w.changes, w.changesURL = w.git.bare(t, "changes")
	w.env, w.envURL = w.git.bare(t, "env")

	// The environment repository: one deployment per environment.
	seed := t.TempDir()
	git(t, seed, "init", "-q", "-b", "main")
	for _, e := range []string{"staging", "prod"} {
		p := filepath.Join(seed, "clusters", e, "app.yaml")
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(appYAML("app:old")), 0o644))
	}
	git(t, seed, "add", "-A")
	git(t, seed, "commit", "-q", "-m", "seed")
	git(t, seed, "push", "-q", w.envURL, "main")

	// The change repository: cab init, then our cab.cue.
	w.work = filepath.Join(t.TempDir(), "work")
	runIn(t, "", nil, suite.cab, "init", "--repository", "example.com/acme/changes", w.work)
	require.NoError(t, os.WriteFile(filepath.Join(w.work, "cab.cue"), []byte(w.config()+extra), 0o644))
	git(t, w.work, "init", "-q", "-b", "main")
	git(t, w.work, "remote", "add", "origin", w.changesURL)
	git(t, w.work, "add", "-A")
	git(t, w.work, "commit", "-q", "-m", "change repository")
	git(t, w.work, "push", "-q", "origin", "main")

	w.rc = filepath.Join(t.TempDir(), "rc")
	git(t, "", "clone", "-q", w.changesURL, w.rc)
	return w
}

func (w *world) config() string {
	pub, err := os.ReadFile(suite.key + ".pub")
	require.NoError(w.t, err)
	mergePub, err := os.ReadFile(suite.mergeKey + ".pub")
	require.NoError(w.t, err)
	var target strings.Builder
	for _, e := range []string{"staging", "prod"} {
		fmt.Fprintf(&target, `	%[1]s: {
		protected: %[4]t
		targets: {
			images: {type: "oci", registry: "%[2]s/%[1]s", insecure: true}
			deploy: {type: "git", url: "%[3]s", branch: "main", root: "clusters/%[1]s"}
		}
	}
`, e, w.reg.host+"/"+w.reg.ns, w.envURL, e == "prod")
	}
	return fmt.Sprintf(`apiVersion: "cab.dev/v1"
repository: "example.com/acme/changes"
promotion: ["staging", "prod"]
environments: {
%s}
approvers: app: members: ["git:alice@example.com", "git:bob@example.com"]
services: app: approvers: "app"
keys: [{name: "ci", roles: ["sign", "reconcile"], publicKey: """
%s
	"""}]
mergeSigners: [{identity: "git:maintainer@example.com", publicKey: %q}]
`, target.String(), indent(string(pub)), strings.TrimSpace(string(mergePub)))
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "\t" + l
	}
	return strings.Join(lines, "\n")
}

// ticket describes a ticket for source.
type ticket struct {
	id   string
	envs []string // default staging, prod
	// actions, prechecks and postchecks are CUE lists' elements.
	actions   []string
	prechecks []string
	// postchecks default to the healthy precheck when nil.
	postchecks []string
	dependsOn  []string
}

// source is the ticket file: a low-risk normal change of service app in
// a window open now, with automatic rollback.
func (tk ticket) source() string {
	envs := tk.envs
	if len(envs) == 0 {
		envs = []string{"staging", "prod"}
	}
	now := time.Now().UTC().Truncate(time.Second)
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: "cab.dev/v1"
id:          %q
title:       "Promote app for %s"
kind:        "normal"
risk:        "low"
owner:       "team-app"
service:     "app"
environments: [%s]
window: {start: %q, end: %q}
`, tk.id, tk.id, quoteAll(envs), now.Add(-time.Hour).Format(time.RFC3339), now.Add(3*time.Hour).Format(time.RFC3339))
	if len(tk.dependsOn) > 0 {
		fmt.Fprintf(&b, "dependsOn: [%s]\n", quoteAll(tk.dependsOn))
	}
	fmt.Fprintf(&b, "actions: [\n\t%s,\n]\n", strings.Join(tk.actions, ",\n\t"))
	if len(tk.prechecks) > 0 {
		fmt.Fprintf(&b, "prechecks: [\n\t%s,\n]\n", strings.Join(tk.prechecks, ",\n\t"))
	}
	if len(tk.postchecks) > 0 {
		fmt.Fprintf(&b, "postchecks: [\n\t%s,\n]\n", strings.Join(tk.postchecks, ",\n\t"))
	}
	b.WriteString("rollback: auto: true\n")
	return b.String()
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// ociAction points images:<tag> (repository app) at image.
func ociAction(image, tag string) string {
	return fmt.Sprintf(`{type: "oci", target: "images", image: %q, repository: "app", tag: %q}`, image, tag)
}

// gitAction sets .spec.image of clusters/<env>/app.yaml.
func gitAction(value string) string {
	return fmt.Sprintf(`{type: "git", target: "deploy", file: "app.yaml", set: {path: ".spec.image", value: %q}}`, value)
}

// httpCheck probes url for a 200.
func httpCheck(url string) string {
	return fmt.Sprintf(`{type: "http", url: %q, expectStatus: 200}`, url)
}

// merge opens a pull request adding the tickets (written by Dev), merges
// it with a merge commit a maintainer signs (suite.mergeKey) with Alice's
// and Bob's Approved-by trailers, pushes main and returns the merge commit.
func (w *world) merge(tickets ...ticket) string {
	t := w.t
	t.Helper()
	w.prs++
	branch := fmt.Sprintf("pr-%d", w.prs)
	git(t, w.work, "checkout", "-q", "-b", branch, "main")
	for _, tk := range tickets {
		p := filepath.Join(w.work, "changes", "app", tk.id+".cue")
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(tk.source()), 0o644))
	}
	git(t, w.work, "add", "changes")
	git(t, w.work, "commit", "-q", "-m", "add "+tickets[0].id)
	git(t, w.work, "checkout", "-q", "main")
	runIn(t, w.work, append(gitEnv, "GIT_COMMITTER_NAME=Maintainer", "GIT_COMMITTER_EMAIL=maintainer@example.com"),
		"git", "-c", "gpg.format=ssh", "-c", "user.signingkey="+suite.mergeKey, "merge", "-q", "--no-ff", "-S", branch, "-m", "Merge "+branch,
		"-m", "Approved-by: Alice <alice@example.com>\nApproved-by: Bob <bob@example.com>")
	git(t, w.work, "push", "-q", "origin", "main")
	return git(t, w.work, "rev-parse", "HEAD")
}

// sign runs cab sign with the key prefix (suite.key or suite.stranger) in
// the work tree and requires it to succeed.
func (w *world) sign(key string) string {
	w.t.Helper()
	return runIn(w.t, w.work, nil, suite.cab, "sign", "--key", "file://"+key+".key", "--forge", "git")
}

// reconcileFlags keep a pass short: checks every 100ms for at most 1.5s,
// two attempts of each target call.
var reconcileFlags = []string{"--format", "json", "--log-format", "json", "--instance", "e2e",
	"--check-interval", "100ms", "--check-budget", "1500ms", "--retries", "2"}

// reconcileArgs are reconcileFlags and the reconciler's key (suite.key,
// which every cab.cue trusts to sign and to reconcile).
func reconcileArgs() []string {
	return append([]string{"--key", "file://" + suite.key + ".key"}, reconcileFlags...)
}

// summary is cab reconcile --format json.
type summary struct {
	Steps []struct {
		Ticket  string   `json:"ticket"`
		Env     string   `json:"env"`
		Kind    string   `json:"kind"`
		Reason  string   `json:"reason"`
		Changes []string `json:"changes"`
	} `json:"steps"`
	States     map[string]int `json:"states"`
	LedgerHead string         `json:"ledgerHead"`
}

// reconcile pulls main into the reconciler's checkout and runs cab
// reconcile there with reconcileFlags and extra flags; it returns the
// summary and the exit code.
func (w *world) reconcile(extra ...string) (summary, int) {
	t := w.t
	t.Helper()
	git(t, w.rc, "pull", "-q", "--ff-only", "origin", "main")
	args := append(append([]string{"reconcile"}, reconcileArgs()...), extra...)
	if debug {
		args = append(args, "--log-level", "debug")
	}
	stdout, stderr, code := try(t, w.rc, nil, suite.cab, args...)
	var s summary
	require.NoError(t, json.Unmarshal([]byte(stdout), &s), "cab reconcile (exit %d) printed no summary:\n%s\n%s", code, stdout, stderr)
	require.NotEqual(t, 2, code, "cab reconcile failed:\n%s", stderr)
	t.Logf("cab reconcile: exit %d, states %v", code, s.States)
	if debug {
		t.Logf("stderr:\n%s", stderr)
	}
	return s, code
}

// events returns the remote ledger's events per ticket, as "env:kind"
// ("kind" for ticket-wide events).
func (w *world) events() map[string][]string {
	out := map[string][]string{}
	for _, ev := range w.ledger().Events() {
		k := ev.Kind
		if ev.Env != "" {
			k = ev.Env + ":" + k
		}
		out[ev.Ticket] = append(out[ev.Ticket], k)
	}
	return out
}

// ledger reads the ledger branch of the bare change repository.
func (w *world) ledger() *ledger.Log {
	t := w.t
	t.Helper()
	repo, err := gogit.PlainOpen(w.changes)
	require.NoError(t, err)
	log, err := ledger.Open(repo, "", "").Read(t.Context())
	require.NoError(t, err)
	return log
}

// reason returns the reason recorded with id's last event in env ("" for
// the ticket-wide events).
func (w *world) reason(id, env string) string {
	var r string
	for _, ev := range w.ledger().Ticket(id) {
		if ev.Env != env {
			continue
		}
		var d struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		r = d.Reason
	}
	return r
}

// eventAt is when id's first event of kind in env was recorded.
func (w *world) eventAt(id, env, kind string) time.Time {
	for _, ev := range w.ledger().Ticket(id) {
		if ev.Env == env && ev.Kind == kind {
			return ev.At
		}
	}
	w.t.Fatalf("%s has no %s event in %s", id, kind, env)
	return time.Time{}
}

// ledgerHead is the remote ledger branch's commit.
func (w *world) ledgerHead() string {
	return git(w.t, w.changes, "rev-parse", "refs/heads/"+ledger.DefaultBranch)
}

// envFile returns a file on the environment repository's main.
func (w *world) envFile(path string) string {
	return runIn(w.t, w.env, nil, "git", "show", "main:"+path)
}

// envHead is the environment repository's main.
func (w *world) envHead() string { return git(w.t, w.env, "rev-parse", "main") }

// envLog returns the messages of the environment repository's commits
// since (exclusive), newest first.
func (w *world) envLog(since string) string {
	return git(w.t, w.env, "log", "--format=%B%x00", since+"..main")
}
