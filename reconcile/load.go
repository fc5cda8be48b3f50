package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/schema/load"
	"github.com/cabhq/cab/sign"
	"github.com/cabhq/cab/validate"
)

// ticket is a signed ticket the reconciler may act on, read from the merge
// commit its signature names and verified against the keys its base trusts.
type ticket struct {
	id     string
	path   string
	commit string
	// order is when it was signed: tickets are applied in merge order.
	order time.Time
	t     model.Ticket
	// problem, when set, is why the ticket must not be applied at all
	// (a bad signature, a blown evaluation budget): it is quarantined.
	problem string
	// wait, when set, is why it cannot be judged yet (its merge commit is
	// not in the checkout): it is scheduled and judged again next pass.
	wait *blocked
}

// signedData is the Data of a signed ledger event.
type signedData struct {
	Path string `json:"path"`
}

// terminal reports whether kind ends a ticket's story in an environment.
func terminal(kind string) bool {
	switch kind {
	case ledger.KindVerified, ledger.KindRolledBack, ledger.KindRollbackFailed, ledger.KindExpired, ledger.KindQuarantined:
		return true
	}
	return false
}

// envelopeEnvironments reads the environment list of a signed statement
// without verifying it: only to skip tickets that are done everywhere.
// Whatever is acted on is verified first.
func envelopeEnvironments(env []byte) []string {
	p, err := sign.PredicateOf(env)
	if err != nil {
		return nil
	}
	return p.Environments
}

// statementEnvs memoises envelopeEnvironments by ticket id and the exact
// envelope bytes, for the life of a Reconciler. A pass asks for the
// environments of every signed ticket of the ledger (to skip those done
// everywhere, and to count states) every round; decoding each envelope
// again made that the largest cost of a pass that grows with the ledger
// rather than with the tickets in flight. An entry is used only for the
// very bytes it was decoded from, so a ledger that changed an envelope is
// decoded afresh; nothing is kept across processes. The zero value is
// ready; a nil *statementEnvs decodes every time.
type statementEnvs struct {
	mu sync.Mutex
	m  map[string]envsEntry
}

type envsEntry struct {
	envelope []byte
	envs     []string
}

