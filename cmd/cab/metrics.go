package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/ledger"
)

// historyOptions say where the changes come from and which time range
// counts; cab metrics and cab report share them.
type historyOptions struct {
	Rev     string
	Remote  string
	Branch  string
	Changes string
	Since   string
	Until   string
	TZ      string
	Period  string
	ProdEnv string

	// index is how the derived index under .git/cab/ is used (default
	// audit.IndexUse). cab report sets audit.IndexRebuild: a report for
	// auditors shows only rows derived from git in this run.
	index audit.IndexMode

	// Parsed by validate.
	loc          *time.Location
	since, until time.Time
	period       audit.Period
}

func (o *historyOptions) addFlags(fs *pflag.FlagSet, defaultPeriod string) {
	fs.StringVar(&o.Rev, "rev", "HEAD", "the main line to read")
	fs.StringVar(&o.Remote, "remote", "origin", "remote whose copy of the ledger branch is read when there is one (\"\": the local branch; nothing is fetched)")
	fs.StringVar(&o.Branch, "ledger", ledger.DefaultBranch, "ledger branch")
	fs.StringVar(&o.Changes, "changes", "", "read the changes from `FILE` (what cab log --format json writes; - for stdin) instead of git history")
	fs.StringVar(&o.Since, "since", "", "count from this time on: RFC 3339, or a date (its midnight in --tz)")
	fs.StringVar(&o.Until, "until", "", "count up to this time (exclusive): RFC 3339, or a date (that day included)")
	fs.StringVar(&o.TZ, "tz", "UTC", "time zone of dates, period boundaries and times shown (IANA name, e.g. Europe/Berlin, or Local)")
	fs.StringVar(&o.Period, "period", defaultPeriod, "buckets: all, week (ISO 8601), month or quarter")
	fs.StringVar(&o.ProdEnv, "prod-env", "prod", "the production environment (\"\": the last environment of each ticket's promotion list)")
}

func (o *historyOptions) validate() error {
	loc, err := time.LoadLocation(o.TZ)
	if err != nil {
		return fmt.Errorf("--tz %q: want an IANA time zone such as UTC or Europe/Berlin", o.TZ)
	}
	o.loc = loc
	if o.Since != "" {
		if o.since, err = audit.ParseInstant(o.Since, loc, false); err != nil {
			return fmt.Errorf("--since %w", err)
		}
	}
	if o.Until != "" {
		if o.until, err = audit.ParseInstant(o.Until, loc, true); err != nil {
			return fmt.Errorf("--until %w", err)
		}
	}
	if !o.since.IsZero() && !o.until.IsZero() && !o.until.After(o.since) {
		return fmt.Errorf("--until %s is not after --since %s", o.Until, o.Since)
	}
	if o.period, err = audit.ParsePeriod(o.Period); err != nil {
		return fmt.Errorf("--%w", err)
	}
	return nil
}

