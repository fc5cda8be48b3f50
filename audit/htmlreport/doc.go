// Package htmlreport writes cab report --html: a static, self-contained
// HTML page for an audit period, built from the rows cab log reads
// ([]audit.Change), the metrics of audit.ComputeMetrics and the verdict of
// audit.Verify.
//
// The page has a summary (the cab verify verdict, the metrics of the
// period and per service), three charts over time (throughput, lead time,
// failure rate) drawn as inline SVG in Go, the table of changes with links
// to their commits and pull requests, the controls section (package
// controls: which evidence answers each change-management objective, and
// the exceptions found, each linked to its ticket), and the definitions of
// the metrics. WriteOSCAL writes the controls section as OSCAL.
//
// Invariants: the page loads nothing from anywhere (the style sheet is
// embedded and inline, there are no scripts, fonts or images to fetch);
// every value that comes from the history (ticket titles, names, reasons,
// links) is escaped by html/template, so a ticket titled "<script>…" shows
// as text; and the page's Content-Security-Policy allows only its own
// style sheet, so that even a missed escape could not run a script.
// report.json beside index.html holds the same data for machines.
package htmlreport
