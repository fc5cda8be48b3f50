// Package gittest runs real git servers on loopback for tests: C git's
// http-backend behind net/http/cgi (pushes allowed, hooks honoured), and a
// remote that accepts connections and never answers.
package gittest

import (
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Server serves the bare repositories under Root over smart HTTP at URL.
type Server struct {
	Root string
	URL  string

	mu     sync.Mutex
	served map[string]int // by "<service> <repository path>"
}

// Served is how many times the server advertised service
// ("git-upload-pack": a fetch or a listing of the refs;
// "git-receive-pack": a push) of the repository at path (e.g.
// "/ledger.git"): each such conversation starts with one.
func (s *Server) Served(service, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served[service+" "+path]
}

// Git runs the git CLI in dir (no system or user configuration) and
// returns its trimmed output; it fails t on an error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %s: %s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// NewServer starts git http-backend on loopback; it skips t without git.
func NewServer(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	execPath := Git(t, t.TempDir(), "--exec-path")
	root := t.TempDir()
	s := &Server{Root: root, served: map[string]int{}}
	backend := &cgi.Handler{
		Path:   filepath.Join(execPath, "git-http-backend"),
		Stderr: io.Discard,
		Env:    []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + root},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if repo, ok := strings.CutSuffix(r.URL.Path, "/info/refs"); ok {
			s.mu.Lock()
			s.served[r.URL.Query().Get("service")+" "+repo]++
			s.mu.Unlock()
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Bare creates an empty bare repository name.git (default branch main)
// that accepts pushes, and returns its directory and URL.
func (s *Server) Bare(t testing.TB, name string) (dir, url string) {
	t.Helper()
	dir = filepath.Join(s.Root, name+".git")
	Git(t, s.Root, "init", "-q", "--bare", "-b", "main", dir)
	Git(t, dir, "config", "http.receivepack", "true")
	return dir, s.URL + "/" + name + ".git"
}

// Decline installs a pre-receive hook in the bare repository dir that
// prints message on stderr and refuses every push while the file
// dir/decline exists (it is created now; remove it to accept again).
func Decline(t testing.TB, dir, message string) (flag string) {
	t.Helper()
	flag = filepath.Join(dir, "decline")
	hook := "#!/bin/sh\nif [ -e '" + flag + "' ]; then echo '" + strings.ReplaceAll(message, "'", "") + "' >&2; exit 1; fi\nexit 0\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hooks", "pre-receive"), []byte(hook), 0o755))
	require.NoError(t, os.WriteFile(flag, nil, 0o644))
	return flag
}

// Silent listens on loopback, accepts every connection and never answers
// (nor closes it until the test ends): a remote that hangs. It returns
// an http:// URL of a repository on it.
func Silent(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + ln.Addr().String() + "/hang.git"
}
