// Package git reads review evidence from plain git, for self-hosted
// repositories without a forge API: identities are "git:<email>", and
// everyone who authored or committed a commit of the change is a pusher.
//
// # What counts
//
// The approvals are the Approved-by trailers of the change's head, and
// they count only when the head is a merge commit (two or more parents)
// whose first parent is the base, signed with SSH (git's gpg.format=ssh)
// or OpenPGP by a key that the mergeSigners of the BASE cab.cue list, by
// a signer who is neither the author nor the committer of any commit the
// merge brings in. The signer is the merger, and forge.Evidence.Review
// never counts the merger as an approver. Trailers on an ordinary commit,
// a fast-forward, an unsigned merge, or a merge signed by a key the base
// does not list yield no approval and a reason (Evidence.Reasons).
//
// # What that proves, and what it does not
//
// A counted approval proves that a holder of a listed signing key signed
// this exact merge commit (its tree, parents and message) and wrote the
// approvers' names into it. It does not prove that the approvers saw or
// agreed to the change: the signer vouches for them. Commit authors are
// e-mail addresses anyone can write, so "the signer wrote none of the
// commits" holds only for commits that name the signer honestly. Prefer a
// forge's approvals where there is one.
//
// SSH signatures are verified here (sshsig, namespace "git", SHA-256 or
// SHA-512, RSA only with SHA-2); OpenPGP ones with go-git's Commit.Verify.
// Certificates of SSH keys, expiry and revocation are not consulted: the
// base cab.cue is the list of trusted keys, and removing a key there is
// how it is revoked for every later merge.
package git
