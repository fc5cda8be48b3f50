package main

// Attacks on the ledger, through the cab binary (the test binary run as
// "cab" from $PATH, as the txtar scripts run it) against real git: the
// change and environment repositories are bare repositories served by git
// http-backend on loopback. The attacker can push to the ledger branch but
// holds no key cab.cue trusts for the reconcile role.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gittest"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/sign"
)

// attackTimeout bounds every command (generous: the machine is shared).
const attackTimeout = 3 * time.Minute

// lworld is one attack's change repository, environment repository, keys
// and checkouts.
type lworld struct {
	t *testing.T
	// changes and env are the bare repositories; their URLs are served by
	// git http-backend.
	changes, changesURL, env, envURL string
	// work is where tickets are merged and signed; rc is the reconciler's
	// checkout; attacker pushes to the ledger branch by hand.
	work, rc, attacker string
	// keys: signKey signs tickets, recKey is the reconciler's, rogueKey is
	// trusted to sign tickets only.
	signKey, recKey, rogueKey string
	// mergeKey signs merge commits; mergeSigners lists it in cab.cue.
	mergeKey, mergeSigners string
	health                 string
	prs                    int
}

func lgit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, code := lrun(t, dir, "git", args...)
	require.Zero(t, code, "git %s:\n%s", strings.Join(args, " "), out)
	return strings.TrimSpace(out)
}

// lrun runs a command (bounded) and returns its combined output and exit
// code.
func lrun(t *testing.T, dir, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), attackTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, keyPasswordEnv+"=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir,
		"GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "%s %s timed out:\n%s", name, strings.Join(args, " "), out.String())
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	}
	require.NoError(t, err)
	return out.String(), 0
}

func newLWorld(t *testing.T) *lworld {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	srv := gittest.NewServer(t)
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(health.Close)
	w := &lworld{t: t, health: health.URL}
	bare := func(name string) (string, string) { return srv.Bare(t, name) }
	w.changes, w.changesURL = bare("changes")
	w.env, w.envURL = bare("env")

	keys := t.TempDir()
	w.signKey, w.recKey, w.rogueKey = filepath.Join(keys, "sign"), filepath.Join(keys, "reconciler"), filepath.Join(keys, "rogue")
	w.mergeKey, w.mergeSigners = mergeSigner(t, "maintainer@example.com")
	for _, k := range []string{w.signKey, w.recKey, w.rogueKey} {
		out, code := lrun(t, keys, "cab", "keygen", "--out", k)
		require.Zero(t, code, out)
	}

	seed := t.TempDir()
	lgit(t, seed, "init", "-q", "-b", "main")
	for _, e := range []string{"staging", "prod"} {
		require.NoError(t, os.MkdirAll(filepath.Join(seed, "clusters", e), 0o755))
		for _, f := range []string{"app.yaml", "second.yaml"} {
			require.NoError(t, os.WriteFile(filepath.Join(seed, "clusters", e, f), []byte("spec:\n  image: app:old\n"), 0o644))
		}
	}
	// prod-only.yaml exists in prod alone: a ticket changing it can never
	// be applied (nor verified) in staging.
	require.NoError(t, os.WriteFile(filepath.Join(seed, "clusters", "prod", "prod-only.yaml"), []byte("spec:\n  image: app:old\n"), 0o644))
	lgit(t, seed, "add", "-A")
	lgit(t, seed, "commit", "-q", "-m", "seed")
	lgit(t, seed, "push", "-q", w.envURL, "main")

	w.work = filepath.Join(t.TempDir(), "work")
	out, code := lrun(t, "", "cab", "init", "--repository", "example.com/acme/changes", w.work)
	require.Zero(t, code, out)
	require.NoError(t, os.WriteFile(filepath.Join(w.work, "cab.cue"), []byte(w.config()), 0o644))
	lgit(t, w.work, "init", "-q", "-b", "main")
	lgit(t, w.work, "remote", "add", "origin", w.changesURL)
	lgit(t, w.work, "add", "-A")
	lgit(t, w.work, "commit", "-q", "-m", "change repository")
	lgit(t, w.work, "push", "-q", "origin", "main")
	w.rc = filepath.Join(t.TempDir(), "rc")
	lgit(t, "", "clone", "-q", w.changesURL, w.rc)
	w.attacker = filepath.Join(t.TempDir(), "attacker")
	lgit(t, "", "clone", "-q", w.changesURL, w.attacker)
	return w
}

