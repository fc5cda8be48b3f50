package notify

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/internal/atomicfile"
	"github.com/cabhq/cab/internal/redact"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/reconcile"
	"github.com/cabhq/cab/sign/statement"
)

// CommentMarker is hidden in the outcome comment, so that the next pass
// finds it again and edits it rather than add a second one.
const CommentMarker = "<!-- cab:outcome -->"

// PostComment keeps the one comment containing marker on pull request pr
// (escalate.Forge's Comment: GitHub issue comments, GitLab MR notes).
type PostComment func(ctx context.Context, pr int64, marker, body string) error

// CommentOptions configure a Commenter.
type CommentOptions struct {
	// Dir, Rev, LedgerBranch and Remote say where main and the ledger are
	// read (as cab log reads them: audit.LogOptions).
	Dir, Rev, LedgerBranch, Remote string
	// Post posts or edits the comment.
	Post PostComment
	// StateFile keeps the tickets whose comment is still to post and what
	// each pull request's comment says (empty: in memory). See
	// CommentStatePath.
	StateFile string
	// Secrets are more strings to scrub from comments (forge tokens).
	Secrets []string
	Logger  *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Commenter keeps, on the pull request that introduced each ticket, one
// comment with the latest outcome of each of its tickets in each
// environment. At least once: a ticket whose event the ledger recorded is
// kept pending in the state file until its pull request's comment says
// so; a comment that cannot be posted is tried again by the next Sync,
// and never fails the caller.
type Commenter struct {
	o   CommentOptions
	red *redact.Redactor

	mu sync.Mutex
	st *commentState
}

// commentState is the Commenter's state file.
type commentState struct {
	// Pending are the tickets with recorded events not yet commented.
	Pending []string `json:"pending"`
	// Posted maps a pull request to the comment last posted on it.
	Posted map[string]posted `json:"posted"`
}

// posted is the sha256 of a comment's body and when it was posted.
type posted struct {
	Digest string    `json:"digest"`
	At     time.Time `json:"at"`
}

// CommentStatePath is the Commenter's state file in the checkout whose
// git directory is gitDir.
func CommentStatePath(gitDir string) string {
	return filepath.Join(gitDir, StateDir, "comments.json")
}

// NewCommenter returns a Commenter for o, with the state o.StateFile
// holds.
func NewCommenter(o CommentOptions) (*Commenter, error) {
	if o.Post == nil {
		return nil, errors.New("notify: a commenter needs a forge to post to")
	}
	o.Dir = cmp.Or(o.Dir, ".")
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	red, err := redact.New(o.Secrets...)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	c := &Commenter{o: o, red: red, st: &commentState{Posted: map[string]posted{}}}
	if o.StateFile != "" {
		b, err := os.ReadFile(o.StateFile)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("reading the comment state: %w", err)
		default:
			if err := json.Unmarshal(b, c.st); err != nil {
				return nil, fmt.Errorf("reading the comment state %s: %w", o.StateFile, err)
			}
			if c.st.Posted == nil {
				c.st.Posted = map[string]posted{}
			}
		}
	}
	return c, nil
}

// commented are the ledger events worth telling the pull request about.
var commented = []string{ledger.KindApplied, ledger.KindVerified, ledger.KindFailed, ledger.KindRolledBack,
	ledger.KindRollbackFailed, ledger.KindExpired, ledger.KindQuarantined}

// Observer returns a reconcile.Observer that marks the ticket of each
// recorded outcome for the next Sync, then passes the step on to next.
// The reconciler reports a step only after the ledger holds its event.
func (c *Commenter) Observer(next reconcile.Observer) reconcile.Observer {
	return commentObserver{c: c, next: next}
}

type commentObserver struct {
	c    *Commenter
	next reconcile.Observer
}

func (o commentObserver) Step(st reconcile.Step) {
	if o.next != nil {
		o.next.Step(st)
	}
	if st.Seq != 0 && slices.Contains(commented, st.Kind) {
		o.c.mark(st.Ticket)
	}
}

func (c *Commenter) mark(ticket string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.st.Pending, ticket) {
		c.st.Pending = append(c.st.Pending, ticket)
		c.saveLocked()
	}
}

// Pending returns the tickets whose comment is still to post.
func (c *Commenter) Pending() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.st.Pending)
}

