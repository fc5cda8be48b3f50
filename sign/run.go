package sign

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cabhq/cab/forge"
	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/validate"
)

// ReviewFunc returns the review evidence of the merge m: the forge's record
// of the change that produced m.Commit. nil evidence means none; an error
// (forge.ErrNoMergeRecord when no pull request records m.Commit as its
// merge) records the merge's tickets unsigned with the error as reason.
type ReviewFunc func(ctx context.Context, m validate.Merge) (*forge.Evidence, error)

// Options configure a signing run.
type Options struct {
	// Dir is the change repository (its git checkout of main).
	Dir string
	// Rev is the main line to sign (default "HEAD").
	Rev string
	// Ledger is where events are recorded.
	Ledger *ledger.Ledger
	// Signer signs the statements.
	Signer *Signer
	// Review supplies the approvals of each merge.
	Review ReviewFunc
	// Actor is recorded on the ledger events (e.g. the CI job).
	Actor  string
	Now    func() time.Time
	Limits validate.Limits
	// Progress, if not nil, is called as each merge is read (its review
	// evidence fetched), before the merges are judged together.
	Progress func(done, total int)
}

// Outcome is what a run did for one merged ticket.
type Outcome struct {
	Ticket string `json:"ticket"`
	Path   string `json:"path"`
	Commit string `json:"commit"`
	// Kind is the ledger event recorded: signed or unsigned; "" when the
	// ledger already had the ticket.
	Kind   string `json:"kind,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Images are the images the ticket promotes (oci actions), by digest,
	// and Predicate what was signed about the ticket: --attach signs the
	// same predicate about each image and stores it beside the image.
	Images    []string   `json:"images,omitempty"`
	Predicate *Predicate `json:"-"`
}

// candidate is a merged ticket and the verdict of the gate on its merge.
type candidate struct {
	id, path  string
	merge     validate.Merge
	json      []byte
	predicate *Predicate // set when signed, with the images it promotes
	images    []string
	report    *validate.Report
	problems  []string
}

// Run signs every ticket merged on main that the ledger does not know yet.
// Main is walked by first parent from the last commit the ledger recorded;
// each merge is judged again by the gate (rules of its first parent,
// approvals of the merge), and only what passes is signed. A ticket that
// reached main without passing (a direct push, an admin bypass) is
// recorded as unsigned with the reason, and is never applied. The merges
// are judged with one validate.CheckPRs call: the merges judged by the
// same rules share one sandboxed evaluation child, each with its own
// verdict. Appending to the ledger is a compare-and-swap, so concurrent
// runs record each ticket exactly once.
func Run(ctx context.Context, o Options) ([]Outcome, error) {
	if o.Rev == "" {
		o.Rev = "HEAD"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log, err := o.Ledger.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the ledger: %w", err)
	}
	stop, err := lastRecorded(ctx, o.Dir, log, o.Rev)
	if err != nil {
		return nil, err
	}
	merges, err := validate.Mainline(ctx, o.Dir, o.Rev, stop)
	if err != nil {
		return nil, err
	}
	session, err := validate.NewSession(o.Dir)
	if err != nil {
		return nil, err
	}
	defer session.Close()
	// Every merge is judged by the gate at once (CheckPRs evaluates the
	// merges that share rules in one sandboxed child), then its verdicts
	// are turned into candidates in the order of main.
	var judging []*judgement
	var prs []validate.PROptions
	for i, m := range merges {
		if o.Progress != nil {
			o.Progress(i, len(merges))
		}
		var todo []string
		for _, p := range m.Tickets {
			if id := ticketID(p); log.State(id).Status == "" {
				todo = append(todo, p)
			}
		}
		if len(todo) == 0 {
			continue
		}
		j := o.review(ctx, m, todo)
		if j.merge.Parent != "" {
			j.pr = len(prs)
			prs = append(prs, validate.PROptions{Session: session, Base: m.Parent, Head: m.Commit, Evidence: j.evidence, Now: m.Time, Limits: o.Limits})
		}
		judging = append(judging, j)
	}
	reports, err := validate.CheckPRs(ctx, prs)
	if err != nil {
		return nil, fmt.Errorf("judging the merges: %w", err)
	}
	var cands []*candidate
	for _, j := range judging {
		var rep *validate.Report
		if j.merge.Parent != "" {
			rep = reports[j.pr]
		}
		cands = append(cands, j.candidates(rep)...)
	}
	var outcomes []Outcome
	_, err = o.Ledger.Update(ctx, func(l *ledger.Log) ([]ledger.Event, error) {
		outcomes = outcomes[:0]
		var events []ledger.Event
		for _, c := range cands {
			out := Outcome{Ticket: c.id, Path: c.path, Commit: c.merge.Commit}
			if l.State(c.id).Status != "" {
				outcomes = append(outcomes, out) // another run recorded it first
				continue
			}
			ev, err := o.event(ctx, c)
			if err != nil {
				return nil, err
			}
			out.Kind = ev.Kind
			out.Reason = strings.Join(c.problems, "; ")
			out.Images, out.Predicate = c.images, c.predicate
			events = append(events, ev)
			outcomes = append(outcomes, out)
		}
		return events, nil
	})
	if err != nil {
		return nil, fmt.Errorf("recording in the ledger: %w", err)
	}
	return outcomes, nil
}

// lastRecorded is the newest commit of the main line (by first parent
// from rev) that the ledger names as the merge of a signed or unsigned
// ticket, where the walk can stop; zero to walk it all. A run records
// every merge it walks in one transaction, so what is behind a recorded
// merge was recorded too (a ticket the ledger has is skipped anyway). The
// walk costs the merges since, whatever the length of the ledger or of
// the history.
func lastRecorded(ctx context.Context, dir string, log *ledger.Log, rev string) (plumbing.Hash, error) {
	recorded := map[plumbing.Hash]bool{}
	for _, ev := range log.Events() {
		if (ev.Kind == ledger.KindSigned || ev.Kind == ledger.KindUnsigned) && plumbing.IsHash(ev.Commit) {
			recorded[plumbing.NewHash(ev.Commit)] = true
		}
	}
	if len(recorded) == 0 {
		return plumbing.ZeroHash, nil
	}
	repo, closeRepo, err := gitx.Open(dir)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer closeRepo()
	head, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("revision %q: %w", rev, err)
	}
	for c, err := range gitx.FirstParents(ctx, repo.Storer, *head) {
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if recorded[c.Hash] {
			return c.Hash, nil
		}
	}
	return plumbing.ZeroHash, nil
}

// judgement is a merge being judged for the tickets it added.
type judgement struct {
	merge     validate.Merge
	paths     []string
	evidence  *forge.Evidence
	reviewErr error
	pr        int // index of its check in the CheckPRs call
}

// review fetches the review evidence of a merge.
func (o Options) review(ctx context.Context, m validate.Merge, paths []string) *judgement {
	j := &judgement{merge: m, paths: paths}
	if o.Review != nil {
		j.evidence, j.reviewErr = o.Review(ctx, m)
	}
	return j
}

// candidates are the verdicts of the gate's report rep on the merge (nil
// for a root commit).
func (j *judgement) candidates(rep *validate.Report) []*candidate {
	m, paths, evidence := j.merge, j.paths, j.evidence
	if m.Parent == "" {
		// A root commit has no base whose rules could judge it: its
		// tickets are recorded as unsigned.
		var out []*candidate
		for _, p := range paths {
			out = append(out, &candidate{id: ticketID(p), path: p, merge: m, problems: []string{"added by a root commit: no base rules to judge it by"}})
		}
		return out
	}
	var global []string
	for _, d := range rep.Diagnostics {
		if d.Severity == diag.Error && !slices.Contains(paths, d.File) {
			global = append(global, d.String())
		}
	}
	if j.reviewErr != nil {
		global = append(global, "no review evidence: "+j.reviewErr.Error())
	}
	var out []*candidate
	for _, p := range paths {
		c := &candidate{id: ticketID(p), path: p, merge: m, report: rep, problems: slices.Clone(global)}
		for _, t := range rep.Tickets {
			if t.File == p {
				c.json = t.JSON
				for _, d := range t.Diags {
					if d.Severity == diag.Error {
						c.problems = append(c.problems, d.String())
					}
				}
			}
		}
		if c.json == nil && len(c.problems) == 0 {
			c.problems = append(c.problems, "the ticket was not judged")
		}
		if len(c.problems) > 0 && evidence != nil {
			// Why approvals were not counted explains a missing approval.
			for _, r := range evidence.Reasons {
				c.problems = append(c.problems, "review evidence: "+r)
			}
		}
		out = append(out, c)
	}
	return out
}

// event signs a candidate that passed, or records why it was not signed.
func (o Options) event(ctx context.Context, c *candidate) (ledger.Event, error) {
	ev := ledger.Event{Ticket: c.id, Actor: o.Actor, Commit: c.merge.Commit}
	if len(c.problems) > 0 {
		data, _ := json.Marshal(map[string]any{"path": c.path, "reasons": c.problems})
		ev.Kind, ev.Data = ledger.KindUnsigned, data
		return ev, nil
	}
	var t model.Ticket
	if err := json.Unmarshal(c.json, &t); err != nil {
		return ev, fmt.Errorf("reading %s: %w", c.path, err)
	}
	p := Predicate{
		ID: c.id, MergeCommit: c.merge.Commit, Environments: t.Environments,
		PolicyDigest: c.report.RulesDigest, Repository: c.report.Repository, SignedAt: o.Now().UTC(),
	}
	if r := c.report.Review; r != nil && r.Forge != "none" {
		p.PR, p.Author, p.Merger, p.Approvals = r.Number, r.Author, r.Merger, r.Approvals
	}
	digest := Digest(c.json)
	c.predicate, c.images = &p, images(t)
	env, err := o.Signer.Sign(ctx, NewStatement(c.path, digest, p))
	if err != nil {
		return ev, fmt.Errorf("signing %s: %w", c.id, err)
	}
	info := map[string]any{"path": c.path, "digest": "sha256:" + digest, "keyid": o.Signer.KeyID()}
	if o.Signer.Keyless() {
		// The envelope is a Sigstore bundle: its certificate names the
		// identity, and its key lived for this signature only.
		delete(info, "keyid")
		info["keyless"] = true
	}
	data, _ := json.Marshal(info)
	ev.Kind, ev.Data, ev.Envelope = ledger.KindSigned, data, env
	return ev, nil
}

// AttachImages signs, for each image a signed outcome promotes, a
// statement whose subject is the image (so that cosign verify-attestation
// finds the image digest among the subjects) with the ticket's predicate,
// and stores it beside the image. Images are handled one at a time: the
// attestation tag is a read-modify-write.
func AttachImages(ctx context.Context, signer *Signer, outcomes []Outcome, opts ...remote.Option) ([]name.Digest, error) {
	var out []name.Digest
	for _, o := range outcomes {
		if o.Predicate == nil {
			continue
		}
		for _, img := range o.Images {
			ref, err := name.NewDigest(img)
			if err != nil {
				return out, fmt.Errorf("%s: image %q: %w", o.Ticket, img, err)
			}
			hex := strings.TrimPrefix(ref.DigestStr(), "sha256:")
			env, err := signer.Sign(ctx, NewStatement(ref.Context().Name(), hex, *o.Predicate))
			if err != nil {
				return out, fmt.Errorf("signing the attestation of %s for %s: %w", o.Ticket, img, err)
			}
			d, err := Attach(ctx, img, env, opts...)
			if err != nil {
				return out, fmt.Errorf("%s: %w", o.Ticket, err)
			}
			out = append(out, d)
		}
	}
	return out, nil
}

// images lists the source images a ticket's oci actions promote.
func images(t model.Ticket) []string {
	var out []string
	for _, a := range t.Actions {
		if a.Type == "oci" && !slices.Contains(out, a.Image) {
			out = append(out, a.Image)
		}
	}
	return out
}

func ticketID(p string) string { return strings.TrimSuffix(path.Base(p), ".cue") }

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