// config trusts signKey to sign tickets, recKey to reconcile and rogueKey
// to sign tickets only.
func (w *lworld) config() string {
	key := func(name, prefix, roles string) string {
		pub, err := os.ReadFile(prefix + ".pub")
		require.NoError(w.t, err)
		var b strings.Builder
		for _, l := range strings.Split(strings.TrimSpace(string(pub)), "\n") {
			b.WriteString("\t" + l + "\n")
		}
		return fmt.Sprintf("{name: %q, roles: %s, publicKey: \"\"\"\n%s\t\"\"\"}", name, roles, b.String())
	}
	return fmt.Sprintf(`apiVersion: "cab.dev/v1"
repository: "example.com/acme/changes"
promotion: ["staging", "prod"]
environments: {
	staging: targets: deploy: {type: "git", url: %[1]q, branch: "main", root: "clusters/staging"}
	prod: {
		protected: true
		targets: deploy: {type: "git", url: %[1]q, branch: "main", root: "clusters/prod"}
	}
}
approvers: app: members: ["git:alice@example.com", "git:bob@example.com"]
services: app: approvers: "app"
keys: [%s, %s, %s]
%s`, w.envURL, key("ci", w.signKey, `["sign"]`), key("reconciler", w.recKey, `["reconcile"]`), key("rogue", w.rogueKey, `["sign"]`), w.mergeSigners)
}

// merge merges a ticket setting app.yaml's image to image (file, when
// not empty, is another file of the environment, e.g. one that does not
// exist), with two approvals, and signs it.
func (w *lworld) mergeAndSign(id, image, file string) {
	t := w.t
	t.Helper()
	if file == "" {
		file = "app.yaml"
	}
	w.prs++
	branch := fmt.Sprintf("pr-%d", w.prs)
	now := time.Now().UTC().Truncate(time.Second)
	src := fmt.Sprintf(`apiVersion: "cab.dev/v1"
id:          %q
title:       "Promote app for %s"
kind:        "normal"
risk:        "low"
owner:       "team-app"
service:     "app"
environments: ["staging", "prod"]
window: {start: %q, end: %q}
actions: [{type: "git", target: "deploy", file: %q, set: {path: ".spec.image", value: %q}}]
prechecks: [{type: "http", url: %q, expectStatus: 200}]
postchecks: [{type: "http", url: %q, expectStatus: 200}]
rollback: auto: true
`, id, id, now.Add(-time.Hour).Format(time.RFC3339), now.Add(3*time.Hour).Format(time.RFC3339), file, image, w.health+"/healthz", w.health+"/ready")
	lgit(t, w.work, "checkout", "-q", "-b", branch, "main")
	p := filepath.Join(w.work, "changes", "app", id+".cue")
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	lgit(t, w.work, "add", "changes")
	lgit(t, w.work, "commit", "-q", "-m", "add "+id)
	lgit(t, w.work, "checkout", "-q", "main")
	lgit(t, w.work, append(append([]string{"-c", "user.name=Maintainer", "-c", "user.email=maintainer@example.com"}, signedMergeArgs(w.mergeKey)...),
		"-q", "--no-ff", branch, "-m", "Merge "+branch, "-m", "Approved-by: Alice <alice@example.com>\nApproved-by: Bob <bob@example.com>")...)
	lgit(t, w.work, "push", "-q", "origin", "main")
	out, code := lrun(t, w.work, "cab", "sign", "--key", "file://"+w.signKey+".key", "--forge", "git")
	require.Zero(t, code, out)
	require.Contains(t, out, "1 signed, 0 unsigned")
}

// reconcile pulls main into the reconciler's checkout and runs one pass
// with the reconciler's key; it returns the output and the exit code.
func (w *lworld) reconcile(extra ...string) (string, int) {
	w.t.Helper()
	lgit(w.t, w.rc, "pull", "-q", "--ff-only", "origin", "main")
	args := append([]string{"reconcile", "--key", "file://" + w.recKey + ".key", "--instance", "rc",
		"--check-interval", "50ms", "--check-budget", "500ms", "--retries", "1"}, extra...)
	return lrun(w.t, w.rc, "cab", args...)
}

// image is what clusters/<env>/app.yaml says on the environment's main.
func (w *lworld) image(env string) string { return w.imageIn(env, "app.yaml") }

func (w *lworld) imageIn(env, file string) string {
	out := lgit(w.t, w.env, "show", "main:clusters/"+env+"/"+file)
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "spec:\n  image:"))
}

