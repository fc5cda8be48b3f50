package escalate

import (
	"os"
	"testing"

	"github.com/cabhq/cab/internal/sandbox"
	"github.com/cabhq/cab/validate"
)

// TestMain serves the gate's sandboxed evaluation child: validate.CheckPR
// re-executes the test binary, as cab re-executes itself.
func TestMain(m *testing.M) {
	if sandbox.Role() == validate.ChildRole {
		os.Exit(validate.ServeChild(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
