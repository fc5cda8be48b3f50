// Package gitlab reads the review evidence of a merge request from the
// GitLab REST API (v4, through gitlab.com/gitlab-org/api/client-go) and
// reports cab's verdict back to it.
//
// # What it reads
//
// Review makes four reads, each needing a token with scope read_api whose
// user has at least the Reporter role:
//
//   - the merge request: author, head commit (sha), labels, web_url;
//   - its approvals (approved_by);
//   - its diff versions: the newest one is the current head, created when
//     GitLab processed the push;
//   - its notes, system notes included.
//
// MergeEvidence, for cab sign, first asks which merge requests GitLab
// associates with a commit of the target branch (GET
// /projects/:id/repository/commits/:sha/merge_requests), then reads each
// candidate as above.
//
// SetCommitStatus posts the "cab/check" commit status and UpsertNote keeps
// one note up to date; both need scope api. CI_JOB_TOKEN cannot read
// approvals: use a project or group access token. EventFromEnv reads a
// merge request pipeline's predefined variables.
//
// The client is made with retries off: the gate fails fast with the
// reason, and a CI job is cheap to re-run.
//
// # Trust rules
//
// Identities are stable user ids, "gitlab:<numeric id>", never usernames
// or display names.
//
// Approvals count only for the current head. GitLab records who approved
// but not which commit they saw, and it keeps approvals across pushes
// unless the project resets them. So Review ties approvals to heads by
// time: the newest diff version must be of the head commit (otherwise
// GitLab has not finished processing the push, and Review fails with
// ErrHeadMoved), and a user in approved_by is reported as approving the
// head of the newest diff version created at or before their latest
// "approved this merge request" system note; forge.Evidence.Review counts
// it only when that is the final head. A user with no such note is not
// reported. When the caller names the commit it checked and the head has
// moved since, Review fails with ErrHeadMoved.
//
// A merge is evidence only when GitLab records it: MergeEvidence accepts a
// merge request only if its state is merged, it records who merged it
// (merge_user, or merged_by), and the commit being signed is its
// merge_commit_sha (merge trains land it too) or squash_commit_sha, or,
// when it has neither (a fast-forward merge), one of its own commits. A
// number in the commit message is only a hint. No record fails with
// forge.ErrNoMergeRecord.
//
// System notes are written by GitLab itself, never by users, so their
// author and time are evidence; user notes are never read as such.
//
// The client reports; it does not judge: an author who approves their own
// merge request (where the project allows it) is reported as an approver,
// and the policies exclude them.
//
// Every listing is paginated (X-Next-Page) and bounded by MaxPages; a
// longer listing is an error, never a truncated answer.
//
// # Limitations
//
// GitLab does not expose who pushed to a merge request, and commit authors
// are e-mail addresses that cannot be mapped to users reliably. Pushers
// are therefore the author plus the authors of the "added N commits"
// system notes, which GitLab writes as the user who pushed. Pushes made
// before the merge request was opened, and pushes that only removed
// commits, leave no such note: those pushers are not seen.
//
// Approval times come from system notes; an instance that prunes notes, or
// approvals imported without notes, yield no counted approvals (the safe
// direction).
package gitlab
