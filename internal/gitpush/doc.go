// Package gitpush pushes a linear run of new commits to a remote branch
// by compare-and-swap, sending only what those commits add. The ledger and
// the git target driver both append commits on top of a head they read;
// this is how they publish them.
package gitpush