// scan reads every change from git history: main by first parent and
// the ledger branch (through cab log's index). Problems it finds (a broken
// ledger, an unreadable ticket) are printed to stderr; errViolations is
// returned with the changes when the ledger is broken, after the caller
// has written its output.
func (o *historyOptions) scan(ctx context.Context, stderr io.Writer) ([]audit.Change, error) {
	changes := []audit.Change{}
	res, err := audit.Log(ctx, audit.LogOptions{
		Dir: ".", Rev: o.Rev, LedgerBranch: o.Branch, Remote: o.Remote, OpenedAt: true, Reverse: true, Index: o.index,
	}, func(c *audit.Change) error {
		changes = append(changes, *c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the history: %w", err)
	}
	for _, p := range res.Problems {
		where := p.Ticket
		if where == "" {
			where = "ledger"
		}
		fmt.Fprintf(stderr, "cab: %s: %s: %s\n", where, p.What, p.Message)
	}
	if res.LedgerBroken() {
		return changes, errLedgerBroken
	}
	return changes, nil
}

// errLedgerBroken says the ledger read has problems (already printed):
// the numbers are shown, and the exit status is 1.
var errLedgerBroken = fmt.Errorf("the ledger is broken (see above): %w", errViolations)

// load returns the changes, from --changes or from git history (see
// scan for errLedgerBroken).
func (o *historyOptions) load(ctx context.Context, stdin io.Reader, stderr io.Writer) ([]audit.Change, error) {
	if o.Changes == "" {
		return o.scan(ctx, stderr)
	}
	r := stdin
	if o.Changes != "-" {
		f, err := os.Open(o.Changes)
		if err != nil {
			return nil, fmt.Errorf("--changes: %w", err)
		}
		defer f.Close()
		r = f
	}
	changes, err := audit.ReadChanges(r)
	if err != nil {
		return nil, fmt.Errorf("--changes %s: %w", o.Changes, err)
	}
	return changes, nil
}

type metricsOptions struct {
	historyOptions
	By     string
	Format string

	byService, byEnv bool
}

func (o *metricsOptions) addFlags(fs *pflag.FlagSet) {
	o.historyOptions.addFlags(fs, "all")
	fs.StringVar(&o.By, "by", "service", "grouping: service, env, service,env or none")
	fs.StringVar(&o.Format, "format", "table", "output format: table, json or prometheus")
}

func (o *metricsOptions) validate() error {
	switch o.Format {
	case "table", "json", "prometheus":
	default:
		return fmt.Errorf("--format %q: want table, json or prometheus", o.Format)
	}
	o.byService, o.byEnv = false, false
	if o.By != "none" {
		for _, b := range strings.Split(o.By, ",") {
			switch strings.TrimSpace(b) {
			case "service":
				o.byService = true
			case "env":
				o.byEnv = true
			default:
				return fmt.Errorf("--by %q: want service, env, service,env or none", o.By)
			}
		}
	}
	return o.historyOptions.validate()
}

const metricsDefinitions = `Each quantity is counted in the period (and within --since/--until) of its
own timestamp; p50 and p90 are nearest-rank percentiles. The twelve change
metrics, numerator / denominator [timestamp that places it in a period]:

  M1  throughput           changes merged [merge commit]
  M2  approval lead time   pull request opened (earliest commit it brought) to
                           the last counted approval, per merged change (p50,
                           p90) [merge commit]
  M3  change success rate  merged changes verified (everywhere, or in the row's
                           environment with --by env) / those with a final
                           outcome: verified, failed, rolled-back,
                           rollback-failed, expired or quarantined (pending,
                           scheduled, in-progress and unsigned changes are left
                           out) [merge commit]
  M4  rollback rate        of the same finished changes, those rolled back or
                           whose rollback failed [merge commit]
  M5  MTTR                 per service and environment, a failed event when
                           nothing was failing to the next verified event there
                           (any change); outages not restored yet are shown as
                           "+N open" [the failed event]
  M6  precheck pass rate   applies started (prechecks passed, or none declared)
                           / those plus the holds recorded because prechecks
                           failed; the reconciler records one hold per
                           continuous failure, not one per poll [applying
                           event; the hold's scheduled event]
  M7  postcheck            deployments verified / deployments whose postchecks
      validation rate      reached an outcome (verified, or failed after
                           applied) [verified or failed event]
  M8  approval-SLA         merged changes whose approvals took longer than the
      breaches             approvalSLA of their base's cab.cue (the merge's
                           first parent) for their service and risk: last
                           counted approval minus opened (the earliest commit's
                           author time, never later than the PR) / changes with
                           an SLA and both times known; shown when reading the
                           local git history, not with --changes or --remote
                           [merge commit]
  M9  change-induced       merged changes named in the fixes: of a later ticket
      incidents            (an emergency or incident ticket; fixes needs an
                           incident) / changes merged [merge commit of the
                           change named]
  M10 error-budget impact  mean, over the deployments of services with burnRate
                           in cab.cue, of the burn rate read at postcheck
                           (verified or failed event) minus the one read just
                           before the apply (applying event), both recorded by
                           the reconciler inside the signed envelope; shown
                           signed with the deployments measured, "+0.25
                           (n=2)"; a deployment that failed before its
                           postchecks has no second reading and is left out
                           [applying event]
  M11 orchestrator error   deployments whose apply failed (failed before
      rate                 applied) or whose rollback failed / deployments
                           started; a postcheck failure is the change's, not
                           the orchestrator's [applying event]
  M12 time to execute      applying to the deployment's outcome (verified or
                           failed), per deployment (p50, p90) [applying event]

Also: emergency share (merged emergency changes / changes merged), unsigned
(merged changes recorded unsigned: they bypassed the gate), deployments
(applies started in the environment), change failure rate (deployments that
failed / deployments with an outcome) and lead time (merge commit to verified
in the environment: merge to production for --prod-env) [verified event].

Without --by env, the deployment metrics (deployments, change failure rate,
lead time, M5-M7, M11, M12) are those of the production environment
(--prod-env); with it, those of each environment. Periods: week is the ISO
8601 week (Monday 00:00 to Monday 00:00, labelled 2026-W02), month 2026-01,
quarter 2026-Q1, all a single bucket; boundaries are in --tz. Periods from the
first to the last with activity (or from --since to --until) are all listed,
empty ones as zeros.`

func newMetricsCmd() *cobra.Command {
	o := &metricsOptions{}
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "Change metrics M1-M12 per service, environment and period (throughput, lead times, failure rate, MTTR, checks, incidents)",
		Long: `Metrics measures how changes flow from git history (main and the ledger):
throughput, approval lead time, merge-to-production lead time, change success
rate, rollback rate, change failure rate, time to restore (MTTR) and the share
of emergency changes, per service, environment and period.

` + metricsDefinitions + `

--format table is for people, json is one document (times RFC 3339 in --tz,
durations in seconds), prometheus is the text exposition format for a
Pushgateway or a node exporter textfile collector: gauges cab_change_* and
summaries cab_change_*_seconds (quantiles 0.5 and 0.9) labelled service, env
and period.`,
		Example: `  cab metrics                                     # per service, whole history
  cab metrics --period month --since 2026-01-01 --until 2026-03-31
  cab metrics --by env --period week --tz Europe/Berlin
  cab metrics --by none --format prometheus > /var/lib/node_exporter/cab.prom
  cab log --format json > changes.json && cab metrics --changes changes.json --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			changes, loadErr := o.load(cmd.Context(), cmd.InOrStdin(), cmd.ErrOrStderr())
			if loadErr != nil && !errors.Is(loadErr, errLedgerBroken) {
				return loadErr
			}
			mo := audit.MetricsOptions{
				Period: o.period, Location: o.loc, Since: o.since, Until: o.until,
				ByService: o.byService, ByEnv: o.byEnv, ProdEnv: o.ProdEnv,
			}
			if o.Changes == "" && o.Remote == "" {
				var err error
				if mo.SLA, err = audit.SLAsAtMerges(cmd.Context(), "."); err != nil {
					return err
				}
			}
			m, err := audit.ComputeMetrics(changes, mo)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			switch o.Format {
			case "json":
				err = m.WriteJSON(w)
			case "prometheus":
				err = m.WritePrometheus(w)
			default:
				err = m.WriteTable(w)
			}
			if err != nil {
				return err
			}
			if loadErr != nil {
				return errViolations
			}
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}
