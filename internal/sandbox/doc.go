// Package sandbox re-executes the running binary as a child process with a
// memory limit, for work that evaluates untrusted input.
//
// CUE evaluation has no cancellation and no memory bound: a hostile policy
// or input can make it allocate until the Go runtime dies with a fatal,
// unrecoverable out-of-memory error. Running that work in a child turns
// such a death into an error value in the parent. The child limits its own
// data segment (RLIMIT_DATA, which counts the Go heap but not the address
// space the runtime merely reserves) and sets a matching soft Go memory
// limit; the parent bounds time with its context and kills the child.
//
// The child is told its role through the environment: a program's main
// checks Role first and, when it is a child, serves that role instead of
// its normal command line.
package sandbox
