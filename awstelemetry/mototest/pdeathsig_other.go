//go:build !linux

package mototest

import "os/exec"

func setPdeathsig(*exec.Cmd) {}
