package scaffold

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/schema"

	"github.com/cabhq/cab/model"
)

var now = time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)

func TestInitAndNewTicket(t *testing.T) {
	dir := t.TempDir()
	files, err := Init(dir, "github.com/acme/changes")
	require.NoError(t, err)
	assert.Contains(t, files, "cab.cue")
	assert.Contains(t, files, "policy/approvals.cue")

	_, err = Init(dir, "x")
	require.True(t, errors.Is(err, ErrExists), "init never overwrites: %v", err)

	s, err := schema.Compile(nil)
	require.NoError(t, err)
	src, err := os.ReadFile(filepath.Join(dir, "cab.cue"))
	require.NoError(t, err)
	cfg, ds := s.ParseConfig("cab.cue", src)
	require.Empty(t, ds, "the scaffolded cab.cue is valid")
	assert.Equal(t, "github.com/acme/changes", cfg.Config.Repository)

	// It can take its own first rules change: a governance group exists.
	require.NotNil(t, cfg.Config.Governance, "cab.cue names governance approvers")
	assert.Contains(t, cfg.Config.Approvers, cfg.Config.Governance.Approvers, "the governance group is declared")
	assert.Contains(t, string(src), "FILL THIS IN BEFORE THE FIRST COMMIT")
	// Every environment has a Prometheus server for the checks of tickets.
	for name, env := range cfg.Config.Environments {
		assert.NotEmpty(t, env.Prometheus, "environment %s has a prometheus server", name)
	}
	ignore, err := os.ReadFile(filepath.Join(dir, ".gitignore"))
	require.NoError(t, err)
	assert.Contains(t, strings.Split(string(ignore), "\n"), "*.key", "signing keys stay out of git")
	assert.Contains(t, files, ".gitignore")

	// Ids continue after the highest of the year, whatever the service.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "changes/other"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "changes/other/CHG-2026-0041.cue"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "changes/other/CHG-2025-0900.cue"), nil, 0o644))
	path, err := NewTicket(dir, cfg.Config, Ticket{Service: "platform", Title: "Bump", Template: "image-bump", Now: now})
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "changes/platform/CHG-2026-0042.cue"), path)

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	_, ds = s.ParseTicket("changes/platform/CHG-2026-0042.cue", b)
	require.Len(t, ds, 1, "only the actions are left to fill in: %v", ds)
	assert.Equal(t, "actions", ds[0].Path)
	text := string(b)
	assert.Contains(t, text, `kind: "standard"`)
	assert.Contains(t, text, `template: "image-bump"`)
	assert.Contains(t, text, `environments: ["staging", "prod"]`, "promotion order from cab.cue")
	assert.Less(t, strings.Index(text, "start:"), strings.Index(text, "end:"))

	_, err = NewTicket(dir, cfg.Config, Ticket{Service: "nope", Title: "x", Now: now})
	require.ErrorContains(t, err, `service "nope" is not declared`)
	_, err = NewTicket(dir, cfg.Config, Ticket{Service: "platform", Title: "x", Template: "nope", Now: now})
	require.ErrorContains(t, err, `template "nope" is not declared`)
}

func TestInitKeepsAnExistingGitignore(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("bin/\n*.key"), 0o644))
	_, err := Init(dir, "x")
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, ".gitignore"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	assert.Equal(t, []string{"bin/", "*.key"}, lines[:2], "what was there stays first")
	assert.Equal(t, 1, strings.Count(string(b), "*.key\n"), "a pattern already there is not added again: %q", b)
	assert.Contains(t, lines, "cosign.key")
}

func TestGitInit(t *testing.T) {
	dir := t.TempDir()
	created, err := GitInit(dir)
	require.NoError(t, err)
	assert.True(t, created)
	head, err := os.ReadFile(filepath.Join(dir, ".git", "HEAD"))
	require.NoError(t, err)
	assert.Equal(t, "ref: refs/heads/main\n", string(head))

	// Inside a repository (here a subdirectory of one): nothing to do.
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))
	created, err = GitInit(sub)
	require.NoError(t, err)
	assert.False(t, created)
	assert.NoDirExists(t, filepath.Join(sub, ".git"))
}

// What the caller gives (actions, checks, environments, a start) is written
// as given and wins over the template's defaults; the ticket parses.
func TestNewTicketWithActionsAndChecks(t *testing.T) {
	dir := t.TempDir()
	_, err := Init(dir, "github.com/acme/changes")
	require.NoError(t, err)
	s, err := schema.Compile(nil)
	require.NoError(t, err)
	src, err := os.ReadFile(filepath.Join(dir, "cab.cue"))
	require.NoError(t, err)
	cfg, ds := s.ParseConfig("cab.cue", src)
	require.Empty(t, ds)

	img := "ghcr.io/acme/app@sha256:" + strings.Repeat("ab", 32)
	start := time.Date(2030, 6, 1, 10, 0, 0, 0, time.UTC)
	path, err := NewTicket(dir, cfg.Config, Ticket{
		Service: "platform", Title: "Promote app", Now: now, Start: start, Environments: []string{"staging"},
		Actions:    []model.Action{{Type: "oci", Target: "images", Image: img, Tag: "app"}},
		Prechecks:  []model.Check{{Type: "http", URL: "https://app.example.com/healthz"}},
		Postchecks: []model.Check{{Type: "http", URL: "https://app.example.com/ready"}},
	})
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	p, ds := s.ParseTicket("changes/platform/CHG-2026-0001.cue", b)
	require.Empty(t, ds, "the ticket parses: %v", ds)
	tk := p.Ticket
	assert.Equal(t, []string{"staging"}, tk.Environments)
	assert.Equal(t, "2030-06-01T10:00:00Z", tk.Window.Start)
	assert.Equal(t, "2030-06-01T12:00:00Z", tk.Window.End)
	require.Len(t, tk.Actions, 1)
	assert.Equal(t, img, tk.Actions[0].Image)
	assert.Equal(t, "https://app.example.com/healthz", tk.Prechecks[0].URL)
	assert.Equal(t, "https://app.example.com/ready", tk.Postchecks[0].URL)
	assert.NotContains(t, string(b), "for example", "no commented example once actions are given")
}
