package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/plan"
	"github.com/cabhq/cab/report"
	"github.com/cabhq/cab/validate"
)

// writeReport renders rep in the chosen format. Every format's exit code is
// the same: the caller decides it from rep.
func (o *checkOptions) writeReport(w io.Writer, rep *validate.Report, took time.Duration) error {
	// CI systems name files relative to the repository root: the pull
	// request gate's paths already are (they come from git trees); local
	// paths are relative to the working directory and are rebased.
	c := checkOf(rep)
	if !o.pr {
		c = report.RepoRelative(c, ".")
	}
	switch o.Format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		doc := jsonReport(rep)
		doc.Plan = o.plan
		return enc.Encode(doc)
	case "github":
		return writeGitHub(w, c, o.plan)
	case "sarif":
		return report.SARIF(w, c)
	case "gitlab":
		if err := writeGitLab(o.ReportDir, c); err != nil {
			return err
		}
	}
	if o.plan != nil {
		var b strings.Builder
		if err := plan.WriteText(&b, o.plan); err != nil {
			return err
		}
		// Fenced in CI like the rest: the plan quotes ticket and target text.
		if err := writeFenced(w, b.String(), os.Getenv("GITHUB_ACTIONS") == "true"); err != nil {
			return err
		}
	}
	return writeText(w, rep, took, os.Getenv("GITHUB_ACTIONS") == "true")
}

// writeText prints the compiler-style report. Inside GitHub Actions the
// text, which quotes what tickets say, is fenced so that the runner does
// not execute a "::command::" a ticket smuggles in.
func writeText(w io.Writer, rep *validate.Report, took time.Duration, actions bool) error {
	var b strings.Builder
	if err := diag.WriteText(&b, rep.Diagnostics); err != nil {
		return err
	}
	warnings := len(rep.Diagnostics) - rep.Errors()
	fmt.Fprintf(&b, "%d ticket(s) checked: %d error(s), %d warning(s) in %s\n",
		len(rep.Tickets), rep.Errors(), warnings, took.Round(time.Millisecond))
	return writeFenced(w, b.String(), actions)
}

// writeFenced writes text, fenced inside GitHub Actions so that the runner
// does not execute a "::command::" it quotes.
func writeFenced(w io.Writer, text string, actions bool) error {
	if actions {
		sum := sha256.Sum256([]byte(text))
		token := "cab-" + hex.EncodeToString(sum[:8])
		text = "::stop-commands::" + token + "\n" + text + "::" + token + "::\n"
	}
	_, err := io.WriteString(w, text)
	return err
}

// writeGitHub writes workflow annotations to w and the Markdown summary to
// $GITHUB_STEP_SUMMARY when it is set.
func writeGitHub(w io.Writer, c report.Check, p *plan.Plan) error {
	var summary io.Writer
	if name := os.Getenv("GITHUB_STEP_SUMMARY"); name != "" {
		f, err := os.OpenFile(name, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("opening $GITHUB_STEP_SUMMARY: %w", err)
		}
		defer f.Close()
		summary = f
	}
	if err := report.GitHub(w, summary, c); err != nil || p == nil || summary == nil {
		return err
	}
	_, err := io.WriteString(summary, "\n"+plan.Markdown(p))
	return err
}

// writeGitLab writes the Code Quality and JUnit reports GitLab shows in
// the merge request widget.
func writeGitLab(dir string, c report.Check) error {
	for name, write := range map[string]func(io.Writer, report.Check) error{
		"cab-codequality.json": report.GitLabCodeQuality,
		"cab-junit.xml":        report.JUnit,
	} {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		if err := write(f, c); err != nil {
			f.Close()
			return fmt.Errorf("writing %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}

// checkOf is a report as the CI formats see it, with '/'-separated paths.
func checkOf(rep *validate.Report) report.Check {
	c := report.Check{Tool: "cab", Version: buildVersion().Version}
	for _, t := range rep.Tickets {
		c.Tickets = append(c.Tickets, report.Ticket{File: filepath.ToSlash(t.File), ID: t.ID, OK: t.Diags.Errors() == 0})
	}
	for _, d := range rep.Diagnostics {
		d.File = filepath.ToSlash(d.File)
		d.Rule = filepath.ToSlash(d.Rule)
		c.Diagnostics = append(c.Diagnostics, d)
	}
	return c
}

// jsonDoc is the stable JSON form of a check report.
type jsonDoc struct {
	OK          bool              `json:"ok"`
	Tickets     []jsonTicket      `json:"tickets"`
	Diagnostics []diag.Diagnostic `json:"diagnostics"`
	Errors      int               `json:"errors"`
	Warnings    int               `json:"warnings"`
	// Plan is what the added tickets would change (--plan).
	Plan *plan.Plan `json:"plan,omitempty"`
}

type jsonTicket struct {
	File string `json:"file"`
	ID   string `json:"id,omitempty"`
	OK   bool   `json:"ok"`
}

func jsonReport(rep *validate.Report) jsonDoc {
	doc := jsonDoc{
		OK:          rep.Errors() == 0,
		Tickets:     []jsonTicket{},
		Diagnostics: rep.Diagnostics,
		Errors:      rep.Errors(),
		Warnings:    len(rep.Diagnostics) - rep.Errors(),
	}
	if doc.Diagnostics == nil {
		doc.Diagnostics = diag.List{}
	}
	for _, t := range rep.Tickets {
		doc.Tickets = append(doc.Tickets, jsonTicket{File: t.File, ID: t.ID, OK: t.Diags.Errors() == 0})
	}
	return doc
}
