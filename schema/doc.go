// Package schema embeds cab's CUE schema (the #Ticket of a change and the
// #Config of a change repository's cab.cue) and turns ticket files into
// validated, concrete data. The Go types it decodes into live in package
// model, which links no CUE, so code that only reads tickets and
// configuration does not pay for the evaluator.
//
// Tickets are data, not code. ParseTicket first proves that a ticket file
// is plain CUE data (no package clause, imports, references,
// comprehensions, interpolations, definitions, defaults or disjunctions),
// then unifies it at a fixed path with the closed #Ticket, validates it
// concretely and exports it to canonical JSON. Only that JSON ever reaches
// a policy, so a ticket can neither override a policy's defaults nor leave
// a value open that a rule would silently skip.
//
// ParseConfig also checks what #Config cannot say in CUE, each with its
// position: among them, a trusted key is a public key or a keyless
// identity (exactly one), a keyless identity names its subject exactly or
// by a regexp that compiles (and is always matched anchored, see
// Keyless.AnchoredSubjectRegexp), and signs tickets only.
//
// A Schema is compiled once per cue.Context and is not safe for concurrent
// use: give each goroutine its own context and Schema.
package schema
