package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/ledger"
)

type logOptions struct {
	Rev          string
	Remote       string
	Branch       string
	Fetch        bool
	Format       string
	Events       bool
	Reverse      bool
	Wide         bool
	IDs          []string
	Services     []string
	Envs         []string
	Authors      []string
	Approvers    []string
	Outcomes     []string
	Kinds        []string
	Risks        []string
	Since        string
	Until        string
	NoIndex      bool
	RebuildIndex bool
	VerifyIndex  bool
	LogLevel     string

	filter audit.Filter
	level  slog.Level
}

func (o *logOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Rev, "rev", "HEAD", "the main line to read, by first parent")
	fs.StringVar(&o.Remote, "remote", "origin", "read the ledger from this remote's tracking branch when it exists (\"\" for the local branch only)")
	fs.StringVar(&o.Branch, "ledger", ledger.DefaultBranch, "ledger branch")
	fs.BoolVar(&o.Fetch, "fetch", false, "fetch the ledger branch from --remote first")
	fs.StringVar(&o.Format, "format", "table", "output format: table, json or csv")
	fs.BoolVar(&o.Events, "events", false, "one row per ledger event instead of one per ticket")
	fs.BoolVar(&o.Reverse, "reverse", false, "oldest merge first")
	fs.BoolVar(&o.Wide, "wide", false, "table: every column in full on one line (the default fits 120 columns, eliding long cells)")
	fs.StringSliceVar(&o.IDs, "id", nil, "ticket ids or patterns (CHG-2026-*), comma-separated or repeated")
	fs.StringSliceVar(&o.Services, "service", nil, "services (changes/<service>/), comma-separated or repeated")
	fs.StringSliceVar(&o.Envs, "env", nil, "tickets naming one of these environments (--events: events in them)")
	fs.StringSliceVar(&o.Authors, "author", nil, "authors: forge identities (github:1001) or what follows the prefix (1001, alice@example.com)")
	fs.StringSliceVar(&o.Approvers, "approver", nil, "approvers, as --author")
	fs.StringSliceVar(&o.Outcomes, "outcome", nil, "outcomes: "+strings.Join(audit.Outcomes, ", ")+" (--events: event kinds)")
	fs.StringSliceVar(&o.Kinds, "kind", nil, "ticket kinds: standard, normal, emergency")
	fs.StringSliceVar(&o.Risks, "risk", nil, "risks: low, medium, high, critical")
	fs.StringVar(&o.Since, "since", "", "merged at or after (--events: events at or after): RFC 3339, or a date, from its start in UTC")
	fs.StringVar(&o.Until, "until", "", "merged at or before (--events: events at or before): RFC 3339, or a date, to its end in UTC")
	fs.BoolVar(&o.NoIndex, "no-index", false, "neither read nor write the index under .git/cab/")
	fs.BoolVar(&o.RebuildIndex, "rebuild-index", false, "rebuild the index under .git/cab/ from git")
	fs.BoolVar(&o.VerifyIndex, "verify-index", false, "re-derive everything from git and compare it with the index; exit 1 when they differ")
	fs.StringVar(&o.LogLevel, "log-level", "warn", "log level on stderr: debug (what the index did), info, warn or error")
}

// parseTime reads an RFC 3339 time, or a date: a day in UTC (git
// history and the ledger are in UTC, and a date must mean the same
// instants on every machine and CI runner), which --since starts at its
// first instant and --until (endOfDay) ends at its last, so that
// --since 2026-01-01 --until 2026-03-31 is the first quarter, as cab
// metrics reads dates.
func parseTime(flag, s string, endOfDay bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if endOfDay {
			t = t.AddDate(0, 0, 1).Add(-time.Nanosecond)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--%s %q: not a time\n    hint: use RFC 3339 with an offset, e.g. 2026-01-02T15:04:05Z or 2026-01-02T16:04:05+01:00, or a date, 2026-01-02, meaning that day in UTC", flag, s)
}

func oneOf(flag string, values, allowed []string) error {
	for _, v := range values {
		if !slices.Contains(allowed, v) {
			return fmt.Errorf("--%s %q: want one of %s", flag, v, strings.Join(allowed, ", "))
		}
	}
	return nil
}

func (o *logOptions) validate() error {
	if !slices.Contains(audit.Formats, o.Format) {
		return fmt.Errorf("--format %q: want table, json or csv", o.Format)
	}
	if err := o.level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", o.LogLevel)
	}
	if o.NoIndex && (o.RebuildIndex || o.VerifyIndex) {
		return errors.New("--no-index cannot be combined with --rebuild-index or --verify-index")
	}
	outcomes := audit.Outcomes
	if o.Events {
		outcomes = ledger.Kinds
	}
	if err := errors.Join(
		oneOf("kind", o.Kinds, []string{"standard", "normal", "emergency"}),
		oneOf("risk", o.Risks, []string{"low", "medium", "high", "critical"}),
		oneOf("outcome", o.Outcomes, outcomes),
	); err != nil {
		return err
	}
	since, err := parseTime("since", o.Since, false)
	if err != nil {
		return err
	}
	until, err := parseTime("until", o.Until, true)
	if err != nil {
		return err
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return fmt.Errorf("--until %s is before --since %s", o.Until, o.Since)
	}
	o.filter = audit.Filter{IDs: o.IDs, Services: o.Services, Envs: o.Envs, Authors: o.Authors, Approvers: o.Approvers,
		Outcomes: o.Outcomes, Kinds: o.Kinds, Risks: o.Risks, Since: since, Until: until}
	return nil
}

