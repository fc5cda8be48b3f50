package validate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cabhq/cab/forge"
	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/policy"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/schema/load"
)

// ErrRevision is returned when a base or head revision cannot be resolved.
var ErrRevision = errors.New("unknown revision")

// PROptions configure the check of a pull request.
type PROptions struct {
	// Dir is any directory inside the repository (default ".").
	Dir string
	// Base and Head are revisions: the target branch and the proposed change.
	Base, Head string
	// Evidence is the review evidence of the change; nil means none, and
	// every approval a policy demands is missing. It counts only when it
	// describes Head (its final head or its merge commit).
	Evidence *forge.Evidence
	// Now is the time windows are judged against (time.Now if zero).
	Now      time.Time
	Limits   Limits
	Progress func(done, total int)
	// Session, if set, shares the repository and caches across checks
	// (see NewSession); Dir is then ignored.
	Session *Session
}

// governance files: a pull request touching them changes the rules.
func isGovernance(name string) bool {
	return name == ConfigFile || name == PolicyDir || strings.HasPrefix(name, PolicyDir+"/")
}

// CheckPR checks a pull request: the tickets it adds, judged by the schema,
// configuration and policies of its base (a pull request cannot loosen the
// rules it is judged by), and the rules that hold whatever it contains:
// merged tickets are immutable, ids are unique, references exist, paths
// stay in changes/, symlinks, submodules and oversized blobs are refused,
// and a change to cab.cue or policy/ is a governance change needing the
// approvals the base demands. The work grows with the size of the change:
// untouched tickets are never read.
func CheckPR(ctx context.Context, o PROptions) (*Report, error) {
	c, err := preparePR(o)
	if err != nil {
		return nil, err
	}
	defer c.close()
	var results []Result
	var setup diag.List
	if c.evaluates() {
		if results, setup, err = Run(ctx, c.job, c.added, c.o.Limits, c.o.Progress); err != nil {
			return nil, err
		}
	}
	return c.finish(ctx, results, setup)
}

// prCheck is a pull request read and ready to evaluate: what CheckPR
// does before and after its tickets are evaluated.
type prCheck struct {
	o          PROptions
	session    *Session
	owned      bool // the session is the check's own (see close)
	base, head *object.Tree
	changes    []change
	refused    bool // the diff refused entries (see diffTrees)
	rep        *Report
	review     *model.Review
	job        Job
	baseCfg    func() (*model.Config, error) // waits for Session.configAsync
	added      []File
	governance []string
}

// close releases the session's repository when the check opened it (a
// session of one check has saved what it learnt as it went).
func (c *prCheck) close() {
	if c.owned {
		c.session.release()
	}
}

// evaluates says whether the check evaluates anything in a child: the
// tickets it adds, or at least the rules when it changes them.
func (c *prCheck) evaluates() bool { return len(c.added) > 0 || len(c.governance) > 0 }

// preparePR reads a pull request: its changes, the rules of its base, the
// tickets it adds and what they may conflict with.
func preparePR(o PROptions) (*prCheck, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Dir == "" {
		o.Dir = "."
	}
	// One total budget for every evaluation of this check.
	o.Limits = o.Limits.withDefaults()
	session := o.Session
	if session == nil {
		var err error
		if session, err = NewSession(o.Dir); err != nil {
			return nil, err
		}
		session.batch = false
	}
	c, err := prepareIn(session, o)
	if err != nil {
		if o.Session == nil {
			session.release()
		}
		return nil, err
	}
	c.owned = o.Session == nil
	return c, nil
}

