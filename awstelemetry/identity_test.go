package awstelemetry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

// probeWorld is the ALB world on a fake AWS, read by a client.
func probeWorld(t *testing.T, opts ...func(*Options)) (*awstest.Server, *Client) {
	t.Helper()
	srv, c := newServerClient(t, append([]func(*Options){func(o *Options) {
		w := awstest.NewALBWorld()
		o.Present = func() time.Time { return w.Present }
	}}, opts...)...)
	awstest.NewALBWorld().Install(srv)
	return srv, c
}

func TestIdentity(t *testing.T) {
	_, c := probeWorld(t)
	id, err := c.Identity(context.Background())
	if err != nil || id.Account != "123456789012" || !strings.HasPrefix(id.ARN, "arn:aws:sts::123456789012:") {
		t.Errorf("Identity = %+v, %v", id, err)
	}
}

// A client with no credentials says so before any call, as a
// *CredentialsError.
func TestNoCredentials(t *testing.T) {
	srv, c := probeWorld(t, func(o *Options) {
		o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errors.New("no EC2 IMDS role found")
		})
	})
	for _, err := range []error{c.Credentials(context.Background()), func() error { _, err := c.Identity(context.Background()); return err }()} {
		var ce *CredentialsError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "no EC2 IMDS role found") {
			t.Errorf("err = %v, want a *CredentialsError that names the cause", err)
		}
	}
	if n := srv.Count(""); n != 0 {
		t.Errorf("%d calls without credentials", n)
	}
	if _, c := newServerClient(t); c.Credentials(context.Background()) != nil {
		t.Error("static credentials: not usable")
	}
}

// An alarm that is not there says where it was looked for: the region and
// the account (GetCallerIdentity, asked once).
func TestAlarmNotFoundSaysRegionAndAccount(t *testing.T) {
	srv, c := probeWorld(t)
	for range 2 {
		_, err := c.NewSession().Alarm(context.Background(), "web-alb-target-5xxx")
		var nf *investigate.NotFoundError
		if !errors.As(err, &nf) || nf.Region != "us-east-1" || nf.Account != "123456789012" {
			t.Fatalf("err = %v (%+v)", err, nf)
		}
		if want := "alarm web-alb-target-5xxx not found in us-east-1 (account 123456789012)"; err.Error() != want {
			t.Errorf("err = %q, want %q", err, want)
		}
	}
	if n := srv.Count("STS.GetCallerIdentity"); n != 1 {
		t.Errorf("GetCallerIdentity called %d times, want once", n)
	}
	// STS not answering leaves the region.
	srv2, c2 := probeWorld(t)
	srv2.Reply("STS.GetCallerIdentity", awstest.Denied("AccessDenied"))
	if _, err := c2.NewSession().Alarm(context.Background(), "nope"); err == nil || err.Error() != "alarm nope not found in us-east-1" {
		t.Errorf("err = %v", err)
	}
}
