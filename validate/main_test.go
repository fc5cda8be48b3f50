package validate

import (
	"os"
	"testing"

	"github.com/cabhq/cab/internal/sandbox"
)

// TestMain serves the sandboxed evaluation child: Run re-executes the
// test binary, as cab re-executes itself.
func TestMain(m *testing.M) {
	if sandbox.Role() == ChildRole {
		os.Exit(ServeChild(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
