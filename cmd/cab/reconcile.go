package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gogit "github.com/go-git/go-git/v5"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cabhq/cab/drift"
	"github.com/cabhq/cab/internal/gitpush"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/internal/redact"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile"
	"github.com/cabhq/cab/reconcile/check"
	"github.com/cabhq/cab/reconcile/target"
	gittarget "github.com/cabhq/cab/reconcile/target/git"
	httptarget "github.com/cabhq/cab/reconcile/target/http"
	"github.com/cabhq/cab/reconcile/target/oci"
	"github.com/cabhq/cab/sign"
)

type reconcileOptions struct {
	Rev        string
	Remote     string
	MainBranch string
	NoFetch    bool
	Branch     string
	Instance   string
	Lease      time.Duration
	DryRun     bool
	// Heal lets cab drift restore drifted keys (reconcile.Options.Heal).
	Heal          bool
	Format        string
	Tickets       []string
	Workers       int
	CheckBudget   time.Duration
	CheckInterval time.Duration
	CacheDir      string
	LogFormat     string
	LogLevel      string
	Retries       int
	TargetTimeout time.Duration
	GitTimeout    time.Duration
	NotifyTimeout time.Duration

	// redactor scrubs credentials from everything the reconciler writes
	// (ledger reasons, logs, steps); envRedactor when nil.
	redactor *redact.Redactor
	// Key signs the outcome events; AcceptLedger accepts a reviewed
	// ledger commit as the checkpoint.
	Key          string
	AcceptLedger string
	// signer is the key loaded (cab serve loads it at start).
	signer *sign.Signer
	// Forge is where --post comments (and cab serve polls SLAs): github,
	// gitlab, none or auto; Post keeps the outcome comment.
	Forge string
	Post  bool
}

func (o *reconcileOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Rev, "rev", "HEAD", "the main line whose cab.cue names the targets, freezes and error budgets")
	fs.StringVar(&o.MainBranch, "branch", "main", "the branch tickets are merged into, fetched from --remote before the pass so that every signed merge commit is in the checkout")
	fs.BoolVar(&o.NoFetch, "no-fetch", false, "do not fetch --branch first (the ledger is still fetched from --remote): a ticket whose merge commit the checkout lacks waits, scheduled")
	fs.BoolVar(&o.DryRun, "dry-run", false, "print the plan (what would change, from what to what) without changing or recording anything")
	fs.StringVar(&o.Format, "format", "text", "output format: text or json")
	fs.StringSliceVar(&o.Tickets, "ticket", nil, "only these ticket ids (repeatable)")
	fs.StringVar(&o.LogFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&o.LogLevel, "log-level", "warn", "log level on stderr: debug, info, warn or error (steps are printed on stdout either way)")
	fs.DurationVar(&o.NotifyTimeout, "notify-timeout", 30*time.Second, "how long notifications (cab.cue notify:) may take to send after the pass; what is not sent by then is sent by the next run")
	fs.StringVar(&o.AcceptLedger, "accept-ledger", "", "after reviewing a ledger the reconciler stopped on, accept this ledger commit (usually its head) as the checkpoint; applies nothing")
	o.addEngineFlags(fs)
	o.addForgeFlags(fs)
}

// addForgeFlags adds the flags of the forge's API, which cab reconcile
// and cab serve share.
func (o *reconcileOptions) addForgeFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Forge, "forge", "auto", "the forge --post comments on (and cab serve --sla-interval polls): github or gitlab (repository and token from the environment, as cab sign reads them), none, or auto (from the CI environment)")
	fs.BoolVar(&o.Post, "post", false, "keep one comment on the pull/merge request that introduced each ticket (from its signed statement) with its latest outcome per environment, edited in place after each pass; a comment that fails is retried next pass and never fails the pass")
}

