package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/sign"
)

// update rewrites the golden files under testdata/log (go test -update).
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// history builds a git repository object by object with go-git, at fixed
// times, so that commit ids and outputs are the same on every run.
type history struct {
	t    testing.TB
	dir  string
	repo *git.Repository
	// main is the tree of main's head, path to content.
	main map[string]string
	head plumbing.Hash
	// stored caches what was written, by content: trees are rewritten
	// whole at every commit.
	stored map[string]plumbing.Hash
}

func newHistory(t testing.TB) *history {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	require.NoError(t, err)
	return &history{t: t, dir: dir, repo: repo, main: map[string]string{}, stored: map[string]plumbing.Hash{}}
}

func sig(name string, at time.Time) object.Signature {
	return object.Signature{Name: name, Email: strings.ToLower(name) + "@example.com", When: at}
}

func (h *history) store(o interface {
	Encode(plumbing.EncodedObject) error
}) plumbing.Hash {
	obj := h.repo.Storer.NewEncodedObject()
	require.NoError(h.t, o.Encode(obj))
	id, err := h.repo.Storer.SetEncodedObject(obj)
	require.NoError(h.t, err)
	return id
}

func (h *history) blob(content string) plumbing.Hash {
	if id, ok := h.stored["blob "+content]; ok {
		return id
	}
	obj := h.repo.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, err := obj.Writer()
	require.NoError(h.t, err)
	_, err = w.Write([]byte(content))
	require.NoError(h.t, err)
	require.NoError(h.t, w.Close())
	id, err := h.repo.Storer.SetEncodedObject(obj)
	require.NoError(h.t, err)
	h.stored["blob "+content] = id
	return id
}

// tree stores the tree of files (paths relative to it) and returns its id.
func (h *history) tree(files map[string]string) plumbing.Hash {
	dirs := map[string]map[string]string{}
	var entries []object.TreeEntry
	for p, content := range files {
		if i := strings.IndexByte(p, '/'); i >= 0 {
			d := p[:i]
			if dirs[d] == nil {
				dirs[d] = map[string]string{}
			}
			dirs[d][p[i+1:]] = content
			continue
		}
		entries = append(entries, object.TreeEntry{Name: p, Mode: filemode.Regular, Hash: h.blob(content)})
	}
	for d, sub := range dirs {
		entries = append(entries, object.TreeEntry{Name: d, Mode: filemode.Dir, Hash: h.tree(sub)})
	}
	sort.Sort(object.TreeEntrySorter(entries))
	key := "tree"
	for _, e := range entries {
		key += " " + e.Name + " " + e.Hash.String()
	}
	if id, ok := h.stored[key]; ok {
		return id
	}
	id := h.store(&object.Tree{Entries: entries})
	h.stored[key] = id
	return id
}

func (h *history) commit(files map[string]string, parents []plumbing.Hash, author, committer object.Signature, msg string) plumbing.Hash {
	return h.store(&object.Commit{Author: author, Committer: committer, Message: msg, TreeHash: h.tree(files), ParentHashes: parents})
}

func (h *history) setMain(c plumbing.Hash) {
	require.NoError(h.t, h.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName("main"), c)))
	require.NoError(h.t, h.repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName("main"))))
	h.head = c
}

