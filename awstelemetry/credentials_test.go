package awstelemetry

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// rotatingCredentials hands out a new secret each time it is asked, and
// says each expires at once, as an SSO or assumed-role session does when
// it is refreshed.
type rotatingCredentials struct {
	mu sync.Mutex
	n  int
}

func (r *rotatingCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	return aws.Credentials{
		AccessKeyID:     "ASIATEST",
		SecretAccessKey: "rotated-secret-" + string(rune('a'+r.n)),
		SessionToken:    "session-token-" + string(rune('a'+r.n)),
		CanExpire:       true,
		Expires:         time.Now().Add(-time.Second),
	}, nil
}

// TestSeenCredentials: every secret the client signs with reaches
// SeenCredentials, once each, refreshed ones too; without it the client
// still reads.
func TestSeenCredentials(t *testing.T) {
	var mu sync.Mutex
	var got []string
	_, c := newServerClient(t, func(o *Options) {
		o.Credentials = &rotatingCredentials{}
		o.SeenCredentials = func(secret, token string) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, secret+"|"+token)
		}
	})
	s := c.NewSession()
	for i := 0; i < 2; i++ {
		// The fake knows no alarm; the call is made and signed all the same.
		if _, err := s.Alarm(context.Background(), "no-such-alarm"); err == nil {
			t.Fatal("an alarm the account does not have was found")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) < 2 {
		t.Fatalf("seen credentials: got %q, want each refreshed secret", got)
	}
	seen := map[string]bool{}
	for _, g := range got {
		if seen[g] {
			t.Errorf("secret %q reported twice", g)
		}
		seen[g] = true
	}
	if got[0] != "rotated-secret-b|session-token-b" {
		t.Errorf("first secret: got %q, want rotated-secret-b|session-token-b", got[0])
	}
}