// addEngineFlags adds the flags cab reconcile and cab serve share.
func (o *reconcileOptions) addEngineFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Remote, "remote", "origin", "remote main and the ledger branch are fetched from and the ledger pushed to (\"\" for local branches only)")
	fs.StringVar(&o.Branch, "ledger", ledger.DefaultBranch, "ledger branch")
	fs.StringVar(&o.Instance, "instance", "", "this reconciler's name on the ledger (default cab-reconcile@<host>); give concurrent reconcilers distinct names")
	fs.DurationVar(&o.Lease, "lease", reconcile.DefaultLease, "how long an unfinished step belongs to the reconciler that started it; must exceed the longest apply plus postchecks (a pass may take a lease per ticket-environment in flight, and one more)")
	fs.IntVar(&o.Workers, "workers", 0, "applies, checks and restores run at once (default max(4, cores))")
	fs.DurationVar(&o.CheckBudget, "check-budget", model.DefaultCheckBudget, "how long failing postchecks are retried before the change is rolled back")
	fs.DurationVar(&o.CheckInterval, "check-interval", 5*time.Second, "pause between check attempts")
	fs.StringVar(&o.CacheDir, "cache-dir", "", "where environment repositories are cloned (default .git/cab/env)")
	fs.IntVar(&o.Retries, "retries", 3, "attempts of each target call that meets a 5xx or a network error")
	fs.DurationVar(&o.TargetTimeout, "target-timeout", 5*time.Minute, "bound on each observe, apply or restore of one action (a registry or git server that hangs)")
	fs.DurationVar(&o.GitTimeout, "git-timeout", gitpush.DefaultTimeout, "bound on each fetch or push of the change repository, the ledger and environment repositories (a remote that accepts and never answers)")
	fs.StringVar(&o.Key, "key", "", "the reconciler's key, which signs every outcome event: file://reconciler.key, a path, or a KMS URI (password from "+keyPasswordEnv+"); cab.cue must trust it with roles: [\"reconcile\"]")
}

// scrubber returns o's redactor, made from the environment on first use.
func (o *reconcileOptions) scrubber() *redact.Redactor {
	if o.redactor == nil {
		o.redactor = envRedactor()
	}
	return o.redactor
}

// errNoKey explains how to give a reconciler its key.
var errNoKey = errors.New(`--key is required: the reconciler signs every outcome event it records
    hint: cab keygen --out reconciler, add reconciler.pub to keys: in cab.cue with roles: ["reconcile"], then --key file://reconciler.key (a --dry-run needs no key)`)

// loadSigner loads --key (once).
func (o *reconcileOptions) loadSigner(ctx context.Context) (*sign.Signer, error) {
	if o.signer != nil || o.Key == "" {
		return o.signer, nil
	}
	s, err := sign.LoadSigner(ctx, o.Key, keyPassword)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	o.signer = s
	return s, nil
}

func (o *reconcileOptions) validate() error {
	if o.Format == "table" {
		o.Format = "text" // cab drift's name for it
	}
	if o.Format != "text" && o.Format != "json" {
		return fmt.Errorf("--format %q: want text or json", o.Format)
	}
	if o.LogFormat != "text" && o.LogFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", o.LogFormat)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", o.LogLevel)
	}
	for _, id := range o.Tickets {
		if !ledger.ValidTicketID(id) {
			return fmt.Errorf("--ticket %q: not a ticket id like CHG-2026-0042", id)
		}
	}
	return o.validateForge(o.Post, "--post")
}

// validateForge resolves --forge auto and, when a feature named by flag
// needs the forge's API, requires github or gitlab.
func (o *reconcileOptions) validateForge(needed bool, flag string) error {
	o.Forge = detectForge(o.Forge, os.Getenv)
	switch o.Forge {
	case "github", "gitlab":
	case "none", "": // "": a command without --forge (cab drift)
		if needed {
			return fmt.Errorf("%s needs the forge's API: --forge github or --forge gitlab (outside CI, set GITHUB_REPOSITORY and GITHUB_TOKEN, or CI_PROJECT_ID and CAB_GITLAB_TOKEN)", flag)
		}
	default:
		return fmt.Errorf("--forge %q: want github, gitlab, none or auto", o.Forge)
	}
	return nil
}