func withFiles(base map[string]string, add map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(add))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range add {
		if v == "" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// root starts main.
func (h *history) root(at time.Time, files map[string]string) plumbing.Hash {
	h.main = withFiles(nil, files)
	c := h.commit(h.main, nil, sig("Admin", at), sig("Admin", at), "Initial commit\n")
	h.setMain(c)
	return c
}

// merge adds files on a branch by author, opened an hour before at, and
// merges it into main at at with a GitHub merge message.
func (h *history) merge(pr int, author string, at time.Time, files map[string]string) plumbing.Hash {
	opened := at.Add(-time.Hour)
	branch := h.commit(withFiles(h.main, files), []plumbing.Hash{h.head}, sig(author, opened), sig(author, opened),
		"Add changes\n")
	h.main = withFiles(h.main, files)
	msg := "Merge pull request #" + strconv.Itoa(pr) + " from " + strings.ToLower(author) + "/change\n\nA change\n"
	c := h.commit(h.main, []plumbing.Hash{h.head, branch}, sig("Merger", at), sig("GitHub", at), msg)
	h.setMain(c)
	return c
}

// push commits files straight onto main.
func (h *history) push(author string, at time.Time, msg string, files map[string]string) plumbing.Hash {
	h.main = withFiles(h.main, files)
	c := h.commit(h.main, []plumbing.Hash{h.head}, sig(author, at), sig(author, at), msg)
	h.setMain(c)
	return c
}

// ticketSource renders a ticket file.
func ticketSource(id, title, kind, risk, service string, envs ...string) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	var e []string
	for _, x := range envs {
		e = append(e, q(x))
	}
	return "apiVersion: \"cab.dev/v1\"\n" +
		"id:         " + q(id) + "\n" +
		"title:      " + q(title) + "\n" +
		"kind:       " + q(kind) + "\n" +
		"risk:       " + q(risk) + "\n" +
		"owner:      \"team-" + service + "\"\n" +
		"service:    " + q(service) + "\n" +
		"environments: [" + strings.Join(e, ", ") + "]\n" +
		"window: {\n\tstart: \"2026-12-01T22:00:00Z\"\n\tend:   \"2026-12-01T23:00:00Z\"\n}\n"
}

func ticketFile(id, service string) string { return path.Join("changes", service, id+".cue") }

// envelope is a DSSE envelope of a statement with predicate p; the
// signature is junk: cab log does not verify it.
func envelope(t testing.TB, ticketPath string, p sign.Predicate) []byte {
	t.Helper()
	payload, err := json.Marshal(sign.NewStatement(ticketPath, strings.Repeat("ab", 32), p))
	require.NoError(t, err)
	env, err := json.Marshal(map[string]any{
		"payloadType": sign.PayloadType,
		"payload":     base64.StdEncoding.EncodeToString(payload),
		"signatures":  []map[string]string{{"keyid": "SHA256:test", "sig": "AAAA"}},
	})
	require.NoError(t, err)
	return env
}

func data(kv ...string) json.RawMessage {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return b
}

// appendLedger appends events to the local ledger branch.
func (h *history) appendLedger(events ...ledger.Event) {
	h.t.Helper()
	l := ledger.Open(h.repo, "", "")
	_, err := l.Update(context.Background(), func(*ledger.Log) ([]ledger.Event, error) { return events, nil })
	require.NoError(h.t, err)
}

func (h *history) ledgerHead() plumbing.Hash {
	ref, err := h.repo.Reference(plumbing.NewBranchReferenceName(ledger.DefaultBranch), true)
	require.NoError(h.t, err)
	return ref.Hash()
}

func (h *history) setLedger(c plumbing.Hash) {
	require.NoError(h.t, h.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(ledger.DefaultBranch), c)))
}