// ledgerFiles lists the files of the remote ledger.
func (w *lworld) ledgerFiles() []string {
	return strings.Fields(lgit(w.t, w.changes, "ls-tree", "-r", "--name-only", "cab/ledger"))
}

// tamper commits, in the attacker's clone on top of the remote ledger,
// what edit does to its files, and pushes it (force when rewind names a
// commit to push instead).
func (w *lworld) tamper(msg string, edit func(dir string)) {
	t := w.t
	t.Helper()
	lgit(t, w.attacker, "fetch", "-q", "origin", "+cab/ledger:refs/remotes/origin/cab/ledger")
	lgit(t, w.attacker, "checkout", "-q", "-B", "l", "origin/cab/ledger")
	edit(w.attacker)
	lgit(t, w.attacker, "add", "-A", "ledger")
	lgit(t, w.attacker, "-c", "user.name=Mallory", "-c", "user.email=mallory@example.com", "commit", "-q", "-m", msg)
	lgit(t, w.attacker, "push", "-q", "origin", "l:cab/ledger")
}

func (w *lworld) writeEvent(dir, id string, seq int, env, kind, extra string) string {
	p := filepath.Join(dir, ledger.Path(id, fmt.Sprintf("%d-%s.json", seq, kind)))
	ev := fmt.Sprintf(`{"seq": %d, "ticket": %q, "env": %q, "kind": %q, "at": %q, "actor": "rc"%s}`,
		seq, id, env, kind, time.Now().UTC().Format(time.RFC3339), extra)
	require.NoError(w.t, os.WriteFile(p, []byte(ev+"\n"), 0o644))
	return p
}

// TestForgedOutcomesAreIgnored: outcome events pushed onto the ledger
// without a reconciler's signature, or signed by a key trusted only to
// sign tickets, or carrying another event's genuine envelope, are ignored
// and named: a forged "verified" in staging does not let prod proceed.
func TestForgedOutcomesAreIgnored(t *testing.T) {
	for _, tc := range []struct {
		name  string
		want  string // why the outcome is ignored
		forge func(w *lworld, dir, id string)
	}{
		{"unsigned", "no envelope", func(w *lworld, dir, id string) {
			w.writeEvent(dir, id, 2, "staging", "applying", "")
			w.writeEvent(dir, id, 3, "staging", "applied", "")
			w.writeEvent(dir, id, 4, "staging", "verified", "")
		}},
		{"signed by a ticket-signing key", `signature not made by a trusted key with role "reconcile"`, func(w *lworld, dir, id string) {
			for i, kind := range []string{"applying", "applied", "verified"} {
				p := w.writeEvent(dir, id, i+2, "staging", kind, "")
				w.signWith(p, w.rogueKey)
			}
		}},
		{"another event's envelope", "the envelope signs another event", func(w *lworld, dir, id string) {
			// The genuine envelope of CHG-2026-0001's staging verified.
			genuine, err := os.ReadFile(filepath.Join(dir, ledger.Path("CHG-2026-0001", "4-verified.dsse")))
			require.NoError(t, err)
			for i, kind := range []string{"applying", "applied", "verified"} {
				p := w.writeEvent(dir, id, i+2, "staging", kind, "")
				require.NoError(t, os.WriteFile(strings.TrimSuffix(p, ".json")+".dsse", genuine, 0o644))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newLWorld(t)
			w.mergeAndSign("CHG-2026-0001", "app:v1", "")
			out, code := w.reconcile()
			require.Zero(t, code, out)
			require.Equal(t, "app:v1", w.image("prod"))
			// CHG-2026-0002 changes prod-only.yaml, which staging lacks:
			// it can never be applied (nor verified) in staging.
			w.mergeAndSign("CHG-2026-0002", "app:v2", "prod-only.yaml")
			w.tamper("forge staging", func(dir string) { tc.forge(w, dir, "CHG-2026-0002") })

			out, code = w.reconcile()
			assert.Equal(t, 1, code, out)
			assert.Equal(t, "app:old", w.imageIn("prod", "prod-only.yaml"), "prod was not applied on a forged verified:\n%s", out)
			assert.Contains(t, out, "IGNORED CHG-2026-0002")
			assert.Contains(t, out, "outcome event not signed by a trusted reconciler key")
			assert.Contains(t, out, tc.want)

			vout, code := lrun(t, w.rc, "cab", "verify")
			assert.Equal(t, 1, code, vout)
			assert.Contains(t, vout, "BROKEN CHG-2026-0002 : outcome-unsigned:")
		})
	}
}

// signWith wraps the event file at p in a DSSE envelope signed by key
// (with the ledger's payload type): a good signature, by the wrong key.
func (w *lworld) signWith(p, key string) {
	t := w.t
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	var ev ledger.Event
	require.NoError(t, json.Unmarshal(data, &ev))
	// The canonical form is public: an attacker computes it as well.
	canonical, err := ledger.Canonical(&ev)
	require.NoError(t, err)
	s, err := sign.LoadSigner(t.Context(), key+".key", nil)
	require.NoError(t, err)
	env, err := s.SignPayload(t.Context(), ledger.EventPayloadType, canonical)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(strings.TrimSuffix(p, ".json")+".dsse", env, 0o644))
}

