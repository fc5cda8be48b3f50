package gittarget

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTransportURL(t *testing.T) {
	abs, err := filepath.Abs("rel/repo")
	require.NoError(t, err)
	tests := []struct{ in, want, err string }{
		{"https://git.example.com/env.git", "https://git.example.com/env.git", ""},
		{"ssh://git@example.com/env.git", "ssh://git@example.com/env.git", ""},
		{"git@github.com:acme/env.git", "git@github.com:acme/env.git", ""},
		{"file:///srv/git/env.git", "cab-file:///srv/git/env.git", ""},
		{"file://localhost/srv/env.git", "cab-file:///srv/env.git", ""},
		{"file:///srv/with%20space.git", "cab-file:///srv/with%20space.git", ""},
		{"/srv/git/env.git", "cab-file:///srv/git/env.git", ""},
		{"rel/repo", "cab-file://" + abs, ""},
		{"./x:y", "", ""},
		{"file://host/env.git", "", "names a local path"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := transportURL(tt.in)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			if tt.want != "" {
				assert.Equal(t, tt.want, got)
			} else {
				assert.True(t, strings.HasPrefix(got, "cab-file:///"), "got %s", got)
			}
			ep, err := transport.NewEndpoint(got)
			require.NoError(t, err)
			if strings.HasPrefix(got, localScheme) {
				assert.Equal(t, localScheme, ep.Protocol)
			}
		})
	}
}

// TestLocalTransportCompareAndSwap sends a ref update whose old value is
// stale straight to the in-process server (no client-side check in
// between): the ref must stay where it is. go-git's server alone would
// move it.
func TestLocalTransportCompareAndSwap(t *testing.T) {
	srv := newGitServer(t)
	repo := srv.seed(t, "cas", map[string]string{"a.yaml": "a: 1\n"})
	first := plumbing.NewHash(strings.TrimSpace(runGit(t, repo.bare, "rev-parse", "main")))
	repo.edit(t, "a.yaml", func(string) string { return "a: 2\n" })
	second := plumbing.NewHash(strings.TrimSpace(runGit(t, repo.bare, "rev-parse", "main")))

	u, err := transportURL(repo.bare)
	require.NoError(t, err)
	ep, err := transport.NewEndpoint(u)
	require.NoError(t, err)
	sess, err := (&localTransport{}).NewReceivePackSession(ep, nil)
	require.NoError(t, err)
	defer sess.Close()
	_, err = sess.AdvertisedReferencesContext(context.Background())
	require.NoError(t, err)
	req := packp.NewReferenceUpdateRequest()
	// A writer that still believes main is at first (any existing commit
	// will do as the new value).
	req.Commands = []*packp.Command{{Name: "refs/heads/main", Old: first, New: first}}
	status, err := sess.ReceivePack(context.Background(), req)
	if err == nil {
		err = status.Error()
	}
	require.Error(t, err, "a stale old value is refused")

	r, err := git.PlainOpen(repo.bare)
	require.NoError(t, err)
	ref, err := r.Reference("refs/heads/main", false)
	require.NoError(t, err)
	assert.Equal(t, second, ref.Hash(), "main did not move")
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://x-access-token:ghs_secret@github.com/acme/env.git": "https://github.com/acme/env.git",
		"https://glpat-secret@gitlab.com/acme/env.git":              "https://gitlab.com/acme/env.git",
		"https://github.com/acme/env.git":                           "https://github.com/acme/env.git",
		"git@github.com:acme/env.git":                               "git@github.com:acme/env.git",
		"/srv/git/env.git":                                          "/srv/git/env.git",
	} {
		assert.Equal(t, want, redactURL(in), in)
	}
}
