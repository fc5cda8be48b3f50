package validate

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/forge"
	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/policy"
	"github.com/cabhq/cab/schema/load"
)

// The PR gate is tested on real git repositories: objects are written with
// go-git into a repository in a temp dir, including the adversarial ones
// (symlinks, submodules, oversized blobs, "..") no work tree would produce.

// entry is a file of a test commit.
type entry struct {
	mode filemode.FileMode
	data []byte
}

func file(s string) entry { return entry{mode: filemode.Regular, data: []byte(s)} }

type gitRepo struct {
	t    testing.TB
	dir  string
	repo *git.Repository
}

func newGitRepo(t *testing.T) *gitRepo {
	g := &gitRepo{t: t, dir: t.TempDir()}
	g.init(t)
	return g
}

func (g *gitRepo) init(tb testing.TB) {
	repo, err := git.PlainInit(g.dir, false)
	require.NoError(tb, err)
	g.repo = repo
}

func (g *gitRepo) blob(data []byte) plumbing.Hash {
	obj := g.repo.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, err := obj.Writer()
	require.NoError(g.t, err)
	_, err = w.Write(data)
	require.NoError(g.t, err)
	require.NoError(g.t, w.Close())
	h, err := g.repo.Storer.SetEncodedObject(obj)
	require.NoError(g.t, err)
	return h
}

// tree writes the files (by '/'-separated path) as a tree and returns its hash.
func (g *gitRepo) tree(files map[string]entry) plumbing.Hash {
	dirs := map[string]map[string]entry{}
	var entries []object.TreeEntry
	for p, e := range files {
		if i := strings.IndexByte(p, '/'); i >= 0 {
			d := p[:i]
			if dirs[d] == nil {
				dirs[d] = map[string]entry{}
			}
			dirs[d][p[i+1:]] = e
			continue
		}
		h := plumbing.NewHash(string(e.data)) // submodule: data is the commit hash
		if e.mode != filemode.Submodule {
			h = g.blob(e.data)
		}
		entries = append(entries, object.TreeEntry{Name: p, Mode: e.mode, Hash: h})
	}
	for d, sub := range dirs {
		entries = append(entries, object.TreeEntry{Name: d, Mode: filemode.Dir, Hash: g.tree(sub)})
	}
	sort.Slice(entries, func(i, j int) bool { return sortName(entries[i]) < sortName(entries[j]) })
	obj := g.repo.Storer.NewEncodedObject()
	require.NoError(g.t, (&object.Tree{Entries: entries}).Encode(obj))
	h, err := g.repo.Storer.SetEncodedObject(obj)
	require.NoError(g.t, err)
	return h
}

func sortName(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}

// commit writes a commit of files on top of parent (zero: a root commit)
// and points the branch at it.
func (g *gitRepo) commit(branch string, parent plumbing.Hash, files map[string]entry) plumbing.Hash {
	sig := object.Signature{Name: "Dev", Email: "dev@example.com", When: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	c := &object.Commit{Author: sig, Committer: sig, Message: "change\n", TreeHash: g.tree(files)}
	if !parent.IsZero() {
		c.ParentHashes = []plumbing.Hash{parent}
	}
	obj := g.repo.Storer.NewEncodedObject()
	require.NoError(g.t, c.Encode(obj))
	h, err := g.repo.Storer.SetEncodedObject(obj)
	require.NoError(g.t, err)
	require.NoError(g.t, g.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(branch), h)))
	return h
}

const governanceConfig = testConfig + `approvers: gov: members: ["github:5", "github:6"]
governance: {approvers: "gov", approvals: 2}
`

// baseFiles is a merged repository: config, default policies, one ticket.
func baseFiles() map[string]entry {
	files := map[string]entry{
		"cab.cue":                            file(governanceConfig),
		"README.md":                          file("# changes\n"),
		"changes/payments/CHG-2026-0001.cue": file(idTicket("CHG-2026-0001", nil)),
	}
	for _, p := range policy.Defaults() {
		files[p.Name] = file(string(p.Source))
	}
	return files
}

func with(files map[string]entry, changes map[string]*entry) map[string]entry {
	out := map[string]entry{}
	for k, v := range files {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = *v
		}
	}
	return out
}

func ptr(e entry) *entry { return &e }

