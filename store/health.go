package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/debug"

	"github.com/aws/smithy-go"
)

// DamagedError is a store file that fails bbolt's consistency check
// (bolt.Tx.Check) or whose pages bbolt cannot read. The bot does not read or
// write such a file any further: Err says what is wrong with it, and the
// message says how to recover.
type DamagedError struct {
	// Path is the damaged file.
	Path string
	// Err is what the check or the failed read found.
	Err error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("store %s is damaged (%v). To recover: stop the bot; move the file aside (mv %s %s.damaged); "+
		"`bbolt check %s.damaged` lists what is damaged, and `bbolt compact -o %s %s.damaged` copies what can still be read into a new file "+
		"(bbolt: go install go.etcd.io/bbolt/cmd/bbolt@latest); then start the bot again, on the copy or on a new, empty store. "+
		"Or start the bot with --store-move-damaged to have it move the file aside and start with an empty store (see docs/store.md)",
		e.Path, e.Err, e.Path, e.Path, e.Path, e.Path, e.Path)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// PanicError is a panic inside bbolt, recovered at the store's boundary: bbolt
// panics on a page it cannot make sense of.
type PanicError struct {
	// Value is what bbolt panicked with.
	Value any
}

func (e *PanicError) Error() string { return fmt.Sprintf("bbolt panicked: %v", e.Value) }

// guard runs fn, which reads or writes bbolt, and turns a panic inside it
// into a PanicError. A memory fault (a page past the end of a truncated
// file) panics too, instead of killing the process.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r}
		}
	}()
	return fn()
}

// Failure is the kind of a store error, said in a few words: what a user
// or an unauthenticated /readyz may be told, where the error itself (with
// its endpoint, operation, table ARN or file) goes to the log only.
type Failure string

// The kinds of store failures.
const (
	// FailDamaged is a damaged file (DamagedError).
	FailDamaged Failure = "store damaged"
	// FailThrottled is DynamoDB refusing requests over the table's or the
	// account's throughput.
	FailThrottled Failure = "store throttled"
	// FailDenied is DynamoDB refusing the bot's credentials or
	// permissions, or no credentials at all.
	FailDenied Failure = "store access denied"
	// FailNoTable is a DynamoDB table that does not exist.
	FailNoTable Failure = "store table missing"
	// FailTimeout is a store that did not answer in time.
	FailTimeout Failure = "store timed out"
	// FailUnreachable is a store that could not be reached over the
	// network.
	FailUnreachable Failure = "store unreachable"
	// FailOther is any other store error.
	FailOther Failure = "store error"
)

// DynamoDB error codes by kind.
var (
	throttledCodes = map[string]bool{
		"ProvisionedThroughputExceededException": true,
		"ThrottlingException":                    true,
		"Throttling":                             true,
		"RequestLimitExceeded":                   true,
		"LimitExceededException":                 true,
	}
	deniedCodes = map[string]bool{
		"AccessDeniedException":       true,
		"AccessDenied":                true,
		"UnrecognizedClientException": true,
		"InvalidClientTokenId":        true,
		"InvalidSignatureException":   true,
		"SignatureDoesNotMatch":       true,
		"IncompleteSignature":         true,
		"MissingAuthenticationToken":  true,
		"ExpiredTokenException":       true,
		"ExpiredToken":                true,
		"UnauthorizedOperation":       true,
		"KMSAccessDeniedException":    true,
		"KMSDisabledException":        true,
		"KMSInvalidStateException":    true,
		"KMSNotFoundException":        true,
	}
)

// Classify says what kind of failure a store error is.
func Classify(err error) Failure {
	var dmg *DamagedError
	var api smithy.APIError
	var nerr net.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &dmg):
		return FailDamaged
	case errors.As(err, &api) && throttledCodes[api.ErrorCode()]:
		return FailThrottled
	case errors.As(err, &api) && deniedCodes[api.ErrorCode()]:
		return FailDenied
	case errors.As(err, &api) && api.ErrorCode() == "ResourceNotFoundException":
		return FailNoTable
	case errors.Is(err, context.DeadlineExceeded):
		return FailTimeout
	case errors.As(err, &nerr) && nerr.Timeout():
		return FailTimeout
	case errors.As(err, &nerr):
		return FailUnreachable
	}
	return FailOther
}
