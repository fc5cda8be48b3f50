// Package escalate finds what people must be told that no reconcile step
// reports, and tells them through package notify: open pull requests
// waiting past their approval SLA (PollSLA, run by cab serve
// --sla-interval) and emergency changes whose post-incident review is due
// or overdue (PostReviews, run by cab serve after each pass).
//
// A Forge is a forge's API as these polls and the outcome comment
// (notify.Commenter, which posts through Forge.Comment) see it; GitHub and
// GitLab adapt the clients of forge/github and forge/gitlab.
//
// Invariants:
//   - No second rule. Whether a pull request breaches its SLA is the
//     gate's verdict: PollSLA runs validate.CheckPR on the pull request's
//     head (fetched from the forge's head ref into the checkout) with the
//     forge's evidence, exactly as cab check --base --head (pull-request mode) does, and notifies only
//     when it warns (validate.SLAWarning); how far the breach has gone is
//     model.SLA.Level. When a post-review is due and whether it is done
//     is validate.PostReviewOf.
//   - Once per pull request and level, once per ticket and kind: events
//     carry ids (notify.SLAEventID, PostReviewEventID) that the notifier's
//     state deduplicates across polls and restarts.
//   - A forge that is down fails the poll (logged by the caller, tried
//     again next interval); it never blocks or fails a reconcile pass.
//   - Read-only: the polls write nothing but refs/cab/pull/* (the fetched
//     heads, pruned when their pull request closes) and notify's state.
package escalate