// newTicket is high risk (needs 2 of "pay"), in a window of its own.
var newTicket = idTicket("CHG-2026-0002", map[string]string{"window": laterWindow})

const laterWindow = `{start: "2026-12-02T22:00:00Z", end: "2026-12-02T23:00:00Z"}`

func approvedBy(ids ...string) *model.Review {
	return review("github:7", []string{"github:7"}, ids...)
}

// bound is the forge evidence of a review given on head.
func bound(r *model.Review, head plumbing.Hash) *forge.Evidence {
	if r == nil {
		return nil
	}
	e := &forge.Evidence{Forge: r.Forge, HeadSHA: head.String(), Author: r.Author, Pushers: r.Pushers, Merger: r.Merger, Labels: r.Labels}
	for _, a := range r.Approvals {
		e.Approvals = append(e.Approvals, forge.Approval{ID: a.ID, Login: a.Login, At: a.At, Commit: head.String()})
	}
	return e
}

func checkPR(t *testing.T, head map[string]*entry, r *model.Review) *Report {
	t.Helper()
	g := newGitRepo(t)
	base := g.commit("main", plumbing.ZeroHash, baseFiles())
	h := g.commit("pr", base, with(baseFiles(), head))
	rep, err := CheckPR(context.Background(), PROptions{Dir: g.dir, Base: "main", Head: "pr", Evidence: bound(r, h), Now: before})
	require.NoError(t, err)
	return rep
}

func errorsOf(rep *Report) []string {
	var out []string
	for _, d := range rep.Diagnostics {
		if d.Severity == diag.Error {
			out = append(out, fmt.Sprintf("%s:%d: %s", d.File, d.Line, d.Message))
		}
	}
	return out
}

