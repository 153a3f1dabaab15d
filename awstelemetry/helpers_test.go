package awstelemetry

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
)

// observed are the operations the tests called through real SDK clients.
var (
	observedMu sync.Mutex
	observed   = map[string]bool{}
)

func TestMain(m *testing.M) {
	// Hermetic: no AWS settings of the machine running the tests (a CA
	// bundle, a profile, a region, an endpoint) reach the clients.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			os.Unsetenv(k)
		}
	}
	os.Setenv("AWS_CONFIG_FILE", os.DevNull)
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	f := func(op string) {
		observedMu.Lock()
		observed[op] = true
		observedMu.Unlock()
	}
	opObserver.Store(&f)
	code := m.Run()
	// Every call the tests made must be in the operations table (and so in
	// the IAM policy, which TestPolicyMatchesOperations checks).
	known := map[string]bool{}
	for _, o := range Operations {
		known[o.Service+"."+o.Name] = true
	}
	var missing []string
	for op := range observed {
		if !known[op] {
			missing = append(missing, op)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: operations called in tests but missing from Operations and docs/iam-policy.json: %s\n", strings.Join(missing, ", "))
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// newServerClient starts a fake AWS server and a Client whose every
// service talks to it with static credentials.
func newServerClient(t *testing.T, opts ...func(*Options)) (*awstest.Server, *Client) {
	t.Helper()
	srv := awstest.New()
	t.Cleanup(srv.Close)
	o := Options{
		Region:       "us-east-1",
		Endpoint:     srv.URL,
		HTTPClient:   srv.Client(),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		MaxAttempts:  1,
		PollInterval: 5 * time.Millisecond,
	}
	for _, fn := range opts {
		fn(&o)
	}
	c, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// fixture reads a shared fixture file.
func fixture(t *testing.T, rel string) []byte {
	t.Helper()
	for _, dir := range []string{"testdata"} {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err == nil {
			return b
		}
	}
	t.Fatalf("fixture %s not found", rel)
	return nil
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
