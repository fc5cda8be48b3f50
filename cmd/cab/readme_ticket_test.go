package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildDemoenv builds the demo environment (examples/demoenv) into a
// directory of the test.
func buildDemoenv(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "demoenv")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", path, "github.com/cabhq/cab/examples/demoenv")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "building demoenv: %s", out)
	return path
}

// startDemoenv runs `demoenv serve` (the loopback environment of make
// demo: a registry, /healthz and a Prometheus query endpoint) and returns
// its host:port.
func startDemoenv(t *testing.T, bin string) string {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	cmd := exec.Command(bin, "serve", "--addr-file", addrFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	// Bounded wait for the address; a process that exits instead fails at once.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			return string(b)
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("demoenv serve exited (%v): %s", err, &stderr)
		default:
		}
		require.True(t, time.Now().Before(deadline), "demoenv serve wrote no address in two minutes: %s", &stderr)
	}
}

// readmeTicket returns the ticket of README.md, between the readme-ticket
// markers, without its code fence.
func readmeTicket(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)<!-- readme-ticket -->\n```cue\n(.*?)```\n<!-- /readme-ticket -->").FindSubmatch(b)
	require.NotNil(t, m, "README.md has no ```cue block between <!-- readme-ticket --> and <!-- /readme-ticket -->")
	return string(m[1])
}

// replaceOnce replaces old by new in s, which must hold old exactly once:
// a README or scaffold that drifts fails here, naming what it lost.
func replaceOnce(t *testing.T, what, s, old, new string) string {
	t.Helper()
	require.Equal(t, 1, strings.Count(s, old), "%s: want %q exactly once in:\n%s", what, old, s)
	return strings.Replace(s, old, new, 1)
}