// logger logs to stderr in the chosen format and level.
func (o *reconcileOptions) logger(stderr io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cmp.Or(o.LogLevel, "info"))); err != nil {
		level = slog.LevelInfo
	}
	ho := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(stderr, ho)
	if o.LogFormat == "json" {
		h = slog.NewJSONHandler(stderr, ho)
	}
	return slog.New(o.scrubber().Handler(h))
}

// crashAt is set by the fault tests: the reconciler kills itself at
// the named step boundary. Nil in the cab binary.
var crashAt func(boundary string)

// reconciler builds a reconciler over the checkout in dir with the real
// drivers and checks.
func (o *reconcileOptions) reconciler(dir string, logger *slog.Logger, observer reconcile.Observer) (*reconcile.Reconciler, error) {
	repo, err := gogit.PlainOpenWithOptions(dir, &gogit.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("opening the git repository: %w", err)
	}
	if err := requireRemote(repo, o.Remote, withoutRemote); err != nil {
		return nil, err
	}
	mainRemote := o.Remote
	if o.NoFetch {
		mainRemote = ""
	}
	// The ledger's objects are read and written through internal/gitx
	// (mapped pack indexes, cab's pack writer; go-git alone opens a pack
	// file for every object it reads). Its packs stay mapped for the
	// life of the process, which is the reconciler's.
	lrepo, _, err := gitx.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the git repository: %w", err)
	}
	l := ledger.Open(lrepo, o.Remote, o.Branch)
	l.Logger = logger
	l.Author.Name = "cab reconcile"
	if o.Key == "" && !o.DryRun {
		return nil, errNoKey
	}
	signer, err := o.loadSigner(context.Background())
	if err != nil {
		return nil, err
	}
	if signer != nil {
		l.Signer = signer
	}
	client := &http.Client{Timeout: 30 * time.Second}
	cacheDir := o.CacheDir
	if cacheDir == "" {
		wt, err := repo.Worktree()
		if err != nil {
			return nil, fmt.Errorf("--cache-dir is needed outside a work tree: %w", err)
		}
		cacheDir = filepath.Join(wt.Filesystem.Root(), ".git", "cab", "env")
	}
	drivers, err := newDrivers(cacheDir, o.Retries, o.TargetTimeout, client, logger)
	if err != nil {
		return nil, err
	}
	scrub := o.scrubber()
	for k, d := range drivers {
		drivers[k] = target.Redacting(d, scrub) // server text never reaches the ledger unscrubbed
	}
	return reconcile.New(reconcile.Options{
		Dir: dir, Rev: o.Rev, MainRemote: mainRemote, MainBranch: o.MainBranch, Ledger: l, Drivers: drivers,
		Checks: func(ctx context.Context, phase reconcile.Phase, checks []model.Check, prometheus string) error {
			co := check.Options{Client: client, Prometheus: prometheus, Interval: o.CheckInterval}
			if phase == reconcile.Post {
				co.Budget = o.CheckBudget
			}
			_, err := check.Run(ctx, checks, co)
			return scrub.Error(err)
		},
		Query: func(ctx context.Context, server, query string) (float64, error) {
			v, err := check.Query(ctx, client, server, query)
			return v, scrub.Error(err)
		},
		Instance: o.Instance, Lease: o.Lease, DryRun: o.DryRun, Heal: o.Heal, Workers: o.Workers, Tickets: o.Tickets,
		Observer: observer, Logger: logger, Boundary: crashAt,
	})
}

// Credentials of environment repositories, from the environment (never
// argv): HTTP basic auth with CAB_GIT_USERNAME (default x-access-token, as
// GitHub tokens want; GitLab takes oauth2) and CAB_GIT_TOKEN.
const (
	gitUsernameEnv = "CAB_GIT_USERNAME"
	gitTokenEnv    = "CAB_GIT_TOKEN"
)

