package browsertest

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// strictCSP is the policy of cab's pages: no script at all.
const strictCSP = "default-src 'none'; style-src 'self'"

// TestAxe proves that axe-core runs in a page whose Content-Security-
// Policy allows no script, finds the rules a page breaks and none on a
// clean page, and that running it leaves no problem of its own.
func TestAxe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	axe := LoadAxe(t)
	b := Start(ctx, t)

	pages := map[string]string{
		"clean": `<!DOCTYPE html><html lang="en"><head><title>clean</title></head><body><main><h1>Clean</h1>` +
			`<form><label>Name <input name="n"></label></form></main></body></html>`,
		"broken": `<!DOCTYPE html><html><head><title>broken</title></head><body><main><h1>Broken</h1>` +
			`<form><input name="n"></form><p style="color:#bbb;background:#fff">faint</p></main></body></html>`,
	}
	mux := http.NewServeMux()
	for name, page := range pages {
		mux.HandleFunc("/"+name, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Security-Policy", strictCSP)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(page))
		})
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, tt := range []struct {
		page     string
		wantIDs  []string
		problems []string
	}{
		{page: "clean"},
		// The inline style attribute is refused by the policy, so the faint
		// text is not faint: contrast is not among the findings, and the
		// refusal is a problem.
		{page: "broken", wantIDs: []string{"html-has-lang", "label"}, problems: []string{"Content Security Policy"}},
	} {
		t.Run(tt.page, func(t *testing.T) {
			p, err := b.Open(ctx, srv.URL+"/"+tt.page, 800, 600)
			require.NoError(t, err, "chromium:\n%s", b.Stderr())
			defer p.Close()
			var title string
			require.NoError(t, p.Eval(ctx, "document.title", &title))
			assert.Equal(t, tt.page, title)

			got, err := p.Axe(ctx, axe)
			require.NoError(t, err, "axe-core runs under a no-script policy")
			var ids []string
			for _, v := range got {
				ids = append(ids, v.ID)
			}
			assert.ElementsMatch(t, tt.wantIDs, ids, "violations: %v", got)

			shot, err := p.Screenshot(ctx)
			require.NoError(t, err)
			cfg, err := png.DecodeConfig(bytes.NewReader(shot))
			require.NoError(t, err, "the screenshot is a PNG")
			assert.Equal(t, 800, cfg.Width)

			problems := strings.Join(p.Problems(), "\n")
			if len(tt.problems) == 0 {
				assert.Empty(t, problems, "running axe-core raised nothing")
			}
			for _, want := range tt.problems {
				assert.Contains(t, problems, want)
			}
		})
	}
}

// TestEval: a thrown exception is an error, a value decodes as JSON.
func TestEval(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := Start(ctx, t)
	p, err := b.Open(ctx, "about:blank", 400, 300)
	require.NoError(t, err)
	defer p.Close()
	var v struct {
		A []int `json:"a"`
	}
	require.NoError(t, p.Eval(ctx, "Promise.resolve({a: [1, 2]})", &v))
	assert.Equal(t, []int{1, 2}, v.A)
	err = p.Eval(ctx, "nothingHere()", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nothingHere is not defined")
}
