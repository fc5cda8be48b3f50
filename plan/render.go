package plan

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints the plan for a terminal or a CI log: per ticket and
// environment, one line per action, the diff of git values indented
// under it, then the problems.
func WriteText(w io.Writer, p *Plan) error {
	var b strings.Builder
	for _, t := range p.Tickets {
		fmt.Fprintf(&b, "%s", t.ID)
		if t.File != "" {
			fmt.Fprintf(&b, " (%s)", t.File)
		}
		b.WriteString("\n")
		for _, e := range t.Envs {
			fmt.Fprintf(&b, "  %s:\n", e.Name)
			for _, a := range e.Actions {
				fmt.Fprintf(&b, "    [%s] %s\n", a.State, a.Line)
				for _, l := range strings.Split(strings.TrimSuffix(a.Diff, "\n"), "\n") {
					if l != "" {
						fmt.Fprintf(&b, "        %s\n", l)
					}
				}
				if a.Call != nil {
					fmt.Fprintf(&b, "        calls %s %s", a.Call.Method, a.Call.URL)
					if a.Call.Body != "" {
						fmt.Fprintf(&b, " with %s", a.Call.Body)
					}
					b.WriteString("\n")
				}
			}
		}
		for _, pr := range t.Problems {
			fmt.Fprintf(&b, "  problem: %s\n", pr.Message)
			if pr.Hint != "" {
				fmt.Fprintf(&b, "      hint: %s\n", pr.Hint)
			}
		}
	}
	fmt.Fprintf(&b, "%d ticket(s) planned, %d problem(s)\n", len(p.Tickets), p.Problems())
	_, err := io.WriteString(w, b.String())
	return err
}

// Markdown renders the plan for a job summary or a pull-request comment:
// one table per ticket (environment, what, from, to). Values from tickets
// and targets are shown as code, so that they cannot add markup.
func Markdown(p *Plan) string {
	var b strings.Builder
	b.WriteString("### Plan: what would change\n\n")
	if len(p.Tickets) == 0 {
		b.WriteString("No ticket added.\n")
	}
	for _, t := range p.Tickets {
		fmt.Fprintf(&b, "**%s**\n\n| environment | what | state | from | to |\n|---|---|---|---|---|\n", code(t.ID))
		for _, e := range t.Envs {
			for _, a := range e.Actions {
				from := a.From
				if a.State == StateUnknown {
					from = "unknown (" + a.Why + ")"
				}
				to := a.To
				if a.Call != nil {
					to = a.Call.Method + " " + a.Call.URL + " " + a.Call.Body
				}
				fmt.Fprintf(&b, "| %s | %s %s | %s | %s | %s |\n", code(e.Name), a.Type, code(a.Subject), a.State, code(from), code(to))
			}
		}
		for _, pr := range t.Problems {
			fmt.Fprintf(&b, "\n- :warning: %s", code(pr.Message))
			if pr.Hint != "" {
				fmt.Fprintf(&b, " — %s", code(pr.Hint))
			}
		}
		b.WriteString("\n\n")
	}
	return b.String()
}

// code shows s as inline code within a table cell: backticks and pipes
// cannot end it, newlines cannot break the row.
func code(s string) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("`", "'", "|", "\\|", "\r", " ", "\n", " ").Replace(s)
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return "`" + s + "`"
}
