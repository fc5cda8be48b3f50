package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The cab binary the process tests run, built once per test binary.
var cabBin struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// buildCab builds cmd/cab (without the race detector: the memory it
// uses is what is measured) and returns its path.
func buildCab(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	cabBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "cab-bin-")
		if err != nil {
			cabBin.err = err
			return
		}
		cabBin.path = filepath.Join(dir, "cab")
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		cmd := exec.Command(goTool, "build", "-o", cabBin.path, "github.com/cabhq/cab/cmd/cab")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cabBin.out, cabBin.err = cmd.CombinedOutput()
	})
	require.NoError(t, cabBin.err, "building cab: %s", cabBin.out)
	return cabBin.path
}

// process is a cab binary running as a daemon.
type process struct {
	cmd  *exec.Cmd
	addr string
	// logs holds every stderr line (bounded: the first maxLogLines).
	mu   sync.Mutex
	logs []string
	done chan struct{}
}

const maxLogLines = 200000

// startProcess runs `cab serve args...` (JSON logs) in dir with env
// added, and waits (bounded) for the address it listens on.
func startProcess(t *testing.T, dir string, env []string, args ...string) *process {
	t.Helper()
	return startProcessLines(t, dir, env, nil, args...)
}

// startProcessLines is startProcess that also hands every line the process
// prints to onLine (when not nil; called from other goroutines, stdout
// lines prefixed "stdout: "), whether or not it is kept in logs.
func startProcessLines(t *testing.T, dir string, env []string, onLine func(string), args ...string) *process {
	t.Helper()
	bin := buildCab(t)
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--key", reconcilerKey(t)}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	var stdout io.Reader
	if onLine != nil {
		stdout, err = cmd.StdoutPipe()
		require.NoError(t, err)
	} else {
		cmd.Stdout = io.Discard
	}
	require.NoError(t, cmd.Start())
	p := &process{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	var readers sync.WaitGroup
	if stdout != nil {
		readers.Go(func() {
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				onLine("stdout: " + sc.Text())
			}
		})
	}
	readers.Go(func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if onLine != nil {
				onLine(line)
			}
			p.mu.Lock()
			if len(p.logs) < maxLogLines {
				p.logs = append(p.logs, line)
			}
			p.mu.Unlock()
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				select {
				case addr <- rec.Addr:
				default:
				}
			}
		}
	})
	go func() { readers.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	select {
	case p.addr = <-addr:
	case <-p.done:
		t.Fatalf("cab serve exited before listening:\n%s", p.log())
	case <-time.After(time.Minute):
		t.Fatalf("cab serve did not listen within a minute:\n%s", p.log())
	}
	return p
}

// kill stops the process with SIGKILL and waits for it.
func (p *process) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	_ = p.cmd.Wait()
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.logs, "\n")
}

// status returns a field of /proc/<pid>/status in bytes (VmRSS, VmHWM).
func (p *process) status(t *testing.T, field string) int64 {
	t.Helper()
	v, err := procStatus(p.cmd.Process.Pid, field)
	require.NoError(t, err)
	return v
}

// procStatus returns a field of /proc/<pid>/status in bytes (VmRSS,
// VmHWM); safe to call from any goroutine.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status: %s: %w", pid, field, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
