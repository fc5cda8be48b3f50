// Package synth generates synthetic change repositories for benchmarks:
// a cab.cue declaring services, approver groups, environments, freezes
// and templates; the default policy set; thousands of tickets under
// changes/<service>/<id>.cue; and, optionally, a git history of pull
// requests merged with Approved-by: trailers.
//
// Invariants:
//   - Deterministic: the same Options (seed included) give byte-identical
//     files and, with history, identical commit ids.
//   - Valid: every ticket of the final tree passes the schema and the
//     default policies, so `cab check DIR` exits 0 (warnings about closed
//     windows and pending approvals are expected in local mode). Windows
//     of non-emergency tickets never overlap a freeze; dependsOn,
//     supersedes and cancels only name tickets merged before.
//   - Realistic in shape: 45 to 50 lines per ticket; oci, git and http
//     actions; http and prometheus checks; automatic and explicit
//     rollback; standard changes from templates, normal changes, and
//     emergency changes with incidents; a skewed spread of tickets over
//     services and of pull requests over authors.
//   - History is written with one `git fast-import` stream, never commit
//     by commit. Every commit on a pull request branch adds or edits 1 to
//     3 tickets of that pull request; tickets are never edited after
//     their merge. The first-parent line of main is the initial commit
//     followed by merge commits.
//
// Identities are stable GitHub ids: person i is "github:<1001+i>", and
// commits use the GitHub noreply address "<id>+<login>@users.noreply.github.com",
// so the id can be read back from an Approved-by: trailer.
//
// Keys: cab.cue trusts two Ed25519 keys derived from the seed, one with
// role "sign" and one with role "reconcile", and Generate writes their
// private halves unencrypted beside the files as
// .bench-keys/BENCH-ONLY-INSECURE-*.key (a hidden directory `cab check`
// does not scan, excluded from git, never committed), so that benchmarks sign with a key
// cab.cue trusts and verify every signature. They are public test keys.
//
// Generate caches: a directory whose stamp file records the same Options
// and generator version is reused as is.
package synth