// prepareIn is preparePR in session.
func prepareIn(session *Session, o PROptions) (*prCheck, error) {
	repo := session.repo
	base, err := resolveTree(repo, "base", o.Base)
	if err != nil {
		return nil, err
	}
	head, headCommit, err := resolveCommit(repo, "head", o.Head)
	if err != nil {
		return nil, err
	}
	changes, refused, err := diffTrees(repo.Storer, base, head, "")
	if err != nil {
		return nil, fmt.Errorf("comparing %s and %s: %w", o.Base, o.Head, err)
	}

	rep := &Report{Diagnostics: refused}
	review, ds, err := reviewOf(o.Evidence, headCommit)
	if err != nil {
		return nil, err
	}
	rep.Diagnostics = append(rep.Diagnostics, ds...)
	rep.Review = review
	job, err := baseRules(session, base, rep)
	if err != nil {
		return nil, err
	}
	rep.RulesDigest = job.RulesDigest()
	// The base's cab.cue is decoded while the rest is read and the
	// tickets are evaluated (in a child, on another core): finish waits.
	baseCfg := session.configAsync(job)
	job.Mode, job.Now, job.Review = policy.PullRequest, o.Now, review

	// A rename is a delete and an insert of the same blob.
	inserted := map[plumbing.Hash]string{}
	for _, c := range changes {
		job.ChangedFiles = append(job.ChangedFiles, c.Path)
		if c.Added() {
			inserted[c.To] = c.Path
		}
	}
	var added []File
	var governance []string
	for _, c := range changes {
		secrets, err := scanChange(c)
		if err != nil {
			return nil, err
		}
		rep.Diagnostics = append(rep.Diagnostics, secrets...)
	}
	for _, c := range changes {
		switch {
		case isGovernance(c.Path):
			governance = append(governance, c.Path)
		case !strings.HasPrefix(c.Path, ChangesDir+"/"):
			// Other files are not cab's business.
		case c.Added():
			f, d, err := addedTicket(c)
			if err != nil {
				return nil, err
			}
			if d != nil {
				rep.Diagnostics = append(rep.Diagnostics, *d)
			} else if f != nil {
				added = append(added, *f)
			}
		case c.Deleted():
			to := inserted[c.From]
			verb := "deletes"
			if to != "" {
				verb = "renames"
			}
			rep.Diagnostics = append(rep.Diagnostics, immutable(c.Path, 1, verb, to))
		default:
			rep.Diagnostics = append(rep.Diagnostics, immutable(c.Path, firstChangedLine(c), "edits", ""))
		}
	}

	if len(added) > 0 {
		if job.Open, err = openTickets(base, added, o.Now, session); err != nil {
			return nil, err
		}
	}
	return &prCheck{o: o, session: session, base: base, head: head, changes: changes, refused: len(refused) > 0, rep: rep, review: review, job: job, baseCfg: baseCfg,
		added: added, governance: governance}, nil
}

// ids is the ticket index of the head.
func (c *prCheck) ids() (map[string][]string, error) {
	if c.refused {
		// Entries the diff refused are not in c.changes.
		return ticketIndex(c.head)
	}
	return c.session.ticketIDs(c.base, c.head, c.changes)
}

// finish completes the check with the verdicts on the tickets it adds
// (results, in the order of c.added) and the setup problems of their
// evaluation: the checks across the repository, and the new rules of a
// governance change.
func (c *prCheck) finish(ctx context.Context, results []Result, setup diag.List) (*Report, error) {
	rep, o, head, review := c.rep, c.o, c.head, c.review
	baseCfg, err := c.baseCfg()
	if err != nil {
		return nil, err
	}
	if baseCfg != nil {
		rep.Repository = baseCfg.Repository
	}
	if c.evaluates() {
		rep.Diagnostics = append(rep.Diagnostics, setup...)
		ids, err := c.ids()
		if err != nil {
			return nil, err
		}
		late, err := overdueReviews(c.session.repo, head, review.Author, PostReviewDays(baseCfg), o.Now, c.session)
		if err != nil {
			return nil, err
		}
		for i := range results {
			results[i].Diags = append(results[i].Diags, crossCheck(results[i], results[i].File, ids, identity)...)
			results[i].Diags = append(results[i].Diags, obligationDiags(results[i:i+1], late)...).Sort()
			rep.Diagnostics = append(rep.Diagnostics, results[i].Diags...)
		}
		rep.Tickets = append(rep.Tickets, results...)
	}
	if len(c.governance) > 0 {
		ds, err := checkGovernance(ctx, head, c.job, baseCfg, c.governance, review, o.Limits)
		if err != nil {
			return nil, err
		}
		rep.Diagnostics = append(rep.Diagnostics, ds...)
	}
	rep.Diagnostics = rep.Diagnostics.Sort()
	return rep, nil
}

func identity(s string) string { return s }

func resolveTree(repo *git.Repository, which, rev string) (*object.Tree, error) {
	t, _, err := resolveCommit(repo, which, rev)
	return t, err
}

