package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxOwnInit bounds what the init of one of cab's own packages may
// allocate: package-level state that costs something (a compiled regular
// expression, a parsed template, a built table) is made on first use
// (sync.OnceValue), since Go runs every linked package's init in every
// command. A regular expression such as `^[a-z][a-z0-9-]{0,62}$` alone
// allocates tens of KiB when compiled.
const maxOwnInit = 8 << 10

// TestStartupInitOfCabPackages runs the cab binary with
// GODEBUG=inittrace=1 and fails when one of cab's packages does costly
// work at init. internal/treetest's TestStartupDenylist keeps the heavy
// third-party inits out; bench/startup.sh measures the start-up.
func TestStartupInitOfCabPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cab binary")
	}
	bin := buildCab(t)
	cmd := exec.Command(bin, "--help")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), "cab --help: %s", stderr.String())

	// init github.com/cabhq/cab/ledger @12 ms, 0.33 ms clock, 100776 bytes, 1369 allocs
	seen := 0
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[0] != "init" || !strings.HasPrefix(f[1], "github.com/cabhq/cab/") {
			continue
		}
		seen++
		bytes, err := strconv.Atoi(f[7])
		require.NoError(t, err, "inittrace line %q", sc.Text())
		assert.LessOrEqual(t, bytes, maxOwnInit, "%s allocates %d bytes at init (%s allocs): make its package-level values lazy (sync.OnceValue)", f[1], bytes, f[9])
	}
	require.NoError(t, sc.Err())
	require.Positive(t, seen, "GODEBUG=inittrace=1 traced cab's packages:\n%s", stderr.String())
}
