// Package testsize says how big the tree's long fault and concurrency tests
// run. `make test` runs them small enough for a busy two-core machine;
// `make test-full` (CI) sets CAB_TEST_FULL=1 and runs them at full size.
// Full size is never used under the race detector, which makes every run
// several times slower, nor with -short.
package testsize