// resolveCommit resolves rev to its tree and commit id.
func resolveCommit(repo *git.Repository, which, rev string) (*object.Tree, string, error) {
	if rev == "" {
		return nil, "", fmt.Errorf("no %s revision given: %w", which, ErrRevision)
	}
	// A full commit id is what ResolveRevision would return first (an id
	// wins over a ref of the same name, as in git): read it directly
	// rather than looking it up among the refs. Anything else resolves.
	var c *object.Commit
	if plumbing.IsHash(rev) {
		c, _ = repo.CommitObject(plumbing.NewHash(rev))
	}
	if c == nil {
		h, err := repo.ResolveRevision(plumbing.Revision(rev))
		if err != nil {
			return nil, "", fmt.Errorf("%s revision %q: %w (%v); fetch it first, e.g. git fetch origin %s", which, rev, ErrRevision, err, rev)
		}
		if c, err = repo.CommitObject(*h); err != nil {
			return nil, "", fmt.Errorf("%s revision %q is not a commit: %w", which, rev, err)
		}
	}
	t, err := c.Tree()
	if err != nil {
		return nil, "", fmt.Errorf("reading the tree of %s %q: %w", which, rev, err)
	}
	return t, c.Hash.String(), nil
}

// RulesDigest identifies the rules a change is judged by: sha256 over the
// names and contents of cab.cue and the policies, in order.
func (job Job) RulesDigest() string {
	h := sha256.New()
	files := job.Policies
	if job.Config != nil {
		files = append([]File{*job.Config}, files...)
	}
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.Name, len(f.Source))
		h.Write(f.Source)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// rulesIn reads cab.cue and policy/*.cue from a tree; refused files are
// diagnostics.
func rulesIn(tree *object.Tree) (config *File, policies []File, refused diag.List, err error) {
	r, err := load.ReadTree(tree)
	return r.Config, r.Policies, r.Refused, err
}

// rulesKey is what load.ReadTree reads of a root tree: its cab.cue and
// policy/ entries (name, mode and object id; zero for none). Two trees
// with the same key hold the same rules, byte for byte.
type rulesKey struct {
	config, policies object.TreeEntry
}

func rulesKeyOf(tree *object.Tree) rulesKey {
	var k rulesKey
	for _, e := range tree.Entries {
		switch e.Name {
		case ConfigFile:
			k.config = e
		case PolicyDir:
			k.policies = e
		}
	}
	return k
}

// rulesOf is rulesIn(tree), kept by the session for the tree entries the
// rules are read from (rulesKey): judging the merges of main one after
// the other reads the rules once for each version of them.
func (s *Session) rulesOf(tree *object.Tree) (config *File, policies []File, refused diag.List, err error) {
	k := rulesKeyOf(tree)
	r, ok := s.rules[k]
	if !ok {
		if r, err = load.ReadTree(tree); err != nil {
			return nil, nil, nil, err
		}
		if len(s.rules) >= maxRules {
			clear(s.rules)
		}
		if s.rules == nil {
			s.rules = map[rulesKey]load.Rules{}
		}
		s.rules[k] = r
	}
	// Copies: the caller may append to what it gets.
	return r.Config, slices.Clip(r.Policies), slices.Clip(r.Refused), nil
}

// maxRules bounds the versions of the rules a session keeps.
const maxRules = 64

// baseRules reads cab.cue and the policies from the base tree (through
// the session's memory of them; s may be nil). Without a cab.cue on the
// base (a repository being created) the built-in default policies apply.
func baseRules(s *Session, base *object.Tree, rep *Report) (Job, error) {
	var job Job
	var refused diag.List
	var err error
	if s != nil {
		job.Config, job.Policies, refused, err = s.rulesOf(base)
	} else {
		job.Config, job.Policies, refused, err = rulesIn(base)
	}
	if err != nil {
		return job, err
	}
	rep.Diagnostics = append(rep.Diagnostics, refused...)
	if job.Config == nil {
		rep.Diagnostics = append(rep.Diagnostics, diag.Diagnostic{File: ConfigFile, Severity: diag.Warning, Code: "config",
			Message: "the base has no cab.cue: tickets are judged by the schema and the built-in default policies",
			Hint:    "merge a cab.cue first; from then on it governs every pull request"})
		if len(job.Policies) == 0 {
			for _, p := range policy.Defaults() {
				job.Policies = append(job.Policies, File{Name: "(default) " + p.Name, Source: p.Source})
			}
		}
	}
	return job, nil
}

