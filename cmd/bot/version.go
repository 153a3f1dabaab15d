package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// buildVersion is what the binary knows of its own build, from the
// information the Go toolchain embeds (debug.ReadBuildInfo): no ldflags.
type buildVersion struct {
	// Version is the main module's: a tag for `go install …@v1.2.3`,
	// "(devel)" for a build in a checkout.
	Version string
	// Revision, Time and Modified are the VCS commit, its commit date and
	// whether the tree had changes not committed; empty when the build
	// did not stamp them (go run, go test, -buildvcs=false, and a linked
	// git worktree, whose .git is a file the go command does not
	// recognise: golang/go#58218).
	Revision string
	Time     string
	Modified bool
	// Go is the toolchain that built it.
	Go string
}

// readVersion reads the build information; ok false (a binary built without
// module support) leaves it unknown.
func readVersion(info *debug.BuildInfo, ok bool) buildVersion {
	v := buildVersion{Version: "unknown"}
	if !ok || info == nil {
		return v
	}
	v.Go = info.GoVersion
	if info.Main.Version != "" {
		v.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// version is this binary's.
func version() buildVersion { return readVersion(debug.ReadBuildInfo()) }

// String is the version on one line, as bug reports want it:
// "unstuck v1.2.0, commit 581ad07c2f1e (2026-12-06T03:09:17Z), go1.26.8".
func (v buildVersion) String() string {
	var b strings.Builder
	b.WriteString("unstuck " + v.Version)
	switch {
	case v.Revision != "":
		fmt.Fprintf(&b, ", commit %s", v.Revision)
		if v.Time != "" {
			fmt.Fprintf(&b, " (%s)", v.Time)
		}
		if v.Modified {
			b.WriteString(", modified")
		}
	default:
		b.WriteString(", commit unknown (no VCS stamp: go build in a git clone stamps one; go run, -buildvcs=false and linked git worktrees leave none)")
	}
	if v.Go != "" {
		b.WriteString(", " + v.Go)
	}
	return b.String()
}

func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", stderr)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", rest[0])}
	}
	_, err = fmt.Fprintln(stdout, version())
	return err
}
