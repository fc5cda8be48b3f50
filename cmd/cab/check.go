package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/cabhq/cab/forge"
	forgegit "github.com/cabhq/cab/forge/git"
	"github.com/cabhq/cab/plan"
	"github.com/cabhq/cab/validate"
)

type checkOptions struct {
	Format        string
	Now           string
	TicketTimeout time.Duration
	TotalTimeout  time.Duration
	MaxMemoryMiB  uint64
	Base, Head    string
	Review        string
	Forge         string
	ReportDir     string
	Post          bool
	// Plan adds what each added ticket would change (see cab plan).
	Plan     bool
	planOpts planOptions
	// NoCache turns the verdict cache off (checks on files).
	NoCache bool
	pr      bool       // set by validate
	plan    *plan.Plan // set by checkPR with --plan
}

func (o *checkOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Format, "format", "text", "output format: text, json, github (annotations and job summary), gitlab (Code Quality and JUnit files) or sarif")
	fs.StringVar(&o.ReportDir, "report-dir", ".", "where --format gitlab writes cab-codequality.json and cab-junit.xml")
	fs.StringVar(&o.Now, "now", "", "judge windows and freezes at this RFC 3339 time instead of the current time")
	fs.DurationVar(&o.TicketTimeout, "ticket-timeout", validate.DefaultTicketTimeout, "time budget for checking one ticket")
	fs.DurationVar(&o.TotalTimeout, "total-timeout", validate.DefaultTotalTimeout, "time one check may lose to evaluation that blows its budgets (a hostile policy), compile included; what is left then fails unevaluated")
	fs.Uint64Var(&o.MaxMemoryMiB, "max-memory", 1024, "memory budget of the evaluation process, in MiB")
	fs.BoolVar(&o.NoCache, "no-cache", false, "checks on files: evaluate every ticket, neither reusing nor storing the verdicts kept under .git/cab/ (a verdict is reused only when every input it depends on is the same, and only if it was written with this user's secret)")
	fs.StringVar(&o.Base, "base", "", "pull-request mode: the target revision whose rules judge the change (e.g. origin/main)")
	fs.StringVar(&o.Head, "head", "", "pull-request mode: the proposed revision (default HEAD)")
	fs.StringVar(&o.Review, "review", "", "pull-request mode: review evidence as JSON (forge, headSHA, author, pushers, merger, approvals: [{id, commit}]), for CI systems without a forge client; headSHA is required")
	fs.StringVar(&o.Forge, "forge", "auto", "pull-request mode: where approvals come from: github, gitlab, git (Approved-by trailers of a merge commit signed by a mergeSigners key), none, or auto (github or gitlab when running in their CI, else none)")
	fs.BoolVar(&o.Plan, "plan", false, "pull-request mode: also read the live targets the base cab.cue names and say what each added ticket would change in each environment (see cab plan); in every format, the job summary and the --post comment")
	o.planOpts.addFlags(fs)
	fs.BoolVar(&o.Post, "post", false, "pull-request mode: also set the cab/check commit status and keep one PR/MR comment up to date (github, gitlab)")
}

