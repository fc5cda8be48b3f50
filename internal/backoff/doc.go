// Package backoff provides what cab's bounded retries share: a sleep that
// a context cuts short, and a jittered wait so that concurrent writers
// (two reconcilers, two signers) do not retry in lockstep.
package backoff
