// Package treetest holds tests of the source tree as a whole rather than of
// one package: that `make fuzz` runs every fuzz target the tree defines.
// It has no code of its own.
package treetest
