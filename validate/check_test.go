package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/policy"
)

// newRepo writes a change repository with the test config, the default
// policies and the given files, and changes into it.
func newRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	all := map[string]string{"cab.cue": testConfig}
	for _, p := range policy.Defaults() {
		all[p.Name] = string(p.Source)
	}
	for k, v := range files {
		all[k] = v
	}
	for name, src := range all {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	}
	t.Chdir(root)
	return root
}

func idTicket(id string, extra map[string]string) string {
	f := map[string]string{"id": `"` + id + `"`}
	for k, v := range extra {
		f[k] = v
	}
	return ticket(f)
}

func check(t *testing.T, paths ...string) *Report {
	t.Helper()
	rep, err := CheckPaths(context.Background(), paths, Options{Now: before})
	require.NoError(t, err)
	return rep
}

// findDiag returns the diagnostic for file whose message contains msg.
func findDiag(t *testing.T, rep *Report, file, msg string) diag.Diagnostic {
	t.Helper()
	for _, d := range rep.Diagnostics {
		if d.File == file && strings.Contains(d.Message, msg) {
			return d
		}
	}
	require.Failf(t, "diagnostic not found", "want %s: %q in\n%v", file, msg, rep.Diagnostics)
	return diag.Diagnostic{}
}

func TestCheckRepo(t *testing.T) {
	newRepo(t, map[string]string{
		"changes/payments/CHG-2026-0001.cue": idTicket("CHG-2026-0001", nil),
		"changes/payments/CHG-2026-0002.cue": idTicket("CHG-2026-0002", map[string]string{"dependsOn": `["CHG-2026-0001"]`}),
		"changes/payments/README.md":         "not a ticket",
	})
	rep := check(t)
	assert.Zero(t, rep.Errors(), "%v", rep.Diagnostics)
	require.Len(t, rep.Tickets, 2)
	assert.Equal(t, "changes/payments/CHG-2026-0001.cue", rep.Tickets[0].File, "names are relative to the working directory")
}

func TestCheckRepoInvariants(t *testing.T) {
	root := newRepo(t, map[string]string{
		"changes/payments/CHG-2026-0001.cue": idTicket("CHG-2026-0001", map[string]string{"dependsOn": `["CHG-2026-0999", "CHG-2026-0001"]`}),
		"changes/checkout/CHG-2026-0001.cue": idTicket("CHG-2026-0001", nil),
		"changes/CHG-2026-0003.cue":          idTicket("CHG-2026-0003", nil),
		"changes/payments/CHG-2026-0004.cue": "apiVersion: \"cab.dev/v1\"\n\x00\x00binary",
		"changes/payments/CHG-2026-0005.cue": "title: \"caf\xe9\"\n",
	})
	// A symlink pointing out of the repository, and a 50 MB file (sparse:
	// it must be refused by its size, without being read).
	outside := filepath.Join(t.TempDir(), "secret.cue")
	require.NoError(t, os.WriteFile(outside, []byte(idTicket("CHG-2026-0006", nil)), 0o644))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "changes/payments/CHG-2026-0006.cue")))
	big, err := os.Create(filepath.Join(root, "changes/payments/CHG-2026-0007.cue"))
	require.NoError(t, err)
	require.NoError(t, big.Truncate(50<<20))
	require.NoError(t, big.Close())

	rep := check(t)
	d := findDiag(t, rep, "changes/payments/CHG-2026-0001.cue", "id CHG-2026-0001 is also used by changes/checkout/CHG-2026-0001.cue")
	assert.Equal(t, [2]int{2, 1}, [2]int{d.Line, d.Column})
	d = findDiag(t, rep, "changes/payments/CHG-2026-0001.cue", "ticket CHG-2026-0999 does not exist")
	assert.Equal(t, "dependsOn.0", d.Path)
	findDiag(t, rep, "changes/payments/CHG-2026-0001.cue", "dependsOn.1 refers to the ticket itself")
	findDiag(t, rep, "changes/checkout/CHG-2026-0001.cue", `ticket of service "payments" is filed under changes/checkout/`)
	findDiag(t, rep, "changes/CHG-2026-0003.cue", "ticket files live at changes/<service>/<id>.cue")
	d = findDiag(t, rep, "changes/payments/CHG-2026-0004.cue", "binary")
	assert.Equal(t, 2, d.Line)
	findDiag(t, rep, "changes/payments/CHG-2026-0005.cue", "not valid UTF-8")
	d = findDiag(t, rep, "changes/payments/CHG-2026-0006.cue", "symlinks are refused")
	assert.Contains(t, d.Message, "outside the repository")
	findDiag(t, rep, "changes/payments/CHG-2026-0007.cue", "file is 52428800 bytes")
	for _, d := range rep.Diagnostics {
		assert.Positive(t, d.Line, "%v", d)
		if d.Severity == diag.Error {
			assert.NotEmpty(t, d.Hint, "%v", d)
		}
	}
}

