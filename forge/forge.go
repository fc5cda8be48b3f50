// Package forge holds what the forge clients (forge/github, forge/gitlab,
// forge/git) share: the shape of identities and of commit ids, and the one
// evidence type they all produce.
//
// # Invariants
//
// Evidence is the only way review evidence reaches the gate, cab sign and
// the emergency obligations, and Evidence.Review is the only function that
// turns it into what policies see: evidence counts only for the commit it
// describes (its final head or the merge commit the forge records), an
// approval counts only for the final head, and the merger never approves.
// A number in a commit message (NumberHint) is a hint of which pull
// request to ask the forge about, never evidence.
package forge

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// IsSHA reports whether s is a full lowercase hexadecimal SHA-1 or SHA-256
// object id.
func IsSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Identity is the stable identity "<forge>:<user id>" of a forge account.
func Identity(forge string, id int64) string { return forge + ":" + strconv.FormatInt(id, 10) }

// Identities returns the identities of a set of user ids, sorted by id.
func Identities(forge string, set map[int64]bool) []string {
	ids := make([]int64, 0, len(set))
	for i := range set {
		ids = append(ids, i)
	}
	slices.Sort(ids)
	out := make([]string, 0, len(ids))
	for _, i := range ids {
		out = append(out, Identity(forge, i))
	}
	return out
}

// Truncate cuts s to at most n characters, ending with "…" when cut (a
// status description has a length limit on every forge).
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
