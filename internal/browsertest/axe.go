package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// AxeVersion is the axe-core release .ci/install-chromium.sh installs
// from npm (its AXE_VERSION).
const AxeVersion = "4.14.1"

// AxePath returns the axe.min.js to use: $CAB_AXE, else where
// .ci/install-chromium.sh puts it, under the user cache directory
// ("" for none).
func AxePath() string {
	if p := os.Getenv("CAB_AXE"); p != "" {
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	p := filepath.Join(cache, "cab", "axe-core-"+AxeVersion, "node_modules", "axe-core", "axe.min.js")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Axe is axe-core's source, ready to be run in pages.
type Axe struct{ src string }

// LoadAxe reads axe-core. Without it, it skips t, or fails it when
// CAB_REQUIRE_BROWSER=1.
func LoadAxe(t testing.TB) *Axe {
	t.Helper()
	p := AxePath()
	if p == "" {
		missing(t, "axe-core "+AxeVersion+" was not found (run .ci/install-chromium.sh, or set CAB_AXE to an axe.min.js)")
	}
	b, err := os.ReadFile(p)
	require.NoError(t, err, "reading axe-core")
	return &Axe{src: string(b)}
}

// AxeNode is one element a rule failed on.
type AxeNode struct {
	Target  []string `json:"target"`
	HTML    string   `json:"html"`
	Summary string   `json:"failureSummary"`
}

// AxeViolation is one axe-core rule the page breaks.
type AxeViolation struct {
	ID     string    `json:"id"`
	Impact string    `json:"impact"`
	Help   string    `json:"help"`
	Nodes  []AxeNode `json:"nodes"`
}

// String tells the rule and where the page breaks it, for test failures.
func (v AxeViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s", v.ID, v.Impact, v.Help)
	for _, n := range v.Nodes {
		fmt.Fprintf(&b, "\n    %s %s\n      %s", strings.Join(n.Target, " "), n.HTML, strings.ReplaceAll(n.Summary, "\n", "\n      "))
	}
	return b.String()
}

// axeRun runs every rule of axe-core's default set on the document and
// returns the violations as plain data.
const axeRun = `axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
  id: v.id, impact: v.impact || '', help: v.help,
  nodes: v.nodes.map(n => ({target: n.target.map(String), html: n.html, failureSummary: n.failureSummary || ''})),
})))`

// Axe injects axe-core into the page through the protocol (not subject to
// the page's Content-Security-Policy) and returns the rules it breaks.
func (p *Page) Axe(ctx context.Context, a *Axe) ([]AxeViolation, error) {
	if err := p.Eval(ctx, a.src+"\n;undefined", nil); err != nil {
		return nil, fmt.Errorf("injecting axe-core: %w", err)
	}
	var out []AxeViolation
	if err := p.Eval(ctx, axeRun, &out); err != nil {
		return nil, fmt.Errorf("running axe-core: %w", err)
	}
	return out, nil
}
