//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cabhq/cab/internal/sandbox"
	"github.com/cabhq/cab/validate"
)

// requireEnv makes a missing tool a failure instead of a skip (CI).
const requireEnv = "CAB_REQUIRE_E2E"

// suite is what TestMain sets up once for every test.
var suite struct {
	// cab is the cab binary built from this tree.
	cab string
	// registry is the host:port of the docker-registry (distribution).
	registry string
	// key and stranger are signing key pairs made by cab keygen (prefix
	// without .key/.pub): key is trusted by every cab.cue, stranger never.
	key, stranger string
	// mergeKey is the maintainer's SSH key (ssh-keygen) that signs merge
	// commits; every cab.cue lists its public half in mergeSigners.
	mergeKey string
	// home is an empty HOME for the commands (no docker or git config of
	// the user leaks in).
	home string
}

func TestMain(m *testing.M) {
	// The in-process reconciler evaluates tickets in a child process: this
	// binary, re-executed.
	if sandbox.Role() == validate.ChildRole {
		os.Exit(validate.ServeChild(os.Stdin, os.Stdout, os.Stderr))
	}
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	registryBin, gitBin := lookTools()
	if registryBin == "" || gitBin == "" {
		missing := "docker-registry (Debian package docker-registry)"
		if gitBin == "" {
			missing = "git"
		}
		if os.Getenv(requireEnv) == "1" {
			return 1, fmt.Errorf("%s is not installed and %s=1: run .ci/install-e2e.sh", missing, requireEnv)
		}
		fmt.Printf("e2e: skipped: %s is not installed (run .ci/install-e2e.sh, or set %s=1 to make this a failure)\n", missing, requireEnv)
		return 0, nil
	}

	tmp, err := os.MkdirTemp("", "cab-e2e-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(tmp)
	suite.home = filepath.Join(tmp, "home")
	if err := os.MkdirAll(suite.home, 0o755); err != nil {
		return 1, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	suite.cab = filepath.Join(tmp, "cab")
	build := exec.CommandContext(ctx, goTool(), "build", "-o", suite.cab, "github.com/cabhq/cab/cmd/cab")
	if out, err := build.CombinedOutput(); err != nil {
		return 1, fmt.Errorf("building cab: %w\n%s", err, out)
	}

	reg, err := startDistribution(ctx, registryBin, filepath.Join(tmp, "registry"))
	if err != nil {
		return 1, err
	}
	defer reg.stop()
	suite.registry = reg.host

	suite.key = filepath.Join(tmp, "trusted")
	suite.stranger = filepath.Join(tmp, "stranger")
	for _, prefix := range []string{suite.key, suite.stranger} {
		kg := exec.CommandContext(ctx, suite.cab, "keygen", "--out", prefix)
		kg.Env = commandEnv(nil)
		if out, err := kg.CombinedOutput(); err != nil {
			return 1, fmt.Errorf("cab keygen: %w\n%s", err, out)
		}
	}
	suite.mergeKey = filepath.Join(tmp, "maintainer")
	if out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "maintainer", "-f", suite.mergeKey).CombinedOutput(); err != nil {
		return 1, fmt.Errorf("ssh-keygen (apt-get install openssh-client): %w\n%s", err, out)
	}
	return m.Run(), nil
}

// registryEnv names another distribution binary than Debian's
// docker-registry (e.g. upstream's "registry").
const registryEnv = "CAB_E2E_REGISTRY"

// lookTools finds docker-registry and git ("" when missing).
func lookTools() (registry, git string) {
	switch name := os.Getenv(registryEnv); {
	case name != "":
		registry, _ = exec.LookPath(name)
	default:
		registry, _ = exec.LookPath("docker-registry")
		if _, err := os.Stat("/usr/bin/docker-registry"); registry == "" && err == nil {
			registry = "/usr/bin/docker-registry"
		}
	}
	git, _ = exec.LookPath("git")
	return registry, git
}

// goTool is the go command that runs these tests.
func goTool() string {
	if p := filepath.Join(os.Getenv("GOROOT"), "bin", "go"); os.Getenv("GOROOT") != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// commandEnv is the environment of the commands the tests run: this
// process's, minus what would make them depend on the user (key password,
// docker and git configuration), plus extra.
func commandEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "CAB_KEY_PASSWORD", "CAB_GIT_TOKEN", "CAB_GIT_USERNAME", "DOCKER_CONFIG", "HOME",
			"GITHUB_ACTIONS", "GITLAB_CI", "GITHUB_TOKEN", "GIT_DIR", "GIT_WORK_TREE":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+suite.home, "DOCKER_CONFIG="+filepath.Join(suite.home, ".docker"),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	return append(env, extra...)
}

// distribution is a running docker-registry.
type distribution struct {
	host string
	cmd  *exec.Cmd
	done chan error
}

// startDistribution runs docker-registry serve on a free loopback port
// with filesystem storage under dir and tag deletion enabled, and waits
// (bounded) until /v2/ answers. A port taken between choosing and binding
// it is retried on another.
func startDistribution(ctx context.Context, bin, dir string) (*distribution, error) {
	var last error
	for attempt := range 5 {
		d, err := tryDistribution(ctx, bin, filepath.Join(dir, fmt.Sprint(attempt)))
		if err == nil {
			return d, nil
		}
		last = err
	}
	return nil, fmt.Errorf("starting docker-registry: %w", last)
}

func tryDistribution(ctx context.Context, bin, dir string) (*distribution, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	host := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "storage"), host)), 0o644); err != nil {
		return nil, err
	}
	logs := &strings.Builder{}
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &distribution{host: host, cmd: cmd, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait() }()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		select {
		case err := <-d.done:
			return nil, fmt.Errorf("docker-registry on %s exited: %v: %s", host, err, logs.String())
		default:
		}
		resp, err := client.Get("http://" + host + "/v2/")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.stop()
	return nil, fmt.Errorf("docker-registry on %s did not answer /v2/ within 15s: %s", host, logs.String())
}

// stop kills the registry and waits for it (bounded).
func (d *distribution) stop() {
	_ = d.cmd.Process.Kill()
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
	}
}