// of returns the environments the statement of ticket id's envelope names.
func (s *statementEnvs) of(id string, envelope []byte) []string {
	if s == nil {
		return envelopeEnvironments(envelope)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[id]; ok && bytes.Equal(e.envelope, envelope) {
		return e.envs
	}
	envs := envelopeEnvironments(envelope)
	if s.m == nil {
		s.m = map[string]envsEntry{}
	}
	s.m[id] = envsEntry{envelope: envelope, envs: envs}
	return envs
}

// signedEvent returns ticket id's signed event (nil when it has none).
func signedEvent(log *ledger.Log, id string) *ledger.Event {
	for _, ev := range log.Ticket(id) {
		if ev.Kind == ledger.KindSigned {
			return &ev
		}
	}
	return nil
}

// ticketOf names the ticket a signed event signs, not yet read or
// verified.
func ticketOf(ev *ledger.Event) *ticket {
	var d signedData
	_ = json.Unmarshal(ev.Data, &d)
	return &ticket{id: ev.Ticket, path: d.Path, commit: ev.Commit, order: ev.At}
}

// setAside returns the cause id was quarantined (as a whole) for when a
// retry can fix it — its merge commit was not in the checkout, a target
// could not be read — and "" when none can or id is not quarantined. Such
// tickets are judged again. Older reconcilers recorded no cause: their
// words for a missing merge commit are recognised.
func setAside(log *ledger.Log, id string) cause {
	var last *ledger.Event
	for _, ev := range log.Ticket(id) {
		if ev.Env == "" && ev.Kind == ledger.KindQuarantined {
			last = &ev
		}
	}
	if last == nil || log.State(id).Status != ledger.KindQuarantined {
		return ""
	}
	d := decodeData(last)
	if c := cause(d.Cause); c != "" {
		if c.retryable() {
			return c
		}
		return ""
	}
	return legacyMergeMissing(d.Reason)
}

// errMergeCommitMissing is matched (errors.Is) when the checkout does not
// have the merge commit a signed ticket names (yet): fetch main.
var errMergeCommitMissing = errors.New("merge commit not in the checkout")

// loader reads and verifies tickets, caching what it learnt across passes
// (a daemon reconciles the same open tickets every minute).
type loader struct {
	repo   *git.Repository
	limits validate.Limits
	now    func() time.Time
	// verdicts caches each ticket's verdict by its signed event, path and
	// merge commit: none of them can change without a new event.
	verdicts map[string]*ticket
	// rules compiles each distinct cab.cue once (main's, and the base of
	// each merge).
	rules *load.Loader
}

func (l *loader) key(tk *ticket) string { return tk.id + "\x00" + tk.path + "\x00" + tk.commit }

// verify fills in each ticket's content, or its problem.
func (l *loader) verify(ctx context.Context, log *ledger.Log, tickets []*ticket) error {
	type group struct {
		job     validate.Job
		keys    []model.Key
		repo    string
		files   []validate.File
		tickets []*ticket
	}
	groups := map[string]*group{}
	var order []string
	dirs := map[string]*object.Tree{}
	for _, tk := range tickets {
		if v := l.verdicts[l.key(tk)]; v != nil {
			tk.t, tk.problem = v.t, v.problem
			continue
		}
		src, err := l.read(tk, dirs)
		switch {
		case errors.Is(err, errMergeCommitMissing):
			// Not judged yet, and not cached: the next pass, after a
			// fetch, judges it.
			tk.wait = &blocked{cause: newCause(causeMergeMissing, tk.commit), reason: err.Error()}
			continue
		case err != nil:
			tk.problem = err.Error()
			continue
		}
		job, err := validate.RulesAt(l.repo, plumbing.NewHash(tk.commit))
		if err != nil {
			return err
		}
		job.Now = l.now()
		k := job.RulesDigest()
		g := groups[k]
		if g == nil {
			g = &group{job: job}
			if job.Config != nil {
				cfg, err := l.rules.Config(load.Rules{Config: job.Config}, tk.commit+"^")
				switch {
				case err == nil:
					g.keys, g.repo = cfg.Config.Keys, cfg.Config.Repository
				case !load.Tolerable(err):
					return err
				}
				// A base cab.cue that is invalid trusts no key: every
				// ticket it judged fails as unverified, which says so.
			}
			groups[k] = g
			order = append(order, k)
		}
		g.files = append(g.files, validate.File{Name: tk.path, Source: src})
		g.tickets = append(g.tickets, tk)
	}
	for _, k := range order {
		g := groups[k]
		results, _, err := validate.Run(ctx, g.job, g.files, l.limits, nil)
		if err != nil {
			return fmt.Errorf("evaluating signed tickets: %w", err)
		}
		for i, r := range results {
			tk := g.tickets[i]
			tk.problem = l.judge(log, tk, r, g.keys, g.repo)
			l.verdicts[l.key(tk)] = &ticket{t: tk.t, problem: tk.problem}
		}
	}
	return nil
}

// read returns the ticket file as merged, refusing what is not a ticket
// the merge commit added at changes/<service>/<id>.cue. dirs keeps the
// service directories read so far by merge commit, so that the tickets of
// one merge decode their directory once.
func (l *loader) read(tk *ticket, dirs map[string]*object.Tree) ([]byte, error) {
	if tk.path == "" || tk.commit == "" || !plumbing.IsHash(tk.commit) {
		return nil, errors.New("the signed event names no ticket path or merge commit")
	}
	dir, file := path.Split(tk.path)
	if file != tk.id+".cue" || !strings.HasPrefix(dir, "changes/") || strings.Count(tk.path, "/") != 2 || strings.Contains(tk.path, "..") {
		return nil, fmt.Errorf("the signed path %q is not changes/<service>/%s.cue", tk.path, tk.id)
	}
	key := tk.commit + "\x00" + dir
	sub := dirs[key]
	if sub == nil {
		c, err := l.repo.CommitObject(plumbing.NewHash(tk.commit))
		switch {
		case errors.Is(err, plumbing.ErrObjectNotFound):
			return nil, fmt.Errorf("the merge commit %s is not in the checkout yet (fetch main): %w", tk.commit, errMergeCommitMissing)
		case err != nil:
			// Not the ticket's fault either: judged again once it reads.
			return nil, fmt.Errorf("reading the merge commit %s: %w (%w)", tk.commit, err, errMergeCommitMissing)
		}
		tree, err := c.Tree()
		if err != nil {
			return nil, fmt.Errorf("reading the tree of %s: %w", tk.commit, err)
		}
		if sub, err = gitx.Subtree(tree, strings.TrimSuffix(dir, "/")); err != nil {
			return nil, readError(tk, err)
		}
		dirs[key] = sub
	}
	src, err := gitx.ReadFile(sub, file, schema.MaxTicketBytes)
	if err != nil {
		return nil, readError(tk, err)
	}
	return src, nil
}

// readError says why the ticket's file could not be read from its merge
// commit. The words are recorded with a set-aside ticket: they stay as
// they were.
func readError(tk *ticket, err error) error {
	if errors.Is(err, gitx.ErrNotFound) {
		return fmt.Errorf("%s is not in the merge commit %s: %w", tk.path, tk.commit, object.ErrFileNotFound)
	}
	if errors.Is(err, gitx.ErrNotRegular) {
		return fmt.Errorf("%s is not a regular file in %s", tk.path, tk.commit)
	}
	if tl, ok := errors.AsType[*gitx.TooLargeError](err); ok {
		return fmt.Errorf("%s is %d bytes, over the %d-byte limit", tk.path, tl.Size, tl.Limit)
	}
	return fmt.Errorf("reading %s at %s: %w", tk.path, tk.commit, err)
}

// judge returns why the evaluated ticket must not be applied ("" when it
// may), and fills in its content.
func (l *loader) judge(log *ledger.Log, tk *ticket, r validate.Result, keys []model.Key, repository string) string {
	if r.JSON == nil {
		for _, d := range r.Diags {
			if d.Code == "budget" {
				return "evaluation blew its budget: " + d.Message
			}
		}
		return "the merged ticket does not parse: " + firstError(r.Diags)
	}
	if err := json.Unmarshal(r.JSON, &tk.t); err != nil {
		return "the merged ticket does not decode: " + err.Error()
	}
	if tk.t.ID != tk.id {
		return fmt.Sprintf("the merged ticket's id is %q, not %q", tk.t.ID, tk.id)
	}
	var signed *ledger.Event
	for _, ev := range log.Ticket(tk.id) {
		if ev.Kind == ledger.KindSigned {
			signed = &ev
			break
		}
	}
	if signed == nil {
		return "no signed event"
	}
	_, err := sign.Verify(signed.Envelope, keys, sign.Expect{
		TicketPath: tk.path, TicketDigest: sign.Digest(r.JSON), ID: tk.id,
		Environments: tk.t.Environments, Repository: repository, MergeCommit: tk.commit,
	})
	if err != nil {
		return "signature: " + err.Error()
	}
	return ""
}

func firstError(ds diag.List) string {
	for _, d := range ds {
		if d.Severity == diag.Error {
			return d.String()
		}
	}
	return "no detail"
}
