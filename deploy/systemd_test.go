package deploy

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const unitFile = "systemd/unstuck.service"

// unit is a systemd unit file: section → key → values (a key may repeat).
type unit map[string]map[string][]string

func parseUnit(text string) (unit, error) {
	u := unit{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			return nil, fmt.Errorf("line %d: %q is neither a [section] nor KEY=VALUE in one", n, line)
		}
		if strings.HasSuffix(v, "\\") {
			return nil, fmt.Errorf("line %d: continued lines are not read here; keep each setting on one line", n)
		}
		u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
	}
	return u, sc.Err()
}

// last is a key's effective value: systemd takes the last assignment.
func (u unit) last(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func TestSystemdUnit(t *testing.T) {
	data, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUnit(string(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][3]string{
		{"Service", "DynamicUser", "yes"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "ProtectHome", "yes"},
		{"Service", "PrivateTmp", "yes"},
		{"Service", "PrivateDevices", "yes"},
		{"Service", "CapabilityBoundingSet", ""},
		{"Service", "RestrictSUIDSGID", "yes"},
		{"Service", "Restart", "on-failure"},
		{"Install", "WantedBy", "multi-user.target"},
	} {
		got, ok := u[kv[0]][kv[1]]
		if !ok || u.last(kv[0], kv[1]) != kv[2] {
			t.Errorf("[%s] %s=%q, want %q", kv[0], kv[1], got, kv[2])
		}
	}
	if u.last("Service", "User") != "" {
		t.Errorf("User=%s: DynamicUser picks an unprivileged user itself", u.last("Service", "User"))
	}
	if ef := u.last("Service", "EnvironmentFile"); !strings.HasPrefix(strings.TrimPrefix(ef, "-"), "/etc/") {
		t.Errorf("EnvironmentFile=%q: the tokens come from a root-owned file under /etc", ef)
	}
	if strings.Contains(string(data), "xoxb-") && !strings.Contains(string(data), "SLACK_BOT_TOKEN=xoxb-...") {
		t.Error("the unit carries a token")
	}

	// The file store lives in the state directory, which systemd keeps
	// across restarts and gives the dynamic user.
	state := u.last("Service", "StateDirectory")
	if state == "" {
		t.Fatal("no StateDirectory: a dynamic user can write nowhere else that lasts")
	}
	args := strings.Fields(u.last("Service", "ExecStart"))
	if len(args) < 2 || args[1] != "serve" {
		t.Fatalf("ExecStart=%v is not bot serve", args)
	}
	var anyArgs []any
	for _, a := range args {
		anyArgs = append(anyArgs, a)
	}
	if store := flagValue(anyArgs, "store"); store != "%S/"+state+"/unstuck.db" {
		t.Errorf("--store=%s, want the file in the state directory %%S/%s", store, state)
	}
	if wd := u.last("Service", "WorkingDirectory"); wd != "%S/"+state {
		t.Errorf("WorkingDirectory=%s, want the state directory", wd)
	}
	if addr := flagValue(anyArgs, "http-addr"); addr != "" && !strings.HasPrefix(addr, "127.0.0.1:") && !strings.HasPrefix(addr, "localhost:") && !strings.HasPrefix(addr, "[::1]:") {
		t.Errorf("--http-addr=%s: /metrics and /readyz have no authentication; keep them on loopback", addr)
	}
	grace, err := time.ParseDuration(flagValue(anyArgs, "grace"))
	if err != nil {
		t.Fatalf("--grace: %v", err)
	}
	stop, err := time.ParseDuration(u.last("Service", "TimeoutStopSec"))
	if err != nil || stop <= grace {
		t.Errorf("TimeoutStopSec=%s is not above --grace %v", u.last("Service", "TimeoutStopSec"), grace)
	}
	if !slices.Contains(args, "$UNSTUCK_ARGS") {
		t.Error("ExecStart takes no $UNSTUCK_ARGS: the channels file and other flags cannot be set from the environment file")
	}

	// systemd's own reading, where it is installed: the binary and the
	// environment file are made up, nothing is started.
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the unit is checked by this test alone")
		return
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "unstuck")
	if err := os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "/usr/local/bin/unstuck", bin)
	text = strings.ReplaceAll(text, "EnvironmentFile=/etc/", "EnvironmentFile=-/etc/")
	path := filepath.Join(dir, "unstuck.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestParseUnitRefusesWhatItCannotRead(t *testing.T) {
	for _, bad := range []string{"Key=before any section\n", "[Service]\nno equals sign\n", "[Service]\nExecStart=/bin/x \\\n  --flag\n"} {
		if _, err := parseUnit(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	u, err := parseUnit("[Service]\nSystemCallFilter=@system-service\nSystemCallFilter=~@privileged\n")
	if err != nil || u.last("Service", "SystemCallFilter") != "~@privileged" || len(u["Service"]["SystemCallFilter"]) != 2 {
		t.Errorf("repeated keys: %v %v", u, err)
	}
}
