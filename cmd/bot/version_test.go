package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestReadVersion(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/unstuck/unstuck", Version: "v1.2.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "581ad07c2f1e9d0b8a7c6e5f4d3c2b1a09876543"},
		{Key: "vcs.time", Value: "2026-12-06T03:09:17Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	clean := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "581ad07c2f1e9d0b8a7c6e5f4d3c2b1a09876543"},
		{Key: "vcs.modified", Value: "false"},
	}}
	tests := []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"stamped and modified", stamped, true, "unstuck v1.2.0, commit 581ad07c2f1e9d0b8a7c6e5f4d3c2b1a09876543 (2026-12-06T03:09:17Z), modified, go1.26.8"},
		{"clean checkout, no date", clean, true, "unstuck (devel), commit 581ad07c2f1e9d0b8a7c6e5f4d3c2b1a09876543, go1.26.8"},
		{"not stamped", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true, "unstuck (devel), commit unknown (no VCS stamp: go build in a git clone stamps one; go run, -buildvcs=false and linked git worktrees leave none), go1.26.8"},
		{"no build information", nil, false, "unstuck unknown, commit unknown (no VCS stamp: go build in a git clone stamps one; go run, -buildvcs=false and linked git worktrees leave none)"},
	}
	for _, tt := range tests {
		if got := readVersion(tt.info, tt.ok).String(); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// bot --version and bot version print the test binary's own build
// information, and take no argument.
func TestVersionCommand(t *testing.T) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("the test binary has no build information")
	}
	for _, args := range [][]string{{"--version"}, {"version"}, {"-version"}} {
		code, out, errs := runBot(t, args...)
		if code != 0 || !strings.HasPrefix(out, "unstuck ") || !strings.Contains(out, info.GoVersion) || !strings.HasSuffix(out, "\n") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	if code, _, errs := runBot(t, "version", "extra"); code != 2 || !strings.Contains(errs, "unexpected argument") {
		t.Errorf("version extra: exit %d, stderr %q", code, errs)
	}
}
