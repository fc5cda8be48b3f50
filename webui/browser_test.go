package webui

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/browsertest"
)

// pageFacts is what the browser test reads from a rendered page.
type pageFacts struct {
	Title   string `json:"title"`
	H1      string `json:"h1"`
	Scripts int    `json:"scripts"`
	// Injected counts elements only untrusted text could have made.
	Injected int `json:"injected"`
	// Styled: the stylesheet applied (the header is a flex box).
	Styled bool `json:"styled"`
	// Current is the navigation link marked as the current page.
	Current string `json:"current"`
	// Columns: the board's cards by column state.
	Columns map[string][]string `json:"columns"`
	// Sections: the ticket ids each overview section lists.
	Sections map[string][]string `json:"sections"`
	// Holds: the hold badge of each card or window, by ticket id.
	Holds map[string]string `json:"holds"`
	// Windows: the calendar's windows (ticket id to its timing).
	Windows map[string]string `json:"windows"`
	Freezes []string          `json:"freezes"`
	Today   []string          `json:"today"`
	Days    int               `json:"days"`
	// Selected: the value chosen in each filter.
	Selected map[string]string `json:"selected"`
	// The ticket page.
	State  string     `json:"state"`
	Events []string   `json:"events"`
	Envs   [][]string `json:"envs"`
	Links  []string   `json:"links"`
}

const factsScript = `(() => {
  const txt = e => e ? e.textContent.trim().replace(/\s+/g, ' ') : '';
  const cardID = e => txt(e.querySelector('a strong') || e.querySelector('a'));
  const timing = e => (Array.from(e.classList).find(c => c.startsWith('timing-')) || '').slice(7);
  const holds = {};
  document.querySelectorAll('li.hold').forEach(e => {
    holds[cardID(e)] = txt(Array.from(e.querySelectorAll('.badge')).pop());
  });
  const windows = {};
  document.querySelectorAll('li.window').forEach(e => { windows[cardID(e)] = timing(e); });
  return {
    title: document.title,
    h1: txt(document.querySelector('h1')),
    scripts: document.scripts.length,
    injected: document.querySelectorAll('img, iframe, object, embed, main b').length,
    styled: getComputedStyle(document.querySelector('header')).display === 'flex',
    current: txt(document.querySelector('nav a[aria-current="page"]')),
    columns: Object.fromEntries(Array.from(document.querySelectorAll('section.column'),
      s => [s.querySelector('h2').id.replace(/^col-/, ''), Array.from(s.querySelectorAll('li.card'), cardID)])),
    sections: Object.fromEntries(Array.from(document.querySelectorAll('main > section[aria-labelledby]'),
      s => [s.getAttribute('aria-labelledby'), Array.from(s.querySelectorAll('li.card, tbody tr'), cardID)])),
    holds: holds,
    windows: windows,
    freezes: Array.from(new Set(Array.from(document.querySelectorAll('li.freeze strong'), txt))),
    today: Array.from(document.querySelectorAll('li.day.today h2'), txt),
    days: document.querySelectorAll('li.day').length,
    selected: Object.fromEntries(Array.from(document.querySelectorAll('.filters select'), s => [s.name, s.value])),
    state: txt(document.querySelector('.facts dd[class^="state-"]')),
    events: Array.from(document.querySelectorAll('li.event h3'), txt),
    envs: Array.from(document.querySelectorAll('section[aria-labelledby="envs"] tbody tr'),
      r => Array.from(r.cells).slice(0, 2).map(txt)),
    links: Array.from(document.querySelectorAll('main a[href]'), a => a.getAttribute('href')),
  };
})()`

