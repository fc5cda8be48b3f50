package report

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/cabhq/cab/internal/diag"
)

// Marker is the first line of Markdown output: an HTML comment that does
// not render and by which a pull request comment written from it can be
// found again and updated. Look for it at the start of a comment only;
// the rest of the text quotes ticket content.
const Marker = "<!-- cab:check -->"

const (
	// StepSummaryLimit is the size GitHub allows a step summary, in bytes.
	StepSummaryLimit = 1 << 20
	// GitHubCommentLimit is the size GitHub allows an issue or pull request
	// comment: 65,536 characters, taken here as bytes, which is never more.
	GitHubCommentLimit = 65536
	// minLimit is the smallest limit MarkdownLimit honours.
	minLimit = 4096
	// noteReserve is the room kept for the notes on what was left out.
	noteReserve = 1024
	// textLimit caps each message and hint, in bytes.
	textLimit = 4000
)

// Markdown renders c as GitHub-flavoured Markdown, as written to the step
// summary: the Marker, a verdict with the counts, a table of the tickets
// and the problems grouped by file, with their lines and hints. It is at
// most StepSummaryLimit bytes long; see MarkdownLimit.
func Markdown(c Check) string { return MarkdownLimit(c, StepSummaryLimit) }

// MarkdownLimit is Markdown within limit bytes (at least 4096), for a
// place that takes less than a step summary, such as a GitHub comment
// (GitHubCommentLimit). When everything does not fit, it leaves out
// first the rows of tickets without problems, then the tail of the
// problems and of the table, sharing the room between them, and says how
// many of each it left out. Each message and hint is cut at 4,000 bytes.
//
// Text from tickets and policies is escaped so that it cannot add
// headings, links, images or HTML, nor break the table; mentions and bare
// URLs are still linked by GitHub, as anywhere in a pull request.
func MarkdownLimit(c Check, limit int) string {
	return markdown(newView(c), limit)
}

// mdItem is one problem of the Markdown list; group is the heading of its
// file when it is the first problem of the file.
type mdItem struct{ group, text string }

func (it mdItem) size() int { return len(it.group) + len(it.text) }

func markdown(v *view, limit int) string {
	limit = max(limit, minLimit)
	var all, problems []string // rows of all tickets, of tickets with problems
	for _, t := range v.tickets {
		row := mdRow(t)
		all = append(all, row)
		if t.failed || t.errors+t.warnings > 0 {
			problems = append(problems, row)
		}
	}
	var items []mdItem
	for _, f := range v.files {
		for i, d := range v.byFile[f] {
			it := mdItem{text: mdProblem(d)}
			if i == 0 {
				it.group = "\n**" + mdCode(f) + "**\n\n"
			}
			items = append(items, it)
		}
	}

	out := mdCompose(v, limit, all, len(all), items)
	if len(out) <= limit {
		return out
	}
	budget := limit - len(mdCompose(v, limit, nil, 0, nil)) - noteReserve
	needT, needP := total(problems, func(s string) int { return len(s) }), total(items, mdItem.size)
	if needT+needP > budget {
		var roomT, roomP int
		switch half := budget / 2; {
		case needP <= half:
			roomT, roomP = budget-needP, needP
		case needT <= half:
			roomT, roomP = needT, budget-needT
		default:
			roomT, roomP = half, budget-half
		}
		problems = problems[:fit(problems, roomT, func(s string) int { return len(s) })]
		items = items[:fit(items, roomP, mdItem.size)]
	}
	return mdCompose(v, limit, problems, len(all), items)
}