var day = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// fixture is the history the golden tests read:
//
//	PR #1  CHG-2026-0001 payments  normal/high   signed, staging verified, prod failed then rolled back
//	PR #2  CHG-2026-0002 search    standard/low  signed, scheduled (title on two lines)
//	       CHG-2026-0003 payments  normal/medium signed, verified everywhere
//	push   CHG-2026-0004 platform  emergency/critical, unsigned (merged at 23:30-02:00 on 31 March)
//	edit   CHG-2026-0001 changed, README added: no row
//	squash CHG-2026-0005 search    not plain data: a row with a problem, not judged yet
func fixture(t testing.TB) *history {
	h := newHistory(t)
	h.root(day.Add(-96*time.Hour), map[string]string{
		"cab.cue":          "apiVersion: \"cab.dev/v1\"\nrepository: \"github.com/acme/changes\"\n",
		"changes/.gitkeep": "",
	})
	p1 := ticketFile("CHG-2026-0001", "payments")
	m1 := h.merge(1, "Alice", day.In(time.FixedZone("", 3600)), map[string]string{
		p1: ticketSource("CHG-2026-0001", `Promote "payments" 1.4.2, then 1.4.3`, "normal", "high", "payments", "staging", "prod"),
	})
	p2, p3 := ticketFile("CHG-2026-0002", "search"), ticketFile("CHG-2026-0003", "payments")
	m2 := h.merge(2, "Bob", day.Add(36*24*time.Hour), map[string]string{
		p2: strings.Replace(ticketSource("CHG-2026-0002", "", "standard", "low", "search", "staging"),
			`title:      ""`, "title: \"\"\"\n\tReindex search\n\t=SUM(A1:A2), with care\n\t\"\"\"", 1),
		p3: ticketSource("CHG-2026-0003", "Rotate payments keys", "normal", "medium", "payments", "staging", "prod"),
	})
	p4 := ticketFile("CHG-2026-0004", "platform")
	c4 := h.push("Carol", time.Date(2026, 3, 31, 23, 30, 0, 0, time.FixedZone("", -2*3600)), "Hotfix ingress\n", map[string]string{
		p4: ticketSource("CHG-2026-0004", "Hotfix ingress timeouts", "emergency", "critical", "platform", "prod"),
	})
	h.push("Alice", time.Date(2026, 4, 2, 8, 0, 0, 0, time.UTC), "Edit a merged ticket\n", map[string]string{
		p1:          ticketSource("CHG-2026-0001", "Promote payments 1.4.2 (edited)", "normal", "high", "payments", "staging", "prod"),
		"README.md": "changes\n",
	})
	p5 := ticketFile("CHG-2026-0005", "search")
	h.push("Dave", time.Date(2026, 4, 15, 12, 0, 0, 0, time.UTC), "Add CHG-2026-0005 (#7)\n", map[string]string{
		p5: "apiVersion: \"cab.dev/v1\"\nid: \"CHG-2026-0005\"\ntitle: \"a\" + \"b\"\nkind: \"normal\"\nrisk: \"low\"\nenvironments: [\"staging\"]\n",
	})

	at := func(d time.Duration) time.Time { return day.Add(d) }
	pred := func(id string, pr int64, commit plumbing.Hash, signedAt time.Time, author string, envs []string, approvals ...model.Approval) sign.Predicate {
		return sign.Predicate{ID: id, MergeCommit: commit.String(), PR: pr, Author: author, Approvals: approvals,
			PolicyDigest: "sha256:" + strings.Repeat("0", 64), Environments: envs, Repository: "github.com/acme/changes", SignedAt: signedAt}
	}
	h.appendLedger(
		ledger.Event{Ticket: "CHG-2026-0001", Kind: ledger.KindSigned, At: at(time.Minute), Actor: "ci/sign", Commit: m1.String(),
			Data: data("path", p1, "keyid", "SHA256:test"),
			Envelope: envelope(t, p1, pred("CHG-2026-0001", 1, m1, at(time.Minute), "github:1001", []string{"staging", "prod"},
				model.Approval{ID: "github:1002", Login: "bob", At: "2026-01-05T07:30:00Z"},
				model.Approval{ID: "github:1003", Login: "carol", At: "2026-01-05T07:45:00Z"}))},
		ledger.Event{Ticket: "CHG-2026-0001", Env: "staging", Kind: ledger.KindApplying, At: at(time.Hour), Actor: "reconciler"},
		ledger.Event{Ticket: "CHG-2026-0001", Env: "staging", Kind: ledger.KindApplied, At: at(time.Hour + time.Minute), Actor: "reconciler"},
		ledger.Event{Ticket: "CHG-2026-0001", Env: "staging", Kind: ledger.KindVerified, At: at(time.Hour + 10*time.Minute), Actor: "reconciler"},
		ledger.Event{Ticket: "CHG-2026-0001", Env: "prod", Kind: ledger.KindApplying, At: at(2 * time.Hour), Actor: "reconciler",
			Data: json.RawMessage(`{"burnRate":{"value":0.5,"query":"slo:burn_rate:30m","server":"http://prometheus:9090","at":"2026-01-05T10:00:00Z"}}`)},
		ledger.Event{Ticket: "CHG-2026-0001", Env: "prod", Kind: ledger.KindApplied, At: at(2*time.Hour + time.Minute), Actor: "reconciler"},
		ledger.Event{Ticket: "CHG-2026-0001", Env: "prod", Kind: ledger.KindFailed, At: at(2*time.Hour + 10*time.Minute), Actor: "reconciler",
			Data: json.RawMessage(`{"reason":"postcheck p99 latency: 0.41 > 0.25","step":"postchecks","burnRate":{"value":2.25,"query":"slo:burn_rate:30m","server":"http://prometheus:9090","at":"2026-01-05T10:10:00Z"}}`)},
		ledger.Event{Ticket: "CHG-2026-0001", Env: "prod", Kind: ledger.KindRolledBack, At: at(2*time.Hour + 12*time.Minute), Actor: "reconciler",
			Data: data("reason", "restored sha256:1111")},
		ledger.Event{Ticket: "CHG-2026-0002", Kind: ledger.KindSigned, At: at(36*24*time.Hour + time.Minute), Actor: "ci/sign", Commit: m2.String(),
			Envelope: envelope(t, p2, pred("CHG-2026-0002", 2, m2, at(36*24*time.Hour+time.Minute), "github:1002", []string{"staging"},
				model.Approval{ID: "github:1001", Login: "alice", At: "2026-02-10T08:00:00Z"}))},
		ledger.Event{Ticket: "CHG-2026-0002", Kind: ledger.KindScheduled, At: at(36*24*time.Hour + 5*time.Minute), Actor: "reconciler",
			Data: data("reason", "window opens 2026-12-01T22:00:00Z")},
		ledger.Event{Ticket: "CHG-2026-0003", Kind: ledger.KindSigned, At: at(36*24*time.Hour + 2*time.Minute), Actor: "ci/sign", Commit: m2.String(),
			Envelope: envelope(t, p3, pred("CHG-2026-0003", 2, m2, at(36*24*time.Hour+2*time.Minute), "github:1002", []string{"staging", "prod"},
				model.Approval{ID: "github:1001", Login: "alice", At: "2026-02-10T08:00:00Z"},
				model.Approval{ID: "github:1003", Login: "carol", At: "2026-02-10T08:30:00Z"}))},
		ledger.Event{Ticket: "CHG-2026-0003", Env: "staging", Kind: ledger.KindApplying, At: at(37 * 24 * time.Hour), Actor: "reconciler"},
		ledger.Event{Ticket: "CHG-2026-0003", Env: "staging", Kind: ledger.KindApplied, At: at(37*24*time.Hour + time.Minute), Actor: "reconciler"},
		ledger.Event{Ticket: "CHG-2026-0003", Env: "staging", Kind: ledger.KindVerified, At: at(37*24*time.Hour + 5*time.Minute), Actor: "reconciler"},
		ledger.Event{Ticket: "CHG-2026-0003", Env: "prod", Kind: ledger.KindApplying, At: at(38 * 24 * time.Hour), Actor: "reconciler"},
		ledger.Event{Ticket: "CHG-2026-0003", Env: "prod", Kind: ledger.KindApplied, At: at(38*24*time.Hour + time.Minute), Actor: "reconciler"},
		ledger.Event{Ticket: "CHG-2026-0003", Env: "prod", Kind: ledger.KindVerified, At: at(38*24*time.Hour + 5*time.Minute), Actor: "reconciler"},
		ledger.Event{Ticket: "CHG-2026-0004", Kind: ledger.KindUnsigned, At: time.Date(2026, 4, 1, 2, 0, 0, 0, time.UTC), Actor: "ci/sign", Commit: c4.String(),
			Data: json.RawMessage(`{"path":"` + p4 + `","reasons":["needs 2 approvals, has 0","no review evidence"]}`)},
	)
	return h
}

// golden compares got with testdata/log/name, or rewrites it with -update.
func goldenFile(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "log", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, got, 0o644))
		return
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err, "run go test -update to create %s", p)
	require.Equal(t, string(want), string(got), "output differs from %s (go test -update rewrites it)", p)
}

// ledgerEvent4Signed signs CHG-2026-0005 (after the fixture's events).
func ledgerEvent4Signed(t testing.TB, h *history) ledger.Event {
	p := ticketFile("CHG-2026-0005", "search")
	return ledger.Event{Ticket: "CHG-2026-0005", Kind: ledger.KindSigned, At: time.Date(2026, 4, 15, 13, 0, 0, 0, time.UTC), Actor: "ci/sign",
		Commit: h.head.String(), Envelope: envelope(t, p, sign.Predicate{ID: "CHG-2026-0005", MergeCommit: h.head.String(), Author: "github:1004",
			Environments: []string{"staging"}, Repository: "github.com/acme/changes"})}
}
