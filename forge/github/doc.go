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
// MergeEvidence, for cab sign, first asks which pull requests GitHub
// associates with a commit of the base branch (GET
// /repos/{o}/{r}/commits/{sha}/pulls), then reads each candidate as above.
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
// The client returns forge.Evidence; forge.Evidence.Review binds it to
// the commit judged. A reviewer's state is their latest submitted review
// that is not a plain comment; when it is APPROVED it is reported with its
// commit_id, and it counts only when that is the final head: an approval
// given before the last push does not count, and one followed by a
// request for changes, or dismissed, is not reported. When the caller
// names the commit it checked and the head has moved since, Review fails
// with ErrHeadMoved: the check must run again on the new head.
//
// A merge is evidence only when GitHub records it: MergeEvidence accepts
// a pull request only if it is merged and its merge_commit_sha is the
// commit being signed (a merge commit, a squash commit, the merge-queue
// commit that landed, or one of the commits a rebase merge landed, read
// through forge.FirstParents); merged_by is the merger. A number in the
// commit message is only a hint of which pull request to ask about. No
// record fails with forge.ErrNoMergeRecord.
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
// A merge_group event names its pull request only in GITHUB_REF
// (gh-readonly-queue/<base>/pr-<n>-<parent sha>): EventEvidence reads that
// pull request's evidence and records the group's head, the queue commit
// GitHub will land, as its merge commit.
package github