func TestCheckPR(t *testing.T) {
	big := entry{mode: filemode.Regular, data: make([]byte, 50<<20)}
	tests := []struct {
		name   string
		head   map[string]*entry
		review *model.Review
		// want lists fragments of the expected errors, each matching one.
		want []string
	}{
		{name: "approved high-risk ticket", head: map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(newTicket))},
			review: approvedBy("github:1", "github:2")},
		{name: "no approvals", head: map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(newTicket))},
			review: approvedBy(), want: []string{`changes/payments/CHG-2026-0002.cue:5: a high-risk normal change needs 2 approval(s) from "pay", has 0`}},
		{name: "no review evidence at all", head: map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(newTicket))},
			want: []string{"needs 2 approval(s)"}},
		{name: "author approves own change", head: map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(newTicket))},
			review: review("github:1", nil, "github:1", "github:2"), want: []string{"has 1"}},
		{name: "PR weakens the policy it is judged by", review: approvedBy(),
			head: map[string]*entry{
				"policy/approvals.cue":               ptr(file("package policy\ndeny: []\n")),
				"changes/payments/CHG-2026-0002.cue": ptr(file(newTicket)),
			},
			want: []string{"needs 2 approval(s) from \"pay\", has 0", `policy/approvals.cue:1: a governance change (policy/approvals.cue) needs 2 approval(s) from "gov", has 0`}},
		{name: "governance change approved by the governance group", review: approvedBy("github:5", "github:6"),
			head: map[string]*entry{"policy/house.cue": ptr(file("package policy\ndeny: []\n"))}},
		{name: "governance change breaking cab.cue", review: approvedBy("github:5", "github:6"),
			head: map[string]*entry{"cab.cue": ptr(file("apiVersion: \"cab.dev/v1\"\nenvironments: 3\n"))},
			want: []string{"cab.cue:2: must be a struct, not an int"}},
		{name: "edits a merged ticket", review: approvedBy(),
			head: map[string]*entry{"changes/payments/CHG-2026-0001.cue": ptr(file(strings.Replace(idTicket("CHG-2026-0001", nil), `"high"`, `"low"`, 1)))},
			want: []string{"changes/payments/CHG-2026-0001.cue:5: edits merged ticket CHG-2026-0001: merged tickets are immutable"}},
		{name: "deletes a merged ticket", review: approvedBy(),
			head: map[string]*entry{"changes/payments/CHG-2026-0001.cue": nil},
			want: []string{"changes/payments/CHG-2026-0001.cue:1: deletes merged ticket CHG-2026-0001"}},
		{name: "renames a merged ticket", review: approvedBy("github:1", "github:2"),
			head: map[string]*entry{"changes/payments/CHG-2026-0001.cue": nil, "changes/checkout/CHG-2026-0001.cue": ptr(file(idTicket("CHG-2026-0001", nil)))},
			want: []string{"renames merged ticket CHG-2026-0001 to changes/checkout/CHG-2026-0001.cue", `ticket of service "payments" is filed under changes/checkout/`}},
		{name: "id collides with a ticket on base", review: approvedBy("github:1", "github:2"),
			head: map[string]*entry{"changes/checkout/CHG-2026-0001.cue": ptr(file(strings.Replace(idTicket("CHG-2026-0001", nil), `"payments"`, `"checkout"`, 1)))},
			want: []string{"id CHG-2026-0001 is also used by changes/payments/CHG-2026-0001.cue", `service "checkout" is not declared`}},
		{name: "dependsOn a missing id", review: approvedBy("github:1", "github:2"),
			head: map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(idTicket("CHG-2026-0002", map[string]string{"dependsOn": `["CHG-2026-0999"]`, "window": laterWindow})))},
			want: []string{"ticket CHG-2026-0999 does not exist"}},
		{name: "conflicts with an open ticket on the same target", review: approvedBy("github:1", "github:2"),
			head: map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(idTicket("CHG-2026-0002", map[string]string{"window": `{start: "2026-12-01T22:30:00Z", end: "2026-12-01T23:30:00Z"}`})))},
			want: []string{"changes/payments/CHG-2026-0002.cue:9: the window overlaps CHG-2026-0001 (2026-12-01T22:00:00Z to 2026-12-01T23:00:00Z) on prod/images/acme/payments:payments"}},
		{name: "a dependency is ordered, not a conflict", review: approvedBy("github:1", "github:2"),
			head: map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(idTicket("CHG-2026-0002", map[string]string{"dependsOn": `["CHG-2026-0001"]`})))}},
		{name: "path traversal", review: approvedBy(),
			head: map[string]*entry{"changes/../cab.cue": ptr(file(newTicket))},
			want: []string{`changes/..:1: path entry ".." is refused`}},
		{name: "symlink", review: approvedBy(),
			head: map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(entry{mode: filemode.Symlink, data: []byte("../../cab.cue")})},
			want: []string{"changes/payments/CHG-2026-0002.cue:1: symlinks are refused"}},
		{name: "submodule", review: approvedBy(),
			head: map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(entry{mode: filemode.Submodule, data: []byte("4b825dc642cb6eb9a060e54bf8d69288fbee4904")})},
			want: []string{"submodules are refused"}},
		{name: "50 MB blob", review: approvedBy(),
			head: map[string]*entry{"changes/payments/CHG-2026-0002.cue": &big},
			want: []string{"file is 52428800 bytes, more than the 262144 allowed"}},
		{name: "other files are not cab's business", review: approvedBy(),
			head: map[string]*entry{"README.md": ptr(file("# new readme\n")), "docs/big.bin": &big}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := checkPR(t, tc.head, tc.review)
			got := errorsOf(rep)
			used := make([]bool, len(got))
			for _, w := range tc.want {
				found := false
				for i, g := range got {
					if !used[i] && strings.Contains(g, w) {
						used[i], found = true, true
						break
					}
				}
				assert.True(t, found, "want an error containing %q in\n%s", w, strings.Join(got, "\n"))
			}
			for i, g := range got {
				assert.True(t, used[i], "unexpected error: %s", g)
			}
			for _, d := range rep.Diagnostics {
				assert.False(t, path.IsAbs(d.File), "paths are repository-relative: %v", d)
			}
		})
	}
}

func TestCheckPRRevisions(t *testing.T) {
	g := newGitRepo(t)
	g.commit("main", plumbing.ZeroHash, baseFiles())
	for _, o := range []PROptions{{Base: "nope", Head: "main"}, {Base: "main", Head: "origin/nope"}, {Base: "main"}} {
		o.Dir = g.dir
		_, err := CheckPR(context.Background(), o)
		require.ErrorIs(t, err, ErrRevision, "%+v", o)
	}
	_, err := CheckPR(context.Background(), PROptions{Dir: t.TempDir(), Base: "main", Head: "main"})
	require.Error(t, err, "not a repository")
}