func newLogCmd() *cobra.Command {
	o := &logOptions{}
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Show merged tickets and what happened to them, from main and the ledger",
		Long: `Log shows one row per ticket merged on main (read by first parent, as cab
sign does), newest first: id, title, service, risk, kind, author, approvers,
pull request, merge time, who signed it, and per environment what the ledger
recorded (applied, verified, rolled back) and the outcome. With --events, one
row per ledger event. Rows stream: the first appear before the scan ends.

Filters combine (AND); a flag given several values matches any of them.
--since and --until bound the merge time, both ends included as in git log.
They take RFC 3339 times with an offset, or dates, which are days in UTC:
--since 2026-01-01 --until 2026-03-31 is the first quarter of 2026, from
2026-01-01T00:00:00Z to the last instant of 2026-03-31 in UTC, whatever the
machine's time zone. Times are printed in RFC 3339, in UTC.

What the signed predicate says (author, approvals, pull request) is read from
each ledger envelope without verifying its signature: cab verify does that.
A broken ledger (an unreadable event, a gap in a ticket's events, an
impossible transition, or a history rewritten since cab log last read it) is
reported on stderr and in the JSON document, the rows are still shown as far
as the ledger can be read, and cab log exits 1.

To answer fast on long histories, cab log keeps a derived index in
.git/cab/log-v1.idx: main's first-parent chain, the tickets each merge added
and the ledger as last read. Git stays the source of truth: each run checks
the index against the branch heads and reads only what is new; an index that
no longer fits (history rewritten, file damaged) is rebuilt. --verify-index
re-derives everything from git and compares.`,
		Example: `  cab log
  cab log --service payments --since 2026-01-01 --until 2026-03-31
  cab log --outcome rolled-back,failed --format csv > incidents.csv
  cab log --id CHG-2026-0042 --events
  cab log --approver github:1001 --risk high,critical --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd)
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

func (o *logOptions) run(cmd *cobra.Command) error {
	ctx := cmd.Context()
	// cab log is short-lived and allocates what it keeps (the index, the
	// rows): collect less often than the default, within a bound, unless
	// the user tuned the collector.
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(400)
		debug.SetMemoryLimit(192 << 20)
	}
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if o.Fetch {
		if o.Remote == "" {
			return errors.New("--fetch needs --remote")
		}
		if err := fetchLedger(ctx, o.Remote, o.Branch); err != nil {
			return err
		}
	}
	lo := audit.LogOptions{Dir: ".", Rev: o.Rev, LedgerBranch: o.Branch, Remote: o.Remote, Filter: o.filter, Reverse: o.Reverse,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.level}))}
	// Only the JSON document shows how many tickets main merged: without
	// it, a cold question may be answered without building the index.
	lo.NoMerged = o.Format != "json"
	switch {
	case o.NoIndex:
		lo.Index = audit.IndexOff
	case o.RebuildIndex:
		lo.Index = audit.IndexRebuild
	}
	if o.VerifyIndex {
		rep, err := audit.VerifyIndex(ctx, lo)
		if err != nil {
			return err
		}
		for _, d := range rep.Differences {
			fmt.Fprintf(stdout, "DIFFERS %s\n", d)
		}
		if len(rep.Differences) > 0 {
			fmt.Fprintf(stdout, "the index differs from git in %d place(s); it was rebuilt\n", len(rep.Differences))
			return errViolations
		}
		fmt.Fprintf(stdout, "index matches git: %d commit(s) on main, %d merge(s) adding %d ticket(s), %d ledger ticket(s)\n",
			rep.Commits, rep.Merges, rep.Tickets, rep.LedgerTickets)
		return nil
	}

	lw, err := audit.NewLogWriter(stdout, o.Format, o.Events)
	if lw != nil {
		lw.Wide = o.Wide
	}
	if err != nil {
		return err
	}
	var prog *logProgress
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		prog = &logProgress{w: stderr, start: time.Now()}
		lo.Progress = prog.update
	}
	var lastFlush time.Time
	flush := func() error {
		// The first row at once, then at most every 50 ms: rows stream
		// without a write per row.
		if !lastFlush.IsZero() && time.Since(lastFlush) < 50*time.Millisecond {
			return nil
		}
		prog.clear()
		lastFlush = time.Now()
		return lw.Flush()
	}
	var res *audit.LogResult
	if o.Events {
		res, err = audit.LogEvents(ctx, lo, func(e *audit.EventRow) error {
			if err := lw.WriteEvent(e); err != nil {
				return err
			}
			return flush()
		})
	} else {
		res, err = audit.Log(ctx, lo, func(c *audit.Change) error {
			if err := lw.WriteChange(c); err != nil {
				return err
			}
			return flush()
		})
	}
	prog.clear()
	if err != nil {
		_ = lw.Flush()
		return err
	}
	if err := lw.Finish(res); err != nil {
		return err
	}
	writeLogProblems(stderr, res)
	if res.LedgerBroken() {
		return errViolations
	}
	return nil
}

// fetchLedger updates refs/remotes/<remote>/<branch> from the remote
// (forced: a rewritten ledger is seen as it is, and cab log reports it).
// Only the ref is fetched: cab log reads the ledger itself, tolerantly.
func fetchLedger(ctx context.Context, remote, branch string) error {
	repo, err := gogit.PlainOpenWithOptions(".", &gogit.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return fmt.Errorf("opening the git repository: %w", err)
	}
	if err := requireRemote(repo, remote, "--remote '' without --fetch"); err != nil {
		return err
	}
	src := plumbing.NewBranchReferenceName(branch)
	dst := plumbing.NewRemoteReferenceName(remote, branch)
	if err := errors.Join(src.Validate(), dst.Validate()); err != nil {
		return fmt.Errorf("--ledger %q, --remote %q: %w", branch, remote, err)
	}
	err = repo.FetchContext(ctx, &gogit.FetchOptions{
		RemoteName: remote,
		RefSpecs:   []config.RefSpec{config.RefSpec("+" + src.String() + ":" + dst.String())},
		Tags:       gogit.NoTags,
	})
	switch {
	case err == nil, errors.Is(err, gogit.NoErrAlreadyUpToDate):
		return nil
	case errors.Is(err, gogit.NoMatchingRefSpecError{}):
		return fmt.Errorf("fetching the ledger: %s has no branch %s (run cab sign first, or pass --ledger)", remote, branch)
	}
	return fmt.Errorf("fetching the ledger %s from %s: %w", branch, remote, err)
}

func writeLogProblems(w io.Writer, res *audit.LogResult) {
	for _, p := range res.Problems {
		who := ""
		if p.Ticket != "" {
			who = p.Ticket + ": "
		}
		fmt.Fprintf(w, "cab log: %s: %s%s\n", p.What, who, p.Message)
	}
	if res.LedgerBroken() {
		fmt.Fprintln(w, "    hint: the rows show what the ledger still holds; run cab verify to check the whole chain, and restore the ledger branch from a copy that has every event")
	}
}

// logProgress draws "scanning main: N commits" on a terminal, once the
// scan has taken a moment, at most ten times a second; rows written to
// the same terminal clear it first.
type logProgress struct {
	w     io.Writer
	start time.Time
	last  time.Time
	shown bool
}

func (p *logProgress) update(commits int) {
	if time.Since(p.start) < 250*time.Millisecond || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.shown = true
	fmt.Fprintf(p.w, "\r\033[Kscanning main: %d commits", commits)
}

func (p *logProgress) clear() {
	if p == nil || !p.shown {
		return
	}
	p.shown = false
	fmt.Fprint(p.w, "\r\033[K")
}
