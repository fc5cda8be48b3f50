package htmlreport

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/controls"
	"github.com/cabhq/cab/internal/atomicfile"
)

// Files Write creates in its directory.
const (
	IndexFile = "index.html"
	JSONFile  = "report.json"
)

// Options configure a report.
type Options struct {
	// Title heads the page (default "Change report").
	Title string
	// Repository is the change repository's canonical name from cab.cue,
	// e.g. github.com/acme/changes; for github.com and gitlab.com it fills
	// in the commit and pull request links the changes lack.
	Repository string
	// Period buckets the charts (default month).
	Period audit.Period
	// ProdEnv is the production environment (see audit.MetricsOptions).
	ProdEnv string
	// Location is the time zone of the times shown (nil: UTC).
	Location *time.Location
	// Since and Until bound the audit period: changes merged in it are
	// listed, and metrics count what happened in it (zero: unbounded).
	Since, Until time.Time
	// Now is when the report was generated.
	Now time.Time
	// Verify is the verdict of audit.Verify over the same history (nil:
	// not run).
	Verify *audit.Report
	// PostReviewDays is cab.cue's emergency.postReviewDays (0: the
	// default), for the controls section.
	PostReviewDays int
}

// Data is everything a report shows; report.json holds it.
type Data struct {
	Title       string    `json:"title"`
	Repository  string    `json:"repository,omitempty"`
	GeneratedAt time.Time `json:"generatedAt"`
	Timezone    string    `json:"timezone"`
	Since       time.Time `json:"since,omitzero"`
	Until       time.Time `json:"until,omitzero"`
	Period      string    `json:"period"`
	ProdEnv     string    `json:"prodEnv"`
	// Verify is the cab verify verdict (null when it was not run).
	Verify *audit.Report `json:"verify"`
	// Summary holds the metrics over the whole period, Services the same
	// per service, Series per period (the charts).
	Summary  audit.MetricsRow   `json:"summary"`
	Services []audit.MetricsRow `json:"services"`
	Series   []audit.MetricsRow `json:"series"`
	// Changes are the changes merged in the period, oldest first, with
	// their commit and pull request links.
	Changes []audit.Change `json:"changes"`
	// Controls maps the period's evidence to change-management controls,
	// with the exceptions found (package controls).
	Controls *controls.Assessment `json:"controls"`
}

// Build computes the report's data from the changes.
func Build(changes []audit.Change, o Options) (*Data, error) {
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	if o.Period == "" {
		o.Period = audit.PeriodMonth
	}
	if o.Title == "" {
		o.Title = "Change report"
	}
	mo := audit.MetricsOptions{Location: loc, Since: o.Since, Until: o.Until, ProdEnv: o.ProdEnv}
	summary, err := audit.ComputeMetrics(changes, mo)
	if err != nil {
		return nil, fmt.Errorf("computing the summary: %w", err)
	}
	byService := mo
	byService.ByService = true
	services, err := audit.ComputeMetrics(changes, byService)
	if err != nil {
		return nil, fmt.Errorf("computing the metrics per service: %w", err)
	}
	overTime := mo
	overTime.Period = o.Period
	series, err := audit.ComputeMetrics(changes, overTime)
	if err != nil {
		return nil, fmt.Errorf("computing the metrics per %s: %w", o.Period, err)
	}
	d := &Data{
		Title: o.Title, Repository: o.Repository, GeneratedAt: o.Now.In(loc), Timezone: loc.String(),
		Period: string(o.Period), ProdEnv: o.ProdEnv, Verify: o.Verify,
		Summary: summary.Rows[0], Services: services.Rows, Series: series.Rows, Changes: []audit.Change{},
	}
	if !o.Since.IsZero() {
		d.Since = o.Since.In(loc)
	}
	if !o.Until.IsZero() {
		d.Until = o.Until.In(loc)
	}
	linked := make([]audit.Change, len(changes))
	for i, c := range changes {
		fillLinks(&c, o.Repository)
		linked[i] = c
		if (!o.Since.IsZero() && c.MergedAt.Before(o.Since)) || (!o.Until.IsZero() && !c.MergedAt.Before(o.Until)) {
			continue
		}
		d.Changes = append(d.Changes, c)
	}
	d.Controls = controls.Assess(linked, o.Verify, controls.Options{Since: o.Since, Until: o.Until, Now: o.Now, PostReviewDays: o.PostReviewDays})
	slices.SortStableFunc(d.Changes, func(a, b audit.Change) int {
		return cmp.Or(a.MergedAt.Compare(b.MergedAt), strings.Compare(a.ID, b.ID))
	})
	return d, nil
}

