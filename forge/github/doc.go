// Package github reads the review evidence of a pull request from the
// GitHub REST API and reports cab's verdict back to it, over net/http.
//
// # What it reads
//
// Review makes three reads, each needing `pull-requests: read`:
//
//   - GET /repos/{o}/{r}/pulls/{n}: the author, the head commit, the
//     labels, the page address and the number of commits;
//   - GET /repos/{o}/{r}/pulls/{n}/reviews: every submitted review;
//   - GET /repos/{o}/{r}/pulls/{n}/commits: the accounts behind each commit.
//
// SetStatus posts the "cab/check" commit status (`statuses: write`);
// UpsertComment keeps one comment up to date (`pull-requests: write`).
// EventFromEnv reads the Actions run's event so that the check runs on the
// pull request's head, not on the merge commit in GITHUB_SHA.
//
// # Trust rules
//
// Identities are stable account ids, "github:<numeric id>", never logins
// (which can be renamed and then taken by someone else) and never names or
// e-mail addresses from a ticket or from git.
//
// Approvals count only for the current head. A reviewer's state is their
// latest submitted review that is not a plain comment; it approves only
// when it is APPROVED and its commit_id is the head commit. An approval
// given before the last push, one followed by a request for changes, and
// a dismissed one are not reported. When the caller names the commit it
// checked and the head has moved since, Review fails with ErrHeadMoved:
// the check must run again on the new head.
//
// The client reports what GitHub says; it does not judge. The author's
// own approval, if GitHub ever records one, is reported like any other:
// the policies exclude the author and the pushers.
//
// Every listing is paginated through the Link header and bounded by
// MaxPages; a longer listing is an error, never a truncated answer. The
// next-page link is followed only to the host of BaseURL, so the token
// never leaves the API it was meant for.
//
// # Limitations
//
// GitHub does not say who pushed to a pull request. Pushers are the
// accounts GitHub associates with each commit's author and committer
// e-mail addresses; commits whose addresses belong to no account add
// nobody, and "web-flow" (WebFlowUserID, the committer of changes made in
// the web interface) is never a pusher. A pusher who writes someone else's
// address into their commits is therefore not seen as a pusher: the list
// is the best the API offers, not proof of who pushed. A pull request with
// more commits than GitHub lists (250) fails instead of being judged on a
// partial list.
//
// A merge_group event has no pull request number, so there is no Review
// to read for it: the caller decides how a merge group is gated (the
// merge queue admits only pull requests whose required checks passed).
package github
