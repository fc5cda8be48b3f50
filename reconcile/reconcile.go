package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/internal/calendar"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/internal/redact"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile/target"
	"github.com/cabhq/cab/schema/load"
	"github.com/cabhq/cab/sign"
	"github.com/cabhq/cab/validate"
)

// Phase says which checks a CheckFunc runs.
type Phase string

// Phases of checks.
const (
	Pre  Phase = "precheck"
	Post Phase = "postcheck"
)

// CheckFunc runs a ticket's pre- or postchecks in an environment whose
// default Prometheus server is prometheus. It returns an error that says
// which checks failed and why; postchecks retry within their own budget.
type CheckFunc func(ctx context.Context, phase Phase, checks []model.Check, prometheus string) error

// QueryFunc runs a Prometheus instant query and returns its value.
type QueryFunc func(ctx context.Context, server, query string) (float64, error)

// Options configure a reconciler.
type Options struct {
	// Dir is a git checkout of the change repository; Rev its main line
	// (default HEAD), whose cab.cue says where the environments' targets
	// are and which freezes and error budgets hold.
	Dir string
	Rev string
	// MainRemote, when not empty, is the remote MainBranch (default
	// "main") is fetched from before each pass, into
	// refs/remotes/<MainRemote>/<MainBranch>: the merge commits signed
	// tickets name must be in the checkout to be judged (a ticket whose
	// merge commit is missing waits for it, scheduled).
	MainRemote string
	MainBranch string
	// Ledger is where the signed tickets are read and every step recorded.
	Ledger *ledger.Ledger
	// Drivers apply actions, by target type (oci, git, http).
	Drivers map[string]target.Driver
	// Checks runs pre- and postchecks (nil: a ticket with checks waits).
	Checks CheckFunc
	// Query reads error-budget burn rates (nil: a service with a burn-rate
	// query waits).
	Query QueryFunc
	// Instance names this reconciler on the ledger (Actor). Give concurrent
	// reconcilers distinct names: a reconciler resumes its own unfinished
	// steps at once and another's only after Lease.
	Instance string
	// Lease is how long an unfinished step belongs to the reconciler that
	// started it (default DefaultLease). It must exceed the longest apply
	// plus postchecks. A pass's duration bound is a lease per
	// ticket-environment in flight, and one more (see BoundError).
	Lease time.Duration
	// DryRun plans without recording or changing anything.
	DryRun bool
	// Heal lets Drift restore drifted keys in the environments whose
	// cab.cue policy allows it (model.Environment.HealRefusal).
	Heal bool
	// Workers bounds the applies, checks and restores run at once (default
	// GOMAXPROCS, at least 4).
	Workers int
	// MaxClaims bounds the fresh applies started in one round (default
	// 32 per worker); the rest start in the next round, so concurrent
	// reconcilers share the work.
	MaxClaims int
	// Tickets, when not empty, limits the pass to these ids.
	Tickets []string
	Now     func() time.Time
	Limits  validate.Limits
	// Observer, if not nil, hears each step as it happens.
	Observer Observer
	Logger   *slog.Logger
	// Boundary, if not nil, is called between steps with the step's name:
	// fault tests stop the process there.
	Boundary func(name string)
	// CheckpointFile is where the ledger head the reconciler last acted on
	// is kept (default CheckpointFile in the checkout's git directory).
	// Every read of the ledger must be that head plus added events, or
	// the pass stops before acting (ErrLedgerNotAppendOnly).
	CheckpointFile string
}

// ErrNoKey is returned by New for a reconciler that would record outcomes
// without a key to sign them: Options.Ledger.Signer is required unless
// DryRun.
var ErrNoKey = errors.New("reconcile: no reconciler key to sign the outcome events")

// DefaultLease is Options.Lease when zero.
const DefaultLease = 15 * time.Minute