var (
	hexSHA   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{7,64}$`) })
	repoPath = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)+$`) })
)

// forge recognises a repository name on github.com or gitlab.com and
// returns its web address and host ("" when it is neither).
func forge(repository string) (base, host string) {
	r := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(repository, "https://"), "http://"), ".git")
	r = strings.TrimSuffix(r, "/")
	host, path, ok := strings.Cut(r, "/")
	if !ok || !repoPath().MatchString(path) || strings.Contains(path, "..") {
		return "", ""
	}
	switch host {
	case "github.com":
		if strings.Count(path, "/") != 1 {
			return "", ""
		}
	case "gitlab.com":
	default:
		return "", ""
	}
	return "https://" + host + "/" + path, host
}

// fillLinks sets the commit and pull request addresses c lacks, from the
// repository's name.
func fillLinks(c *audit.Change, repository string) {
	base, host := forge(repository)
	if base == "" {
		return
	}
	if c.CommitURL == "" && hexSHA().MatchString(c.MergeCommit) {
		if host == "gitlab.com" {
			c.CommitURL = base + "/-/commit/" + c.MergeCommit
		} else {
			c.CommitURL = base + "/commit/" + c.MergeCommit
		}
	}
	if c.PRURL == "" && c.PR > 0 {
		if host == "gitlab.com" {
			c.PRURL = base + "/-/merge_requests/" + strconv.FormatInt(c.PR, 10)
		} else {
			c.PRURL = base + "/pull/" + strconv.FormatInt(c.PR, 10)
		}
	}
}

//go:embed assets/report.html.tmpl
var pageTemplate string

//go:embed assets/report.css
var pageCSS string

// page is the parsed template, parsed on first use rather than at every
// start of cab.
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"f": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	}).Parse(pageTemplate))
})

// contentSecurityPolicy allows nothing but the embedded style sheet and
// data: images: no script runs in a report, whatever a ticket holds.
func contentSecurityPolicy() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; img-src data:; base-uri 'none'; form-action 'none'"
}

// Render writes the report as one self-contained HTML page: the style
// sheet is inline, the charts are inline SVG drawn in Go, and nothing is
// loaded from elsewhere. Every value from the history (titles, names,
// reasons) is escaped by html/template, and the page's content security
// policy forbids scripts.
func Render(w io.Writer, d *Data) error {
	v := newView(d)
	if err := page().Execute(w, v); err != nil {
		return fmt.Errorf("rendering the report: %w", err)
	}
	return nil
}

// Write builds the report of changes and writes index.html and
// report.json into dir (created if needed).
func Write(ctx context.Context, dir string, changes []audit.Change, o Options) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := Build(changes, o)
	if err != nil {
		return err
	}
	var html bytes.Buffer
	if err := Render(&html, d); err != nil {
		return err
	}
	js, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", JSONFile, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the report directory: %w", err)
	}
	if err := writeFile(filepath.Join(dir, IndexFile), html.Bytes()); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, JSONFile), append(js, '\n'))
}

// WriteOSCAL builds the report of changes and writes its controls section
// to path as an OSCAL assessment-results document (controls.OSCAL).
func WriteOSCAL(ctx context.Context, path string, changes []audit.Change, o Options) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := Build(changes, o)
	if err != nil {
		return err
	}
	version := "unverified"
	if o.Verify != nil && o.Verify.LedgerHead != "" {
		version = "ledger " + o.Verify.LedgerHead
	}
	doc, err := controls.OSCAL(d.Controls, controls.DocumentOptions{Title: d.Title + ": change-management controls",
		Version: version, Repository: d.Repository, Generated: o.Now})
	if err != nil {
		return err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating the directory of %s: %w", path, err)
		}
	}
	return writeFile(path, doc)
}

// writeFile replaces path with data through a temporary file, so that a
// reader never sees half a report.
func writeFile(path string, data []byte) error {
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
