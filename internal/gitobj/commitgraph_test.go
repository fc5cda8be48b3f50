package gitobj

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Test vectors of git's t/t0095-bloom.sh (seed 0).
func TestMurmur3(t *testing.T) {
	for _, tc := range []struct {
		in      string
		version uint32
		want    uint32
	}{
		{"", 2, 0x00000000},
		{"Hello world!", 2, 0x627b0c2c},
		{"The quick brown fox jumps over the lazy dog", 2, 0x2e4ff723},
		{"The quick brown fox jumps over the lazy dog", 1, 0x2e4ff723},
		{"\x99\xaa\xbb\xcc\xdd\xee\xff", 2, 0xa183ccfd},
	} {
		assert.Equal(t, tc.want, murmur3(0, tc.in, tc.version), "%q v%d", tc.in, tc.version)
	}
}

// graphRepo writes a repository with the git CLI: a main line of commits
// touching changes/<service>/, merges of side branches, an octopus merge,
// and a root commit; every commit's time distinct.
func graphRepo(t *testing.T) string {
	dir := gitRepo(t, nil)
	write := func(p, body string) {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte(body), 0o644))
	}
	commit := func(msg string, i int) {
		t.Helper()
		gitCLI(t, dir, "add", "-A")
		gitCLI(t, dir, "-c", fmt.Sprintf("user.name=A"), "commit", "-q", "--allow-empty", "-m", msg,
			"--date", fmt.Sprintf("@%d +0000", 1_700_000_000+i))
	}
	for i := range 3 {
		gitCLI(t, dir, "checkout", "-q", "-b", fmt.Sprint("b", i), "main")
		write(fmt.Sprintf("changes/svc%d/CHG-2026-%04d.cue", i, 100+i), "x")
		commit(fmt.Sprint("side ", i), i)
	}
	gitCLI(t, dir, "checkout", "-q", "main")
	gitCLI(t, dir, "merge", "-q", "--no-ff", "-m", "merge b0", "b0")
	gitCLI(t, dir, "merge", "-q", "--no-ff", "-m", "octopus", "b1", "b2")
	commit("empty", 10)
	write("changes/caf\u00e9/CHG-2026-0200.cue", "y")
	commit("non-ASCII", 11)
	return dir
}

// Every commit of a repository reads through the commit-graph git wrote
// as git itself shows it, and its Bloom filter answers "maybe" for every
// path its first-parent diff changed (and each leading directory).
func TestCommitGraphAgainstGit(t *testing.T) {
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprint("split=", split), func(t *testing.T) {
			dir := graphRepo(t)
			args := []string{"commit-graph", "write", "--reachable", "--changed-paths"}
			if split {
				// Two layers: the older commits, then the rest on top.
				gitCLI(t, dir, "branch", "-f", "old", "main~2")
				gitCLI(t, dir, append(args, "--split=no-merge")...)
				for i := range 2 {
					require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprint("top", i)), []byte("t"), 0o644))
					gitCLI(t, dir, "add", "-A")
					gitCLI(t, dir, "commit", "-q", "-m", fmt.Sprint("top ", i))
				}
				gitCLI(t, dir, append(args, "--split=no-merge")...)
			} else {
				gitCLI(t, dir, args...)
			}
			g, err := OpenCommitGraph(filepath.Join(dir, ".git", "objects"))
			require.NoError(t, err)
			require.NotNil(t, g)
			defer g.Close()
			if split {
				require.Len(t, g.layers, 2)
			}
			require.True(t, g.HasBloom())

			lines := strings.Split(strings.TrimSpace(gitCLI(t, dir, "log", "--all", "--format=%H %T %ct %P")), "\n")
			require.Equal(t, len(lines), int(g.Len()))
			maybes, nos := 0, 0
			for _, line := range lines {
				f := strings.Fields(line)
				h := plumbing.NewHash(f[0])
				pos, ok := g.Lookup(h)
				require.True(t, ok, f[0])
				got, err := g.Hash(pos)
				require.NoError(t, err)
				require.Equal(t, h, got)
				c, err := g.Commit(pos)
				require.NoError(t, err)
				assert.Equal(t, f[1], c.Tree.String())
				ct, _ := strconv.ParseInt(f[2], 10, 64)
				assert.Equal(t, ct, c.Time)
				parents := []string{}
				for _, p := range c.Parents {
					ph, err := g.Hash(p)
					require.NoError(t, err)
					parents = append(parents, ph.String())
				}
				assert.Equal(t, f[3:], parents, "parents of %s", f[0])
				p1, ok, ct1, err := g.FirstParent(pos)
				require.NoError(t, err)
				assert.Equal(t, ct, ct1)
				if assert.Equal(t, len(c.Parents) > 0, ok) && ok {
					assert.Equal(t, c.Parents[0], p1)
				}

				diff := []string{"-c", "core.quotePath=false", "diff-tree", "-r", "--root", "--no-commit-id", "--name-only", f[0]}
				if len(f) > 3 {
					diff = append(diff[:len(diff)-1], f[3], f[0]) // against the first parent
				}
				changed := strings.Fields(gitCLI(t, dir, diff...))
				seen := map[string]bool{}
				for _, p := range changed {
					for q := p; q != "."; q = filepath.Dir(q) {
						seen[q] = true
						if strings.ContainsFunc(q, func(r rune) bool { return r >= 0x80 }) {
							assert.Equal(t, BloomUnknown, g.Changed(pos, q), "%s in %s (version 1 filter)", q, f[0])
							continue
						}
						assert.Equal(t, BloomMaybe, g.Changed(pos, q), "%s in %s", q, f[0])
					}
				}
				for _, q := range []string{"changes/svc0/CHG-2026-0100.cue", "changes/svc1", "changes/svc2", "nope/never", "top0", "changes/s1/big.cue"} {
					if seen[q] {
						continue
					}
					if g.Changed(pos, q) == BloomNo {
						nos++
					} else {
						maybes++
					}
				}
			}
			// Bloom filters have false positives, rarely.
			assert.Greater(t, nos, 10*maybes, "no %d, maybe %d", nos, maybes)

			_, ok := g.Lookup(plumbing.NewHash("0123456789012345678901234567890123456789"))
			assert.False(t, ok)
		})
	}
}