// mdCompose puts the summary together from the table rows and problem
// items to show; tickets and v tell how many were left out.
func mdCompose(v *view, limit int, rows []string, tickets int, items []mdItem) string {
	var b strings.Builder
	b.WriteString(Marker)
	b.WriteByte('\n')
	verdict, mark := "passed", "✅"
	if !v.ok() {
		verdict, mark = "failed", "❌"
	}
	fmt.Fprintf(&b, "### %s %s check %s\n\n", mark, mdText(v.tool), verdict)
	fmt.Fprintf(&b, "%s checked: ", plural(len(v.tickets), "ticket"))
	switch {
	case len(v.diags) == 0:
		b.WriteString("no problems")
	default:
		b.WriteString(counts(v.errors, v.warnings))
	}
	if v.failing > 0 {
		fmt.Fprintf(&b, "; %d of %d fail", v.failing, len(v.tickets))
	}
	fmt.Fprintf(&b, ". <sub>%s</sub>\n", mdText(strings.TrimSpace(v.tool+" "+v.version)))

	if len(v.tickets) > 0 {
		b.WriteString("\n| Ticket | File | Result |\n| --- | --- | --- |\n")
		for _, r := range rows {
			b.WriteString(r)
		}
		if left := tickets - len(rows); left > 0 {
			withProblems := 0
			for _, t := range v.tickets {
				if t.failed || t.errors+t.warnings > 0 {
					withProblems++
				}
			}
			withProblems -= len(rows)
			if withProblems <= 0 {
				fmt.Fprintf(&b, "\n_%s without problems not listed, to keep this summary under %s._\n",
					plural(left, "ticket"), size(limit))
			} else {
				fmt.Fprintf(&b, "\n_%s not listed (%d with problems), to keep this summary under %s._\n",
					plural(left, "more ticket"), withProblems, size(limit))
			}
		}
	}

	if len(v.diags) > 0 {
		b.WriteString("\n#### Problems\n")
		for _, it := range items {
			b.WriteString(it.group)
			b.WriteString(it.text)
		}
		if left := len(v.diags) - len(items); left > 0 {
			fmt.Fprintf(&b, "\n_%s not shown, to keep this summary under %s; the job log lists them all._\n",
				plural(left, "more problem"), size(limit))
		}
	}
	return b.String()
}

// mdRow is the table row of a ticket.
func mdRow(t ticketView) string {
	id := "—"
	if t.ID != "" {
		id = mdCell(t.ID)
	}
	var result string
	switch {
	case t.failed && t.errors+t.warnings == 0:
		result = "❌ fails"
	case t.failed:
		result = "❌ " + counts(t.errors, t.warnings)
	case t.warnings > 0:
		result = "⚠️ " + counts(0, t.warnings)
	default:
		result = "✅ passes"
	}
	return "| " + id + " | " + mdCell(t.File) + " | " + result + " |\n"
}

// mdProblem is the list item of a diagnostic.
func mdProblem(d diag.Diagnostic) string {
	var b strings.Builder
	if isError(d) {
		b.WriteString("- ❌ ")
	} else {
		b.WriteString("- ⚠️ ")
	}
	switch {
	case d.Line > 0 && d.Column > 0:
		fmt.Fprintf(&b, "**line %d, col %d**: ", d.Line, d.Column)
	case d.Line > 0:
		fmt.Fprintf(&b, "**line %d**: ", d.Line)
	}
	if d.Path != "" && !strings.HasPrefix(d.Message, d.Path+":") {
		b.WriteString(mdCode(d.Path))
		b.WriteString(": ")
	}
	b.WriteString(mdLines(clip(d.Message, textLimit)))
	if d.Hint != "" {
		b.WriteString("\\\n  _hint:_ ")
		b.WriteString(mdLines(clip(d.Hint, textLimit)))
	}
	if d.Rule != "" {
		b.WriteString("\\\n  _rule:_ ")
		b.WriteString(mdCode(clip(d.Rule, textLimit)))
	}
	b.WriteByte('\n')
	return b.String()
}

// mdText escapes s as Markdown text on one line: every ASCII punctuation
// character gets a backslash, so that none starts markup, an entity or
// HTML, and control characters (line breaks too) become spaces.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80 && (unicode.IsPunct(r) || unicode.IsSymbol(r)):
			b.WriteByte('\\')
			b.WriteRune(r)
		case unicode.IsControl(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdLines escapes s as Markdown text inside a list item, keeping its
// non-blank lines apart with hard line breaks.
func mdLines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var lines []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, mdText(l))
		}
	}
	return strings.Join(lines, "\\\n  ")
}

// mdCode renders s as a code span on one line, fenced with more backticks
// than s holds in a row.
func mdCode(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	run, longest := 0, 0
	for i := range len(s) {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	// A code span loses one space at each end when it has one at both,
	// and cannot start or end with a backtick: pad both ends in either case.
	if s[0] == '`' || s[len(s)-1] == '`' || s[0] == ' ' || s[len(s)-1] == ' ' {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdCell renders s as a code span in a table cell, where a pipe ends the
// cell unless escaped, even inside a code span.
func mdCell(s string) string { return strings.ReplaceAll(mdCode(s), "|", `\|`) }

// size formats a limit for the notes: "1 MiB", "64 KiB", "5000 bytes".
func size(n int) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

func total[T any](xs []T, size func(T) int) int {
	n := 0
	for _, x := range xs {
		n += size(x)
	}
	return n
}

// fit is the length of the longest prefix of xs within room.
func fit[T any](xs []T, room int, size func(T) int) int {
	for i, x := range xs {
		if room -= size(x); room < 0 {
			return i
		}
	}
	return len(xs)
}