func (o *checkOptions) validate() (time.Time, error) {
	switch o.Format {
	case "text", "json", "github", "gitlab", "sarif":
	default:
		return time.Time{}, fmt.Errorf("--format %q: want text, json, github, gitlab or sarif", o.Format)
	}
	switch o.Forge {
	case "auto", "none", "git", "github", "gitlab":
	default:
		return time.Time{}, fmt.Errorf("--forge %q: want auto, none, git, github or gitlab", o.Forge)
	}
	explicitForge := o.Forge != "auto"
	o.Forge = detectForge(o.Forge, os.Getenv)
	// Pull-request mode: --base, or an explicit forge, whose CI event then
	// supplies base and head. auto alone never turns it on.
	pr := o.Base != "" || explicitForge && (o.Forge == "github" || o.Forge == "gitlab")
	o.pr = pr
	if !pr && (o.Head != "" || o.Review != "" || o.Post || o.Plan || explicitForge && o.Forge != "none") {
		return time.Time{}, fmt.Errorf("--head, --review, --forge, --plan and --post need --base (pull-request mode)")
	}
	if o.Review != "" && o.Forge != "none" {
		if explicitForge {
			return time.Time{}, fmt.Errorf("--review and --forge %s both give approvals; choose one", o.Forge)
		}
		o.Forge = "none" // an explicit file wins over the CI environment
	}
	if o.Post && o.Forge != "github" && o.Forge != "gitlab" {
		return time.Time{}, fmt.Errorf("--post needs --forge github or gitlab")
	}
	if o.TicketTimeout <= 0 {
		return time.Time{}, fmt.Errorf("--ticket-timeout must be positive")
	}
	if o.TotalTimeout <= 0 {
		return time.Time{}, fmt.Errorf("--total-timeout must be positive")
	}
	if o.MaxMemoryMiB < 64 {
		return time.Time{}, fmt.Errorf("--max-memory must be at least 64 MiB")
	}
	if o.Now == "" {
		return time.Now(), nil
	}
	now, err := time.Parse(time.RFC3339, o.Now)
	if err != nil {
		return time.Time{}, fmt.Errorf("--now: want an RFC 3339 time such as 2026-12-01T10:00:00Z: %w", err)
	}
	return now, nil
}

