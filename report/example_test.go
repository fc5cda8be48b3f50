package report_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/report"
)

func example() report.Check {
	return report.Check{
		Tool:    "cab",
		Version: "dev",
		Tickets: []report.Ticket{{File: "changes/payments/CHG-2027-0042.cue", ID: "CHG-2027-0042", OK: false}},
		Diagnostics: diag.List{{
			File: "changes/payments/CHG-2027-0042.cue", Line: 14, Column: 9, Path: "window.end",
			Severity: diag.Error, Code: "schema", Message: "must be after window.start",
			Hint: `use RFC 3339 times, e.g. "2026-12-01T22:00:00Z"`,
		}},
	}
}

func ExampleGitHub() {
	// In a workflow step: annotations on stdout, the summary appended to
	// the file named by $GITHUB_STEP_SUMMARY (nil here).
	if err := report.GitHub(os.Stdout, nil, example()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// ::error file=changes/payments/CHG-2027-0042.cue,line=14,col=9,title=cab schema%3A window.end::must be after window.start%0Ahint: use RFC 3339 times, e.g. "2026-12-01T22:00:00Z"
	// ::group::cab check: 1 problem
	// ::stop-commands::cab-f17edce58ce982c97830dd5966348785c9b8a9952849d571d9d2ed99a871c290
	// changes/payments/CHG-2027-0042.cue:14:9: window.end: must be after window.start
	//     hint: use RFC 3339 times, e.g. "2026-12-01T22:00:00Z"
	// ::cab-f17edce58ce982c97830dd5966348785c9b8a9952849d571d9d2ed99a871c290::
	// ::endgroup::
}

func ExampleMarkdown() {
	md := report.Markdown(example())
	// A comment written from it can be found again by its first line.
	fmt.Println(strings.HasPrefix(md, report.Marker))
	fmt.Print(md)
	// Output:
	// true
	// <!-- cab:check -->
	// ### ❌ cab check failed
	//
	// 1 ticket checked: 1 error; 1 of 1 fail. <sub>cab dev</sub>
	//
	// | Ticket | File | Result |
	// | --- | --- | --- |
	// | `CHG-2027-0042` | `changes/payments/CHG-2027-0042.cue` | ❌ 1 error |
	//
	// #### Problems
	//
	// **`changes/payments/CHG-2027-0042.cue`**
	//
	// - ❌ **line 14, col 9**: `window.end`: must be after window\.start\
	//   _hint:_ use RFC 3339 times\, e\.g\. \"2026\-12\-01T22\:00\:00Z\"
}
