// Package verdictcache stores verdicts across runs of cab check, under the
// repository's git directory (<gitdir>/cab/verdicts/), never in the tree.
//
// Invariants:
//
//   - An entry is found only by its key, which the caller derives as the
//     sha256 of every input of what it caches (see Key); the package never
//     interprets a payload.
//   - Every entry is authenticated: it is stored as HMAC-SHA256(secret,
//     key || payload) || payload, and Get returns a payload only when the
//     tag verifies for the key asked. The secret is 32 random bytes kept
//     outside the repository (<user config dir>/cab/verdict-cache.key, a
//     regular file of mode 0600 owned by the user), so a .git/cab/
//     directory written by someone else (a CI cache restored from an
//     untrusted run, a copied repository) cannot plant an entry: it can
//     only make lookups miss.
//   - A cache that cannot be used (no git directory, no usable secret, an
//     unreadable or malformed entry) misses; it never fails a check.
//     Writes are atomic (a temporary file renamed into place).
//   - The cache is bounded: Trim removes the entries written longest ago
//     once there are more than its limit (validate trims after every run
//     that stored a verdict), so rules no longer in use do not pile up.
package verdictcache
