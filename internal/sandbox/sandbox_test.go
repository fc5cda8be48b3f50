package sandbox

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cabhq/cab/internal/race"
	"github.com/stretchr/testify/require"
)

const testRole = "sandbox-test"

// TestMain serves the child roles used by the tests below.
func TestMain(m *testing.M) {
	if Role() == testRole {
		if err := Enter(); err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(3)
		}
		switch os.Getenv("SANDBOX_TEST_DO") {
		case "hog":
			var keep [][]byte
			for i := 0; i < 1<<20; i++ {
				b := make([]byte, 1<<20)
				for j := range b {
					b[j] = byte(j)
				}
				keep = append(keep, b)
			}
			_ = keep
		case "sleep":
			time.Sleep(time.Minute)
		case "env":
			os.Stdout.WriteString(os.Getenv(roleEnv) + " " + os.Getenv(memoryEnv))
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func child(t *testing.T, ctx context.Context, do string, memory uint64) (*exec.Cmd, *strings.Builder, *strings.Builder) {
	t.Helper()
	cmd, err := Command(ctx, testRole, memory)
	require.NoError(t, err)
	cmd.Env = append(cmd.Env, "SANDBOX_TEST_DO="+do)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

func TestChildGetsRoleAndBudget(t *testing.T) {
	cmd, stdout, _ := child(t, context.Background(), "env", 0)
	require.NoError(t, cmd.Run())
	assert.Equal(t, testRole+" 1073741824", stdout.String())
}

// A child that allocates without bound dies of its budget; the parent
// lives and can tell.
func TestMemoryBudget(t *testing.T) {
	if race.Enabled {
		t.Skip("race builds run without a memory limit; make test runs this test without -race")
	}
	const budget = 128 << 20
	cmd, _, stderr := child(t, context.Background(), "hog", budget)
	err := cmd.Run()
	require.Error(t, err)
	assert.True(t, OutOfMemory([]byte(stderr.String())) || NearLimit(cmd.ProcessState, budget),
		"a memory death is recognised; stderr: %.300s", stderr.String())
}

func TestCancelKills(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	cmd, _, _ := child(t, ctx, "sleep", 0)
	start := time.Now()
	require.Error(t, cmd.Run())
	assert.Less(t, time.Since(start), 30*time.Second, "killed long before the child's minute of sleep")
}

func TestEnterOutsideSandbox(t *testing.T) {
	t.Setenv(memoryEnv, "")
	require.Error(t, Enter())
}
