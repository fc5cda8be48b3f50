package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cabhq/cab/internal/race"
)

const (
	roleEnv   = "CAB_SANDBOX_ROLE"
	memoryEnv = "CAB_SANDBOX_MEMORY"
)

// DefaultMemory is the memory budget of a child when none is given.
const DefaultMemory = 1 << 30

// softMemory caps the heap the child's GC aims for: a lazy GC (gcPercent)
// saves CPU, but evaluation keeps little, so beyond this much garbage
// collecting is cheaper than the memory.
const softMemory = 256 << 20

// gcPercent is the child's GOGC unless the environment sets one.
const gcPercent = 400

// Role returns the role this process was started for as a child, or "".
func Role() string { return os.Getenv(roleEnv) }

// Command returns a command that re-executes the current binary as a child
// serving role, with a memory budget of memory bytes (DefaultMemory if 0).
// The child's stdin, stdout and stderr are left for the caller to set.
func Command(ctx context.Context, role string, memory uint64) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding own executable: %w", err)
	}
	if memory == 0 {
		memory = DefaultMemory
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(withoutSandboxEnv(os.Environ()),
		roleEnv+"="+role,
		memoryEnv+"="+strconv.FormatUint(memory, 10),
	)
	cmd.WaitDelay = 2 * time.Second
	// Kill the whole child, not just ask.
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	cmd.SysProcAttr = childAttr()
	return cmd, nil
}

func withoutSandboxEnv(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if strings.HasPrefix(e, roleEnv+"=") || strings.HasPrefix(e, memoryEnv+"=") {
			continue
		}
		out = append(out, e)
	}
	return out
}

// Enter applies the memory budget inside a child. Call it first thing in
// the child's main.
func Enter() error {
	s := os.Getenv(memoryEnv)
	if s == "" {
		return errors.New("sandbox: no memory budget in the environment")
	}
	limit, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("sandbox: bad memory budget %q: %w", s, err)
	}
	// The soft limit makes the GC work hard before the hard limit kills;
	// below it, a lazier GC trades memory the budget allows for CPU
	// (evaluation allocates heavily and keeps little).
	debug.SetMemoryLimit(min(int64(limit)*8/10, softMemory))
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if race.Enabled {
		// The race detector maps terabytes of shadow memory and dies
		// under any data limit; race builds run without the hard limit.
		return nil
	}
	rl := syscall.Rlimit{Cur: limit, Max: limit}
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &rl); err != nil {
		return fmt.Errorf("sandbox: setting RLIMIT_DATA: %w", err)
	}
	return nil
}

// OutOfMemory reports whether a child's stderr shows it died of exhausting
// its memory budget.
func OutOfMemory(stderr []byte) bool {
	s := string(stderr)
	return strings.Contains(s, "out of memory") || strings.Contains(s, "cannot allocate memory")
}

// NearLimit reports whether a finished child's peak resident memory came
// within a quarter of its budget: a crash there is most likely the budget
// (the Go runtime does not always say "out of memory" when mmap fails).
func NearLimit(ps *os.ProcessState, budget uint64) bool {
	if ps == nil {
		return false
	}
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return false
	}
	return uint64(ru.Maxrss)*1024 >= budget/4*3
}