func TestCheckFileOutsideRepo(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, os.WriteFile("CHG-2026-0042.cue", []byte(ticket(nil)), 0o644))
	rep := check(t, "CHG-2026-0042.cue")
	assert.Zero(t, rep.Errors(), "%v", rep.Diagnostics)
	d := findDiag(t, rep, "CHG-2026-0042.cue", "approvals were not checked")
	assert.Equal(t, diag.Warning, d.Severity)
	assert.Contains(t, d.Rule, "(default) policy/approvals.cue", "the built-in default policies apply")
}

func TestCheckFileInRepoUsesRepoPolicies(t *testing.T) {
	newRepo(t, map[string]string{
		"changes/payments/CHG-2026-0001.cue": idTicket("CHG-2026-0001", nil),
		"policy/house.cue":                   "package policy\ndeny: [if input.ticket.risk == \"high\" {\"no high-risk changes on Mondays\"}]\n",
	})
	t.Chdir("changes/payments")
	rep := check(t, "CHG-2026-0001.cue")
	d := findDiag(t, rep, "CHG-2026-0001.cue", "no high-risk changes on Mondays")
	assert.Equal(t, "../../policy/house.cue:2:39", d.Rule)
}

func TestCheckNotARepo(t *testing.T) {
	t.Chdir(t.TempDir())
	_, err := CheckPaths(context.Background(), nil, Options{Now: before})
	require.ErrorIs(t, err, ErrNotRepo)
}

func TestCheckBrokenConfig(t *testing.T) {
	newRepo(t, map[string]string{
		"cab.cue":                            "apiVersion: \"cab.dev/v1\"\nenvironments: prod: targets: x: {type: \"ftp\"}\n",
		"changes/payments/CHG-2026-0001.cue": idTicket("CHG-2026-0001", nil),
	})
	rep := check(t)
	d := findDiag(t, rep, "cab.cue", "")
	assert.Equal(t, 2, d.Line)
	assert.Positive(t, rep.Errors())
}

func TestCheckFreezePosition(t *testing.T) {
	cfg := strings.Replace(testConfig, `timezone: "Europe/Berlin"`, `timezone: "Europe/Berlim"`, 1)
	newRepo(t, map[string]string{
		"cab.cue":                            cfg,
		"changes/payments/CHG-2026-0001.cue": idTicket("CHG-2026-0001", nil),
	})
	rep := check(t)
	d := findDiag(t, rep, "cab.cue", `unknown time zone "Europe/Berlim"`)
	assert.Equal(t, [2]int{lineOf(t, cfg, `timezone: "Europe/Berlim"`), 82}, [2]int{d.Line, d.Column}, "points at the freeze's timezone")
	assert.Equal(t, "freezes.0.timezone", d.Path)
}

// A change that breaks only the configuration fails, with no ticket to check.
func TestCheckConfigWithoutTickets(t *testing.T) {
	newRepo(t, map[string]string{"cab.cue": "apiVersion: \"cab.dev/v2\"\nenvironments: {}\n"})
	rep := check(t)
	require.Empty(t, rep.Tickets)
	d := findDiag(t, rep, "cab.cue", `conflicting values "cab.dev/v2" and "cab.dev/v1"`)
	assert.Equal(t, 1, d.Line)
}

// However the user names the repository, a ticket is never a duplicate of
// itself.
func TestCheckPathSpellings(t *testing.T) {
	root := newRepo(t, map[string]string{
		"changes/payments/CHG-2026-0001.cue": idTicket("CHG-2026-0001", nil),
	})
	t.Chdir(filepath.Join(root, "changes", "payments"))
	for _, p := range []string{root, "../..", "..", ".", "CHG-2026-0001.cue", filepath.Join(root, "changes/payments/CHG-2026-0001.cue")} {
		t.Run(p, func(t *testing.T) {
			rep := check(t, p)
			assert.Zero(t, rep.Errors(), "%v", rep.Diagnostics)
			require.Len(t, rep.Tickets, 1)
		})
	}
}
