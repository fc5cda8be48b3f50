package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/audit/htmlreport"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/schema/load"
)

type reportOptions struct {
	historyOptions
	HTML       string
	OSCAL      string
	Title      string
	Repository string
	NoVerify   bool
}

func (o *reportOptions) addFlags(fs *pflag.FlagSet) {
	o.historyOptions.addFlags(fs, "month")
	fs.Lookup("remote").Usage = "remote the ledger branch is fetched from by cab verify, then read (\"\" for the local branch)"
	fs.StringVar(&o.HTML, "html", "", "write index.html and report.json into `DIR` (required)")
	fs.StringVar(&o.OSCAL, "oscal", "", "also write the controls section as an OSCAL 1.1 assessment-results document (JSON) to `FILE`")
	fs.StringVar(&o.Title, "title", "", "title of the report (default \"Change report\")")
	fs.StringVar(&o.Repository, "repository", "", "repository name for commit and PR links, e.g. github.com/acme/changes (default: repository in cab.cue)")
	fs.BoolVar(&o.NoVerify, "no-verify", false, "do not run cab verify (the report then says the chain was not verified)")
}

func (o *reportOptions) validate() error {
	if o.HTML == "" {
		return fmt.Errorf("missing --html DIR: the directory to write the report into")
	}
	return o.historyOptions.validate()
}

func newReportCmd() *cobra.Command {
	o := &reportOptions{}
	cmd := &cobra.Command{
		Use:   "report --html DIR",
		Short: "Write a static HTML report for auditors: verdict, metrics, charts and every change",
		Long: `Report writes DIR/index.html, one self-contained page for an audit period
(--since/--until): the verdict of cab verify, the metrics of the period (as
cab metrics defines them) overall and per service, charts of throughput, lead
time and failure rate per --period, and the table of changes merged in the
period with links to their commits and pull requests, and the controls
section: for SOC 2 CC8.1, ISO/IEC 27001:2022 A.8.32 and SOX ITGC change
management, which cab evidence answers each objective (approval before
change, segregation of duties, testing, emergency changes reviewed,
traceability to authorised requests) and the exceptions found in the
period, each linked to its ticket. DIR/report.json holds the same data for
machines; --oscal FILE writes the controls section as an OSCAL
assessment-results document.

The page loads nothing from anywhere: its style sheet is inline, its charts
are inline SVG, and it has no scripts (its content security policy forbids
them, and every value from the history is escaped). Open it from disk, attach
it to an audit, or publish DIR as a CI artifact or static site.

Commit and pull request links come from the history; for repositories on
github.com or gitlab.com they are filled from --repository or the repository
field of cab.cue. The exit status is 1 when cab verify found breaks or the
ledger is broken (the report is written all the same), 0 otherwise.`,
		Example: `  cab report --html audit-2026-q1 --since 2026-01-01 --until 2026-03-31
  cab report --html public --period week --tz Europe/Berlin --title "Payments changes"
  cab report --html out --changes changes.json --no-verify
  cab report --html audit --oscal audit/assessment-results.json --since 2026-01-01`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			var verdict *audit.Report
			if !o.NoVerify {
				// cab verify fetches the ledger from --remote first.
				repo, err := gogit.PlainOpenWithOptions(".", &gogit.PlainOpenOptions{DetectDotGit: true})
				if err != nil {
					return fmt.Errorf("opening the git repository for cab verify (--no-verify skips it): %w", err)
				}
				if err := requireRemote(repo, o.Remote, withoutRemote); err != nil {
					return err
				}
				verdict, err = audit.Verify(ctx, audit.VerifyOptions{Dir: ".", Rev: o.Rev, Ledger: ledger.Open(repo, o.Remote, o.Branch)})
				if err != nil {
					return fmt.Errorf("verifying the chain (--no-verify skips it): %w", err)
				}
			}
			// After cab verify, which fetched the ledger: the history is
			// read as verified, and derived from git in this run (the index
			// under .git/cab/ is a cache a local user can edit: it is
			// rebuilt, never trusted, for a report).
			o.index = audit.IndexRebuild
			changes, loadErr := o.load(ctx, cmd.InOrStdin(), cmd.ErrOrStderr())
			if loadErr != nil && !errors.Is(loadErr, errLedgerBroken) {
				return loadErr
			}
			repository, postReviewDays := reportConfig(".", cmd.ErrOrStderr())
			if o.Repository != "" {
				repository = o.Repository
			}
			ro := htmlreport.Options{
				Title: o.Title, Repository: repository, Period: o.period, ProdEnv: o.ProdEnv, Location: o.loc,
				Since: o.since, Until: o.until, Now: time.Now(), Verify: verdict, PostReviewDays: postReviewDays,
			}
			if err := htmlreport.Write(ctx, o.HTML, changes, ro); err != nil {
				return err
			}
			if o.OSCAL != "" {
				if err := htmlreport.WriteOSCAL(ctx, o.OSCAL, changes, ro); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d change(s)", filepath.Join(o.HTML, htmlreport.IndexFile), countIn(changes, o.since, o.until))
			broken := loadErr != nil
			if verdict != nil {
				if len(verdict.Breaks) > 0 {
					fmt.Fprintf(cmd.OutOrStdout(), ", %d break(s) in the chain", len(verdict.Breaks))
					broken = true
				} else {
					fmt.Fprint(cmd.OutOrStdout(), ", chain intact")
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), ")")
			if broken {
				return errViolations
			}
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// countIn counts the changes merged in [since, until).
func countIn(changes []audit.Change, since, until time.Time) int {
	n := 0
	for _, c := range changes {
		if (since.IsZero() || !c.MergedAt.Before(since)) && (until.IsZero() || c.MergedAt.Before(until)) {
			n++
		}
	}
	return n
}

// reportConfig returns the repository field and emergency.postReviewDays
// of dir's cab.cue. Without a usable one the report still runs, with no
// forge links beyond those in the history and the default deadline (0);
// a refused or invalid cab.cue is said on stderr, once.
func reportConfig(dir string, stderr io.Writer) (repository string, postReviewDays int) {
	cfg, err := load.New().ConfigIn(dir)
	switch {
	case errors.Is(err, load.ErrNoConfig):
		return "", 0
	case err != nil:
		fmt.Fprintf(stderr, "cab: warning: %v (the report goes on without it)\n", err)
		return "", 0
	}
	if e := cfg.Config.Emergency; e != nil && e.PostReviewDays != nil {
		postReviewDays = *e.PostReviewDays
	}
	return cfg.Config.Repository, postReviewDays
}