// Only what the change touches is read: a PR adding one ticket to a large
// repository evaluates one ticket.
func TestCheckPRIsOChange(t *testing.T) {
	g := newGitRepo(t)
	files := baseFiles()
	for i := 3; i < 203; i++ {
		id := fmt.Sprintf("CHG-2026-%04d", i)
		files["changes/payments/"+id+".cue"] = file("not even CUE {")
	}
	base := g.commit("main", plumbing.ZeroHash, files)
	h := g.commit("pr", base, with(files, map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(newTicket))}))
	rep, err := CheckPR(context.Background(), PROptions{Dir: g.dir, Base: "main", Head: "pr", Evidence: bound(approvedBy("github:1", "github:2"), h), Now: before})
	require.NoError(t, err)
	require.Len(t, rep.Tickets, 1)
	assert.Equal(t, "CHG-2026-0002", rep.Tickets[0].ID)
	assert.Empty(t, errorsOf(rep), "broken tickets merged before are not re-judged")
}

func TestConflicts(t *testing.T) {
	mk := func(envs []string, start, end, tag string) model.Ticket {
		return model.Ticket{ID: "CHG-2026-0100", Environments: envs, Window: model.Window{Start: start, End: end},
			Actions: []model.Action{{Type: "oci", Target: "images", Image: "ghcr.io/acme/pay@sha256:00", Tag: tag}}}
	}
	at := func(s string) time.Time { x, _ := time.Parse(time.RFC3339, s); return x }
	open := []Open{{ID: "CHG-2026-0001", Start: at("2026-12-01T22:00:00Z"), End: at("2026-12-01T23:00:00Z"), Targets: []string{"prod/images/acme/pay:v1"}}}
	tests := []struct {
		name string
		t    model.Ticket
		want int
	}{
		{"overlap on the same target", mk([]string{"prod"}, "2026-12-01T22:59:00Z", "2026-12-02T01:00:00Z", "v1"), 1},
		{"back to back", mk([]string{"prod"}, "2026-12-01T23:00:00Z", "2026-12-02T01:00:00Z", "v1"), 0},
		{"other tag", mk([]string{"prod"}, "2026-12-01T22:00:00Z", "2026-12-01T23:00:00Z", "v2"), 0},
		{"other environment", mk([]string{"staging"}, "2026-12-01T22:00:00Z", "2026-12-01T23:00:00Z", "v1"), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Len(t, conflicts(tc.t, open), tc.want)
		})
	}
}

func TestMainline(t *testing.T) {
	g := newGitRepo(t)
	c1 := g.commit("main", plumbing.ZeroHash, baseFiles())
	c2 := g.commit("main", c1, with(baseFiles(), map[string]*entry{"README.md": ptr(file("x"))}))
	files3 := with(baseFiles(), map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(newTicket))})
	c3 := g.commit("main", c2, files3)
	ms, err := Mainline(t.Context(), g.dir, "main", plumbing.ZeroHash)
	require.NoError(t, err)
	require.Len(t, ms, 2, "commits without new tickets are skipped")
	assert.Equal(t, c1.String(), ms[0].Commit)
	assert.Equal(t, []string{"changes/payments/CHG-2026-0001.cue"}, ms[0].Tickets)
	assert.Equal(t, c3.String(), ms[1].Commit)
	assert.Equal(t, c2.String(), ms[1].Parent)
	assert.Equal(t, []string{"changes/payments/CHG-2026-0002.cue"}, ms[1].Tickets)

	ms, err = Mainline(t.Context(), g.dir, "main", c2)
	require.NoError(t, err)
	require.Len(t, ms, 1, "the walk stops at stop")
	assert.Equal(t, c3.String(), ms[0].Commit)
}

