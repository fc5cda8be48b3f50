package verifycache

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testID = Identity{1, 2, 3}

func TestParsesRoundTrip(t *testing.T) {
	d := Open(t.TempDir(), testID)
	p := d.Parses()
	k1, k2 := ParseKey("changes/a/CHG-1.cue", []byte("a")), ParseKey("changes/a/CHG-2.cue", []byte("a"))
	require.NotEqual(t, k1, k2, "the path is part of the key")
	require.NotEqual(t, k1, ParseKey("changes/a/CHG-1.cue", []byte("a ")), "so are the exact bytes")
	_, ok := p.Get(k1)
	require.False(t, ok)
	p.Put(k1, Parse{Digest: "d1", Environments: []string{"staging", "prod"}})
	p.Put(k2, Parse{Digest: "d2"})
	require.NoError(t, d.SaveParses(p, true))

	p = d.Parses()
	got, ok := p.Get(k1)
	require.True(t, ok)
	assert.Equal(t, Parse{Digest: "d1", Environments: []string{"staging", "prod"}}, got)
	// Saved without pruning: both stay.
	require.NoError(t, d.SaveParses(p, false))
	p = d.Parses()
	_, ok = p.Get(k1)
	require.True(t, ok)
	// Saved pruning, with only k1 used: k2 leaves the cache.
	require.NoError(t, d.SaveParses(p, true))
	p = d.Parses()
	_, ok = p.Get(k2)
	assert.False(t, ok, "a parse not used by the last run is dropped")
	_, ok = p.Get(k1)
	assert.True(t, ok)

	other := Open(filepath.Dir(filepath.Dir(d.path)), Identity{9})
	_, ok = other.Parses().Get(k1)
	assert.False(t, ok, "another binary reads nothing")
}

func TestStatesKeepTheNewest(t *testing.T) {
	d := Open(t.TempDir(), testID)
	_, ok := d.Newest()
	require.False(t, ok)
	var heads []plumbing.Hash
	const n = keepStates + 2
	base := time.Now()
	for i := range n {
		h := plumbing.ComputeHash(plumbing.CommitObject, []byte{byte(i)})
		heads = append(heads, h)
		s := &State{Main: h.String(), Ledger: h.String(), LedgerProven: true,
			Merges: []Merge{{Commit: h.String(), Tickets: []Ticket{{Path: "changes/a/CHG-1.cue", Signed: "x", What: "changed", Message: "m"}}}}}
		require.NoError(t, d.SaveState(s))
		// Distinct modification times in the order saved, whatever the
		// file system's resolution.
		at := base.Add(-time.Duration(n-i) * time.Minute)
		require.NoError(t, os.Chtimes(filepath.Join(d.path, stateFile(h)), at, at))
	}
	for i, h := range heads {
		s, ok := d.State(h)
		if i < n-keepStates {
			assert.False(t, ok, "state %d pruned", i)
			continue
		}
		require.True(t, ok, "state %d kept", i)
		assert.Equal(t, h.String(), s.Ledger)
		assert.Equal(t, "changed", s.Merges[0].Tickets[0].What)
	}
	newest, ok := d.Newest()
	require.True(t, ok)
	assert.Equal(t, heads[len(heads)-1].String(), newest.Ledger)
	_, ok = d.State(plumbing.ZeroHash)
	assert.False(t, ok)
	require.NoError(t, d.SaveState(&State{Main: heads[0].String()}), "no ledger head: nothing saved")
}

// A file is read only when it is exactly what encode wrote for the same
// kind and binary.
func TestDecodeRefuses(t *testing.T) {
	good, err := encode("state", testID, State{Main: strings.Repeat("a", 40)})
	require.NoError(t, err)
	var s State
	require.NoError(t, decode(good, "state", testID, &s))
	header := string(good[:strings.LastIndexByte(string(good[:len(good)-1]), '\n')+1])
	for _, tc := range []struct {
		name string
		data string
		kind string
		id   Identity
	}{
		{"empty", "", "state", testID},
		{"cut short", string(good[:len(good)-3]), "state", testID},
		{"header only", header, "state", testID},
		{"another kind", string(good), "parses", testID},
		{"another binary", string(good), "state", Identity{4}},
		{"body changed", strings.Replace(string(good), `"main":"a`, `"main":"b`, 1), "state", testID},
		{"data after the body", string(good) + "{}", "state", testID},
		{"unknown field", mustEncode(t, map[string]any{"main": "x", "extra": 1}), "state", testID},
		{"another version", strings.Replace(string(good), "v1", "v2", 1), "state", testID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s State
			err := decode([]byte(tc.data), tc.kind, tc.id, &s)
			require.ErrorIs(t, err, ErrCorrupt)
		})
	}
}

func mustEncode(t *testing.T, v any) string {
	b, err := encode("state", testID, v)
	require.NoError(t, err)
	return string(b)
}

// A file that does not decode reads as empty, whatever it holds.
func TestUnusableFilesReadAsEmpty(t *testing.T) {
	d := Open(t.TempDir(), testID)
	require.NoError(t, os.MkdirAll(d.path, 0o755))
	h := plumbing.ComputeHash(plumbing.CommitObject, []byte("x"))
	require.NoError(t, os.WriteFile(filepath.Join(d.path, parsesFile), []byte("garbage"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(d.path, stateFile(h)), []byte("garbage"), 0o644))
	_, ok := d.Parses().Get(Key{})
	assert.False(t, ok)
	_, ok = d.State(h)
	assert.False(t, ok)
	// A state filed under another ledger head than it names.
	require.NoError(t, d.write(stateFile(h), stateKind, State{Main: h.String(), Ledger: plumbing.ZeroHash.String()}))
	_, ok = d.State(h)
	assert.False(t, ok)
	// Parses whose key is not a sha256.
	require.NoError(t, d.write(parsesFile, parsesKind, []parseEntry{{Key: "abc"}, {Key: hex.EncodeToString(make([]byte, 32))}}))
	_, ok = d.Parses().Get(Key{})
	assert.False(t, ok, "nothing of a file with a bad key counts")
}

func FuzzDecode(f *testing.F) {
	good, err := encode("state", testID, State{Main: strings.Repeat("a", 40), Merges: []Merge{{Commit: "c", Tickets: []Ticket{{Path: "p"}}}}})
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte(magic + "state\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s State
		if err := decode(data, "state", testID, &s); err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		// What decodes encodes to what was read, but for JSON spacing.
		again, err := encode("state", testID, s)
		require.NoError(t, err)
		var s2 State
		require.NoError(t, decode(again, "state", testID, &s2))
		assert.Equal(t, s, s2)
	})
}