// newDrivers returns the target drivers by type. Registry credentials come
// from the docker config and its helpers (authn.DefaultKeychain).
func newDrivers(cacheDir string, retries int, timeout time.Duration, client *http.Client, logger *slog.Logger) (map[string]target.Driver, error) {
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("--cache-dir: %w", err)
	}
	gitOpts := []gittarget.Option{gittarget.WithLogger(logger), gittarget.WithAuthor("cab reconcile", "cab@localhost")}
	if tok := os.Getenv(gitTokenEnv); tok != "" {
		user := cmp.Or(os.Getenv(gitUsernameEnv), "x-access-token")
		gitOpts = append(gitOpts, gittarget.WithAuth(&githttp.BasicAuth{Username: user, Password: tok}))
	}
	gitDriver, err := gittarget.New(filepath.Join(cacheDir, "git"), gitOpts...)
	if err != nil {
		return nil, err
	}
	return map[string]target.Driver{
		"oci":  oci.New(oci.WithRetry(retries, time.Second), oci.WithTimeout(timeout), oci.WithLogger(logger)),
		"git":  gitDriver,
		"http": httptarget.New(httptarget.WithClient(client), httptarget.WithRetries(retries), httptarget.WithAttemptTimeout(min(timeout, client.Timeout)), httptarget.WithLogger(logger)),
	}, nil
}

// stepPrinter prints each step as it happens.
type stepPrinter struct{ w io.Writer }

func (p stepPrinter) Step(s reconcile.Step) {
	fmt.Fprintln(p.w, redact.Scrub(formatStep(s)))
}

func formatStep(s reconcile.Step) string {
	env := s.Env
	if env == "" {
		env = "*"
	}
	line := fmt.Sprintf("%-15s %-14s %-10s", s.Kind, s.Ticket, env)
	if s.Reason != "" {
		line += " " + s.Reason
	}
	for _, c := range s.Changes {
		line += "\n    " + c
	}
	return strings.TrimRight(line, " ")
}

// failedKinds are the outcomes that make cab reconcile exit 1.
var failedKinds = []string{ledger.KindFailed, ledger.KindRollbackFailed, ledger.KindQuarantined, ledger.KindExpired}

