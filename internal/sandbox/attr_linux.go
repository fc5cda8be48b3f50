package sandbox

import "syscall"

// childAttr makes the kernel kill the child when its parent dies, so that
// a killed cab never leaves an evaluation running.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
