// Package browsertest drives headless Chromium (Debian's chromium, which
// .ci/install-chromium.sh installs) over the Chrome DevTools protocol, for
// tests that must see a page as a browser does: it opens a page, reports
// what went wrong while it loaded (uncaught exceptions, console errors
// and warnings, failed loads, content refused by the Content-Security-
// Policy), evaluates expressions in it, runs axe-core on it and takes a
// full-page screenshot. The protocol client (a websocket client and
// request/event plumbing) is its own, so no module is added.
//
// Invariants:
//
//   - A test that needs the browser or axe-core skips when it is missing,
//     unless CAB_REQUIRE_BROWSER=1 (as in CI), where it fails.
//   - The browser runs with a fresh profile, off the network (background
//     services disabled), and is stopped with its whole process group when
//     the test ends.
//   - Problems are those of one page's own session, from its navigation on:
//     two pages never see each other's errors.
//   - axe-core is evaluated through the protocol (Runtime.evaluate), which
//     the page's Content-Security-Policy does not govern, so pages that
//     allow no script at all are audited as they are served.
package browsertest
