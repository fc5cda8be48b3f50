package reconcile_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/drift"
	"github.com/cabhq/cab/internal/gittest"
	"github.com/cabhq/cab/reconcile"
	"github.com/cabhq/cab/reconcile/target"
	gittarget "github.com/cabhq/cab/reconcile/target/git"
)

// TestDrift applies a ticket that sets a registry tag and a value in an
// environment repository, then changes both by hand: drift is recorded
// once per drift, signed, and cleared when a value is changed back.
func TestDrift(t *testing.T) {
	ctx := context.Background()
	envURL, setFile := handEditedEnv(t)

	f := newFixture(t, `environments: staging: targets: env: {type: "git", url: "`+envURL+`"}`, nil)
	img := f.reg.push(t, "build/payments")
	other := f.reg.push(t, "build/payments")
	f.mergeAndSign(spec{id: "CHG-2026-0001", envs: []string{"staging"}, actions: `{type: "oci", target: "images", image: "` + img + `", repository: "payments", tag: "live"},
		{type: "git", target: "env", file: "values.json", set: {path: ".image.tag", value: "1.4.2"}}`})

	opts := func() reconcile.Options {
		o := f.options(f.clone())
		gd, err := gittarget.New(t.TempDir(), gittarget.WithAuthor("cab", "cab@example.com"))
		require.NoError(t, err)
		o.Drivers["git"] = gd
		return o
	}
	_, err := reconcile.Run(ctx, opts())
	require.NoError(t, err)
	require.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:verified"}, f.events()["CHG-2026-0001"])

	check := func() *reconcile.DriftReport {
		t.Helper()
		r, err := reconcile.New(opts())
		require.NoError(t, err)
		rep, err := r.Drift(ctx, time.Minute)
		require.NoError(t, err)
		require.Len(t, rep.Findings, 2, "one finding per key the ticket set")
		for _, f := range rep.Findings {
			require.Empty(t, f.Unknown)
		}
		return rep
	}
	byKey := func(rep *reconcile.DriftReport) map[string]drift.Finding {
		m := map[string]drift.Finding{}
		for _, f := range rep.Findings {
			m[f.Key] = f
		}
		return m
	}
	digest := img[len(img)-71:]
	otherDigest := other[len(other)-71:]

	rep := check()
	assert.Zero(t, rep.Drifted(), "nothing drifted right after the apply")
	assert.Empty(t, rep.Recorded)
	assert.Equal(t, digest, byKey(rep)["payments:live"].Want)

	// By hand: the tag moved and the file edited.
	f.reg.setTag(t, other, "staging/payments:live")
	setFile(`{"image": {"tag": "hotfix"}}` + "\n")
	rep = check()
	got := byKey(rep)
	assert.True(t, got["payments:live"].Drifted)
	assert.Equal(t, otherDigest, got["payments:live"].Live)
	assert.True(t, got["values.json"].Drifted)
	assert.Equal(t, "1.4.2", got["values.json"].Want)
	assert.Equal(t, "hotfix", got["values.json"].Live)
	require.Len(t, rep.Recorded, 2)

	// Polling again records nothing new: once per drift.
	rep = check()
	assert.Equal(t, 2, rep.Drifted())
	assert.Empty(t, rep.Recorded)

	// The tag changed back: its drift clears; the file is still drifted.
	f.reg.setTag(t, img, "staging/payments:live")
	rep = check()
	assert.Equal(t, 1, rep.Drifted())
	require.Len(t, rep.Recorded, 1)
	assert.Equal(t, "drift-cleared", rep.Recorded[0].Kind)
	var d drift.Data
	require.NoError(t, json.Unmarshal([]byte(rep.Recorded[0].Reason), &d))
	assert.Equal(t, drift.Data{Target: "images", Key: "payments:live", Index: 0, Want: digest, Live: digest}, d)

	assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:verified",
		"staging:drifted", "staging:drifted", "staging:drift-cleared"}, f.events()["CHG-2026-0001"])

	// The drift events are signed outcomes: a reconciler reading the
	// ledger with the trusted keys keeps them (else it would record the
	// drift again), and the environment stays verified: nothing to apply.
	sum, err := reconcile.Run(ctx, opts())
	require.NoError(t, err)
	assert.Empty(t, sum.Steps)
	assert.Equal(t, map[string]int{"verified": 1}, sum.States)
}