// An emergency opens a post-incident review obligation: while it is
// overdue, its author's next ticket is refused, except the review itself.
func TestCheckPRPostReviewObligation(t *testing.T) {
	emergency := idTicket("CHG-2026-0001", map[string]string{"kind": `"emergency"`, "incident": `{id: "INC-7", url: "https://inc.example.com/7"}`})
	base := with(baseFiles(), map[string]*entry{"changes/payments/CHG-2026-0001.cue": ptr(file(emergency))})
	statement := `{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://cab.dev/change/v1","predicate":{"id":"CHG-2026-0001","author":"github:7","signedAt":"2026-11-01T10:00:00Z"}}`
	env := fmt.Sprintf(`{"payloadType":"application/vnd.in-toto+json","payload":%q,"signatures":[{"sig":"AA=="}]}`, base64.StdEncoding.EncodeToString([]byte(statement)))
	signedData := `{"path": "changes/payments/CHG-2026-0001.cue"}`
	tests := []struct {
		name   string
		add    map[string]*entry
		author string
		want   []string
	}{
		{name: "the author's next ticket is refused", author: "github:7",
			add:  map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(newTicket))},
			want: []string{"the author's emergency change CHG-2026-0001 has an overdue post-incident review (due 2026-11-06T10:00:00Z)"}},
		{name: "the review itself is welcome", author: "github:7",
			add: map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(idTicket("CHG-2026-0002", map[string]string{
				"postReviewOf": `"CHG-2026-0001"`, "actions": "", "window": laterWindow})))}},
		{name: "other authors are not held", author: "github:8",
			add: map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(newTicket))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGitRepo(t)
			b := g.commit("main", plumbing.ZeroHash, base)
			h := g.commit("pr", b, with(base, tc.add))
			g.commit("cab/ledger", plumbing.ZeroHash, map[string]entry{
				"ledger/CHG-2026-0001/1-signed.json": file(`{"seq":1,"ticket":"CHG-2026-0001","kind":"signed","at":"2026-11-01T10:00:00Z","commit":"` + b.String() + `","data":` + signedData + `}`),
				"ledger/CHG-2026-0001/1-signed.dsse": file(env),
			})
			r := review(tc.author, nil, "github:1", "github:2")
			rep, err := CheckPR(context.Background(), PROptions{Dir: g.dir, Base: "main", Head: "pr", Evidence: bound(r, h), Now: before})
			require.NoError(t, err)
			got := errorsOf(rep)
			require.Len(t, got, len(tc.want), "%s", strings.Join(got, "\n"))
			for i, w := range tc.want {
				assert.Contains(t, got[i], w)
			}
		})
	}
}

func TestConfigAt(t *testing.T) {
	l := load.New()
	g := newGitRepo(t)
	tests := []struct {
		name, branch string
		files        map[string]entry
		err          string
		noConfig     bool
	}{
		{"valid", "valid", map[string]entry{"cab.cue": file(testConfig)}, "", false},
		{"absent", "absent", map[string]entry{"README.md": file("x\n")}, "no cab.cue at absent", true},
		{"symlink", "symlink", map[string]entry{"cab.cue": {mode: filemode.Symlink, data: []byte("/etc/passwd")}}, "cab.cue at symlink: cab.cue", false},
		{"invalid", "invalid", map[string]entry{"cab.cue": file("apiVersion: \"cab.dev/v1\"\nbogus: 1\n")}, "cab.cue at invalid does not validate: cab.cue:", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.commit(tt.branch, plumbing.ZeroHash, tt.files)
			cfg, err := l.ConfigAt(g.repo, tt.branch)
			if tt.err == "" {
				require.NoError(t, err)
				assert.NotEmpty(t, cfg.Config.Environments)
				return
			}
			require.ErrorContains(t, err, tt.err)
			assert.Equal(t, tt.noConfig, errors.Is(err, load.ErrNoConfig))
			assert.Nil(t, cfg)
		})
	}
}

// Evidence counts only for the commit it describes, only its final head's
// approvals count, and the merger never approves.
func TestCheckPREvidenceBinding(t *testing.T) {
	const other = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name  string
		edit  func(e *forge.Evidence, head string)
		want  []string // fragments of the errors, each matching one
		count int      // approvals the policies saw
	}{
		{name: "bound to the head", count: 2, edit: func(*forge.Evidence, string) {}},
		{name: "bound to the merge commit", count: 2, edit: func(e *forge.Evidence, head string) {
			e.HeadSHA, e.MergeCommit = other, head
			for i := range e.Approvals {
				e.Approvals[i].Commit = other
			}
		}},
		{name: "evidence of another head", edit: func(e *forge.Evidence, _ string) { e.HeadSHA = other },
			want: []string{"review evidence is of another commit: it approves head 0123456789ab (merge none)", "needs 2 approval(s)"}},
		{name: "evidence naming no head", edit: func(e *forge.Evidence, _ string) { e.HeadSHA = "" },
			want: []string{"names no head commit", "needs 2 approval(s)"}},
		{name: "approval of an earlier head", count: 1, edit: func(e *forge.Evidence, _ string) { e.Approvals[0].Commit = other },
			want: []string{"has 1"}},
		{name: "merger's approval", count: 1, edit: func(e *forge.Evidence, _ string) { e.Merger = e.Approvals[1].ID },
			want: []string{"has 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGitRepo(t)
			base := g.commit("main", plumbing.ZeroHash, baseFiles())
			h := g.commit("pr", base, with(baseFiles(), map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(newTicket))}))
			e := bound(approvedBy("github:1", "github:2"), h)
			tc.edit(e, h.String())
			rep, err := CheckPR(context.Background(), PROptions{Dir: g.dir, Base: "main", Head: "pr", Evidence: e, Now: before})
			require.NoError(t, err)
			got := errorsOf(rep)
			require.Len(t, got, len(tc.want), "%s", strings.Join(got, "\n"))
			for _, w := range tc.want {
				assert.True(t, slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, w) }), "no error contains %q in %q", w, got)
			}
			require.NotNil(t, rep.Review)
			assert.Len(t, rep.Review.Approvals, tc.count, "approvals the policies saw")
		})
	}
}

