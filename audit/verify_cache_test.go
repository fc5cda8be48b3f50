package audit_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/audit/verifycache"
	"github.com/cabhq/cab/bench/signedledger"
	"github.com/cabhq/cab/bench/synth"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/sign"
)

// signedWorld is a bench/synth repository of a few tickets, each merged
// through its own pull request and signed on the ledger with the key its
// cab.cue trusts.
type signedWorld struct {
	dir     string
	tickets []string // paths, oldest merge first
	// lastMerge are the tickets the last merge on main added.
	lastMerge []string
}

func newSignedWorld(t *testing.T) *signedWorld {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "changes")
	_, err := synth.Generate(ctx, dir, synth.Options{Seed: 7, Tickets: 6, Commits: 12})
	require.NoError(t, err)
	signer, err := sign.LoadSigner(ctx, filepath.Join(dir, benchSignKey), nil)
	require.NoError(t, err)
	_, _, err = signedledger.Write(ctx, signedledger.Options{Dir: dir, Signer: signer, Repository: "github.com/acme/changes",
		At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	w := &signedWorld{dir: dir}
	for _, p := range strings.Fields(w.git(t, "log", "--first-parent", "--reverse", "--diff-filter=A", "--name-only", "--format=", "--", "changes/*.cue")) {
		w.tickets = append(w.tickets, p)
	}
	require.Len(t, w.tickets, 6)
	w.lastMerge = strings.Fields(w.git(t, "diff", "--name-only", "--diff-filter=A", "HEAD~1", "HEAD", "--", "changes/*.cue"))
	require.NotEmpty(t, w.lastMerge, "main ends with a merge of tickets")
	return w
}

func (w *signedWorld) git(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", w.dir, "-c", "user.name=Mallory", "-c", "user.email=mallory@example.com"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// commit commits what edit does to the work tree straight onto main, as
// someone who can push to main would.
func (w *signedWorld) commit(t *testing.T, msg string, edit func(dir string)) {
	t.Helper()
	edit(w.dir)
	w.git(t, "add", "-A")
	w.git(t, "commit", "-q", "-m", msg)
}

func (w *signedWorld) verify(t *testing.T, o audit.VerifyOptions) *audit.Report {
	t.Helper()
	repo, err := git.PlainOpen(w.dir)
	require.NoError(t, err)
	o.Dir, o.Ledger = w.dir, ledger.Open(repo, "", "")
	rep, err := audit.Verify(context.Background(), o)
	require.NoError(t, err)
	return rep
}

func whats(rep *audit.Report) map[string]string {
	out := map[string]string{}
	for _, b := range rep.Breaks {
		out[b.Path] = b.What
	}
	return out
}

func editTitle(t *testing.T, file string) {
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	i := strings.Index(string(b), "\ntitle:")
	require.Positive(t, i, "a title to edit in %s", file)
	out := string(b[:i]) + "\ntitle: \"Something else entirely\"" + string(b[i+1+strings.IndexByte(string(b[i+1:]), '\n'):])
	require.NoError(t, os.WriteFile(file, []byte(out), 0o644))
}

// From a checkpoint, a verdict is carried over only for a ticket that
// provably did not change: one edited, deleted or turned into a symlink
// on main after the checkpoint, or whose signed event changed, or every
// ticket when main was rewritten, is judged again and breaks.
func TestVerifyFromACheckpointJudgesWhatChanged(t *testing.T) {
	for _, tc := range []struct {
		name    string
		attack  func(t *testing.T, w *signedWorld) // nil: nothing happens
		carried int
		want    map[string]string // path index → break
	}{
		{name: "nothing changed", carried: 6, want: map[string]string{}},
		{name: "an old ticket edited on main", carried: 5, want: map[string]string{"0": "changed"},
			attack: func(t *testing.T, w *signedWorld) {
				w.commit(t, "edit an old ticket", func(dir string) { editTitle(t, filepath.Join(dir, w.tickets[0])) })
			}},
		{name: "an old ticket deleted on main", carried: 5, want: map[string]string{"2": "deleted"},
			attack: func(t *testing.T, w *signedWorld) {
				w.commit(t, "delete an old ticket", func(dir string) { require.NoError(t, os.Remove(filepath.Join(dir, w.tickets[2]))) })
			}},
		{name: "an old ticket replaced by a symlink", carried: 5, want: map[string]string{"1": "changed"},
			attack: func(t *testing.T, w *signedWorld) {
				w.commit(t, "symlink an old ticket", func(dir string) {
					p := filepath.Join(dir, w.tickets[1])
					require.NoError(t, os.Remove(p))
					require.NoError(t, os.Symlink("../../README.md", p))
				})
			}},
		{name: "main rewritten with an old ticket edited", carried: 0, want: map[string]string{"0": "changed", "last": "signature"},
			attack: func(t *testing.T, w *signedWorld) {
				// The last merge replaced by another on the same parents:
				// the main commit the checkpoint read is gone from the
				// chain (and the tickets that merge added were signed
				// for the merge that is gone).
				editTitle(t, filepath.Join(w.dir, w.tickets[0]))
				w.git(t, "add", "-A")
				w.git(t, "commit", "-q", "--amend", "-m", "rewritten")
			}},
		{name: "an old ticket's signed envelope swapped on the ledger", carried: 5, want: map[string]string{"3": "any"},
			attack: func(t *testing.T, w *signedWorld) {
				// The ledger now holds, as ticket 3's signature, ticket
				// 4's envelope.
				id := func(p string) string { return strings.TrimSuffix(filepath.Base(p), ".cue") }
				files := strings.Fields(w.git(t, "ls-tree", "-r", "--name-only", ledger.DefaultBranch))
				find := func(id string) string {
					for _, f := range files {
						if strings.Contains(f, "/"+id+"/") && strings.HasSuffix(f, "-signed.dsse") {
							return f
						}
					}
					t.Fatalf("no signed envelope of %s in %v", id, files)
					return ""
				}
				wt := filepath.Join(t.TempDir(), "ledger")
				w.git(t, "worktree", "add", "-q", wt, ledger.DefaultBranch)
				other, err := os.ReadFile(filepath.Join(wt, find(id(w.tickets[4]))))
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(wt, find(id(w.tickets[3]))), other, 0o644))
				w.git(t, "-C", wt, "commit", "-q", "-am", "swap an envelope")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newSignedWorld(t)
			first := w.verify(t, audit.VerifyOptions{})
			require.Empty(t, first.Breaks)
			require.Equal(t, 6, first.Signed)
			require.Zero(t, first.Carried, "no checkpoint: nothing carried")
			if tc.attack != nil {
				tc.attack(t, w)
			}
			rep := w.verify(t, audit.VerifyOptions{Checkpoint: plumbing.NewHash(first.LedgerHead)})
			assert.Equal(t, tc.carried, rep.Carried)
			want := map[string]string{}
			for i, what := range tc.want {
				if i == "last" {
					for _, p := range w.lastMerge {
						want[p] = what
					}
					continue
				}
				want[w.tickets[int(i[0]-'0')]] = what
			}
			got := whats(rep)
			delete(got, "") // ledger-level breaks (a forged event is also set aside or refused)
			for p := range got {
				if _, ok := want[p]; !ok && !strings.HasPrefix(got[p], "ledger") {
					t.Errorf("unexpected break %s on %s", got[p], p)
				}
			}
			for p, what := range want {
				if what == "any" {
					assert.Contains(t, got, p, "the swapped envelope is judged: %v", rep.Breaks)
					continue
				}
				assert.Equal(t, what, got[p], "%s: %v", p, rep.Breaks)
			}
			// The same verdict as a run that trusts no cache.
			fresh := w.verify(t, audit.VerifyOptions{Checkpoint: plumbing.NewHash(first.LedgerHead), NoCache: true})
			assert.Zero(t, fresh.Carried)
			assert.Equal(t, fresh.Breaks, rep.Breaks)
			assert.Equal(t, fresh.Signed, rep.Signed)
			// Without a checkpoint, a run that reuses an earlier run's
			// main line and append-only proof finds what a run without
			// the cache finds.
			full := w.verify(t, audit.VerifyOptions{})
			freshFull := w.verify(t, audit.VerifyOptions{NoCache: true})
			assert.Zero(t, full.Carried)
			assert.Equal(t, freshFull.Breaks, full.Breaks)
			assert.Equal(t, freshFull.Signed, full.Signed)
			// And again from the state this run left: the same tickets
			// still break (the ledger's own breaks are relative to the
			// checkpoint, which moved).
			again := w.verify(t, audit.VerifyOptions{Checkpoint: plumbing.NewHash(rep.LedgerHead)})
			assert.Equal(t, fresh.Signed, again.Signed)
			gotAgain, wantAgain := whats(again), whats(fresh)
			delete(gotAgain, "")
			delete(wantAgain, "")
			assert.Equal(t, wantAgain, gotAgain)
		})
	}
}