func newCheckCmd() *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check [paths...]",
		Short: "Validate change tickets against the schema and the repository's policies",
		Long: `Check validates change tickets.

A directory argument is a change repository (cab.cue, policy/, changes/) or a
directory inside one: every ticket under it is checked. A file argument is
checked against the schema and the policies of the repository it is in, or,
outside any repository, against the schema and the built-in default policies.
The default path is the current directory.

With --base, check is the pull-request gate: it compares the base and head
revisions of the git repository with go-git and checks only what the change
adds, judged by the schema, cab.cue and policies of the base (a pull request
cannot loosen the rules it is judged by). Merged tickets are immutable; ids
must stay unique and references must exist; a change to cab.cue or policy/
needs the approvals of the base's governance group. Approvals come
from the forge (--forge github: the pull request's reviews, with
GITHUB_TOKEN; --forge gitlab: the merge request's approvals, with
CAB_GITLAB_TOKEN; auto-detected in their CI, which also supplies --base and
--head), from the Approved-by trailers of a merge commit signed by one of the
mergeSigners the base cab.cue lists (--forge git, identities
"git:<email>"), or from --review (JSON: {"forge", "headSHA",
"author", "pushers", "merger", "approvals": [{"id", "commit"}]}, ids are
stable forge user ids such as "github:583231"; headSHA, the commit the
approvals were given on, is required and must be the head under check). --post sets the cab/check commit status and keeps one
pull-request comment up to date.

Problems are printed as file:line:col: message, each with a hint. Exit status
is 0 when every ticket passes, 1 when any problem was found, 2 on a usage or
internal error.`,
		Example: `  cab check                                   # the repository in the current directory
  cab check changes/payments/CHG-2026-0042.cue  # one ticket
  cab check --format json examples/repo       # machine-readable report
  cab check --base origin/main --head HEAD --review review.json   # the pull-request gate`,
		RunE: func(cmd *cobra.Command, args []string) error {
			now, err := o.validate()
			if err != nil {
				return err
			}
			opts := validate.Options{
				Now:     now,
				Limits:  validate.Limits{Ticket: o.TicketTimeout, Total: o.TotalTimeout, Memory: o.MaxMemoryMiB << 20},
				NoCache: o.NoCache,
			}
			stderr := cmd.ErrOrStderr()
			if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && o.Format == "text" {
				opts.Progress = progress(stderr)
			}
			start := time.Now()
			var rep *validate.Report
			if o.pr {
				rep, err = o.checkPR(cmd, args, opts)
			} else {
				rep, err = validate.CheckPaths(cmd.Context(), args, opts)
			}
			if opts.Progress != nil {
				fmt.Fprint(stderr, "\r\033[K")
			}
			if err != nil {
				return err
			}
			if err := o.writeReport(cmd.OutOrStdout(), rep, time.Since(start)); err != nil {
				return err
			}
			if rep.Errors() > 0 {
				return errViolations
			}
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// checkPR runs the pull-request gate on the repository args name (default
// the current directory).
func (o *checkOptions) checkPR(cmd *cobra.Command, args []string, opts validate.Options) (*validate.Report, error) {
	if len(args) > 1 {
		return nil, fmt.Errorf("pull-request mode checks one repository; got %d paths", len(args))
	}
	dir := "."
	if len(args) == 1 {
		dir = args[0]
	}
	ctx := cmd.Context()
	var session forgeSession
	if o.Forge == "github" || o.Forge == "gitlab" {
		var err error
		if session, err = openForge(o.Forge); err != nil {
			return nil, err
		}
		base, head := session.revisions()
		o.Base, o.Head = cmp.Or(o.Base, base), cmp.Or(o.Head, head)
	}
	o.Head = cmp.Or(o.Head, "HEAD")
	var review *forge.Evidence
	var err error
	switch {
	case o.Review != "":
		review, err = readReview(o.Review)
	case o.Forge == "git":
		review, err = gitReview(dir, o.Base, o.Head)
	case session != nil:
		review, err = session.review(ctx)
	}
	if err != nil {
		return nil, err
	}
	rep, err := validate.CheckPR(ctx, validate.PROptions{
		Dir: dir, Base: o.Base, Head: o.Head, Evidence: review,
		Now: opts.Now, Limits: opts.Limits, Progress: opts.Progress,
	})
	if err != nil {
		return nil, err
	}
	extra := ""
	if o.Plan {
		if o.plan, err = o.planOpts.make(ctx, dir, o.Base, rep, opts.Now); err != nil {
			return nil, fmt.Errorf("--plan: %w", err)
		}
		rep.Diagnostics = append(rep.Diagnostics, o.plan.Diagnostics()...).Sort()
		extra = "\n" + plan.Markdown(o.plan)
	}
	if o.Post {
		if err := session.post(ctx, rep, extra); err != nil {
			return nil, fmt.Errorf("--post: %w", err)
		}
	}
	return rep, nil
}

// gitReview reads approvals from the Approved-by trailers of the head,
// which count only on a merge commit a trusted merge signer signed.
func gitReview(dir, base, head string) (*forge.Evidence, error) {
	repo, err := gogit.PlainOpenWithOptions(dir, &gogit.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("opening the git repository at %s: %w", dir, err)
	}
	r, err := forgegit.NewReader(repo)
	if err != nil {
		return nil, err
	}
	e, err := r.Review(base, head)
	if err != nil {
		return nil, fmt.Errorf("--forge git: %w", err)
	}
	return e, nil
}

// readReview reads review evidence from a JSON file (see
// forge.DecodeEvidence).
func readReview(name string) (*forge.Evidence, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("--review: %w", err)
	}
	defer f.Close()
	e, err := forge.DecodeEvidence(io.LimitReader(f, 16<<20))
	if errors.Is(err, forge.ErrNoHead) {
		return nil, fmt.Errorf("--review %s: %w\n    hint: add \"headSHA\": the full id of the commit the approvals were given on (git rev-parse HEAD of the pull request); approvals count only for that commit", name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("--review %s: %w", name, err)
	}
	return e, nil
}

// progress draws "n/total" on a terminal, at most ten times a second.
func progress(w io.Writer) func(done, total int) {
	var last time.Time
	return func(done, total int) {
		if done != total && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "\r\033[Kprogress %d/%d", done, total)
	}
}
