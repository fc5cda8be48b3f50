// Package e2e holds the end-to-end tests of cab sign and cab reconcile
// (make e2e): the cab binary, built once, signs tickets merged on a change
// repository and applies them to environments made of real parts.
//
// The harness starts Debian's docker-registry (CNCF distribution) on a
// loopback port with storage in a temporary directory, and serves bare git
// repositories — each test's change repository (the remote its ledger
// branch lives on) and environment repository — with git http-backend
// behind net/http/cgi on loopback. Each test reaches the registry through
// a reverse proxy of its own that can answer with errors or hang, so that
// faults are injected where a real network would produce them.
//
// The tests carry the build tag e2e, so go test ./... skips them; make e2e
// runs them. Without docker-registry they skip with a message, unless
// CAB_REQUIRE_E2E=1 (CI sets it; .ci/install-e2e.sh installs what they
// need), which makes a missing tool a failure. CAB_E2E_REGISTRY names another
// distribution binary (upstream's is "registry"); E2E_DEBUG=1 logs every
// command with its duration and cab reconcile's debug logs. Everything runs
// on loopback and every wait is bounded.
package e2e