// A cache that this binary did not write, or that was damaged, changes
// no verdict: a ticket edited after merge breaks whatever the cache says
// about the edited bytes.
func TestVerifyIgnoresAPoisonedCache(t *testing.T) {
	id, err := verifycache.Executable()
	require.NoError(t, err)
	other := id
	other[0] ^= 1
	for _, tc := range []struct {
		name   string
		id     verifycache.Identity
		damage func(t *testing.T, file string)
	}{
		{name: "written by another cab binary", id: other},
		{name: "checksum does not match", id: id, damage: func(t *testing.T, file string) {
			// One character more inside a string of the body: still JSON.
			b, err := os.ReadFile(file)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(file, []byte(strings.Replace(string(b), `":"`, `":"0`, 1)), 0o644))
		}},
		{name: "cut short", id: id, damage: func(t *testing.T, file string) {
			b, err := os.ReadFile(file)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(file, b[:len(b)/2], 0o644))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newSignedWorld(t)
			first := w.verify(t, audit.VerifyOptions{})
			require.Empty(t, first.Breaks)
			// The signed digest of ticket 0, which the forged entry claims
			// the edited bytes parse to.
			src, err := os.ReadFile(filepath.Join(w.dir, w.tickets[0]))
			require.NoError(t, err)
			s, err := schema.Compile(nil)
			require.NoError(t, err)
			parsed, ds := s.ParseTicket(w.tickets[0], src)
			require.Empty(t, ds)
			w.commit(t, "edit an old ticket", func(dir string) { editTitle(t, filepath.Join(dir, w.tickets[0])) })
			edited, err := os.ReadFile(filepath.Join(w.dir, w.tickets[0]))
			require.NoError(t, err)

			c := verifycache.Open(filepath.Join(w.dir, ".git"), tc.id)
			ps := c.Parses()
			ps.Put(verifycache.ParseKey(w.tickets[0], edited), verifycache.Parse{Digest: sign.Digest(parsed.JSON), Environments: parsed.Ticket.Environments})
			require.NoError(t, c.SaveParses(ps, false))
			// And a state claiming the edited ticket verified at the
			// ledger head now.
			require.NoError(t, c.SaveState(&verifycache.State{Main: w.git(t, "rev-parse", "HEAD")[:40], Ledger: first.LedgerHead, LedgerProven: true}))
			if tc.damage != nil {
				tc.damage(t, filepath.Join(w.dir, ".git", "cab", "verify", "parses.json"))
				tc.damage(t, filepath.Join(w.dir, ".git", "cab", "verify", "state-"+first.LedgerHead+".json"))
			}

			rep := w.verify(t, audit.VerifyOptions{Checkpoint: plumbing.NewHash(first.LedgerHead)})
			assert.Zero(t, rep.Carried)
			assert.Equal(t, map[string]string{w.tickets[0]: "changed"}, whats(rep))
		})
	}
}
