package escalate

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/internal/gitpush"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/notify"
	"github.com/cabhq/cab/schema/load"
	"github.com/cabhq/cab/validate"
)

// PullRefPrefix is where PollSLA keeps the heads it fetched:
// refs/cab/pull/<n>.
const PullRefPrefix = "refs/cab/pull/"

// ErrUnrelated means a pull request's head shares no history with its
// base: there is no fork point to judge it from.
var ErrUnrelated = errors.New("the head shares no history with the base")

// SLAOptions configure PollSLA.
type SLAOptions struct {
	// Dir is a directory inside the checkout (default ".").
	Dir string
	// Remote is the remote the pull requests' heads are fetched from (the
	// forge's git server). Empty: nothing is fetched, and each head must
	// already be at PullRefPrefix<n> (tests, mirrors).
	Remote string
	// Base is the branch the pull requests merge into (main). Its rules
	// are read from refs/remotes/<Remote>/<Base>, or refs/heads/<Base>
	// without a remote.
	Base     string
	Forge    Forge
	Notifier *notify.Notifier
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// Limits bound the gate's evaluation (validate's defaults when zero).
	Limits validate.Limits
}

// SLAResult is what one poll found.
type SLAResult struct {
	// Breaches are the open pull requests past their SLA, by number.
	Breaches []notify.Breach
	// Notified counts the escalation levels newly notified.
	Notified int
	// At is when the poll ran.
	At time.Time
}

// PollSLA runs one approval-SLA poll: it lists the open pull requests into
// o.Base, fetches each head, runs the gate in pull-request mode on it with
// the forge's evidence (validate.CheckPR, what cab check --base --head
// runs), and for each the gate warns about (validate.SLAWarning) notifies
// the level its SLA has reached (model.SLA.Level of the base's cab.cue):
// the approver group, then the backup group. Every open pull request is
// judged at every poll (an approval ends its breach). A pull request
// whose head moved since the listing, or that cannot be checked, is
// skipped and logged; a forge or remote that cannot be read fails the
// poll, which the next interval runs again. Without an approvalSLA in the
// base's cab.cue nothing is asked of the forge.
func PollSLA(ctx context.Context, o SLAOptions) (*SLAResult, error) {
	o.Dir = cmp.Or(o.Dir, ".")
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Forge == nil || o.Notifier == nil {
		return nil, errors.New("approval SLA poll: needs a forge and a notifier")
	}
	repo, err := gogit.PlainOpenWithOptions(o.Dir, &gogit.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("opening the checkout: %w", err)
	}
	baseRef := plumbing.NewBranchReferenceName(o.Base)
	if o.Remote != "" {
		baseRef = plumbing.NewRemoteReferenceName(o.Remote, o.Base)
	}
	base, err := repo.Reference(baseRef, true)
	if err != nil {
		return nil, fmt.Errorf("approval SLA poll: the base %s: %w", baseRef, err)
	}
	rules := load.New() // one loader per poll: a base's cab.cue is parsed once
	now := o.Now()
	res := &SLAResult{At: now}
	if cfg, err := rules.ConfigAt(repo, base.Hash().String()); err == nil && cfg.Config.ApprovalSLA == nil {
		return res, nil // the base sets no approval SLA: nothing can breach one
	}
	pulls, err := o.Forge.Open(ctx, o.Base)
	if err != nil {
		return nil, err
	}
	if err := fetchHeads(ctx, repo, o, pulls); err != nil {
		return nil, err
	}
	for _, p := range pulls {
		b, ok, err := breach(ctx, repo, rules, o, base.Hash(), p, now)
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			o.Logger.Warn("approval SLA: pull request skipped", "forge", o.Forge.Name(), "pr", p.Number, "err", err)
			continue
		}
		if ok {
			res.Breaches = append(res.Breaches, b)
			res.Notified += o.Notifier.NotifySLA(b)
		}
	}
	return res, nil
}

// fetchHeads fetches the head of each pull request to PullRefPrefix<n>
// and deletes the refs of pull requests no longer open.
func fetchHeads(ctx context.Context, repo *gogit.Repository, o SLAOptions, pulls []Pull) error {
	open := map[plumbing.ReferenceName]bool{}
	var specs []config.RefSpec
	for _, p := range pulls {
		local := plumbing.ReferenceName(PullRefPrefix + strconv.FormatInt(p.Number, 10))
		open[local] = true
		specs = append(specs, config.RefSpec("+"+o.Forge.HeadRef(p.Number)+":"+local.String()))
	}
	if o.Remote != "" && len(specs) > 0 {
		if err := fetch(ctx, repo, o.Remote, specs); err != nil {
			if ctx.Err() != nil || len(specs) == 1 {
				return fmt.Errorf("fetching the heads of %d open pull request(s) from %s: %w", len(specs), o.Remote, err)
			}
			// One head the server does not have fails the whole fetch:
			// fetch them one by one, and skip (and log) the missing.
			for _, spec := range specs {
				if err := fetch(ctx, repo, o.Remote, []config.RefSpec{spec}); err != nil {
					if ctx.Err() != nil {
						return err
					}
					o.Logger.Warn("approval SLA: a pull request's head could not be fetched", "ref", spec.Src(), "err", err)
				}
			}
		}
	}
	refs, err := repo.References()
	if err != nil {
		return err
	}
	var stale []plumbing.ReferenceName
	_ = refs.ForEach(func(r *plumbing.Reference) error {
		if strings.HasPrefix(r.Name().String(), PullRefPrefix) && !open[r.Name()] {
			stale = append(stale, r.Name())
		}
		return nil
	})
	for _, name := range stale {
		if err := repo.Storer.RemoveReference(name); err != nil {
			return fmt.Errorf("pruning %s: %w", name, err)
		}
	}
	return nil
}

