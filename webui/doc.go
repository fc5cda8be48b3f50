// Package webui is the read-only web UI of cab serve (mounted at /ui/,
// or alone with cab serve --ui-only): an overview, a lifecycle board, a
// change calendar (also as RFC 5545 iCalendar) and one page per ticket,
// each with a JSON twin under /api/v1/.
//
// A Source reads the change repository into a Snapshot: the rows of cab
// log (package audit, through its derived index under .git/cab/), the
// ledger (ledger.ReadAt) for each ticket's events and the causes of
// waits, the ticket files on main for windows and dependencies
// (schema.DecodeMerged, each blob decoded once), and cab.cue's freezes
// (internal/calendar) and post-review deadline. A request never walks
// git: the snapshot is rebuilt only when the main or ledger head moved,
// looked at no more often than Options.Recheck. A ticket page also reads
// the one ticket file at its merge commit.
//
// Invariants:
//
//   - Read-only. Nothing here writes to git (beyond cab log's own index
//     cache) or to any target.
//   - Untrusted text stays text: every page is an html/template with the
//     ticket's fields as data (escaped; URLs filtered, so a
//     "javascript:" link renders inert), every page is sent with a
//     Content-Security-Policy that allows no script and styles only from
//     the served stylesheet, and nothing is loaded from elsewhere. The
//     iCalendar text values are escaped and folded per RFC 5545.
//   - The board places each ticket in one column from cab log's outcome
//     (the ledger's state machine, not a second reading of it); a wait's
//     hold (freeze, error budget, conflict) comes from the cause the
//     reconciler recorded on its scheduled event.
//   - Open emergency post-reviews follow cab check's rule (validate): an
//     emergency ticket signed more than postReviewDays ago that no ticket
//     names in postReviewOf (validate.PostReviewOf). Approval-SLA
//     breaches are cab serve's last poll (Config.SLA, package escalate):
//     the UI never asks the forge itself.
//   - With an Auth, every route answers 401 until the request carries the
//     trusted proxy's header, or basic credentials matching a bcrypt hash.
package webui
