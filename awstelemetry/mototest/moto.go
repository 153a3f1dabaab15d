// Package mototest runs moto, an AWS emulator written independently of this
// repository, for tests: `python3 -m moto.server` on a free port of
// 127.0.0.1, from the Python installed on the machine (nothing is
// installed; when moto cannot be imported, Start says so and tests skip).
// It also builds, through the real AWS APIs, a world for the investigation
// to read (albworld.go).
//
// moto is a second opinion on the AWS adapters: awstest is written by the
// same hands as the adapters, so a misreading of AWS would show in both and
// cancel out; moto is not. Where moto stubs an API or lacks it, awstest
// still covers it (see the list in cmd/bot/moto_test.go).
package mototest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// Region is the region the server is used in, and Account moto's default
// account.
const (
	Region  = "us-east-1"
	Account = "123456789012"
)

// Server is a running moto server.
type Server struct {
	// Endpoint is its URL, http://127.0.0.1:PORT.
	Endpoint string

	cmd    *exec.Cmd
	exited chan error
	tail   *tail
	tmp    string
}

// Python is the interpreter that runs moto.
var Python = "python3"

// Available returns nil when moto's server can be imported, or why not.
func Available() error {
	py, err := exec.LookPath(Python)
	if err != nil {
		return fmt.Errorf("%s is not installed", Python)
	}
	out, err := exec.Command(py, "-c", "import moto, moto.server; print(moto.__version__)").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import moto.server: %v: %s", Python, err, lastLine(string(out)))
	}
	return nil
}

// Version is moto's version, for the logs.
func Version() string {
	out, err := exec.Command(Python, "-c", "import moto; print(moto.__version__)").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

var listening = regexp.MustCompile(`Running on (http://127\.0\.0\.1:\d+)`)

// Start runs moto's server on 127.0.0.1, on a port the system picks, and
// waits until it listens (it prints its address).
func Start() (*Server, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	cmd := exec.Command(Python, "-u", "-m", "moto.server", "-H", "127.0.0.1", "-p", "0")
	// moto must not reach out: no AWS settings of the machine's leak into
	// it, and it has no credentials of its own.
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION="+Region,
		"AWS_EC2_METADATA_DISABLED=true")
	setPdeathsig(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = nil
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting moto: %w", err)
	}
	s := &Server{cmd: cmd, exited: make(chan error, 1), tail: &tail{}}
	ready := make(chan string, 1)
	go func() {
		// werkzeug logs every request to stderr: read it all the way, so
		// the server never blocks on a full pipe, and keep its last lines.
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			s.tail.add(line)
			if m := listening.FindStringSubmatch(line); !signalled && m != nil {
				ready <- m[1]
				signalled = true
			}
		}
		// Wait after the last read, as exec asks.
		s.exited <- cmd.Wait()
	}()
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	select {
	case u := <-ready:
		s.Endpoint = u
		return s, nil
	case err := <-s.exited:
		return nil, fmt.Errorf("moto exited before listening: %v: %s", err, s.tail.String())
	case <-timeout.C:
		s.Stop()
		return nil, fmt.Errorf("moto did not listen within 60s: %s", s.tail.String())
	}
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		<-s.exited
		s.cmd = nil
	}
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
		s.tmp = ""
	}
}

// Log is the end of the server's log (its request lines), for a failing
// test to show.
func (s *Server) Log() string { return s.tail.String() }

// Env is the environment that points the standard AWS configuration at the
// server, every service at once (AWS_ENDPOINT_URL; the per-service
// variables are emptied so none points elsewhere), with fake credentials,
// and keeps a developer's own AWS configuration (profiles, shared files,
// instance metadata) out.
func (s *Server) Env() ([]string, error) {
	if s.tmp == "" {
		tmp, err := os.MkdirTemp("", "mototest-aws")
		if err != nil {
			return nil, err
		}
		s.tmp = tmp
	}
	env := []string{
		"AWS_ENDPOINT_URL=" + s.Endpoint,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_SESSION_TOKEN=",
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=",
		"AWS_PROFILE=",
		"AWS_CONFIG_FILE=" + filepath.Join(s.tmp, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(s.tmp, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CA_BUNDLE=",
		"AWS_ROLE_ARN=",
		"AWS_WEB_IDENTITY_TOKEN_FILE=",
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_ENDPOINT_URL_") {
			env = append(env, k+"=")
		}
	}
	return env, nil
}

// Config is an AWS configuration for the server: its endpoint, the region,
// fake credentials, and nothing from the machine's AWS settings.
func (s *Server) Config(ctx context.Context) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx,
		config.WithRegion(Region),
		config.WithBaseEndpoint(s.Endpoint),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled),
		config.WithRetryMaxAttempts(1),
	)
}

// tail keeps the last lines of a log.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > 2000 {
		t.lines = t.lines[len(t.lines)-1000:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := min(len(t.lines), 100)
	return strings.Join(t.lines[len(t.lines)-n:], "\n")
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