func newReconcileCmd() *cobra.Command {
	o := &reconcileOptions{}
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Apply signed tickets to their environments, with checks and automatic rollback",
		Long: `Reconcile applies every signed ticket on the ledger to its environments, in
promotion order: it verifies the signature against the keys the ticket's base
cab.cue trusts, waits for the window, freezes (emergencies excepted), the
service's error budget, dependsOn and the previous environment, runs the
prechecks, records applying with the state observed before, applies through
the target's driver (oci, git, http), runs the postchecks and records applied
and verified — or restores the previous state and records failed and
rolled-back (rollback-failed when even that fails: a human is needed).

Every step is recorded on the ledger by compare-and-swap before and after it
acts, so a reconciler killed at any point resumes where the ledger says
without applying anything twice, and concurrent reconcilers apply each ticket
once. Run it on merge to main and on a schedule, or run cab serve.

Before the pass it fetches --branch (main) from --remote, so that every
signed merge commit is in the checkout; a ticket whose merge commit is still
missing (--no-fetch, or a remote behind the ledger) waits, recorded scheduled
once, and is judged on a later pass — it is never set aside for it. A wait is
recorded once per ticket, environment and cause (window, freeze, dependency,
error budget, unreadable target), however its words change; recording a wait
is not progress. A pass has bounds on the events it records and on its
duration, derived from the work in flight (--lease per ticket-environment),
and stops at them, saying so.

Every outcome event is signed with --key (a key cab.cue trusts with roles:
["reconcile"]); outcome events that are not are ignored and named. A ticket
whose ledger entries are broken (a second signed event, an impossible
transition, an unreadable file) is set aside and named; the others go on.

The reconciler keeps the ledger head it last acted on in .git/cab/reconcile-
checkpoint and acts only on a ledger that is that head plus added events.
After a rewrite or an edit it stops before applying anything, names every
ticket whose events vanished or changed, and keeps stopping until an operator
has reviewed the ledger and run cab reconcile --accept-ledger <commit>.

Exit status: 0 when nothing failed, 1 when a change failed, was quarantined or
expired in this pass, is held because a target, the error budget or its merge
commit could not be read, a ticket was set aside or an outcome ignored, the
ledger is not append-only since the checkpoint, or the pass stopped at one of
its bounds; 2 on a usage or internal error.`,
		Example: `  cab reconcile --dry-run            # what would change, from what to what
  cab reconcile --key file://reconciler.key   # apply, in CI after cab sign
  cab reconcile --accept-ledger 3f2a…         # after reviewing a ledger the reconciler stopped on
  cab reconcile --key file://reconciler.key --ticket CHG-2026-0042 --format json
  cab reconcile --key file://reconciler.key --post            # in CI: comment outcomes on each ticket's PR/MR`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			if o.AcceptLedger != "" {
				return o.accept(cmd)
			}
			logger := o.logger(cmd.ErrOrStderr())
			var observer reconcile.Observer
			if o.Format == "text" {
				observer = stepPrinter{cmd.OutOrStdout()}
			}
			n, err := o.newNotifier(".", logger)
			if err != nil {
				return err
			}
			if n != nil {
				observer = n.Observer(observer)
				defer o.flushNotifier(cmd.Context(), n, logger)
			}
			cm, err := o.newCommenter(".", logger)
			if err != nil {
				return err
			}
			if cm != nil {
				observer = cm.Observer(observer)
				defer o.syncComments(cmd.Context(), cm, logger)
			}
			r, err := o.reconciler(".", logger, observer)
			if err != nil {
				return err
			}
			defer r.Close()
			sum, err := r.Pass(gitpush.WithTimeout(cmd.Context(), o.GitTimeout))
			var bound *reconcile.BoundError
			if err != nil && !errors.As(err, &bound) {
				notifyLedgerStop(n, err)
				return ledgerStop(cmd.ErrOrStderr(), err)
			}
			if o.Format == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(sum); err != nil {
					return err
				}
			} else {
				writeStates(cmd.OutOrStdout(), sum, o.DryRun)
			}
			writeLedgerProblems(cmd.ErrOrStderr(), sum)
			if bound != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "cab: %v\n", bound)
				return errViolations
			}
			if len(sum.Problems) > 0 {
				return errViolations // tickets set aside or outcomes ignored
			}
			if o.DryRun {
				return nil
			}
			for _, k := range failedKinds {
				if sum.Count(k) > 0 {
					return errViolations
				}
			}
			for _, st := range sum.Steps {
				if st.Error {
					return errViolations // a target or the error budget could not be read
				}
			}
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// accept runs --accept-ledger.
func (o *reconcileOptions) accept(cmd *cobra.Command) error {
	repo, err := gogit.PlainOpenWithOptions(".", &gogit.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return fmt.Errorf("opening the git repository: %w", err)
	}
	h, err := reconcile.AcceptLedger(cmd.Context(), ".", "", ledger.Open(repo, o.Remote, o.Branch), o.AcceptLedger)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "accepted ledger %s as this reconciler's checkpoint: the next pass acts on what was added since\n", h)
	return nil
}

// ledgerStop reports a pass stopped because the ledger is not its
// checkpoint plus added events (exit 1, with the command that accepts a
// reviewed ledger), and returns other errors as they are.
func ledgerStop(w io.Writer, err error) error {
	var ce *ledger.CheckpointError
	if !errors.As(err, &ce) {
		return err
	}
	fmt.Fprintf(w, "cab: STOPPED, nothing applied: %v\n", ce)
	for _, c := range ce.Changes {
		fmt.Fprintf(w, "    %s %s\n", c.What, c.Path)
	}
	fmt.Fprintf(w, "    hint: someone rewrote or edited the ledger since this reconciler last acted (at %s). Review it (git log -p %s..%s, cab verify --checkpoint), then accept it: cab reconcile --accept-ledger %s\n",
		short(ce.Checkpoint.String()), short(ce.Checkpoint.String()), short(ce.Head.String()), ce.Head)
	return errViolations
}

// writeLedgerProblems names the tickets set aside and the outcomes ignored.
func writeLedgerProblems(w io.Writer, sum *reconcile.Summary) {
	for _, p := range sum.Problems {
		fmt.Fprintf(w, "cab: %s %s: %s\n", strings.ToUpper(p.What), p.Ticket, p.Message)
	}
}