// conflictConfig adds a second service and a git target to the test
// configuration: conflicts are about resources, not services.
const conflictConfig = `apiVersion: "cab.dev/v1"
environments: {
	staging: {
		prometheus: "https://prometheus.staging.example.com"
		targets: {images: {type: "oci", registry: "registry.staging.example.com"}}
	}
	prod: {
		protected: true
		prometheus: "https://prometheus.example.com"
		targets: {
			images: {type: "oci", registry: "registry.example.com"}
			hooks: {type: "http", url: "https://hooks.example.com"}
			envrepo: {type: "git", url: "https://git.example.com/env.git"}
		}
	}
}
approvers: pay: members: ["github:1", "github:2"]
services: payments: approvers: "pay"
services: checkout: approvers: "pay"
`

// Conflicts are found across services and within one pull request, through
// the index of targets.
func TestCheckPRConflicts(t *testing.T) {
	const overlap = `{start: "2026-12-01T22:30:00Z", end: "2026-12-01T23:30:00Z"}`
	const elsewhen = `{start: "2026-12-05T22:30:00Z", end: "2026-12-05T23:30:00Z"}`
	img := func(repo string) string { return "ghcr.io/" + repo + "@sha256:" + strings.Repeat("cd", 32) }
	oci := func(image, extra string) string {
		return `[{type: "oci", target: "images", image: "` + image + `", tag: "payments"` + extra + `}]`
	}
	hook := `[{type: "http", target: "hooks", path: "/deploy"}]`
	gitFile := func(f string) string {
		return `[{type: "git", target: "envrepo", file: "` + f + `", set: {path: ".image", value: "x"}}]`
	}
	tk := func(id, svc string, f map[string]string) *entry {
		m := map[string]string{"service": `"` + svc + `"`, "environments": `["prod"]`}
		for k, v := range f {
			m[k] = v
		}
		return ptr(file(idTicket(id, m)))
	}
	merged := map[string]*entry{
		// checkout writes payments' tag, under another image's name
		"changes/checkout/CHG-2026-0101.cue": tk("CHG-2026-0101", "checkout", map[string]string{"actions": oci(img("acme/checkout"), `, repository: "acme/payments"`)}),
		"changes/checkout/CHG-2026-0102.cue": tk("CHG-2026-0102", "checkout", map[string]string{"actions": hook}),
		"changes/checkout/CHG-2026-0103.cue": tk("CHG-2026-0103", "checkout", map[string]string{"actions": gitFile("apps/shared.yaml")}),
		// closed before now: history
		"changes/checkout/CHG-2026-0104.cue": tk("CHG-2026-0104", "checkout", map[string]string{"actions": hook,
			"window": `{start: "2026-11-01T22:30:00Z", end: "2026-11-01T23:30:00Z"}`}),
		// its window written in two parts, which CUE unifies into one: a
		// reader keeping the last part would see no start and skip it
		"changes/checkout/CHG-2026-0105.cue": ptr(file(idTicket("CHG-2026-0105", map[string]string{
			"service": `"checkout"`, "environments": `["prod"]`, "actions": gitFile("apps/split.yaml"),
			"window": `{start: "2026-12-01T22:00:00Z"}`}) + "\nwindow: {end: \"2026-12-01T23:00:00Z\"}\n")),
	}
	tests := []struct {
		name string
		add  map[string]*entry
		want []string
	}{
		{name: "another service, same registry repository and tag",
			add:  map[string]*entry{"changes/payments/CHG-2026-0002.cue": tk("CHG-2026-0002", "payments", map[string]string{"window": overlap})},
			want: []string{"changes/payments/CHG-2026-0002.cue:9: the window overlaps CHG-2026-0101 (2026-12-01T22:00:00Z to 2026-12-01T23:00:00Z) on prod/images/acme/payments:payments"}},
		{name: "another service, same webhook",
			add:  map[string]*entry{"changes/payments/CHG-2026-0002.cue": tk("CHG-2026-0002", "payments", map[string]string{"window": overlap, "actions": hook})},
			want: []string{"overlaps CHG-2026-0102 (2026-12-01T22:00:00Z to 2026-12-01T23:00:00Z) on prod/hooks//deploy"}},
		{name: "another service, same environment-repository file",
			add:  map[string]*entry{"changes/payments/CHG-2026-0002.cue": tk("CHG-2026-0002", "payments", map[string]string{"window": overlap, "actions": gitFile("apps/shared.yaml")})},
			want: []string{"overlaps CHG-2026-0103 (2026-12-01T22:00:00Z to 2026-12-01T23:00:00Z) on prod/envrepo/apps/shared.yaml"}},
		{name: "a merged ticket whose window is written in two parts",
			add:  map[string]*entry{"changes/payments/CHG-2026-0002.cue": tk("CHG-2026-0002", "payments", map[string]string{"window": overlap, "actions": gitFile("apps/split.yaml")})},
			want: []string{"overlaps CHG-2026-0105 (2026-12-01T22:00:00Z to 2026-12-01T23:00:00Z) on prod/envrepo/apps/split.yaml"}},
		{name: "another service, other file",
			add: map[string]*entry{"changes/payments/CHG-2026-0002.cue": tk("CHG-2026-0002", "payments", map[string]string{"window": overlap, "actions": gitFile("apps/payments.yaml")})}},
		{name: "another service, same tag at another time",
			add: map[string]*entry{"changes/payments/CHG-2026-0002.cue": tk("CHG-2026-0002", "payments", map[string]string{"window": elsewhen})}},
		{name: "two new tickets of one pull request on one target",
			add: map[string]*entry{
				"changes/payments/CHG-2026-0002.cue": tk("CHG-2026-0002", "payments", map[string]string{"window": elsewhen}),
				"changes/checkout/CHG-2026-0003.cue": tk("CHG-2026-0003", "checkout", map[string]string{"window": elsewhen, "actions": oci(img("acme/payments"), "")}),
			},
			want: []string{
				"changes/checkout/CHG-2026-0003.cue:9: the window overlaps CHG-2026-0002 (2026-12-05T22:30:00Z to 2026-12-05T23:30:00Z) on prod/images/acme/payments:payments",
				"changes/payments/CHG-2026-0002.cue:9: the window overlaps CHG-2026-0003 (2026-12-05T22:30:00Z to 2026-12-05T23:30:00Z) on prod/images/acme/payments:payments",
			}},
		{name: "two new tickets, one ordered after the other",
			add: map[string]*entry{
				"changes/payments/CHG-2026-0002.cue": tk("CHG-2026-0002", "payments", map[string]string{"window": elsewhen}),
				"changes/payments/CHG-2026-0003.cue": tk("CHG-2026-0003", "payments", map[string]string{"window": elsewhen, "dependsOn": `["CHG-2026-0002"]`}),
			}},
		{name: "a closed window is history",
			add: map[string]*entry{"changes/payments/CHG-2026-0002.cue": tk("CHG-2026-0002", "payments", map[string]string{
				"window": `{start: "2026-12-03T22:30:00Z", end: "2026-12-03T23:30:00Z"}`, "actions": hook})}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := with(map[string]entry{"cab.cue": file(conflictConfig)}, merged)
			for _, p := range policy.Defaults() {
				files[p.Name] = file(string(p.Source))
			}
			g := newGitRepo(t)
			base := g.commit("main", plumbing.ZeroHash, files)
			h := g.commit("pr", base, with(files, tc.add))
			rep, err := CheckPR(context.Background(), PROptions{Dir: g.dir, Base: "main", Head: "pr", Evidence: bound(approvedBy("github:1", "github:2"), h), Now: before})
			require.NoError(t, err)
			got := errorsOf(rep)
			assert.ElementsMatch(t, tc.want, trimTo(got, tc.want), "errors:\n%s", strings.Join(got, "\n"))
			assert.Len(t, got, len(tc.want), "errors:\n%s", strings.Join(got, "\n"))
		})
	}
}

