package handlers

import (
	"errors"

	"github.com/slack-go/slack"
)

// TokenError is Slack refusing one of the bot's tokens for good: the token
// is wrong, revoked, of the wrong kind or lacks the scope the method needs.
// Retrying cannot help, so Serve returns it instead of reconnecting.
type TokenError struct {
	// Token is "bot" (auth.test, every Web API call) or "app" (socket
	// mode's apps.connections.open).
	Token string
	// Method is the Web API method Slack refused.
	Method string
	// Code is Slack's error code: invalid_auth, not_authed, token_revoked,
	// account_inactive, not_allowed_token_type, missing_scope.
	Code string
	Err  error
}

func (e *TokenError) Error() string {
	return "slack " + e.Method + ": the " + e.Token + " token was refused: " + e.Code
}

func (e *TokenError) Unwrap() error { return e.Err }

// RefusedToken returns the TokenError for err when it is Slack refusing
// the token for good, else nil.
func RefusedToken(token, method string, err error) *TokenError {
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Err {
	case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "not_allowed_token_type", "missing_scope", "no_permission":
		return &TokenError{Token: token, Method: method, Code: se.Err, Err: err}
	}
	return nil
}
