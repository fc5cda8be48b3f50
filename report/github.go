package report

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cabhq/cab/internal/diag"
)

// GitHub writes c for GitHub Actions. On annotations (the step's stdout)
// it writes one ::error or ::warning workflow command per diagnostic,
// which GitHub shows on the file and line and in the run's summary, and
// then, since GitHub shows only ten error and ten warning annotations per
// step, every diagnostic again as plain "file:line:col: message" lines in
// a collapsed group, with workflow commands switched off around them.
// Nothing is written there when there are no diagnostics.
//
// On summary (the file named by $GITHUB_STEP_SUMMARY) it writes
// Markdown(c). Either writer may be nil to leave that part out.
func GitHub(annotations, summary io.Writer, c Check) error {
	v := newView(c)
	if annotations != nil {
		if err := writeAnnotations(annotations, v); err != nil {
			return fmt.Errorf("writing annotations: %w", err)
		}
	}
	if summary != nil {
		if _, err := io.WriteString(summary, markdown(v, StepSummaryLimit)); err != nil {
			return fmt.Errorf("writing step summary: %w", err)
		}
	}
	return nil
}

func writeAnnotations(w io.Writer, v *view) error {
	if len(v.diags) == 0 {
		return nil
	}
	bw := bufio.NewWriter(w)
	for _, d := range v.diags {
		bw.WriteString(annotation(v.tool, d))
		bw.WriteByte('\n')
	}

	// The full list, as the command line prints it. Messages quote ticket
	// content, which could hold a line like "::add-mask::..." or
	// "::endgroup::": the runner must not take any of it for a command.
	// stop-commands turns commands off until a token; the token is the
	// hash of the text, which that text cannot contain.
	var list bytes.Buffer
	if err := diag.WriteText(&list, v.diags); err != nil {
		return err
	}
	sum := sha256.Sum256(list.Bytes())
	token := "cab-" + hex.EncodeToString(sum[:])
	all := "all " + plural(len(v.diags), "problem")
	if len(v.diags) == 1 {
		all = "1 problem"
	}
	fmt.Fprintf(bw, "::group::%s check: %s\n", escapeData(v.tool), all)
	fmt.Fprintf(bw, "::stop-commands::%s\n", token)
	bw.Write(list.Bytes())
	fmt.Fprintf(bw, "::%s::\n", token)
	bw.WriteString("::endgroup::\n")
	return bw.Flush()
}

// annotation formats d as a workflow command:
// ::error file=F,line=L,col=C,title=T::MESSAGE
func annotation(tool string, d diag.Diagnostic) string {
	var b strings.Builder
	b.WriteString("::")
	if isError(d) {
		b.WriteString("error")
	} else {
		b.WriteString("warning")
	}
	b.WriteString(" file=")
	b.WriteString(escapeProperty(d.File))
	if d.Line > 0 {
		b.WriteString(",line=")
		b.WriteString(strconv.Itoa(d.Line))
		if d.Column > 0 {
			b.WriteString(",col=")
			b.WriteString(strconv.Itoa(d.Column))
		}
	}
	title := tool + " " + code(d)
	if d.Path != "" {
		title += ": " + d.Path
	}
	b.WriteString(",title=")
	b.WriteString(escapeProperty(title))
	b.WriteString("::")
	msg := d.Message
	if d.Hint != "" {
		msg += "\nhint: " + d.Hint
	}
	if d.Rule != "" {
		msg += "\nrule: " + d.Rule
	}
	b.WriteString(escapeData(msg))
	return b.String()
}

var (
	dataEscaper     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	propertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

// escapeData escapes the message of a workflow command as the Actions
// toolkit does (escapeData in @actions/core): %, CR and LF.
func escapeData(s string) string { return dataEscaper.Replace(s) }

// escapeProperty escapes a property value of a workflow command as the
// Actions toolkit does (escapeProperty): %, CR, LF, ':' and ','.
func escapeProperty(s string) string { return propertyEscaper.Replace(s) }
