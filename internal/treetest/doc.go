// Package treetest holds tests of the source tree as a whole rather than of
// one package: that `make fuzz` runs every fuzz target the tree defines,
// that read-only packages link no CUE, and that the cab binary links none
// of the packages denied for start-up (startup_test.go).
// It has no code of its own.
package treetest
