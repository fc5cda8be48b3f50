// Package redact scrubs credentials out of text that came from servers
// (error bodies, echoed headers, remote messages) and bounds its length,
// before that text reaches the ledger, a log, a PR comment or any other
// output.
//
// The ledger is append-only: a secret written there can never be removed.
// So every place where text from outside cab is turned into something cab
// writes passes it through a Redactor first: target drivers and checks
// wrap their errors with Error, the reconciler's event-data encoder runs
// String as a last line, and the logs of cab serve and cab reconcile go
// through Handler.
//
// What is scrubbed (each replaced by Placeholder, keeping what names it):
//
//   - values of credential headers and fields: Authorization,
//     Proxy-Authorization, Private-Token, X-Gitlab-Token, Job-Token,
//     X-Api-Key, Cookie, Set-Cookie, and key=value or "key": "value" pairs
//     whose key names a password, secret, token or API key;
//   - bearer tokens wherever they appear;
//   - known token formats: GitHub (ghp_, gho_, ghu_, ghs_, ghr_,
//     github_pat_), GitLab (glpat- and the other gl…- prefixes), AWS access
//     key ids (AKIA…, ASIA…), Slack (xoxa-, xoxb-, xoxp-, …, xapp-), JSON
//     Web Tokens, Google API keys, npm tokens and PEM private keys;
//   - credentials in URLs (scheme://user:password@host);
//   - the secrets cab itself holds (its tokens and webhook secrets),
//     registered with New at start-up, as they are and URL-escaped.
//
// Invariants:
//
//   - A registered secret never survives String, Scrub or a Handler,
//     wherever it sits in the input (unless it is a substring of
//     Placeholder, which New refuses).
//   - Scrubbing happens before bounding, so a cut never leaves the start
//     of a credential the scrubber would have caught whole.
//   - String's result is valid UTF-8 of at most its bound plus the
//     ellipsis; only the first ScanLimit bytes of the input are read.
//   - A Redactor is immutable; a nil *Redactor scrubs the known formats
//     only. The package holds no mutable state.
package redact
