package main

import (
	"errors"
	"fmt"

	gogit "github.com/go-git/go-git/v5"
)

// noRemoteError says that a command needs a git remote the repository does
// not have. Every command that fetches or pushes the ledger reports a
// missing remote with it, so they all say the same thing: what is missing,
// how to add it, and which flag works without one.
type noRemoteError struct {
	Remote string
	// Without is the flag (or flag change) that works without a remote.
	Without string
}

func (e *noRemoteError) Error() string {
	return fmt.Sprintf("this repository has no git remote %q to fetch the ledger from (and push it to): "+
		"add it (git remote add %s <url>), or pass %s to use the local branches only",
		e.Remote, e.Remote, e.Without)
}

// withoutRemote is what works without a remote for most commands.
const withoutRemote = "--remote ''"

// requireRemote returns a *noRemoteError when remote is not "" and repo
// has no remote of that name; without names what works without one.
func requireRemote(repo *gogit.Repository, remote, without string) error {
	if remote == "" {
		return nil
	}
	_, err := repo.Remote(remote)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gogit.ErrRemoteNotFound):
		return &noRemoteError{Remote: remote, Without: without}
	default:
		return fmt.Errorf("reading remote %q: %w", remote, err)
	}
}
