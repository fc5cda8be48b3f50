package forge

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	head  = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	merge = "5b1c0e8f2a3d4c6b7a8e9f0d1c2b3a4e5f6d7c8b"
	old   = "f2d1c5e3b6a7980e1d2c3b4a5f6e7d8c9b0a1f2e"
)

func TestEvidenceReview(t *testing.T) {
	e := &Evidence{Forge: "github", HeadSHA: head, MergeCommit: merge, Author: "github:7", Merger: "github:9",
		Approvals: []Approval{
			{ID: "github:1", At: "2026-01-01T10:00:00Z", Commit: head},
			{ID: "github:2", At: "2026-01-01T09:00:00Z", Commit: old},  // an earlier head
			{ID: "github:9", At: "2026-01-01T10:00:00Z", Commit: head}, // the merger
			{ID: "github:3", At: "2026-01-01T08:00:00Z", Commit: head}, // twice: the latest is kept
			{ID: "github:3", At: "2026-01-01T11:00:00Z", Commit: head},
			{ID: "github:7", At: "2026-01-01T12:00:00Z", Commit: head}, // the author: kept, the policies exclude them
			{ID: "github:4", At: "2026-01-01T12:00:00Z", Commit: ""},   // no commit: approves nothing
		}}
	for _, judged := range []string{head, merge} {
		r, err := e.Review(judged)
		require.NoError(t, err)
		var ids []string
		for _, a := range r.Approvals {
			ids = append(ids, a.ID+"@"+a.At[11:13])
		}
		assert.Equal(t, []string{"github:1@10", "github:3@11", "github:7@12"}, ids)
		assert.Equal(t, "github:9", r.Merger)
		assert.NotNil(t, r.Pushers)
		assert.NotNil(t, r.Labels)
	}
	r, err := e.Review(head)
	require.NoError(t, err)
	assert.Empty(t, r.OpenedAt, "the forge did not say when the change was opened")
	e.OpenedAt = time.Date(2026, 1, 1, 7, 0, 0, 0, time.FixedZone("CET", 3600))
	r, err = e.Review(head)
	require.NoError(t, err)
	assert.Equal(t, "2026-01-01T06:00:00Z", r.OpenedAt, "openedAt is RFC 3339 in UTC")
	_, err = e.Review(old)
	assert.ErrorIs(t, err, ErrNotBound)
	_, err = e.Review("")
	assert.ErrorIs(t, err, ErrNotBound)
	_, err = (&Evidence{Forge: "file"}).Review(head)
	assert.ErrorIs(t, err, ErrNotBound, "evidence naming no head describes nothing")
}

func TestDecodeEvidence(t *testing.T) {
	e, err := DecodeEvidence(strings.NewReader(`{"headSHA": "` + head + `", "author": "git:a@x", "approvals": [{"id": "git:b@x"}, {"id": "git:c@x", "commit": "` + old + `"}]}`))
	require.NoError(t, err)
	assert.Equal(t, "file", e.Forge)
	r, err := e.Review(head)
	require.NoError(t, err)
	require.Len(t, r.Approvals, 1, "an approval of another commit does not count")
	assert.Equal(t, "git:b@x", r.Approvals[0].ID)

	for name, src := range map[string]string{
		"no head":       `{"approvals": [{"id": "git:b@x"}]}`,
		"short head":    `{"headSHA": "6dcb09b"}`,
		"unknown field": `{"headSHA": "` + head + `", "aprovals": []}`,
		"bad merge":     `{"headSHA": "` + head + `", "mergeCommit": "main"}`,
	} {
		_, err := DecodeEvidence(strings.NewReader(src))
		assert.Error(t, err, name)
	}
	_, err = DecodeEvidence(strings.NewReader(`{}`))
	assert.ErrorIs(t, err, ErrNoHead)
}

func TestNumberHint(t *testing.T) {
	for msg, want := range map[string]int64{
		"Merge pull request #5099 from kturing/chg-2026-1657\n\nRelease":      5099,
		"Add CHG-2026-0005 (#7)\n":                                            7,
		"Merge branch 'x' into 'main'\n\nSee merge request acme/changes!42\n": 42,
		"Direct push\n":              0,
		"Fix #12 in the middle\n":    0,
		"Merge pull request #x from": 0,
	} {
		assert.Equal(t, want, NumberHint(msg), "%q", msg)
		assert.Equal(t, numberHintAllForms(msg), NumberHint(msg), "%q", msg)
	}
}

// numberHintAllForms is NumberHint as it was before its literal
// pre-checks: every form's regexp run on every message.
func numberHintAllForms(msg string) int64 {
	subject, _, _ := strings.Cut(msg, "\n")
	for _, m := range [][]string{
		githubMergeRE().FindStringSubmatch(subject),
		gitlabMergeRE().FindStringSubmatch(msg),
		squashRE().FindStringSubmatch(subject),
	} {
		if m != nil {
			if n, err := strconv.ParseInt(m[1], 10, 64); err == nil {
				return n
			}
		}
	}
	return 0
}

// FuzzNumberHint holds NumberHint's pre-checks to what the regexps alone
// answer.
func FuzzNumberHint(f *testing.F) {
	for _, s := range []string{
		"Merge pull request #5099 from kturing/chg-2026-1657\n\nRelease",
		"Add CHG-2026-0005 (#7)\n",
		"Merge branch 'x' into 'main'\n\nSee merge request acme/changes!42\n",
		"Add x (#7)\n\nSee merge request a/b!9\r\n",
		"Merge pull request #1 x (#2)",
		"See merge request !123456789012345678",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		if got, want := NumberHint(msg), numberHintAllForms(msg); got != want {
			t.Fatalf("NumberHint(%q) = %d, the regexps alone say %d", msg, got, want)
		}
	})
}
