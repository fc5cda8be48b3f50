package escalate

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gittest"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/reconcile"
	"github.com/cabhq/cab/sign"
)

// mergedRepo is a change repository whose tickets were merged through
// pull request 7 (one merge commit whose message names #99: the comment
// must go to the pull request of the signed statement), signed on the
// ledger, with the events a reconciler records appended by record.
type mergedRepo struct {
	dir  string
	repo *git.Repository
}

// now is the fixture's present.
var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// newMergedRepo merges tickets (id → CUE source) through one pull request.
func newMergedRepo(t *testing.T, tickets map[string]string) *mergedRepo {
	t.Helper()
	dir := t.TempDir()
	g := func(args ...string) string {
		t.Helper()
		return gittest.Git(t, dir, append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	}
	g("init", "-q", "-b", "main")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cab.cue"), []byte(cabCue), 0o644))
	g("add", ".")
	g("commit", "-qm", "cab.cue")
	g("checkout", "-qb", "topic")
	for id, src := range tickets {
		p := filepath.Join(dir, "changes", "payments", id+".cue")
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	}
	g("add", ".")
	g("commit", "-qm", "tickets")
	g("checkout", "-q", "main")
	g("merge", "-q", "--no-ff", "-m", "Merge pull request #99 from dev/topic", "topic")
	merge := g("rev-parse", "HEAD")
	repo, err := git.PlainOpen(dir)
	require.NoError(t, err)
	var events []ledger.Event
	for id := range tickets {
		path := "changes/payments/" + id + ".cue"
		p := sign.Predicate{ID: id, MergeCommit: merge, PR: 7, Author: "github:583231", Environments: []string{"staging", "prod"}, SignedAt: now.Add(-time.Hour)}
		payload, err := json.Marshal(sign.NewStatement(path, strings.Repeat("ab", 32), p))
		require.NoError(t, err)
		env, err := json.Marshal(map[string]any{"payloadType": sign.PayloadType, "payload": base64.StdEncoding.EncodeToString(payload),
			"signatures": []map[string]string{{"keyid": "SHA256:test", "sig": "AAAA"}}})
		require.NoError(t, err)
		d, _ := json.Marshal(map[string]string{"path": path, "keyid": "SHA256:test"})
		events = append(events, ledger.Event{Ticket: id, Kind: ledger.KindSigned, At: now.Add(-time.Hour), Actor: "ci/sign", Commit: merge, Data: d, Envelope: env})
	}
	m := &mergedRepo{dir: dir, repo: repo}
	m.append(t, events...)
	return m
}

func (m *mergedRepo) append(t *testing.T, events ...ledger.Event) {
	t.Helper()
	_, err := ledger.Open(m.repo, "", "").Update(context.Background(), func(*ledger.Log) ([]ledger.Event, error) { return events, nil })
	require.NoError(t, err)
}

// record appends kinds of ticket in env at at, as a reconciler does, and
// reports each step to obs after it is recorded.
func (m *mergedRepo) record(t *testing.T, obs reconcile.Observer, ticket, env string, at time.Time, kinds ...string) {
	t.Helper()
	for i, k := range kinds {
		m.append(t, ledger.Event{Ticket: ticket, Env: env, Kind: k, At: at.Add(time.Duration(i) * time.Second), Actor: "reconciler"})
		log, err := ledger.Open(m.repo, "", "").Read(context.Background())
		require.NoError(t, err)
		evs := log.Ticket(ticket)
		obs.Step(reconcile.Step{Ticket: ticket, Env: env, Kind: k, Seq: evs[len(evs)-1].Seq})
	}
}