// Reconciler applies signed tickets. Keep one per process: it caches the
// verdict on each signed ticket between passes. Close releases it.
type Reconciler struct {
	o    Options
	repo *git.Repository
	// closeRepo unmaps repo's packs (gitx.Open).
	closeRepo func() error
	loader    *loader
	// keys are the reconcile keys of the verifier set on the ledger.
	keys []model.Key
	// saved is the checkpoint last written.
	saved plumbing.Hash
	// stmts memoises what each signed statement names, between rounds
	// and passes.
	stmts *statementEnvs
	// index keeps, ticket by ticket, which signed tickets have work and
	// where they stand, updated from what each read of the ledger changed.
	index *ledgerIndex
}

// New returns a reconciler for o.
func New(o Options) (*Reconciler, error) {
	if o.Ledger == nil {
		return nil, errors.New("reconcile: no ledger")
	}
	if o.Ledger.Signer == nil && !o.DryRun {
		return nil, ErrNoKey
	}
	if o.Rev == "" {
		o.Rev = "HEAD"
	}
	if o.MainBranch == "" {
		o.MainBranch = "main"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Workers <= 0 {
		o.Workers = max(4, runtime.GOMAXPROCS(0))
	}
	if o.MaxClaims <= 0 {
		o.MaxClaims = o.Workers * claimsPerWorker
	}
	if o.Instance == "" {
		h, _ := os.Hostname()
		o.Instance = "cab-reconcile@" + h
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	// The change repository is read through internal/gitx: go-git alone
	// indexes every pack again after each fetch of main, at every miss.
	repo, closeRepo, err := gitx.Open(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("opening the change repository at %s: %w", o.Dir, err)
	}
	fail := func(err error) (*Reconciler, error) {
		_ = closeRepo()
		return nil, err
	}
	if o.CheckpointFile == "" {
		if o.CheckpointFile, err = defaultCheckpointPath(repo); err != nil {
			return fail(err)
		}
	}
	cp, err := loadCheckpoint(o.CheckpointFile)
	if err != nil {
		return fail(err)
	}
	o.Ledger.Guard(cp)
	stmts := &statementEnvs{}
	return &Reconciler{o: o, repo: repo, closeRepo: closeRepo, saved: cp, loader: &loader{repo: repo, limits: o.Limits, now: o.Now, verdicts: map[string]*ticket{}, rules: load.New()}, stmts: stmts, index: newLedgerIndex(stmts)}, nil
}

// Close releases the change repository New opened. The Reconciler is not
// used after it.
func (r *Reconciler) Close() error { return r.closeRepo() }

// Run is New followed by one Pass.
func Run(ctx context.Context, o Options) (*Summary, error) {
	r, err := New(o)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Pass(ctx)
}

// Pass reconciles once: it moves every signed ticket as far as it can go
// now, round by round (staging verified, then prod; a dependency, then
// what depends on it), and returns what it did. Recording a wait is not
// progress: the pass ends when a round records nothing else. A cancelled
// ctx stops it between steps; an unfinished step stays applying on the
// ledger and the next pass resumes it. A pass that reaches one of its
// bounds (events, rounds, duration: see BoundError) stops the same way
// and returns its summary, with Stopped set, and the *BoundError.
func (r *Reconciler) Pass(ctx context.Context) (*Summary, error) {
	sum := &Summary{Steps: []Step{}, States: map[string]int{}}
	b := newBound(ctx, r.o.Lease)
	defer b.stop()
	if err := r.fetchMain(b.ctx); err != nil {
		return sum, err
	}
	// cab.cue and its freezes hold for the whole pass: read them once.
	cfg, err := r.config()
	if err != nil {
		return sum, err
	}
	cal, err := calendar.New(cfg.Freezes)
	if err != nil {
		return sum, fmt.Errorf("%s: freezes: %w", validate.ConfigFile, err)
	}
	if err := r.trustOutcomes(cfg); err != nil {
		return sum, err
	}
	b.freezes = cal.Len()
	log, settled, err := r.rounds(b, cfg, cal, sum)
	sum.Events = b.written
	be := b.reached(ctx, err)
	if be != nil {
		sum.Stopped = be.Error()
		r.o.Logger.Error("reconcile pass stopped at its bound", "bound", be.What, "reached", be.Reached, "limit", be.Limit, "inFlight", be.InFlight)
		err = be
	} else if err != nil {
		return sum, err
	}
	// The summary is of the ledger as the pass leaves it: the log of its
	// last round when that round wrote nothing, else read again.
	if log == nil || (!r.o.DryRun && !settled) {
		l, rerr := r.o.Ledger.Read(ctx)
		if rerr != nil {
			return sum, errors.Join(err, fmt.Errorf("reading the ledger: %w", rerr))
		}
		log = l
	}
	if serr := r.saveCheckpoint(); serr != nil {
		return sum, errors.Join(err, serr)
	}
	sum.LedgerHead = log.Head.String()
	r.index.update(log)
	r.index.count(sum, r.o.Tickets)
	r.problems(sum, log)
	return sum, err
}

// rounds runs the rounds of a pass until one makes no progress, and
// returns the ledger it last read, and whether that is the ledger as the
// pass leaves it (settled: its last round wrote nothing).
func (r *Reconciler) rounds(b *bound, cfg *model.Config, cal calendar.Calendar, sum *Summary) (log *ledger.Log, settled bool, err error) {
	ctx := b.ctx
	for {
		if err := b.check(); err != nil {
			return log, false, err
		}
		if err := r.saveCheckpoint(); err != nil {
			return log, false, err
		}
		if log, err = r.o.Ledger.Read(ctx); err != nil {
			return nil, false, fmt.Errorf("reading the ledger: %w", err)
		}
		r.index.update(log)
		tickets := r.index.openTickets(r.o.Tickets)
		if err := r.loader.verify(ctx, log, tickets); err != nil {
			return log, false, err
		}
		b.grow(tickets, func(id, env string) bool { return terminal(log.State(id).Envs[env]) })
		p := &pass{r: r, cfg: cfg, cal: cal, log: log, now: r.o.Now(), sum: sum, burn: map[string]budget{}, bound: b}
		ds := p.plan(ctx, tickets)
		if r.o.DryRun {
			p.dryRun(ctx, ds)
			return log, true, nil
		}
		written := b.written
		progressed, err := p.execute(ctx, ds)
		if err != nil || !progressed {
			return log, err == nil && b.written == written, err
		}
	}
}

// fetchMain fetches the main branch from Options.MainRemote, if any.
func (r *Reconciler) fetchMain(ctx context.Context) error {
	if r.o.MainRemote == "" {
		return nil
	}
	_, err := gitx.FetchRef(ctx, r.repo, r.o.MainRemote, nil, plumbing.NewBranchReferenceName(r.o.MainBranch),
		plumbing.NewRemoteReferenceName(r.o.MainRemote, r.o.MainBranch))
	return err
}

// trustOutcomes makes the ledger check outcome events against the keys
// cab.cue trusts for the reconcile role, and refuses to act with a key
// that is not one of them: its own events would read as forged and be
// applied again and again.
func (r *Reconciler) trustOutcomes(cfg *model.Config) error {
	keys := model.KeysFor(cfg.Keys, model.RoleReconcile)
	v, err := sign.NewVerifier(keys, model.RoleReconcile)
	if err != nil {
		return fmt.Errorf("%s: %w", validate.ConfigFile, err)
	}
	if s := r.o.Ledger.Signer; s != nil && !r.o.DryRun && !v.Trusts(s.KeyID()) {
		return fmt.Errorf("%w: the reconciler key %s is not among the keys %s trusts with role %q: add its public key there with roles: [%q]",
			ErrUntrustedKey, s.KeyID(), validate.ConfigFile, model.RoleReconcile, model.RoleReconcile)
	}
	if !slices.EqualFunc(keys, r.keys, func(a, b model.Key) bool { return a.PublicKey == b.PublicKey }) || r.keys == nil {
		r.o.Ledger.SetVerifier(v)
		r.keys = append([]model.Key{}, keys...)
	}
	return nil
}

// ErrUntrustedKey: the reconciler's key is not trusted by cab.cue for the
// reconcile role.
var ErrUntrustedKey = errors.New("reconcile: untrusted reconciler key")

// saveCheckpoint keeps the ledger head the last read accepted.
func (r *Reconciler) saveCheckpoint() error {
	if r.o.DryRun {
		return nil
	}
	h := r.o.Ledger.Checkpoint()
	if h.IsZero() || h == r.saved {
		return nil
	}
	if err := saveCheckpoint(r.o.CheckpointFile, h); err != nil {
		return err
	}
	r.saved = h
	return nil
}

// problems names in sum (and the log) every ticket the ledger sets aside
// and every outcome event it ignores.
func (r *Reconciler) problems(sum *Summary, log *ledger.Log) {
	for _, id := range slices.Sorted(maps.Keys(log.Problems)) {
		if id == "" || (len(r.o.Tickets) > 0 && !slices.Contains(r.o.Tickets, id)) {
			continue
		}
		what := "ignored"
		if log.SetAside(id) {
			what = "set-aside"
		}
		for _, p := range log.Problems[id] {
			sum.Problems = append(sum.Problems, LedgerProblem{Ticket: id, What: what, Message: p.Error()})
			r.o.Logger.Error("ledger problem", "ticket", id, "what", what, "err", p)
		}
	}
}

// config reads cab.cue at the main line's head: where each environment's
// targets are, and the freezes and error budgets in force now.
func (r *Reconciler) config() (*model.Config, error) {
	cfg, err := r.loader.rules.ConfigAt(r.repo, r.o.Rev)
	switch {
	case errors.Is(err, load.ErrNoConfig):
		return nil, fmt.Errorf("%w (the reconciler needs the environments' targets)", err)
	case err != nil:
		return nil, err
	}
	return &cfg.Config, nil
}

// eventData is the Data the reconciler records with its events.
type eventData struct {
	Reason string `json:"reason,omitempty"`
	// Cause is the stable key of a wait (see cause): a wait is recorded
	// once per cause, whatever its Reason says.
	Cause string `json:"cause,omitempty"`
	// Step is where a failed apply failed (apply, postchecks, rollback).
	Step     string         `json:"step,omitempty"`
	Instance string         `json:"instance,omitempty"`
	Previous []target.State `json:"previous,omitempty"`
	Changes  []string       `json:"changes,omitempty"`
	Observed []target.State `json:"observed,omitempty"`
	// BurnRate is the service's error-budget burn rate read just before
	// the apply (applying) or at postcheck (verified, failed at
	// postchecks): M10's data.
	BurnRate *ledger.BurnRate `json:"burnRate,omitempty"`
}

func decodeData(ev *ledger.Event) eventData {
	var d eventData
	if ev != nil && len(ev.Data) > 0 {
		_ = json.Unmarshal(ev.Data, &d)
	}
	return d
}

func encodeData(d eventData) json.RawMessage {
	// Last line of defence: the ledger is append-only, so text from
	// servers is scrubbed of credentials here even if a driver or check
	// forgot to (internal/redact). Restore data stays byte for byte.
	d.Reason = redact.Bound(d.Reason, 8<<10)
	d.Changes = slices.Clone(d.Changes)
	for i := range d.Changes {
		d.Changes[i] = redact.Bound(d.Changes[i], 8<<10)
	}
	for _, sts := range []*[]target.State{&d.Previous, &d.Observed} {
		*sts = slices.Clone(*sts)
		for i := range *sts {
			(*sts)[i].Value = redact.Bound((*sts)[i].Value, 8<<10)
		}
	}
	b, _ := json.Marshal(d)
	return b
}
