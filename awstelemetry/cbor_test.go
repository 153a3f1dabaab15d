package awstelemetry

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
)

// TestNotCBOREndpoint: an endpoint that answers CloudWatch in the query
// protocol's XML (as older emulators do) gives an error that says so,
// not the CBOR decoder's "unexpected minor value 28".
func TestNotCBOREndpoint(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte(`<DescribeAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><DescribeAlarmsResult><MetricAlarms/></DescribeAlarmsResult></DescribeAlarmsResponse>`))
	}))
	t.Cleanup(srv.Close)
	c, err := New(ctxTimeout(t, 10*time.Second), Options{
		Region: "us-east-1", Endpoint: srv.URL, MaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.NewSession().Alarm(ctxTimeout(t, 10*time.Second), "web-alb-target-5xx")
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.ContentType != "text/xml" || pe.Status != 200 || !strings.Contains(err.Error(), "does not answer in CloudWatch's Smithy RPC v2 CBOR protocol") {
		t.Fatalf("err = %v, want a *ProtocolError naming the protocol", err)
	}
	if !strings.Contains(err.Error(), strings.TrimPrefix(srv.URL, "http://")) {
		t.Errorf("err = %v, want the endpoint named", err)
	}
}

// TestCBORErrorsPassThrough: an error CloudWatch answers in its own
// protocol stays the API error it is.
func TestCBORErrorsPassThrough(t *testing.T) {
	srv, c := newServerClient(t)
	srv.Reply("CloudWatch.DescribeAlarms", awstest.Denied("AccessDenied"))
	_, err := c.NewSession().Alarm(ctxTimeout(t, 10*time.Second), "x")
	var pe *ProtocolError
	var ae smithy.APIError
	if errors.As(err, &pe) || !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("err = %v, want the API's own AccessDenied", err)
	}
}
