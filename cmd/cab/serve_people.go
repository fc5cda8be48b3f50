package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/cabhq/cab/escalate"
	"github.com/cabhq/cab/internal/gitpush"
	"github.com/cabhq/cab/notify"
	"github.com/cabhq/cab/webui"
)

// watchedRev is the main line cab serve reads: the remote-tracking ref of
// --branch (the reconciler fetches it before each pass), or the local
// branch without a remote.
func (o *serveOptions) watchedRev() string {
	if o.Engine.Remote != "" {
		return "refs/remotes/" + o.Engine.Remote + "/" + o.Branch
	}
	return "refs/heads/" + o.Branch
}

// slaBoard keeps the last approval-SLA poll for the web UI's overview.
type slaBoard struct {
	mu   sync.Mutex
	last *webui.SLAStatus
}

func (b *slaBoard) status() *webui.SLAStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

func (b *slaBoard) set(r *escalate.SLAResult) {
	st := &webui.SLAStatus{At: r.At, Breaches: []webui.SLABreach{}}
	for _, x := range r.Breaches {
		st.Breaches = append(st.Breaches, webui.SLABreach{PR: x.PR, Service: x.Service, Risk: x.Risk, Level: x.Level, Reason: x.Reason})
	}
	b.mu.Lock()
	b.last = st
	b.mu.Unlock()
}

// slaPoll is serve.Config.SLA: one escalate.PollSLA of the forge's open
// pull requests into --branch, their heads fetched from --remote within
// --git-timeout.
func (o *serveOptions) slaPoll(f escalate.Forge, n *notify.Notifier, board *slaBoard, log *slog.Logger) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		res, err := escalate.PollSLA(gitpush.WithTimeout(ctx, o.Engine.GitTimeout), escalate.SLAOptions{
			Remote: o.Engine.Remote, Base: o.Branch, Forge: f, Notifier: n, Logger: log})
		if res == nil {
			return 0, err
		}
		if err == nil {
			board.set(res)
		}
		return res.Notified, err
	}
}

// afterPass runs after each of cab serve's passes: the outcome comments
// of what the pass recorded (--post), and the emergency post-reviews due
// or overdue. Neither fails the pass: what fails is logged and tried
// again after the next one.
func (o *serveOptions) afterPass(ctx context.Context, n *notify.Notifier, cm *notify.Commenter, log *slog.Logger) {
	if cm != nil {
		o.Engine.syncComments(ctx, cm, log)
	}
	if n != nil {
		if _, err := escalate.PostReviews(ctx, escalate.PostReviewOptions{Rev: o.watchedRev(), LedgerBranch: o.Engine.Branch,
			Remote: o.Engine.Remote, Notifier: n}); err != nil {
			log.Warn("post-review notifications: the next pass tries again", "err", err)
		}
	}
}

// peopleHooks builds cab serve's outcome commenter (--post) and approval-
// SLA poll (--sla-interval), each nil when not asked for. The poll needs
// cab.cue's notify: to tell anyone; without it, it is off (and logged).
func (o *serveOptions) peopleHooks(log *slog.Logger, board *slaBoard) (*notify.Commenter, func(context.Context) (int, error), error) {
	if !o.Engine.Post && o.SLAInterval <= 0 {
		return nil, nil, nil
	}
	f, err := openForgeRepo("--forge", o.Engine.Forge)
	if err != nil {
		return nil, nil, err
	}
	eo := o.Engine
	eo.Rev = o.watchedRev()
	cm, err := eo.newCommenter(".", log)
	if err != nil {
		return nil, nil, err
	}
	if o.SLAInterval <= 0 {
		return cm, nil, nil
	}
	if o.notifier == nil {
		log.Warn("--sla-interval: cab.cue has no notify: sinks, so there is no one to tell; approval SLAs are not polled")
		return cm, nil, nil
	}
	return cm, o.slaPoll(f.api(), o.notifier, board, log), nil
}
