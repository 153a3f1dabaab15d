//go:build !linux

package storetest

import "os/exec"

func setPdeathsig(*exec.Cmd) {}
