package awstelemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

// CloudWatch speaks RPC v2 CBOR unless Options.CloudWatchJSON, the switch
// the moto tests set, asks for AWS JSON 1.0.
func TestCloudWatchProtocolSwitch(t *testing.T) {
	for _, tc := range []struct {
		json         bool
		contentType  string
		describeCall func(*http.Request) bool
	}{
		{false, "application/cbor", func(r *http.Request) bool {
			return r.URL.Path == "/service/GraniteServiceVersion20100801/operation/DescribeAlarms"
		}},
		{true, "application/x-amz-json-1.0", func(r *http.Request) bool {
			return r.URL.Path == "/" && r.Header.Get("X-Amz-Target") == "GraniteServiceVersion20100801.DescribeAlarms"
		}},
	} {
		var (
			mu   sync.Mutex
			reqs []*http.Request
		)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if b, _ := io.ReadAll(r.Body); len(b) == 0 {
				t.Errorf("json=%v: empty body", tc.json)
			}
			mu.Lock()
			reqs = append(reqs, r)
			mu.Unlock()
			w.WriteHeader(http.StatusBadRequest) // any answer: the requests are what is checked
		}))
		c, err := New(context.Background(), Options{
			Region: "us-east-1", Endpoint: srv.URL, MaxAttempts: 1, CloudWatchJSON: tc.json,
			Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c.NewSession().Alarm(ctx, "web-alb-target-5xx")
		cancel()
		srv.Close() // waits for the handlers
		described := false
		for _, r := range reqs {
			if !strings.Contains(r.Header.Get("Authorization"), "/monitoring/aws4_request") {
				continue
			}
			if ct := r.Header.Get("Content-Type"); ct != tc.contentType {
				t.Errorf("json=%v: %s sent as %q, want %q", tc.json, r.URL.Path, ct, tc.contentType)
			}
			described = described || tc.describeCall(r)
		}
		if !described {
			t.Errorf("json=%v: no DescribeAlarms call in the protocol's shape among %d requests", tc.json, len(reqs))
		}
	}
}
