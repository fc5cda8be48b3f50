package reconcile_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/drift"
	"github.com/cabhq/cab/internal/gittest"
	"github.com/cabhq/cab/reconcile"
	gittarget "github.com/cabhq/cab/reconcile/target/git"
)

// TestDrift applies a ticket that sets a registry tag and a value in an
// environment repository, then changes both by hand: drift is recorded
// once per drift, signed, and cleared when a value is changed back.
func TestDrift(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewServer(t)
	_, envURL := srv.Bare(t, "env")
	edit := t.TempDir()
	gittest.Git(t, edit, "init", "-q", "-b", "main")
	gittest.Git(t, edit, "config", "user.email", "ops@example.com")
	gittest.Git(t, edit, "config", "user.name", "ops")
	setFile := func(content string) {
		require.NoError(t, os.WriteFile(filepath.Join(edit, "values.json"), []byte(content), 0o644))
		gittest.Git(t, edit, "add", ".")
		gittest.Git(t, edit, "commit", "-q", "-m", "by hand")
		gittest.Git(t, edit, "push", "-q", "-f", envURL, "main")
	}
	setFile(`{"image": {"tag": "1.4.1"}}` + "\n")

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
