package mototest

import (
	"os/exec"
	"syscall"
)

// setPdeathsig has the server killed when the test binary dies (a test
// timeout, a crash), so that no moto server outlives its tests.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
