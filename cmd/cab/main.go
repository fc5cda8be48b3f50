// Command cab is change-as-code for GitOps: change tickets as CUE files in
// git, validated by policy, signed on merge, applied by a reconciler and
// audited from history. Run `cab --help`.
package main

import (
	"context"
	"os"

	"github.com/cabhq/cab/internal/sandbox"
	"github.com/cabhq/cab/validate"
)

func main() {
	if sandbox.Role() == validate.ChildRole {
		os.Exit(validate.ServeChild(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