func TestOpenCommitGraphNone(t *testing.T) {
	g, err := OpenCommitGraph(t.TempDir())
	require.NoError(t, err)
	assert.Nil(t, g)
}

// A commit-graph that lies about its sizes or positions gives an error,
// never a read out of bounds.
func TestCommitGraphCorrupt(t *testing.T) {
	dir := graphRepo(t)
	gitCLI(t, dir, "commit-graph", "write", "--reachable", "--changed-paths")
	good, err := os.ReadFile(filepath.Join(dir, ".git", "objects", "info", "commit-graph"))
	require.NoError(t, err)
	_, err = ParseCommitGraph(good)
	require.NoError(t, err)

	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for name, data := range map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)/2],
		"signature": mutate(func(b []byte) []byte { b[0] = 'X'; return b }),
		"version":   mutate(func(b []byte) []byte { b[4] = 2; return b }),
		"sha256":    mutate(func(b []byte) []byte { b[5] = 2; return b }),
		"chunks":    mutate(func(b []byte) []byte { b[6] = 200; return b }),
		"bases":     mutate(func(b []byte) []byte { b[7] = 1; return b }),
		"offset":    mutate(func(b []byte) []byte { binary.BigEndian.PutUint64(b[8+4:], 1<<40); return b }),
	} {
		_, err := ParseCommitGraph(data)
		assert.ErrorIs(t, err, ErrBadCommitGraph, name)
	}

	// A parent position past the end: the commit does not read.
	g, err := ParseCommitGraph(mutate(func(b []byte) []byte {
		l, err := parseGraph(b)
		require.NoError(t, err)
		binary.BigEndian.PutUint32(l.cdat[hashLen:], 0x6fffffff)
		return b
	}))
	require.NoError(t, err)
	_, err = g.Commit(0)
	assert.ErrorIs(t, err, ErrBadCommitGraph)
	_, err = g.Hash(g.Len())
	assert.ErrorIs(t, err, ErrBadCommitGraph)
	assert.Equal(t, BloomUnknown, g.Changed(g.Len(), "a"))
}

func FuzzCommitGraph(f *testing.F) {
	f.Add([]byte("CGPH\x01\x01\x00\x00"))
	// A commit-graph git 2.39 wrote (--reachable --changed-paths) for
	// five commits, one a merge.
	data, err := os.ReadFile(filepath.Join("testdata", "commit-graph"))
	require.NoError(f, err)
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseCommitGraph(data)
		if err != nil {
			return
		}
		for pos := range min(g.Len(), 64) {
			h, err := g.Hash(pos)
			require.NoError(t, err)
			got, ok := g.Lookup(h)
			if ok {
				h2, err := g.Hash(got)
				require.NoError(t, err)
				require.Equal(t, h, h2)
			}
			_, _ = g.Commit(pos)
			_, _, _, _ = g.FirstParent(pos)
			g.Changed(pos, "changes/svc/CHG-1.cue")
		}
	})
}
