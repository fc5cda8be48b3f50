// Package git reads review evidence from plain git, for self-hosted
// repositories without a forge API and for the demo: the approvals are the
// Approved-by trailers of the head commit (in practice the merge commit a
// maintainer writes), identities are "git:<email>", and everyone who
// authored or committed a commit of the change is a pusher.
//
// Trailers are only as trustworthy as the commit that carries them: this
// package does not verify commit signatures. Prefer a forge's approvals
// where there is one; where there is not, protect the branch so that only
// maintainers can write the merge commit.
package git