func short(h string) string { return h[:min(12, len(h))] }

func writeStates(w io.Writer, sum *reconcile.Summary, dryRun bool) {
	if dryRun {
		fmt.Fprintf(w, "dry run: %d step(s) planned, nothing changed or recorded\n", len(sum.Steps))
		return
	}
	var parts []string
	for _, k := range append([]string{"pending", ledger.KindScheduled, ledger.KindApplying, ledger.KindApplied, ledger.KindVerified}, append(failedKinds, ledger.KindRolledBack)...) {
		if n := sum.States[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	if len(parts) == 0 {
		parts = []string{"no signed tickets"}
	}
	fmt.Fprintf(w, "%d step(s); ticket-environments: %s\n", len(sum.Steps), strings.Join(parts, ", "))
}

// serveEngine is the reconciler of cab serve, built at its first pass and
// kept across passes (it caches the verdict on each signed ticket).
type serveEngine struct {
	mu sync.Mutex
	r  *reconcile.Reconciler
	// stopped is why the last pass stopped before acting on a ledger
	// that is not its checkpoint plus added events (nil: it did not). It
	// is read by /healthz while a pass holds mu, hence atomic.
	stopped atomic.Pointer[error]
}

// healthy is cab serve's health hook: unhealthy while the ledger check
// stops every apply.
func (e *serveEngine) healthy() error {
	if p := e.stopped.Load(); p != nil {
		return *p
	}
	return nil
}

// ensure builds the engine's reconciler if it has none (the caller holds
// e.mu) and returns ctx bounded for git calls.
func (e *serveEngine) ensure(ctx context.Context, o serveOptions, obs reconcile.Observer) (context.Context, error) {
	eo := o.Engine
	ctx = gitpush.WithTimeout(ctx, eo.GitTimeout)
	eo.LogFormat, eo.LogLevel = o.LogFormat, o.LogLevel
	logger := eo.logger(os.Stderr)
	// The reconciler fetches the watched branch before each pass.
	eo.MainBranch = o.Branch
	if eo.Remote != "" {
		eo.Rev = fmt.Sprintf("refs/remotes/%s/%s", eo.Remote, o.Branch)
	} else {
		eo.Rev = "refs/heads/" + o.Branch
	}
	if e.r == nil {
		r, err := eo.reconciler(".", logger, obs)
		if err != nil {
			return ctx, err
		}
		e.r = r
	}
	return ctx, nil
}

// serveDrift runs one drift check with the engine's reconciler.
func serveDrift(ctx context.Context, o serveOptions, obs reconcile.Observer) ([]drift.Finding, error) {
	e := o.engine
	if e == nil {
		return nil, errors.New("drift: no engine")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped.Load() != nil {
		return nil, *e.stopped.Load()
	}
	ctx, err := e.ensure(ctx, o, obs)
	if err != nil {
		return nil, err
	}
	rep, err := e.r.Drift(ctx, o.Engine.TargetTimeout)
	if err != nil {
		return nil, err
	}
	return rep.Findings, nil
}

// serveReconcile runs one pass over the watched branch, fetched first.
func serveReconcile(ctx context.Context, o serveOptions, obs reconcile.Observer) (*reconcile.Summary, error) {
	e := o.engine
	if e == nil {
		e = &serveEngine{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ctx, err := e.ensure(ctx, o, obs)
	if err != nil {
		return nil, err
	}
	sum, err := e.r.Pass(ctx)
	e.stopped.Store(nil)
	var ce *ledger.CheckpointError
	if errors.As(err, &ce) {
		// Stop every apply until an operator accepts a reviewed ledger
		// (cab reconcile --accept-ledger), which the next pass reads
		// from the checkpoint file afresh.
		e.r = nil
		stopped := fmt.Errorf("STOPPED, nothing applied: %w; review the ledger, then run cab reconcile --accept-ledger %s", ce, ce.Head)
		e.stopped.Store(&stopped)
		notifyLedgerStop(o.notifier, ce)
		return sum, stopped
	}
	return sum, err
}
