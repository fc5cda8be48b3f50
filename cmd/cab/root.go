package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes, as DESIGN.md fixes them.
const (
	exitOK         = 0
	exitViolations = 1
	exitError      = 2
)

// errViolations is returned by commands that found problems in the user's
// input and already reported them.
var errViolations = errors.New("violations found")

// Main runs cab with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errViolations):
		return exitViolations
	default:
		fmt.Fprintf(stderr, "cab: %v\n", err)
		return exitError
	}
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "cab",
		Short: "Change tickets as code: validate, sign, apply and audit changes from git",
		Long: `cab replaces change-request tickets with CUE files in a git repository.

A pull request adds changes/<service>/<ID>.cue; ` + "`cab check`" + ` validates it against
the schema and the repository's policies as a required status check; on merge
the ticket is signed, applied by the reconciler and recorded in git history.`,
		Example: `  cab init payments-changes     # scaffold a change repository
  cab new --service payments --title "Promote payments 1.4.2"
  cab check                     # validate every ticket of the repository here
  cab check --base origin/main  # the pull-request gate (in CI)
  cab sign --key file://cab.key # on main: sign what was merged onto the ledger
  cab verify                    # audit the chain from merge to signature
  cab schema                    # print the ticket schema`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newCheckCmd(),
		newInitCmd(),
		newNewCmd(),
		newSchemaCmd(),
		newKeygenCmd(),
		newSignCmd(),
		newVerifyCmd(),
		newReconcileCmd(),
		newServeCmd(),
		newLogCmd(),
		newMetricsCmd(),
		newReportCmd(),
	)
	return root
}
