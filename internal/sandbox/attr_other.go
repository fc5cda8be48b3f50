//go:build !linux

package sandbox

import "syscall"

// childAttr is empty where there is no parent-death signal (macOS, the BSDs):
// a child whose parent was killed keeps its memory limit and dies of SIGPIPE
// at its next write to the parent's closed pipe on its standard output
// (the evaluator flushes its progress at short intervals while it works).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{}
}
