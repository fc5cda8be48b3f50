// Package policy evaluates a change repository's policies (policy/*.cue)
// against one ticket at a time.
//
// A policy is a CUE file that sees one value, input (the ticket as
// exported JSON, the review evidence, the repository configuration, the
// time, the freeze calendar and the changed files), and produces
//
//	deny: [...string | {msg: string, path?: string, hint?: string}]
//	warn: [...string | {msg: string, path?: string, hint?: string}]
//
// like conftest's deny[msg]. Each file is compiled and evaluated on its
// own, so one broken policy cannot hide another's verdict, and every
// finding carries the position of the rule that produced it. A policy may
// import the CUE standard library only.
//
// Evaluation errors are never "no violations": a policy whose deny list is
// not concrete, or that fails to evaluate, yields an error finding. CUE
// has no cancellation or memory bound, so callers that evaluate untrusted
// input run this package in a child process (see internal/sandbox).
//
// The default policy set (Defaults) is what `cab init` writes and what
// `cab check` applies to a ticket outside any change repository.
package policy
