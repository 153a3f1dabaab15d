// Package storetest runs a DynamoDB-compatible server for tests: dynalite,
// installed from npm by the repository's .ci/dynalite.sh and started on
// 127.0.0.1. It is for tests only (of the store, and of anything that runs
// the bot on dynamodb://TABLE, such as several replicas).
//
// A package's TestMain calls Start, points the AWS configuration at the
// server with Server.Env (or Setenv), runs its tests and Stops the server:
//
//	func TestMain(m *testing.M) {
//		srv, err := storetest.Start()
//		if err != nil { ... storetest.Required() decides: fail or skip ... }
//		srv.Setenv()
//		code := m.Run()
//		srv.Stop()
//		os.Exit(code)
//	}
package storetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// EndpointEnv names a DynamoDB-compatible server already running; Start
// uses it instead of starting dynalite.
const EndpointEnv = "STORE_TEST_DYNAMODB"

// Server is a running DynamoDB-compatible server.
type Server struct {
	// Endpoint is its URL, http://127.0.0.1:PORT.
	Endpoint string
	stop     func()
	tmp      string
}

// Required reports whether a test run must have the server: when CI is set
// (and not "false" or "0"). Elsewhere, tests that need it may skip.
func Required() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "false" && v != "0"
}

// Start returns the server that EndpointEnv names, or installs dynalite
// (.ci/dynalite.sh, found above the working directory) and starts it in
// memory on a free port of 127.0.0.1.
func Start() (*Server, error) {
	if u := os.Getenv(EndpointEnv); u != "" {
		return &Server{Endpoint: u}, nil
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("node is not installed (dynalite runs on node >= 20, installed with npm)")
	}
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	install := exec.Command("bash", filepath.Join(root, ".ci", "dynalite.sh"))
	install.Stderr = os.Stderr
	out, err := install.Output()
	if err != nil {
		return nil, fmt.Errorf("installing dynalite with .ci/dynalite.sh: %w", err)
	}
	cli := strings.TrimSpace(string(out))
	var lastErr error
	for range 3 { // a free port can be taken between finding and binding it
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		stop, err := startDynalite(node, cli, port)
		if err == nil {
			return &Server{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), stop: stop}, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// Stop stops the server if Start started it.
func (s *Server) Stop() {
	if s.stop != nil {
		s.stop()
	}
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
}

// Env is the environment that points the standard AWS configuration at the
// server, with fake credentials, and keeps a developer's own AWS
// configuration (profiles, shared files, instance metadata) out: for a
// child process (append it to os.Environ()).
func (s *Server) Env() ([]string, error) {
	if s.tmp == "" {
		tmp, err := os.MkdirTemp("", "storetest-aws")
		if err != nil {
			return nil, err
		}
		s.tmp = tmp
	}
	return []string{
		"AWS_ENDPOINT_URL_DYNAMODB=" + s.Endpoint,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_SESSION_TOKEN=",
		"AWS_REGION=us-east-1",
		"AWS_PROFILE=",
		"AWS_CONFIG_FILE=" + filepath.Join(s.tmp, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(s.tmp, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}, nil
}

// Setenv sets Env in this process, for config.LoadDefaultConfig.
func (s *Server) Setenv() error {
	env, err := s.Env()
	if err != nil {
		return err
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, ".ci", "dynalite.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no .ci/dynalite.sh above the working directory")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startDynalite runs dynalite in memory on 127.0.0.1:port and waits until
// it listens.
func startDynalite(node, cli string, port int) (stop func(), err error) {
	cmd := exec.Command(node, cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	cmd.Stderr = os.Stderr
	setPdeathsig(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting dynalite: %w", err)
	}
	exited := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), "listening") {
				close(ready)
				signalled = true
			}
		}
		// Wait after the last read of stdout, as exec asks.
		exited <- cmd.Wait()
	}()
	stop = func() {
		cmd.Process.Kill()
		<-exited
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case <-ready:
		return stop, nil
	case err := <-exited:
		return nil, fmt.Errorf("dynalite exited before listening on port %d: %v", port, err)
	case <-ctx.Done():
		stop()
		return nil, fmt.Errorf("dynalite did not listen on port %d within 30s", port)
	}
}