// fetch fetches specs from remote within the git call bound.
func fetch(ctx context.Context, repo *gogit.Repository, remote string, specs []config.RefSpec) error {
	call, cancel := gitpush.Call(ctx)
	defer cancel()
	err := gitpush.Err(call, repo.FetchContext(call, &gogit.FetchOptions{RemoteName: remote, RefSpecs: specs, Tags: gogit.NoTags}))
	if errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		return nil
	}
	return err
}

// breach runs the gate on pull request p and returns its SLA breach, if
// the gate warns about one.
func breach(ctx context.Context, repo *gogit.Repository, rules *load.Loader, o SLAOptions, baseTip plumbing.Hash, p Pull, now time.Time) (notify.Breach, bool, error) {
	ref, err := repo.Reference(plumbing.ReferenceName(PullRefPrefix+strconv.FormatInt(p.Number, 10)), true)
	if err != nil {
		return notify.Breach{}, false, fmt.Errorf("its head was not fetched: %w", err)
	}
	head := ref.Hash()
	if p.HeadSHA != "" && p.HeadSHA != head.String() {
		return notify.Breach{}, false, fmt.Errorf("head moved while polling (listed %s, fetched %s): next poll", p.HeadSHA, head)
	}
	mergeBase, err := forkPoint(repo, baseTip, head)
	if err != nil {
		return notify.Breach{}, false, err
	}
	ev, err := o.Forge.Review(ctx, p.Number, head.String())
	if err != nil {
		return notify.Breach{}, false, err
	}
	if ev.OpenedAt.IsZero() {
		ev.OpenedAt = p.OpenedAt
	}
	rep, err := validate.CheckPR(ctx, validate.PROptions{Dir: o.Dir, Base: mergeBase.String(), Head: head.String(), Evidence: ev, Now: now, Limits: o.Limits})
	if err != nil {
		return notify.Breach{}, false, err
	}
	parsed, err := rules.ConfigAt(repo, mergeBase.String())
	if err != nil {
		return notify.Breach{}, false, fmt.Errorf("the base's cab.cue: %w", err)
	}
	cfg := &parsed.Config
	var out notify.Breach
	found := false
	for _, t := range rep.Tickets {
		w, ok := validate.SLAWarning(t.Diags)
		if !ok {
			continue
		}
		var tk struct {
			Service string `json:"service"`
			Risk    string `json:"risk"`
		}
		if json.Unmarshal(t.JSON, &tk) != nil {
			continue
		}
		sla, ok := cfg.SLAFor(tk.Service, tk.Risk)
		if !ok {
			continue
		}
		level := max(sla.Level(ev.OpenedAt, now), model.SLABreached) // the gate said breached
		if found && level <= out.Level {
			continue
		}
		found = true
		out = notify.Breach{PR: p.Number, Service: tk.Service, Risk: tk.Risk, Level: level, Backup: sla.Backup,
			Approvers: members(cfg, approverGroup(cfg, tk.Service)), BackupApprovers: members(cfg, sla.Backup),
			Reason: w.Message, At: now}
	}
	return out, found, nil
}

// forkPoint is where head left the base: the gate judges what the pull
// request adds, not what the base gained since.
func forkPoint(repo *gogit.Repository, baseTip, head plumbing.Hash) (plumbing.Hash, error) {
	b, err := repo.CommitObject(baseTip)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("the base: %w", err)
	}
	h, err := repo.CommitObject(head)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("the head: %w", err)
	}
	mb, err := b.MergeBase(h)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("the fork point: %w", err)
	}
	if len(mb) == 0 {
		return plumbing.ZeroHash, ErrUnrelated
	}
	return mb[0].Hash, nil
}

func approverGroup(cfg *model.Config, service string) string {
	if s, ok := cfg.Services[service]; ok {
		return s.Approvers
	}
	return ""
}

func members(cfg *model.Config, group string) []string {
	if g, ok := cfg.Approvers[group]; ok {
		return g.Members
	}
	return nil
}
