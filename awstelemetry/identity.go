package awstelemetry

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// CredentialsError is a client that has no credentials to sign its calls
// with: the chain found none, or could not refresh them (an expired SSO
// session, an instance without a role).
type CredentialsError struct{ Err error }

func (e *CredentialsError) Error() string { return "no usable AWS credentials (" + e.Err.Error() + ")" }

func (e *CredentialsError) Unwrap() error { return e.Err }

// Credentials retrieves the credentials the client signs with: nil when
// there are some, a *CredentialsError when not. The SDK caches them, so a
// call reaches a credential source (instance metadata, SSO, STS for an
// assumed role) only when none are cached or they are about to expire.
func (c *Client) Credentials(ctx context.Context) error {
	if c.creds == nil {
		return &CredentialsError{Err: errors.New("no credential provider")}
	}
	cr, err := c.creds.Retrieve(ctx)
	if err != nil {
		return &CredentialsError{Err: err}
	}
	if !cr.HasKeys() {
		return &CredentialsError{Err: errors.New("the provider gave no keys")}
	}
	return nil
}

// Identity is who the client reads AWS as.
type Identity struct {
	Account string
	ARN     string
}

// Identity asks STS who the client's credentials are
// (sts:GetCallerIdentity, which needs no permission).
func (c *Client) Identity(ctx context.Context) (Identity, error) {
	if err := c.Credentials(ctx); err != nil {
		return Identity{}, err
	}
	out, err := c.api.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Identity{}, wrap("sts get caller identity", err)
	}
	id := Identity{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn)}
	c.accountMu.Lock()
	c.account = id.Account
	c.accountMu.Unlock()
	return id, nil
}

// accountTimeout bounds the look-up of the account id for a message.
const accountTimeout = 3 * time.Second

// accountID is the account the client reads, for messages that say where
// something was looked for: asked of STS the first time and remembered;
// "" when STS does not say.
func (c *Client) accountID(ctx context.Context) string {
	c.accountMu.Lock()
	a := c.account
	c.accountMu.Unlock()
	if a != "" || c.api.sts == nil {
		return a
	}
	ctx, cancel := context.WithTimeout(ctx, accountTimeout)
	defer cancel()
	id, err := c.Identity(ctx)
	if err != nil {
		return ""
	}
	return id.Account
}
