package treetest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cueFree lists the packages that only read tickets and configuration:
// none of them may link the CUE evaluator.
var cueFree = []string{
	"github.com/cabhq/cab/model",
	"github.com/cabhq/cab/drift",
	"github.com/cabhq/cab/forge",
	"github.com/cabhq/cab/forge/github",
	"github.com/cabhq/cab/forge/gitlab",
	"github.com/cabhq/cab/ledger",
	"github.com/cabhq/cab/internal/calendar",
	"github.com/cabhq/cab/internal/diag",
	"github.com/cabhq/cab/internal/redact",
	"github.com/cabhq/cab/internal/sandbox",
	"github.com/cabhq/cab/reconcile/check",
	"github.com/cabhq/cab/reconcile/target",
	"github.com/cabhq/cab/reconcile/target/git",
	"github.com/cabhq/cab/reconcile/target/http",
	"github.com/cabhq/cab/reconcile/target/oci",
	"github.com/cabhq/cab/report",
	"github.com/cabhq/cab/sign/statement",
}

// TestNoCUE fails when a package that does not evaluate CUE links
// cuelang.org (directly or through anything it imports).
func TestNoCUE(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, pkg := range cueFree {
		t.Run(pkg[strings.LastIndex(pkg, "cab/")+4:], func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", pkg).Output()
			require.NoError(t, err, "go list -deps %s", pkg)
			deps := strings.Fields(string(out))
			require.Contains(t, deps, pkg, "go list names the package itself")
			var cue []string
			for _, d := range deps {
				if strings.HasPrefix(d, "cuelang.org/") {
					cue = append(cue, d)
				}
			}
			assert.Empty(t, cue, "%s links the CUE evaluator; move what it needs into package model", pkg)
		})
	}
}
