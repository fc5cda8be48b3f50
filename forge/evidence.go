package forge

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cabhq/cab/model"
)

// Evidence is what a forge records about the change that produced a
// commit: every adapter (forge/github, forge/gitlab, forge/git and the
// --review file) produces it, and the gate, cab sign and the emergency
// obligations read the review policies see only through Evidence.Review.
type Evidence struct {
	// Forge names where the evidence comes from: "github", "gitlab",
	// "git", or "file" (--review).
	Forge string `json:"forge"`
	// Number and URL identify the pull or merge request (none for git).
	Number int64  `json:"number,omitempty"`
	URL    string `json:"url,omitempty"`
	// HeadSHA is the change's final head: the commit its approvals are
	// valid for.
	HeadSHA string `json:"headSHA"`
	// MergeCommit is the commit on the base branch the forge records as
	// having landed this change (GitHub's merge_commit_sha, or one of the
	// commits a rebase merge landed; GitLab's merge_commit_sha,
	// squash_commit_sha, or a fast-forwarded commit of the merge request;
	// a merge-queue commit; for plain git the signed merge commit). ""
	// while the change is not merged.
	MergeCommit string `json:"mergeCommit,omitempty"`
	// Author is the stable id of the change's author.
	Author string `json:"author"`
	// Pushers are everyone who pushed a commit to the change.
	Pushers []string `json:"pushers"`
	// Merger is who merged the change ("" while not merged): never an
	// approver.
	Merger    string     `json:"merger,omitempty"`
	Approvals []Approval `json:"approvals"`
	Labels    []string   `json:"labels"`
	// Reasons say why approvals the change claims were not counted (a
	// merge commit nobody trusted signed, trailers on an ordinary
	// commit): reported with the verdict.
	Reasons []string `json:"reasons,omitempty"`
	// OpenedAt is when the change was proposed (the forge's created_at;
	// zero when unknown): approval SLAs count from it.
	OpenedAt time.Time `json:"openedAt,omitzero"`
}

// Approval is one approval by a stable id, with the head it approves.
type Approval struct {
	ID    string `json:"id"`
	Login string `json:"login,omitempty"`
	// At is when it was given, RFC 3339 in UTC.
	At string `json:"at,omitempty"`
	// Commit is the head the approval was given on: it counts only when it
	// is the change's final head.
	Commit string `json:"commit"`
}

// ErrNotBound is matched (errors.Is) when evidence is asked for a commit
// it does not describe: its approvals say nothing about that commit.
var ErrNotBound = errors.New("review evidence is of another commit")

// Review is the review evidence of the change judged at commit judged as
// the policies see it (input.review). It is the one place where the rules
// that bind approvals to a change hold:
//
//   - the evidence must describe judged: it is the change's final head or
//     the merge commit the forge records (ErrNotBound otherwise);
//   - an approval counts only for the final head: one given on another
//     commit is dropped;
//   - the merger never approves: their approval is dropped (and policies
//     see them as review.merger);
//   - an identity approves once (its latest approval).
//
// The author and the pushers stay in the approvals: the policies exclude
// them and say so.
func (e *Evidence) Review(judged string) (*model.Review, error) {
	if e.HeadSHA == "" {
		return nil, fmt.Errorf("%w: the %s evidence names no head commit", ErrNotBound, e.Forge)
	}
	if judged == "" || (judged != e.HeadSHA && judged != e.MergeCommit) {
		return nil, fmt.Errorf("%w: it approves head %s (merge %s), the change judged is %s", ErrNotBound, Short(e.HeadSHA), cmp.Or(Short(e.MergeCommit), "none"), cmp.Or(Short(judged), "unknown"))
	}
	r := &model.Review{
		Forge:       e.Forge,
		Number:      e.Number,
		URL:         e.URL,
		Author:      e.Author,
		Pushers:     nonNil(e.Pushers),
		Merger:      e.Merger,
		Approvals:   []model.Approval{},
		Labels:      nonNil(e.Labels),
		HeadSHA:     e.HeadSHA,
		MergeCommit: e.MergeCommit,
	}
	if !e.OpenedAt.IsZero() {
		r.OpenedAt = e.OpenedAt.UTC().Format(time.RFC3339)
	}
	latest := map[string]int{} // id -> index in r.Approvals
	for _, a := range e.Approvals {
		if a.ID == "" || a.Commit != e.HeadSHA || (e.Merger != "" && a.ID == e.Merger) {
			continue
		}
		pa := model.Approval{ID: a.ID, Login: a.Login, At: a.At, Commit: a.Commit}
		if i, ok := latest[a.ID]; ok {
			if a.At > r.Approvals[i].At {
				r.Approvals[i] = pa
			}
			continue
		}
		latest[a.ID] = len(r.Approvals)
		r.Approvals = append(r.Approvals, pa)
	}
	slices.SortFunc(r.Approvals, func(a, b model.Approval) int {
		return cmp.Or(cmp.Compare(a.At, b.At), cmp.Compare(a.ID, b.ID))
	})
	return r, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// Short abbreviates a commit id to 12 characters for messages.
func Short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

var (
	githubMergeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^Merge pull request #([0-9]{1,18}) `) })
	gitlabMergeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^See merge request \S*!([0-9]{1,18})\s*$`) })
	squashRE      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\(#([0-9]{1,18})\)\s*$`) })
)