// TestDuplicateSignedSetsAsideOneTicket: a second signed event for one
// ticket sets that ticket aside (named, exit 1); the other is applied.
func TestDuplicateSignedSetsAsideOneTicket(t *testing.T) {
	w := newLWorld(t)
	w.mergeAndSign("CHG-2026-0001", "app:a", "")
	w.tamper("second signed", func(dir string) {
		d := filepath.Join(dir, ledger.Path("CHG-2026-0001", ""))
		for _, ext := range []string{".json", ".dsse"} {
			b, err := os.ReadFile(filepath.Join(d, "1-signed"+ext))
			require.NoError(t, err)
			if ext == ".json" {
				b = bytes.Replace(b, []byte(`"seq": 1`), []byte(`"seq": 2`), 1)
			}
			require.NoError(t, os.WriteFile(filepath.Join(d, "2-signed"+ext), b, 0o644))
		}
	})
	w.mergeAndSign("CHG-2026-0002", "app:b", "second.yaml")

	out, code := w.reconcile()
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "SET-ASIDE CHG-2026-0001")
	assert.Contains(t, out, "impossible transition signed → signed")
	assert.Equal(t, "app:b", w.imageIn("prod", "second.yaml"), "the other ticket went on:\n%s", out)
	for _, f := range w.ledgerFiles() {
		assert.False(t, strings.HasPrefix(f, "ledger/01/CHG-2026-0001/3-"), "nothing appended to the ticket set aside: %s", f)
	}
}