// Sync posts the comment of every pull request that introduced a pending
// ticket, and returns how many tickets are still pending (their comment
// failed: the next Sync tries again). The pull request is the one the
// ticket's signed statement names (statement.PredicateOf), never the
// merge commit's message; a ticket signed without one is dropped.
func (c *Commenter) Sync(ctx context.Context) int {
	pending := c.Pending()
	if len(pending) == 0 {
		return 0
	}
	prs, err := c.pullRequests(pending)
	if err != nil {
		c.o.Logger.Warn("outcome comments: reading the ledger", "err", c.red.Error(err))
		return len(pending)
	}
	rows := map[string]*audit.Change{}
	_, err = audit.Log(ctx, audit.LogOptions{Dir: c.o.Dir, Rev: c.o.Rev, LedgerBranch: c.o.LedgerBranch, Remote: c.o.Remote},
		func(ch *audit.Change) error { rows[ch.ID] = ch; return nil })
	if err != nil {
		c.o.Logger.Warn("outcome comments: reading main and the ledger", "err", c.red.Error(err))
		return len(pending)
	}
	done := map[string]bool{}
	byPR := map[int64][]string{}
	for _, id := range pending {
		switch pr := prs[id]; {
		case pr <= 0:
			done[id] = true // signed without a pull request: nowhere to comment
		case rows[id] == nil:
			c.o.Logger.Warn("outcome comment: ticket not on the main line read; the next pass tries again", "ticket", id, "rev", c.o.Rev)
		default:
			byPR[pr] = append(byPR[pr], id)
		}
	}
	for _, pr := range slices.Sorted(maps.Keys(byPR)) {
		ids := byPR[pr]
		// The pull request's tickets are those its merge commit added.
		merge := rows[ids[0]].MergeCommit
		var tickets []*audit.Change
		for _, ch := range rows {
			if ch.MergeCommit == merge {
				tickets = append(tickets, ch)
			}
		}
		slices.SortFunc(tickets, func(a, b *audit.Change) int { return strings.Compare(a.ID, b.ID) })
		body := c.red.Bound(OutcomeComment(tickets), 60000)
		if !strings.Contains(body, CommentMarker) {
			body = CommentMarker + "\n" + body
		}
		sum := sha256.Sum256([]byte(body))
		key, digest := strconv.FormatInt(pr, 10), hex.EncodeToString(sum[:])
		c.mu.Lock()
		same := c.st.Posted[key].Digest == digest
		c.mu.Unlock()
		if !same {
			if err := c.o.Post(ctx, pr, CommentMarker, body); err != nil {
				c.o.Logger.Warn("outcome comment not posted; the next pass tries again", "pr", pr, "err", c.red.Error(err))
				continue
			}
		}
		c.mu.Lock()
		c.st.Posted[key] = posted{Digest: digest, At: c.o.Now()}
		c.mu.Unlock()
		for _, id := range ids {
			done[id] = true
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.Pending = slices.DeleteFunc(c.st.Pending, func(id string) bool { return done[id] })
	c.saveLocked()
	return len(c.st.Pending)
}

// pullRequests reads the pull request of each ticket from its signed
// statement on the ledger.
func (c *Commenter) pullRequests(ids []string) (map[string]int64, error) {
	repo, err := git.PlainOpenWithOptions(c.o.Dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, err
	}
	branch := cmp.Or(c.o.LedgerBranch, ledger.DefaultBranch)
	refs := []plumbing.ReferenceName{plumbing.NewBranchReferenceName(branch)}
	if c.o.Remote != "" {
		refs = append([]plumbing.ReferenceName{plumbing.NewRemoteReferenceName(c.o.Remote, branch)}, refs...)
	}
	out := map[string]int64{}
	for _, name := range refs {
		ref, err := repo.Reference(name, true)
		if err != nil {
			continue
		}
		log, err := ledger.ReadAt(repo, ref.Hash())
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			for _, ev := range log.Ticket(id) {
				if ev.Kind != ledger.KindSigned || len(ev.Envelope) == 0 {
					continue
				}
				if p, err := statement.PredicateOf(ev.Envelope); err == nil {
					out[id] = p.PR
				}
			}
		}
		return out, nil
	}
	return out, nil
}

// saveLocked writes the state, bounded: a pull request's comment is
// remembered for keepSent (an older one is edited again if a ticket of
// it ever moves), and at most maxPending tickets wait.
func (c *Commenter) saveLocked() {
	if c.o.StateFile == "" {
		return
	}
	now := c.o.Now()
	for pr, p := range c.st.Posted {
		if now.Sub(p.At) > keepSent {
			delete(c.st.Posted, pr)
		}
	}
	if n := len(c.st.Pending); n > maxPending {
		c.o.Logger.Warn("outcome comments: too many pending; the oldest are dropped", "dropped", n-maxPending)
		c.st.Pending = c.st.Pending[n-maxPending:]
	}
	b, err := json.Marshal(c.st)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(c.o.StateFile), 0o700)
	}
	if err == nil {
		err = atomicfile.Write(c.o.StateFile, b, 0o600)
	}
	if err != nil {
		c.o.Logger.Warn("outcome comment state not saved", "err", err)
	}
}

// markdownSpecial are the ASCII characters Markdown turns into references.
const markdownSpecial = "!\"#$%&'()*+:<>@[\\]^_`{|}~"

// OutcomeComment is the Markdown of a pull request's outcome comment: a
// table of its tickets × environments with the latest outcome and its
// time, behind CommentMarker. Ticket text is untrusted: it goes through
// Markdown.
func OutcomeComment(tickets []*audit.Change) string {
	var b strings.Builder
	b.WriteString(CommentMarker + "\n### cab: what happened to this change\n\n")
	b.WriteString("| Ticket | Title | Environment | Outcome | At |\n|---|---|---|---|---|\n")
	for _, t := range tickets {
		for _, e := range t.Environments {
			at := "—"
			if !e.At.IsZero() {
				at = e.At.UTC().Format(time.DateTime + " UTC")
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", Markdown(t.ID, 64), Markdown(t.Title, 200), Markdown(e.Env, 64), Markdown(e.Outcome, 64), at)
		}
	}
	b.WriteString("\n<sub>Updated by cab after each pass; the ledger is the record (`cab log`).</sub>\n")
	return b.String()
}

// Markdown renders untrusted text as inert Markdown inline text of at most
// max characters: line breaks become spaces, control characters go, and
// every character with a meaning in Markdown, HTML or a forge's text
// (emphasis, code, links and images, tags and entities, table pipes,
// @mentions, #references, autolinks' colon) becomes its HTML character
// reference, which GitHub and GitLab show as the character and never
// interpret.
func Markdown(s string, max int) string {
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max-1]) + "…"
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f:
			// control characters: dropped
		case r < 0x80 && strings.ContainsRune(markdownSpecial, r):
			fmt.Fprintf(&b, "&#%d;", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
