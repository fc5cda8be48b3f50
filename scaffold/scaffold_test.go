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
