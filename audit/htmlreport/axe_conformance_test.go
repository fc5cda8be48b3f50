//go:build conformance

package htmlreport

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAxeOnReport runs axe-core (npm axe-core, the accessibility engine of
// Lighthouse and Deque's tools) in headless Chromium on a report that
// `cab report --html` wrote, through the DevTools harness of the browser
// test. make conformance (conformance/run.sh) sets CAB_REPORT_DIR to the
// report of its end-to-end run and CAB_AXE_JS to axe.min.js; any violation
// of the WCAG 2.x A and AA rules fails.
func TestAxeOnReport(t *testing.T) {
	dir, axePath := os.Getenv("CAB_REPORT_DIR"), os.Getenv("CAB_AXE_JS")
	if dir == "" || axePath == "" {
		t.Skip("set CAB_REPORT_DIR (a cab report --html directory) and CAB_AXE_JS (axe.min.js); make conformance does")
	}
	axe, err := os.ReadFile(axePath)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Setenv("CAB_REQUIRE_BROWSER", "1")
	b := startBrowser(ctx, t)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()

	var target struct {
		TargetID string `json:"targetId"`
	}
	require.NoError(t, b.cdp.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target))
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	require.NoError(t, b.cdp.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached))
	s := attached.SessionID
	require.NoError(t, b.cdp.call(ctx, s, "Page.enable", nil, nil))
	require.NoError(t, b.cdp.call(ctx, s, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil))
	mark := len(b.cdp.snapshot())
	require.NoError(t, b.cdp.call(ctx, s, "Page.navigate", map[string]any{"url": srv.URL + "/" + IndexFile}, nil))
	_, err = b.cdp.waitEvent(ctx, s, "Page.loadEventFired", mark)
	require.NoError(t, err)

	eval := func(expr string, await bool) string {
		var r struct {
			Result struct {
				Value string `json:"value"`
			} `json:"result"`
			ExceptionDetails json.RawMessage `json:"exceptionDetails"`
		}
		require.NoError(t, b.cdp.call(ctx, s, "Runtime.evaluate",
			map[string]any{"expression": expr, "awaitPromise": await, "returnByValue": true}, &r))
		require.Empty(t, r.ExceptionDetails, "evaluating in the page")
		return r.Result.Value
	}
	eval(string(axe)+"\n;''", false)
	out := eval(`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then(r => JSON.stringify({passes: r.passes.length, violations: r.violations.map(v => ({
			id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary)}))}))`, true)
	var res struct {
		Passes     int `json:"passes"`
		Violations []struct {
			ID, Impact, Help string
			Nodes            []string
		} `json:"violations"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), "axe answered %q", out)
	require.Positive(t, res.Passes, "axe checked nothing")
	for _, v := range res.Violations {
		t.Errorf("axe %s (%s): %s\n  %v", v.ID, v.Impact, v.Help, v.Nodes)
	}
	t.Logf("axe-core: %d rules passed, %d violated", res.Passes, len(res.Violations))
}