// addedTicket reads a ticket a pull request adds, refusing what is not a
// regular, reasonably small file at changes/<service>/<id>.cue.
func addedTicket(c change) (*File, *diag.Diagnostic, error) {
	if path.Ext(c.Path) != ".cue" {
		return nil, nil, nil
	}
	if strings.Count(c.Path, "/") != 2 {
		return nil, &diag.Diagnostic{File: c.Path, Line: 1, Column: 1, Severity: diag.Error, Code: "file",
			Message: "ticket files live at changes/<service>/<id>.cue", Hint: "move the file to changes/<service>/"}, nil
	}
	src, d, err := c.read(schema.MaxTicketBytes)
	if err != nil || d != nil {
		return nil, d, err
	}
	return &File{Name: c.Path, Source: src}, nil, nil
}

// immutable reports a change to a merged ticket.
func immutable(name string, line int, verb, to string) diag.Diagnostic {
	id := strings.TrimSuffix(path.Base(name), ".cue")
	msg := fmt.Sprintf("%s merged ticket %s: merged tickets are immutable", verb, id)
	if to != "" {
		msg = fmt.Sprintf("renames merged ticket %s to %s: merged tickets are immutable", id, to)
	}
	return diag.Diagnostic{File: name, Line: line, Column: 1, Severity: diag.Error, Code: "immutable", Message: msg,
		Hint: fmt.Sprintf("leave %s as merged; a new ticket with supersedes: %q replaces it, or one with cancels: %q withdraws it", name, id, id)}
}

// firstChangedLine finds the first line that differs between the two
// sides of a modification, for the diagnostic to point at; 1 if unknown.
func firstChangedLine(c change) int {
	read := func(h plumbing.Hash, mode filemode.FileMode) (string, bool) {
		if mode != filemode.Regular && mode != filemode.Executable {
			return "", false
		}
		src, err := gitx.ReadBlob(c.s, h, schema.MaxTicketBytes)
		return string(src), err == nil
	}
	a, ok1 := read(c.From, c.FromMode)
	b, ok2 := read(c.To, c.ToMode)
	if !ok1 || !ok2 {
		return 1
	}
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return i + 1
		}
	}
	return min(len(al), len(bl))
}

