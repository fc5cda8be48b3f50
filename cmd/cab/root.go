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
	"github.com/spf13/pflag"
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
		Version:       buildVersion().String(),
	}
	root.SetVersionTemplate("cab {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(suggestFlag)
	root.AddCommand(
		newCheckCmd(),
		newInitCmd(),
		newNewCmd(),
		newSchemaCmd(),
		newKeygenCmd(),
		newSignCmd(),
		newVerifyCmd(),
		newLedgerCmd(),
		newReconcileCmd(),
		newPlanCmd(),
		newDriftCmd(),
		newServeCmd(),
		newLogCmd(),
		newMetricsCmd(),
		newReportCmd(),
		newVersionCmd(),
	)
	return root
}

// suggestFlag adds "did you mean" to an unknown long flag, as cobra does
// for misspelled subcommands: the closest flag of the command by edit
// distance, or the one the typed name is a prefix of.
func suggestFlag(cmd *cobra.Command, err error) error {
	var ne *pflag.NotExistError
	if !errors.As(err, &ne) || ne.GetSpecifiedShortnames() != "" {
		return err
	}
	typed := ne.GetSpecifiedName()
	best, bestDist := "", 3 // at most two edits away
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		d := editDistance(typed, f.Name)
		if len(typed) >= 3 && len(f.Name) > len(typed) && f.Name[:len(typed)] == typed {
			d = 1
		}
		if d < bestDist {
			best, bestDist = f.Name, d
		}
	})
	if best == "" {
		return fmt.Errorf("%w (see `%s --help`)", err, cmd.CommandPath())
	}
	return fmt.Errorf("%w (did you mean --%s?)", err, best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