// The README's ticket, pasted into a repository made by cab init whose
// cab.cue points at the demo's loopback environment, with only its marked
// placeholders filled in (the example.com hosts, the image digest, the
// window), goes through the pull-request gate (refused without approvals,
// passed with a signed merge carrying two), is signed by cab sign and
// applied by cab reconcile to staging and prod, and ends verified in both:
// the README shows a ticket that works.
func TestReadmeTicket(t *testing.T) {
	for _, tool := range []string{"git", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip("needs " + tool)
		}
	}
	cab := buildCab(t)
	demoenv := buildDemoenv(t)
	ticket := readmeTicket(t)
	reg := startDemoenv(t, demoenv)

	dir := t.TempDir()
	repo := filepath.Join(dir, "changes")
	env := append(os.Environ(),
		"GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com",
		"GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com",
		"GIT_CONFIG_NOSYSTEM=1", "HOME="+dir, "CAB_KEY_PASSWORD=",
	)
	// run runs name in the change repository and returns its exit code and
	// output; the caller says which code it expects.
	run := func(name string, extraEnv []string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = repo
		cmd.Env = append(env, extraEnv...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "%s %v: %s", name, args, &out)
			return ee.ExitCode(), out.String()
		}
		return 0, out.String()
	}
	must := func(name string, args ...string) string {
		t.Helper()
		code, out := run(name, nil, args...)
		require.Equal(t, 0, code, "%s %v: %s", name, args, out)
		return out
	}

	// The image the ticket promotes, pushed to the environment's registry.
	out, err := exec.Command(demoenv, "push", reg, "acme/payments").CombinedOutput()
	require.NoError(t, err, "demoenv push: %s", out)
	image := strings.TrimSpace(string(out))
	_, digest, ok := strings.Cut(image, "@")
	require.True(t, ok, "demoenv push printed %q", image)

	// The ticket, its placeholders filled in; nothing else is touched.
	now := time.Now().UTC().Truncate(time.Second)
	ticket = replaceOnce(t, "README ticket", ticket, "registry.example.com/", reg+"/")
	ticket = replaceOnce(t, "README ticket", ticket, "sha256:…", digest)
	ticket = replaceOnce(t, "README ticket", ticket, "https://payments.example.com/", "http://"+reg+"/")
	window := regexp.MustCompile(`window: \{start: "[^"]+", end: "[^"]+"\}`)
	require.Len(t, window.FindAllString(ticket, -1), 1, "README ticket: want one window: {start, end} line:\n%s", ticket)
	ticket = window.ReplaceAllString(ticket, fmt.Sprintf(`window: {start: %q, end: %q}`,
		now.Add(-time.Hour).Format(time.RFC3339), now.Add(3*time.Hour).Format(time.RFC3339)))
	id := regexp.MustCompile(`(?m)^id:\s+"([^"]+)"`).FindStringSubmatch(ticket)
	require.NotNil(t, id, "README ticket has no id:\n%s", ticket)
	tag := regexp.MustCompile(`\btag:\s+"([^"]+)"`).FindStringSubmatch(ticket)
	require.NotNil(t, tag, "README ticket has no oci tag:\n%s", ticket)
	service := regexp.MustCompile(`(?m)^service:\s+"([^"]+)"`).FindStringSubmatch(ticket)
	require.NotNil(t, service, "README ticket has no service:\n%s", ticket)

	// cab init, then cab.cue pointed at the loopback environment.
	c := exec.Command(cab, "init", "--repository", "github.com/acme/changes", repo)
	c.Env = env
	out, err = c.CombinedOutput()
	require.NoError(t, err, "cab init: %s", out)
	keys := filepath.Join(dir, "keys") // signing keys stay outside the repository
	require.NoError(t, os.Mkdir(keys, 0o700))
	must(cab, "keygen", "--out", filepath.Join(keys, "ci"))
	must(cab, "keygen", "--out", filepath.Join(keys, "reconciler"))
	mergeKey := filepath.Join(keys, "maintainer")
	must("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "maintainer", "-f", mergeKey)
	pem := func(name string) string {
		b, err := os.ReadFile(filepath.Join(keys, name))
		require.NoError(t, err)
		return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\n\t")
	}
	cfgPath := filepath.Join(repo, "cab.cue")
	b, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	cfg := string(b)
	for _, e := range []string{"staging", "prod"} {
		cfg = replaceOnce(t, "cab.cue", cfg, fmt.Sprintf(`prometheus: "https://prometheus.%s.example.com/"`, e),
			fmt.Sprintf(`prometheus: "http://%s/"`, reg))
		cfg = replaceOnce(t, "cab.cue", cfg, fmt.Sprintf(`registry: "registry.%s.example.com/apps"}`, e),
			fmt.Sprintf(`registry: "%s/%s", insecure: true}`, reg, e))
	}
	cfg = replaceOnce(t, "cab.cue", cfg, `["git:replace-me-1@example.invalid", "git:replace-me-2@example.invalid"]`,
		`["git:carol@example.com", "git:dan@example.com"]`)
	cfg = replaceOnce(t, "cab.cue", cfg, `"platform-approvers": members: [`,
		`"platform-approvers": members: ["git:alice@example.com", "git:bob@example.com", `)
	// The scaffold's year-end freeze is a fixed date: without it the test
	// passes in the last days of the year too.
	freezes := regexp.MustCompile(`(?s)\nfreezes: \[\{.*?\}\]\n`)
	require.Len(t, freezes.FindAllString(cfg, -1), 1, "cab.cue: want one freezes: block:\n%s", cfg)
	cfg = freezes.ReplaceAllString(cfg, "\n")
	mergePub, err := os.ReadFile(mergeKey + ".pub")
	require.NoError(t, err)
	cfg += fmt.Sprintf(`keys: [{name: "ci", publicKey: """
	%s
	"""}, {name: "reconciler", roles: ["reconcile"], publicKey: """
	%s
	"""}]
mergeSigners: [{identity: "git:maintainer@example.com", publicKey: %q}]
`, pem("ci.pub"), pem("reconciler.pub"), strings.TrimSpace(string(mergePub)))
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o644))

	remote := filepath.Join(dir, "remote.git")
	must("git", "init", "-q", "--bare", "-b", "main", remote)
	must("git", "add", "-A")
	must("git", "commit", "-q", "-m", "Change repository")
	must("git", "remote", "add", "origin", remote)
	must("git", "push", "-q", "-u", "origin", "main")

	// The pull request: the ticket on a branch.
	path := filepath.Join("changes", service[1], id[1]+".cue")
	must("git", "checkout", "-q", "-b", "promote")
	require.NoError(t, os.MkdirAll(filepath.Join(repo, filepath.Dir(path)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(repo, path), []byte(ticket), 0o644))
	must("git", "add", path)
	must("git", "commit", "-q", "-m", id[1]+": promote payments")
	must("git", "push", "-q", "origin", "promote")

	// Without approvals the gate refuses it, for that reason only.
	code, out2 := run(cab, nil, "check", "--base", "origin/main", "--head", "origin/promote", "--forge", "git", "--format", "json")
	require.Equal(t, exitViolations, code, "cab check without approvals: %s", out2)
	var verdict struct {
		Diagnostics []struct {
			Severity string `json:"severity"`
			Rule     string `json:"rule"`
			Message  string `json:"message"`
		} `json:"diagnostics"`
	}
	require.NoError(t, json.Unmarshal([]byte(out2), &verdict), "cab check --format json: %s", out2)
	var errs []string
	for _, d := range verdict.Diagnostics {
		if d.Severity == "error" {
			errs = append(errs, d.Rule+": "+d.Message)
		}
	}
	require.NotEmpty(t, errs, out2)
	for _, e := range errs {
		assert.Contains(t, e, "approv", "the only errors are missing approvals: %s", out2)
	}

	// Two approvers, on a merge commit the maintainer signs: the gate passes.
	must("git", "checkout", "-q", "-b", "merge", "origin/main")
	code, out2 = run("git", []string{"GIT_COMMITTER_NAME=Maintainer", "GIT_COMMITTER_EMAIL=maintainer@example.com"},
		"-c", "gpg.format=ssh", "-c", "user.signingkey="+mergeKey, "merge", "-q", "--no-ff", "-S", "origin/promote",
		"-m", "Merge promote", "-m", "Approved-by: Alice <alice@example.com>\nApproved-by: Bob <bob@example.com>")
	require.Equal(t, 0, code, "signed merge: %s", out2)
	must(cab, "check", "--base", "origin/main", "--head", "merge", "--forge", "git")
	must("git", "checkout", "-q", "main")
	must("git", "merge", "-q", "--ff-only", "merge")
	must("git", "push", "-q", "origin", "main")

	// CI signs the merge; the reconciler applies it everywhere.
	must(cab, "sign", "--key", "file://"+filepath.Join(keys, "ci.key"), "--forge", "git")
	rec := must(cab, "reconcile", "--key", "file://"+filepath.Join(keys, "reconciler.key"), "--check-interval", "100ms")

	// The ledger says verified in both environments.
	logOut := must(cab, "log", "--id", id[1], "--format", "json")
	var log struct {
		Changes []struct {
			ID           string `json:"id"`
			Environments []struct {
				Env     string `json:"env"`
				Outcome string `json:"outcome"`
			} `json:"environments"`
		} `json:"changes"`
	}
	require.NoError(t, json.Unmarshal([]byte(logOut), &log), "cab log --format json: %s", logOut)
	require.Len(t, log.Changes, 1, logOut)
	require.Equal(t, id[1], log.Changes[0].ID, logOut)
	outcomes := map[string]string{}
	for _, e := range log.Changes[0].Environments {
		outcomes[e.Env] = e.Outcome
	}
	assert.Equal(t, map[string]string{"staging": "verified", "prod": "verified"}, outcomes, "cab reconcile:\n%s\ncab log:\n%s", rec, logOut)

	// And each environment's registry holds the image under the ticket's
	// tag (the repository is the source's path, acme/payments).
	for _, e := range []string{"staging", "prod"} {
		ref := fmt.Sprintf("%s/%s/acme/payments:%s", reg, e, tag[1])
		out, err := exec.Command(demoenv, "tag", ref).CombinedOutput()
		require.NoError(t, err, "demoenv tag: %s", out)
		assert.Equal(t, digest, strings.TrimSpace(string(out)), ref)
	}
}
