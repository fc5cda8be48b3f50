package escalate

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/notify"
)

// commentForge is a forge whose comments a test can read back.
type commentForge struct {
	name   string
	forge  Forge
	bodies func() []string
	// fail makes the next n comment requests answer 500.
	fail func(n int)
	// writes counts the requests that created or edited a comment.
	creates, edits func() int
}

func forges(t *testing.T) []commentForge {
	gh := newGHFake(t)
	gl := newGLFake(t)
	return []commentForge{
		{name: "github", forge: gh.forge(), bodies: gh.bodies,
			fail:    func(n int) { gh.mu.Lock(); gh.fail = n; gh.mu.Unlock() },
			creates: func() int { return gh.count("POST /repos/octo/changes/issues/7/comments") },
			edits: func() int {
				gh.mu.Lock()
				defer gh.mu.Unlock()
				n := 0
				for k, v := range gh.calls {
					if strings.HasPrefix(k, "PATCH /repos/octo/changes/issues/comments/") {
						n += v
					}
				}
				return n
			}},
		{name: "gitlab", forge: gl.forge(t), bodies: gl.bodies,
			fail:    func(n int) { gl.mu.Lock(); gl.fail = n; gl.mu.Unlock() },
			creates: func() int { return gl.count("POST /api/v4/projects/42/merge_requests/7/notes") },
			edits: func() int {
				gl.mu.Lock()
				defer gl.mu.Unlock()
				n := 0
				for k, v := range gl.calls {
					if strings.HasPrefix(k, "PUT /api/v4/projects/42/merge_requests/7/notes/") {
						n += v
					}
				}
				return n
			}},
	}
}

// The pull request that introduced a ticket (from its signed statement,
// not the merge message's #99) gets one comment: created at the first
// outcome, edited in place at the next, never duplicated; a hostile title
// is inert; a 500 does not fail the pass and is retried by the next.
func TestOutcomeCommentCreatedOnceThenEdited(t *testing.T) {
	hostile := "Promote <img src=x onerror=alert(1)> **now** | [click](javascript:alert(1)) @admins #1"
	for _, f := range forges(t) {
		t.Run(f.name, func(t *testing.T) {
			m := newMergedRepo(t, map[string]string{"CHG-2026-0042": ticketCue("CHG-2026-0042", hostile), "CHG-2026-0043": ticketCue("CHG-2026-0043", "Rotate keys")})
			c, err := notify.NewCommenter(notify.CommentOptions{Dir: m.dir, Rev: "main", Post: f.forge.Comment,
				StateFile: notify.CommentStatePath(filepath.Join(m.dir, ".git"))})
			require.NoError(t, err)
			obs := c.Observer(nil)
			ctx := context.Background()

			// Pass 1: staging verified.
			m.record(t, obs, "CHG-2026-0042", "staging", now, ledger.KindApplying, ledger.KindApplied, ledger.KindVerified)
			assert.Zero(t, c.Sync(ctx))
			require.Len(t, f.bodies(), 1)
			assert.Equal(t, 1, f.creates())
			first := f.bodies()[0]
			assert.Contains(t, first, notify.CommentMarker)
			assert.Regexp(t, `CHG-2026-0042 \| .* \| staging \| verified \| 2026-12-02 12:00:02 UTC`, first)
			assert.Contains(t, first, "CHG-2026-0043", "every ticket of the pull request")

			// Pass 2: prod fails and rolls back; the forge is down at first.
			m.record(t, obs, "CHG-2026-0042", "prod", now.Add(time.Hour), ledger.KindApplying, ledger.KindApplied, ledger.KindFailed, ledger.KindRolledBack)
			f.fail(1)
			assert.Equal(t, 1, c.Sync(ctx), "a comment that failed stays pending, and the pass goes on")
			assert.Equal(t, first, f.bodies()[0], "nothing changed yet")

			// A restart: the state file keeps what is pending.
			c, err = notify.NewCommenter(notify.CommentOptions{Dir: m.dir, Rev: "main", Post: f.forge.Comment,
				StateFile: notify.CommentStatePath(filepath.Join(m.dir, ".git"))})
			require.NoError(t, err)
			assert.Zero(t, c.Sync(ctx), "the next pass posts it")
			bodies := f.bodies()
			require.Len(t, bodies, 1, "edited in place, never a second comment")
			assert.Equal(t, 1, f.creates())
			assert.Equal(t, 1, f.edits())
			assert.Regexp(t, `CHG-2026-0042 \| .* \| prod \| rolled-back \| 2026-12-02 13:00:03 UTC`, bodies[0])
			assert.Regexp(t, `CHG-2026-0042 \| .* \| staging \| verified`, bodies[0])

			// Untrusted text stays text.
			for _, bad := range []string{"<img", "**now**", "[click]", "(javascript", "@admins", " #1 ", "| [", "alert(1)"} {
				assert.NotContains(t, bodies[0], bad)
			}
			assert.Contains(t, bodies[0], "&#60;img src=x onerror=alert&#40;1&#41;&#62;")
			assert.Equal(t, 5, strings.Count(strings.Split(bodies[0], "\n")[5], "|")-1, "the title cannot add table cells")

			// Nothing new: nothing posted.
			assert.Zero(t, c.Sync(ctx))
			assert.Equal(t, 1, f.edits())
		})
	}
}