// NumberHint reads the pull or merge request number a commit message
// names, 0 when none: GitHub's "Merge pull request #N from …" subject or
// squash subject "… (#N)", GitLab's "See merge request group/project!N".
//
// Anyone who can write a commit can write any message: the number is a
// hint of which pull request to ask the forge about (and a column in cab
// log), never evidence that the pull request produced the commit.
func NumberHint(msg string) int64 {
	subject, _, _ := strings.Cut(msg, "\n")
	// Each form is tried in order, and only when the literal it needs is
	// there: cab log asks this of every commit on main, and the GitLab
	// form, unanchored over the whole message, was a twentieth of a cold
	// run's CPU.
	for _, form := range [...]struct {
		re      func() *regexp.Regexp
		in, lit string
	}{
		{githubMergeRE, subject, "Merge pull request #"},
		{gitlabMergeRE, msg, "See merge request "},
		{squashRE, subject, "(#"},
	} {
		if !strings.Contains(form.in, form.lit) {
			continue
		}
		if m := form.re().FindStringSubmatch(form.in); m != nil {
			n, err := strconv.ParseInt(m[1], 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return 0
}

// ErrNoMergeRecord is matched (errors.Is) when no pull or merge request on
// the forge records a commit as its merge: the commit reached the branch
// some other way (a direct push), or the message names a request that did
// not produce it.
var ErrNoMergeRecord = errors.New("no merge record")

// FirstParents lists up to n commits of the first-parent chain that starts
// at tip, tip first. Adapters use it to recognise the commits a rebase or
// fast-forward merge landed below the commit the forge records.
type FirstParents func(ctx context.Context, tip string, n int) ([]string, error)

// ErrNoHead is matched (errors.Is) when an evidence file names no head.
var ErrNoHead = errors.New("the evidence names no headSHA")

// DecodeEvidence reads review evidence written as JSON (cab check
// --review FILE) in the shape of Evidence, refusing unknown fields so that
// a typo cannot silently drop approvals. headSHA is required and must be a
// full commit id: approvals are valid only for the head they were given
// on. An approval without a commit approves headSHA; one with another
// commit does not count.
func DecodeEvidence(r io.Reader) (*Evidence, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var e Evidence
	if err := dec.Decode(&e); err != nil {
		return nil, err
	}
	if e.HeadSHA == "" {
		return nil, ErrNoHead
	}
	if !IsSHA(e.HeadSHA) {
		return nil, fmt.Errorf("headSHA %q is not a full commit id", e.HeadSHA)
	}
	if e.MergeCommit != "" && !IsSHA(e.MergeCommit) {
		return nil, fmt.Errorf("mergeCommit %q is not a full commit id", e.MergeCommit)
	}
	for i := range e.Approvals {
		if e.Approvals[i].Commit == "" {
			e.Approvals[i].Commit = e.HeadSHA
		}
	}
	e.Pushers, e.Labels = nonNil(e.Pushers), nonNil(e.Labels)
	if e.Approvals == nil {
		e.Approvals = []Approval{}
	}
	if e.Forge == "" {
		e.Forge = "file"
	}
	return &e, nil
}