// trimTo cuts each of got to the length of the want it starts with or
// contains, so that fragments compare equal.
func trimTo(got, want []string) []string {
	out := make([]string, 0, len(got))
	for _, g := range got {
		for _, w := range want {
			if strings.Contains(g, w) {
				g = w
				break
			}
		}
		out = append(out, g)
	}
	return out
}

// The index of targets follows the base: a ticket merged since the last
// check is found, one deleted is forgotten, and a damaged or foreign index
// file costs a rebuild, never a wrong answer.
func TestTargetIndexFollowsBase(t *testing.T) {
	const overlap = `{start: "2026-12-01T22:30:00Z", end: "2026-12-01T23:30:00Z"}`
	hook := `[{type: "http", target: "hooks", path: "/deploy"}]`
	files := map[string]entry{"cab.cue": file(conflictConfig)}
	for _, p := range policy.Defaults() {
		files[p.Name] = file(string(p.Source))
	}
	g := newGitRepo(t)
	c1 := g.commit("main", plumbing.ZeroHash, files)
	pr := map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(idTicket("CHG-2026-0002", map[string]string{"window": overlap, "actions": hook, "environments": `["prod"]`})))}
	check := func(base plumbing.Hash, baseFiles map[string]entry) []string {
		t.Helper()
		h := g.commit("pr", base, with(baseFiles, pr))
		rep, err := CheckPR(context.Background(), PROptions{Dir: g.dir, Base: base.String(), Head: "pr", Evidence: bound(approvedBy("github:1", "github:2"), h), Now: before})
		require.NoError(t, err)
		return errorsOf(rep)
	}
	assert.Empty(t, check(c1, files), "nothing to conflict with")

	other := with(files, map[string]*entry{"changes/checkout/CHG-2026-0101.cue": ptr(file(idTicket("CHG-2026-0101",
		map[string]string{"service": `"checkout"`, "actions": hook, "environments": `["prod"]`})))})
	c2 := g.commit("main", c1, other)
	want := []string{"changes/payments/CHG-2026-0002.cue:9: the window overlaps CHG-2026-0101 (2026-12-01T22:00:00Z to 2026-12-01T23:00:00Z) on prod/hooks//deploy"}
	assert.Equal(t, want, check(c2, other), "a ticket merged since the index was made")

	idx := filepath.Join(g.dir, ".git", "cab", indexName)
	b, err := os.ReadFile(idx)
	require.NoError(t, err, "the index is kept")
	c2tree, err := g.repo.CommitObject(c2)
	require.NoError(t, err)
	ct, err := c2tree.Tree()
	require.NoError(t, err)
	ch, err := ct.FindEntry(ChangesDir)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), indexHeader+ch.Hash.String()+" 1\n"), "header names the tree and counts the entries: %.80s", b)
	assert.Contains(t, string(b), "prod/hooks//deploy\t2026-12-01T23:00:00Z\t2026-12-01T22:00:00Z\tchanges/checkout/CHG-2026-0101.cue\tCHG-2026-0101\n")

	assert.Empty(t, check(c1, files), "back to a base without it")

	for name, junk := range map[string]string{
		"garbage":       "not an index",
		"foreign tree":  indexHeader + strings.Repeat("ab", 20) + "\n",
		"truncated":     indexHeader + ch.Hash.String() + " 1\nprod/hooks//deploy\tchanges/x",
		"miscounted":    indexHeader + ch.Hash.String() + " 2\n",
		"wrong entries": indexHeader + ch.Hash.String() + " 0\n",
	} {
		require.NoError(t, os.WriteFile(idx, []byte(junk), 0o644))
		got := check(c2, other)
		if name == "wrong entries" {
			// A file that claims the right tree is trusted like the rest of
			// .git: whoever can write it can write the objects too.
			continue
		}
		assert.Equal(t, want, got, "index %s", name)
	}
}