// keys records the idempotency key of every change a driver applies.
type keys struct {
	target.Driver
	mu      sync.Mutex
	applied []string
}

func (k *keys) Apply(ctx context.Context, c target.Change) (target.State, error) {
	k.mu.Lock()
	k.applied = append(k.applied, c.IdempotencyKey())
	k.mu.Unlock()
	return k.Driver.Apply(ctx, c)
}

// TestDriftHeal moves a registry tag and edits an environment-repository
// file by hand after a verified apply, then runs drift with Heal: the keys
// are restored through the apply path, with the drifted event's seq in
// the idempotency key, and a signed drift-cleared (healed) is recorded —
// only where cab.cue opts the environment in, a protected one
// explicitly, and never while a freeze holds.
func TestDriftHeal(t *testing.T) {
	// From midnight on, after the apply at now (22:30).
	const freeze = `freezes: [{name: "year-end", start: "2026-12-02T00:00", end: "2026-12-31T00:00", timezone: "UTC", environments: ["staging"]}]`
	later := now.Add(2 * time.Hour)
	tests := []struct {
		name   string
		policy string
		freeze bool
		// refused is in the reason a drifted key was not healed ("":
		// healed).
		refused string
	}{
		{name: "opted in", policy: `drift: heal: true`},
		{name: "not opted in", refused: "not enabled"},
		{name: "protected without its opt-in", policy: `protected: true, drift: heal: true`, refused: "protected"},
		{name: "protected with its opt-in", policy: `protected: true, drift: {heal: true, healProtected: true}`},
		{name: "frozen", policy: `drift: heal: true`, freeze: true, refused: `freeze "year-end"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			envURL, setFile := handEditedEnv(t)
			readFile := func() string {
				dir := t.TempDir()
				gittest.Git(t, dir, "clone", "-q", envURL, ".")
				b, err := os.ReadFile(filepath.Join(dir, "values.json"))
				require.NoError(t, err)
				return string(b)
			}

			cfg := `environments: staging: {targets: env: {type: "git", url: "` + envURL + `"}, ` + tc.policy + "}\n"
			if tc.freeze {
				cfg += freeze
			}
			f := newFixture(t, cfg, nil)
			img := f.reg.push(t, "build/payments")
			other := f.reg.push(t, "build/payments")
			f.mergeAndSign(spec{id: "CHG-2026-0001", envs: []string{"staging"},
				actions: `{type: "oci", target: "images", image: "` + img + `", repository: "payments", tag: "live"},
		{type: "git", target: "env", file: "values.json", set: {path: ".image.tag", value: "1.4.2"}}`})

			rec := &keys{}
			opts := func(at time.Time) reconcile.Options {
				o := f.options(f.clone())
				gd, err := gittarget.New(t.TempDir(), gittarget.WithAuthor("cab", "cab@example.com"))
				require.NoError(t, err)
				rec.Driver = o.Drivers["oci"]
				o.Drivers["oci"], o.Drivers["git"] = rec, gd
				o.Now = func() time.Time { return at }
				return o
			}
			_, err := reconcile.Run(ctx, opts(now))
			require.NoError(t, err)
			require.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:verified"}, f.events()["CHG-2026-0001"])
			require.Equal(t, []string{"CHG-2026-0001/staging/2/0"}, rec.applied, "the apply's key: the applying event's seq")
			digest := f.reg.tagDigest(t, "staging/payments:live")
			require.Contains(t, img, digest)

			f.reg.setTag(t, other, "staging/payments:live")
			setFile(`{"image": {"tag": "hotfix"}}` + "\n")

			o := opts(later)
			o.Heal = true
			r, err := reconcile.New(o)
			require.NoError(t, err)
			rep, err := r.Drift(ctx, time.Minute)
			require.NoError(t, err)
			require.Len(t, rep.Findings, 2)

			if tc.refused != "" {
				for _, fd := range rep.Findings {
					assert.True(t, fd.Drifted, fd.Key)
					assert.False(t, fd.Healed, fd.Key)
					assert.Contains(t, fd.NotHealed, tc.refused, fd.Key)
				}
				assert.Equal(t, []string{"CHG-2026-0001/staging/2/0"}, rec.applied, "nothing written")
				assert.NotEqual(t, digest, f.reg.tagDigest(t, "staging/payments:live"))
				assert.Contains(t, readFile(), "hotfix")
				assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:verified",
					"staging:drifted", "staging:drifted"}, f.events()["CHG-2026-0001"])
				return
			}
			for _, fd := range rep.Findings {
				assert.False(t, fd.Drifted, fd.Key)
				assert.True(t, fd.Healed, fd.Key)
				assert.Empty(t, fd.NotHealed, fd.Key)
			}
			assert.Equal(t, 0, rep.Drifted())
			// The drifted events are seq 5 and 6 (the file first, by
			// target name): the heal's idempotency key is not the apply's.
			assert.Equal(t, []string{"CHG-2026-0001/staging/2/0", "CHG-2026-0001/staging/6/0"}, rec.applied)
			assert.Equal(t, digest, f.reg.tagDigest(t, "staging/payments:live"))
			assert.Contains(t, readFile(), `"1.4.2"`)
			assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:verified",
				"staging:drifted", "staging:drifted", "staging:drift-cleared", "staging:drift-cleared"}, f.events()["CHG-2026-0001"])
			require.Len(t, rep.Recorded, 4)
			var d drift.Data
			require.NoError(t, json.Unmarshal([]byte(rep.Recorded[3].Reason), &d))
			assert.Equal(t, drift.Data{Target: "images", Key: "payments:live", Index: 0, Want: digest, Live: digest, Healed: true}, d)

			// Healed for good: a check without Heal finds nothing, records
			// nothing, and the environment stays verified.
			r, err = reconcile.New(opts(later))
			require.NoError(t, err)
			rep, err = r.Drift(ctx, time.Minute)
			require.NoError(t, err)
			assert.Zero(t, rep.Drifted())
			assert.Empty(t, rep.Recorded)
			sum, err := reconcile.Run(ctx, opts(later))
			require.NoError(t, err)
			assert.Equal(t, map[string]int{"verified": 1}, sum.States)
		})
	}
}

// handEditedEnv serves an environment repository (git http-backend) whose
// values.json holds image tag 1.4.1, and returns its URL and a function
// that rewrites values.json by hand (a commit force-pushed to main).
func handEditedEnv(t *testing.T) (url string, setFile func(content string)) {
	t.Helper()
	srv := gittest.NewServer(t)
	_, url = srv.Bare(t, "env")
	edit := t.TempDir()
	gittest.Git(t, edit, "init", "-q", "-b", "main")
	gittest.Git(t, edit, "config", "user.email", "ops@example.com")
	gittest.Git(t, edit, "config", "user.name", "ops")
	setFile = func(content string) {
		require.NoError(t, os.WriteFile(filepath.Join(edit, "values.json"), []byte(content), 0o644))
		gittest.Git(t, edit, "add", ".")
		gittest.Git(t, edit, "commit", "-q", "-m", "by hand")
		gittest.Git(t, edit, "push", "-q", "-f", url, "main")
	}
	setFile(`{"image": {"tag": "1.4.1"}}` + "\n")
	return url, setFile
}
