package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	gogit "github.com/go-git/go-git/v5"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/internal/redact"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/notify"
	"github.com/cabhq/cab/schema/load"
)

// newNotifier returns the notifier of the checkout in dir from the notify:
// of its cab.cue at rev, or nil when there is none (or a dry run).
// Ticket events are described (service, risk, PR) from cab log's reading
// of main and the ledger, whose PR is the signed predicate's.
func (o *reconcileOptions) newNotifier(dir string, logger *slog.Logger) (*notify.Notifier, error) {
	if o.DryRun {
		return nil, nil
	}
	repo, err := gogit.PlainOpenWithOptions(dir, &gogit.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, nil // the reconciler reports it
	}
	parsed, err := load.New().ConfigAt(repo, o.Rev)
	if errors.Is(err, load.ErrNoConfig) {
		return nil, nil
	}
	if err != nil {
		// The reconciler reports a cab.cue it cannot read; nothing to
		// tell before it can.
		logger.Warn("notifications off: cab.cue not readable", "rev", o.Rev, "err", err)
		return nil, nil
	}
	cfg := &parsed.Config
	if cfg.Notify == nil {
		return nil, nil
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, fmt.Errorf("notifications need a work tree for their state: %w", err)
	}
	held := heldSecrets()
	rev, ledgerBranch, remote := o.Rev, o.Branch, o.Remote
	return notify.New(notify.Options{
		Config:    cfg.Notify,
		StateFile: notify.StatePath(filepath.Join(wt.Filesystem.Root(), ".git")),
		Secrets:   held,
		Logger:    logger,
		Describe: func(ctx context.Context, id string) (notify.Ticket, error) {
			var t notify.Ticket
			_, err := audit.Log(ctx, audit.LogOptions{Dir: dir, Rev: rev, LedgerBranch: ledgerBranch, Remote: remote,
				Filter: audit.Filter{IDs: []string{id}}}, func(c *audit.Change) error {
				t = notify.Ticket{Service: c.Service, Risk: c.Risk, PR: c.PR}
				return nil
			})
			return t, err
		},
	})
}

// notifyLedgerStop tells the notifier that the ledger was rewritten or
// edited since the checkpoint (once per ledger head).
func notifyLedgerStop(n *notify.Notifier, err error) {
	var ce *ledger.CheckpointError
	if n == nil || !errors.As(err, &ce) {
		return
	}
	n.Notify(notify.Event{ID: "ledger-rewritten/" + ce.Head.String(), Kind: notify.KindLedgerRewritten,
		Reason: fmt.Sprintf("%v; review it (cab verify --checkpoint), then cab reconcile --accept-ledger %s", ce, ce.Head)})
}

// flushNotifier sends what the pass has to tell, for at most
// --notify-timeout: a sink that is down never fails the run, and what is
// left is sent by the next run (it stays pending in the state file).
func (o *reconcileOptions) flushNotifier(ctx context.Context, n *notify.Notifier, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.NotifyTimeout)
	defer cancel()
	if left := n.Flush(ctx); left > 0 {
		logger.Warn("notifications not sent yet; the next run sends them", "pending", left)
	}
}

// startNotifier builds cab serve's notifier from the cab.cue of the
// watched branch at start, and runs it until ctx ends.
func (o *serveOptions) startNotifier(ctx context.Context, logger *slog.Logger) (*notify.Notifier, error) {
	eo := o.Engine
	eo.Rev = "refs/heads/" + o.Branch
	if eo.Remote != "" {
		eo.Rev = fmt.Sprintf("refs/remotes/%s/%s", eo.Remote, o.Branch)
	}
	n, err := eo.newNotifier(".", logger)
	if err != nil {
		return nil, err
	}
	if n == nil && eo.Remote != "" {
		// The watched branch may not be fetched yet: read the checkout's.
		eo.Rev = "HEAD"
		if n, err = eo.newNotifier(".", logger); err != nil {
			return nil, err
		}
	}
	if n == nil {
		return nil, nil
	}
	go n.Run(ctx)
	return n, nil
}

// newCommenter returns the keeper of the outcome comments (--post) of
// the checkout in dir, or nil without --post (or in a dry run).
func (o *reconcileOptions) newCommenter(dir string, logger *slog.Logger) (*notify.Commenter, error) {
	if !o.Post || o.DryRun {
		return nil, nil
	}
	f, err := openForgeRepo("--forge", o.Forge)
	if err != nil {
		return nil, err
	}
	repo, err := gogit.PlainOpenWithOptions(dir, &gogit.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("opening the git repository: %w", err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, fmt.Errorf("--post needs a work tree for its state: %w", err)
	}
	return notify.NewCommenter(notify.CommentOptions{
		Dir: dir, Rev: o.Rev, LedgerBranch: o.Branch, Remote: o.Remote,
		Post:      f.api().Comment,
		StateFile: notify.CommentStatePath(filepath.Join(wt.Filesystem.Root(), ".git")),
		Secrets:   heldSecrets(),
		Logger:    logger,
	})
}

// syncComments posts the outcome comments of the pass, for at most
// --notify-timeout: a forge that is down never fails the run, and what is
// left is posted by the next run (it stays pending in the state file).
func (o *reconcileOptions) syncComments(ctx context.Context, c *notify.Commenter, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.NotifyTimeout)
	defer cancel()
	if left := c.Sync(ctx); left > 0 {
		logger.Warn("outcome comments not posted yet; the next run posts them", "tickets", left)
	}
}

// heldSecrets are the secrets of heldSecretEnvs long enough to scrub.
func heldSecrets() []string {
	var held []string
	for _, e := range heldSecretEnvs {
		if v := os.Getenv(e); len(v) >= redact.MinSecret {
			held = append(held, v)
		}
	}
	return held
}