// TestPagesInChromium loads every page of the UI over the fixture in
// headless Chromium: no console error, exception, failed load or
// refused style; the expected tickets in the expected states; no
// violation axe-core finds; a screenshot of each (a phone-sized one too)
// kept under $CAB_ARTIFACTS/webui.
func TestPagesInChromium(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	axe := browsertest.LoadAxe(t)
	b := browsertest.Start(ctx, t)
	srv := newTestServer(t, nil)
	artifacts := browsertest.ArtifactsDir(t, "webui")

	for _, tc := range []struct {
		name, path string
		width      int
		check      func(t *testing.T, f pageFacts)
	}{
		{"overview", "/ui/", 1280, func(t *testing.T, f pageFacts) {
			assert.Equal(t, "Overview", f.Current)
			assert.Equal(t, map[string][]string{
				"applying": {"CHG-2026-0003"}, "failed": {"CHG-2026-0001"}, "reviews": {"CHG-2026-0004"}, "sla": {},
			}, f.Sections)
		}},
		{"board", "/ui/board", 1280, func(t *testing.T, f pageFacts) {
			assert.Equal(t, "Board", f.Current)
			assert.Equal(t, map[string][]string{
				StateMerged: {"CHG-2026-0005"}, StateSigned: {"CHG-2026-0007"}, StateWaiting: {"CHG-2026-0006", "CHG-2026-0002"},
				StateApplying: {"CHG-2026-0003"}, StateVerified: {"CHG-2026-0004"}, StateFailed: {"CHG-2026-0001"},
			}, f.Columns)
			assert.Equal(t, map[string]string{"CHG-2026-0002": "freeze hold", "CHG-2026-0006": "error-budget hold"}, f.Holds)
		}},
		{"board-search", "/ui/board?service=search", 1280, func(t *testing.T, f pageFacts) {
			assert.Equal(t, map[string][]string{
				StateMerged: {"CHG-2026-0005"}, StateSigned: {}, StateWaiting: {"CHG-2026-0006", "CHG-2026-0002"},
				StateApplying: {}, StateVerified: {}, StateFailed: {},
			}, f.Columns)
			assert.Equal(t, "search", f.Selected["service"], "the filter shows what it filters")
			assert.Equal(t, "", f.Selected["env"])
		}},
		{"board-phone", "/ui/board", 390, func(t *testing.T, f pageFacts) {
			assert.Len(t, f.Columns, 6)
		}},
		{"calendar-week", "/ui/calendar", 1280, func(t *testing.T, f pageFacts) {
			assert.Equal(t, "Calendar", f.Current)
			assert.Equal(t, "Calendar: week of 2026-11-30", f.H1)
			assert.Equal(t, 7, f.Days)
			assert.Equal(t, map[string]string{
				"CHG-2026-0001": "finished", "CHG-2026-0002": "upcoming", "CHG-2026-0003": "active", "CHG-2026-0005": "upcoming",
				"CHG-2026-0006": "active", "CHG-2026-0007": "active",
			}, f.Windows)
			assert.Equal(t, []string{"Freeze: december-peak"}, f.Freezes)
			assert.Equal(t, []string{"2026-12-02 today"}, f.Today, "now is marked on one day")
			assert.Equal(t, "error-budget hold", f.Holds["CHG-2026-0006"])
		}},
		{"calendar-month", "/ui/calendar?view=month&date=2026-11-15", 1280, func(t *testing.T, f pageFacts) {
			assert.Equal(t, "Calendar: month of 2026-11-01", f.H1)
			assert.Equal(t, 30, f.Days)
			assert.Equal(t, map[string]string{"CHG-2026-0004": "finished"}, f.Windows)
			assert.Empty(t, f.Today, "now is in December")
		}},
		{"ticket", "/ui/tickets/CHG-2026-0001", 1280, func(t *testing.T, f pageFacts) {
			assert.Equal(t, `CHG-2026-0001: Promote payments <script>alert("x")</script>`, f.H1, "the hostile title is text")
			assert.Equal(t, "CHG-2026-0001 · cab", f.Title)
			assert.Equal(t, "Failed / rolled back / expired / quarantined (rolled-back): restored sha256:1111", f.State)
			assert.Equal(t, [][]string{{"staging", "verified"}, {"prod", "rolled-back"}}, f.Envs)
			require.Len(t, f.Events, 8)
			assert.Equal(t, "#7 failed in prod", f.Events[6])
			assert.Contains(t, f.Links, "https://grafana.example/d/pay")
			assert.Contains(t, f.Links, "/ui/tickets/CHG-2026-0003", "what depends on it")
			assert.NotContains(t, strings.Join(f.Links, " "), "javascript:")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := b.Open(ctx, srv.URL+tc.path, tc.width, 900)
			require.NoError(t, err, "chromium:\n%s", b.Stderr())
			defer p.Close()
			var f pageFacts
			require.NoError(t, p.Eval(ctx, factsScript, &f))
			shot, err := p.Screenshot(ctx)
			require.NoError(t, err)
			shotPath := filepath.Join(artifacts, tc.name+".png")
			require.NoError(t, os.WriteFile(shotPath, shot, 0o644))
			t.Logf("screenshot: %s", shotPath)
			cfg, err := png.DecodeConfig(bytes.NewReader(shot))
			require.NoError(t, err, "the screenshot is a PNG")
			assert.Equal(t, tc.width, cfg.Width, "no horizontal overflow")

			violations, err := p.Axe(ctx, axe)
			require.NoError(t, err)
			var found []string
			for _, v := range violations {
				found = append(found, v.String())
			}
			assert.Empty(t, found, "axe-core finds no accessibility violation")
			assert.Empty(t, p.Problems(), "the page logged errors")

			assert.Equal(t, 0, f.Scripts, "no script element")
			assert.Equal(t, 0, f.Injected, "no element injected from ticket text")
			assert.True(t, f.Styled, "the stylesheet applied under the page's CSP")
			tc.check(t, f)
		})
	}
}
