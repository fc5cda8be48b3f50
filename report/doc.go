// Package report renders the result of a cab check for CI systems.
//
// Every writer is a pure function of a [Check]: the tickets checked and
// the diagnostics found, with paths relative to the repository root and
// '/'-separated, since that is how GitHub and GitLab name files
// ([RepoRelative] rebases paths named from any working directory onto the
// root of their git work tree; it is the one function here that reads the
// file system). The
// writers sort the diagnostics and drop exact duplicates (as
// [diag.List.Sort] does) without changing the Check, and the same Check
// gives the same bytes every time.
//
// # Formats
//
// [GitHub] writes workflow commands for GitHub Actions on the step's
// stdout: one ::error or ::warning annotation per diagnostic, shown on the
// file and line in the pull request and in the run's summary. GitHub shows
// at most 10 error and 10 warning annotations per step (50 per job), so
// the full list follows, in the compiler form the command line prints,
// inside a collapsed ::group::. Ticket content is quoted in messages:
// property values are escaped for '%', CR, LF, ':' and ',', messages for
// '%', CR and LF, and the plain list is printed with workflow commands
// stopped (::stop-commands::) so that no line of it runs as a command.
//
// [Markdown] is the step summary ($GITHUB_STEP_SUMMARY) and the body of a
// pull or merge request comment: a [Marker] to find the comment again, a
// verdict with counts, a table of tickets and the problems by file with
// lines and hints. GitHub takes at most 1 MiB per step summary and 65,536
// characters per comment; [MarkdownLimit] fits the text within a size and
// says how much it left out. Text from tickets is escaped so that it cannot
// add markup.
//
// [GitLabCodeQuality] writes a Code Quality report
// (artifacts:reports:codequality): GitLab shows the issues in the merge
// request widget and, for changed lines, in the diff. Issues are matched
// across pipelines by fingerprint, which does not depend on the line.
//
// [JUnit] writes a JUnit XML report (artifacts:reports:junit): one test
// case per ticket, named after its file whether it passes or fails, which
// GitLab shows in the merge request widget and the pipeline's Tests tab,
// with the diagnostics as the failure text. It is valid against Jenkins'
// junit-10.xsd but for testcase/@file, which GitLab reads.
//
// [SARIF] writes a SARIF 2.1.0 log, for GitHub code scanning and other
// viewers: one result per diagnostic, one rule per code, every rule with
// the fullDescription and help that code scanning shows. The log is valid
// against the OASIS SARIF 2.1.0 schema (checked by make conformance).
//
// # Limits
//
// Lines and columns are cab's: 1-based, columns counting bytes (SARIF
// viewers assume UTF-16 units; the two differ only on non-ASCII lines). A
// diagnostic without a line is a file-level annotation on GitHub, sits on
// line 1 in Code Quality and has no region in SARIF. GitLab Code Quality
// and JUnit have no column. Messages and hints longer than 4,000 bytes are
// cut in Markdown only.
package report