// TestLedgerRewritesStopTheReconciler: once a reconciler acted, a ledger
// that is not its checkpoint plus added events stops every apply (exit 1,
// every ticket named, the accept command said), whatever the rewrite; cab
// verify --checkpoint names the tickets too. Accepting the reviewed head
// lets the next pass act.
func TestLedgerRewritesStopTheReconciler(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(dir string)
		rewind bool
		want   string // a path named
	}{
		{"force-push rewinding the ledger", nil, true, "ledger/01/CHG-2026-0001/7-verified.json"},
		{"delete the last event", func(dir string) {
			rm(t, dir, "ledger/01/CHG-2026-0001/7-verified.json", "ledger/01/CHG-2026-0001/7-verified.dsse")
		}, false, "deletes ledger/01/CHG-2026-0001/7-verified.json"},
		{"edit an event's JSON", func(dir string) {
			p := filepath.Join(dir, "ledger/01/CHG-2026-0001/5-applying.json")
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, bytes.Replace(b, []byte(`"actor": "rc"`), []byte(`"actor": "rc2"`), 1), 0o644))
		}, false, "modifies ledger/01/CHG-2026-0001/5-applying.json"},
		{"rename an event file", func(dir string) {
			lgit(t, dir, "mv", "ledger/01/CHG-2026-0001/7-verified.dsse", "ledger/01/CHG-2026-0001/7-verified.dsse.bak")
		}, false, "deletes ledger/01/CHG-2026-0001/7-verified.dsse"},
		{"re-add an event with a new seq", func(dir string) {
			d := filepath.Join(dir, "ledger/01/CHG-2026-0001")
			b, err := os.ReadFile(filepath.Join(d, "7-verified.json"))
			require.NoError(t, err)
			rm(t, dir, "ledger/01/CHG-2026-0001/7-verified.json", "ledger/01/CHG-2026-0001/7-verified.dsse")
			require.NoError(t, os.WriteFile(filepath.Join(d, "8-verified.json"), bytes.Replace(b, []byte(`"seq": 7`), []byte(`"seq": 8`), 1), 0o644))
		}, false, "deletes ledger/01/CHG-2026-0001/7-verified.json"},
		{"modify a .dsse", func(dir string) {
			p := filepath.Join(dir, "ledger/01/CHG-2026-0001/1-signed.dsse")
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, append(b, ' '), 0o644))
		}, false, "modifies ledger/01/CHG-2026-0001/1-signed.dsse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newLWorld(t)
			w.mergeAndSign("CHG-2026-0001", "app:v1", "")
			out, code := w.reconcile()
			require.Zero(t, code, out)
			require.Equal(t, "app:v1", w.image("prod"))
			cp := filepath.Join(w.rc, ".git", "cab", "reconcile-checkpoint")
			require.FileExists(t, cp, "the reconciler keeps its checkpoint in the checkout")
			vcp := filepath.Join(t.TempDir(), "verify-checkpoint")
			vout, code := lrun(t, w.rc, "cab", "verify", "--checkpoint", vcp)
			require.Zero(t, code, vout)

			before := lgit(t, w.changes, "rev-parse", "cab/ledger")
			if tc.rewind {
				// Back to before CHG-2026-0001's prod events.
				lgit(t, w.changes, "update-ref", "refs/heads/cab/ledger", "cab/ledger~3")
			} else {
				w.tamper("tamper", tc.edit)
			}
			// A new ticket a pass would apply.
			w.mergeAndSign("CHG-2026-0002", "app:v2", "second.yaml")
			envBefore := lgit(t, w.env, "rev-parse", "main")

			for range 2 { // stopped on every pass, not once
				out, code = w.reconcile()
				assert.Equal(t, 1, code, out)
				assert.Contains(t, out, "STOPPED, nothing applied")
				assert.Contains(t, out, "CHG-2026-0001")
				assert.Contains(t, out, "cab reconcile --accept-ledger ")
				assert.Equal(t, envBefore, lgit(t, w.env, "rev-parse", "main"), "nothing applied")
			}
			if !tc.rewind {
				assert.Contains(t, out, tc.want)
			}

			vout, code = lrun(t, w.rc, "cab", "verify", "--checkpoint", vcp)
			assert.Equal(t, 1, code, vout)
			assert.Contains(t, vout, "BROKEN CHG-2026-0001 ")
			assert.Contains(t, vout, "ledger-rewritten: events dropped or rewritten since the checkpoint")
			assert.Contains(t, vout, tc.want)

			if tc.rewind {
				// The operator reviewed the rewind and restores the ledger
				// as it was instead: the reconciler goes on.
				lgit(t, w.changes, "update-ref", "refs/heads/cab/ledger", before)
				w.signAgain()
			} else {
				head := lgit(t, w.changes, "rev-parse", "cab/ledger")
				aout, code := lrun(t, w.rc, "cab", "reconcile", "--accept-ledger", head)
				require.Zero(t, code, aout)
				assert.Contains(t, aout, "accepted ledger "+head)
			}
			out, code = w.reconcile()
			assert.NotContains(t, out, "STOPPED")
			assert.Equal(t, "app:v2", w.imageIn("prod", "second.yaml"), "after review the reconciler acts again:\n%s", out)
		})
	}
}

// signAgain signs what is on main and not yet on the ledger.
func (w *lworld) signAgain() {
	out, code := lrun(w.t, w.work, "cab", "sign", "--key", "file://"+w.signKey+".key", "--forge", "git")
	require.Zero(w.t, code, out)
}

func rm(t *testing.T, dir string, paths ...string) {
	for _, p := range paths {
		require.NoError(t, os.Remove(filepath.Join(dir, p)))
	}
}

// TestReconcileNeedsAKey: a reconciler without a key refuses to run (a dry
// run needs none), and one whose key cab.cue does not trust for the
// reconcile role refuses to act.
func TestReconcileNeedsAKey(t *testing.T) {
	w := newLWorld(t)
	w.mergeAndSign("CHG-2026-0001", "app:v1", "")
	lgit(t, w.rc, "pull", "-q", "--ff-only", "origin", "main")
	out, code := lrun(t, w.rc, "cab", "reconcile")
	assert.Equal(t, 2, code, out)
	assert.Contains(t, out, "--key is required")
	assert.Contains(t, out, "hint: cab keygen --out reconciler")
	out, code = lrun(t, w.rc, "cab", "reconcile", "--dry-run")
	assert.Zero(t, code, out)
	out, code = lrun(t, w.rc, "cab", "reconcile", "--key", "file://"+w.signKey+".key")
	assert.Equal(t, 2, code, out)
	assert.Contains(t, out, `is not among the keys cab.cue trusts with role "reconcile"`)
	assert.Equal(t, "app:old", w.image("staging"), "nothing applied")
}