// checkGovernance judges a pull request that changes cab.cue or policy/:
// the new rules must compile, and the base's governance group must approve.
func checkGovernance(ctx context.Context, head *object.Tree, base Job, baseCfg *model.Config, files []string, review *model.Review, limits Limits) (diag.List, error) {
	var out diag.List
	// The new rules must at least be valid and evaluate in bounded time
	// and memory: compile them and evaluate them on a sample ticket, so
	// that a policy which blows its budget only once it sees a ticket
	// fails here, named, rather than in every later pull request.
	next := Job{Mode: policy.PullRequest, Now: base.Now, Review: base.Review, ChangedFiles: base.ChangedFiles}
	var err error
	next.Config, next.Policies, out, err = rulesIn(head)
	if err != nil {
		return nil, err
	}
	// The sample is made from the base configuration: the head's cab.cue
	// is code from the pull request, evaluated only in the sandbox.
	results, setup, err := Run(ctx, next, []File{sampleTicket(baseCfg, base.Now)}, limits, nil)
	if err != nil {
		return nil, err
	}
	out = append(out, setup...)
	for _, r := range results {
		for _, d := range r.Diags {
			if d.Code != "budget" {
				continue // the sample's verdict is not the question
			}
			d.File, d.Line, d.Column = ConfigFile, 1, 1
			if d.Rule != "" {
				d.File = d.Rule
			}
			d.Message = strings.Replace(d.Message, "evaluating policy", "evaluating the new policy", 1) + ", on a sample ticket"
			out = append(out, d)
		}
	}

	// The base decides who approves the change of its rules.
	need, group, members, problem := governanceRule(base, baseCfg)
	valid := validApprovals(review, members)
	for _, f := range files {
		d := diag.Diagnostic{File: f, Line: 1, Column: 1, Severity: diag.Error, Code: "governance"}
		switch {
		case problem != "":
			d.Message = "this pull request changes the rules (" + f + "), and " + problem
			d.Hint = "add governance: {approvers: \"<group>\", approvals: 2} to cab.cue in a pull request of its own"
		case len(valid) < need:
			d.Message = fmt.Sprintf("a governance change (%s) needs %d approval(s) from %q, has %d", f, need, group, len(valid))
			d.Hint = "ask members of " + group + " to approve the current head; the author, pushers and merger do not count"
		default:
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

// sampleFile names the ticket the new rules of a governance change are
// tried on.
const sampleFile = "changes/sample/CHG-2000-0001.cue"

// sampleTicket is a valid ticket for the first service and environment of
// cfg (if any), with a window around now: what a policy meets every day.
func sampleTicket(cfg *model.Config, now time.Time) File {
	svc, env, target, typ := "sample", "sample", "sample", "http"
	if cfg != nil {
		if names := slices.Sorted(maps.Keys(cfg.Services)); len(names) > 0 {
			svc = names[0]
		}
		if names := slices.Sorted(maps.Keys(cfg.Environments)); len(names) > 0 {
			env = names[0]
			for _, n := range slices.Sorted(maps.Keys(cfg.Environments[env].Targets)) {
				if t := cfg.Environments[env].Targets[n].Type; t == "http" || t == "git" {
					target, typ = n, t
					break
				}
			}
		}
	}
	action := `{type: "http", target: "` + target + `", path: "/"}`
	if typ == "git" {
		action = `{type: "git", target: "` + target + `", file: "sample.yaml", set: {path: ".sample", value: "x"}}`
	}
	src := fmt.Sprintf(`apiVersion: "cab.dev/v1"
id: "CHG-2000-0001"
title: "Sample change"
kind: "normal"
risk: "high"
owner: "cab"
service: %q
environments: [%q]
window: {start: %q, end: %q}
actions: [%s]
prechecks: [{type: "http", url: "https://example.com/healthz"}]
postchecks: [{type: "http", url: "https://example.com/healthz"}]
rollback: {auto: true}
`, svc, env, now.UTC().Add(time.Hour).Format(time.RFC3339), now.UTC().Add(2*time.Hour).Format(time.RFC3339), action)
	return File{Name: sampleFile, Source: []byte(src)}
}

// governanceRule reads the base configuration's governance section.
func governanceRule(base Job, cfg *model.Config) (need int, group string, members []string, problem string) {
	switch {
	case base.Config == nil:
		return 0, "", nil, "" // bootstrap: no rules to protect yet
	case cfg == nil:
		return 2, "", nil, "the base cab.cue is invalid, so no governance group can approve"
	}
	g := cfg.Governance
	if g == nil {
		return 2, "", nil, "the base cab.cue names no governance approvers"
	}
	need = 2
	if g.Approvals != nil {
		need = *g.Approvals
	}
	grp, ok := cfg.Approvers[g.Approvers]
	if !ok {
		return need, g.Approvers, nil, fmt.Sprintf("its governance group %q is not declared", g.Approvers)
	}
	return need, g.Approvers, grp.Members, ""
}

// validApprovals returns the distinct approvers of review who are members
// and neither the author, a pusher nor the merger.
func validApprovals(r *model.Review, members []string) []string {
	var out []string
	for _, a := range r.Approvals {
		if !slices.Contains(members, a.ID) || a.ID == r.Author || a.ID == r.Merger || slices.Contains(r.Pushers, a.ID) || slices.Contains(out, a.ID) {
			continue
		}
		out = append(out, a.ID)
	}
	return out
}

// RulesAt returns the rules a ticket merged in commit was judged by: the
// cab.cue and policies of the commit's first parent (the built-in default
// policies when that has no cab.cue), as a Job in merge mode.
func RulesAt(repo *git.Repository, commit plumbing.Hash) (Job, error) {
	c, err := repo.CommitObject(commit)
	if err != nil {
		return Job{}, fmt.Errorf("reading commit %s: %w", commit, err)
	}
	var base *object.Tree
	if c.NumParents() > 0 {
		p, err := c.Parent(0)
		if err != nil {
			return Job{}, fmt.Errorf("reading the first parent of %s: %w", commit, err)
		}
		if base, err = p.Tree(); err != nil {
			return Job{}, err
		}
	} else {
		base = &object.Tree{}
	}
	job, err := baseRules(nil, base, &Report{})
	job.Mode = policy.Merge
	return job, err
}
