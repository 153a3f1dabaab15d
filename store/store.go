// Package store keeps the bot's state where it survives a restart and can be
// shared by several replicas: investigations and the threads they live in,
// the notes and feedback of those threads, the keys of the Slack events
// already handled (de-duplication, with expiry), and a lease per
// investigation so that only one replica works on it.
//
// Two backends implement the same Store:
//
//   - Bolt: a single file (go.etcd.io/bbolt, pure Go), created on first use;
//     what one bot process needs. The file is locked by the process that has
//     it open, so two processes cannot share it.
//   - Dynamo: one DynamoDB table (see Dynamo for its key schema), for several
//     replicas: conditional writes make event claims and leases exclusive
//     across processes, and DynamoDB's TTL on the attribute "expires" removes
//     what has expired.
//
// Open chooses between them from the --store value: a path, or
// dynamodb://TABLE.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

// DefaultPath is the store's file when --store is not given: a file in the
// working directory.
const DefaultPath = "unstuck.db"

// DefaultClaimTTL is how long a claimed event key is remembered when
// Options.ClaimTTL is zero. Slack retries a delivery within minutes.
const DefaultClaimTTL = time.Hour

// Store is what the bot keeps (incident.Store: investigations, threads,
// notes, feedback, leases, the investigations a crash or a stop cut off,
// and the events acknowledged and not handled), event claims, and the
// store's own resources to close.
type Store interface {
	incident.Store
	// Claim records key and reports whether this is its first claim within
	// the claim TTL; a second delivery of the same event gets false.
	// Receive is Claim and more.
	Claim(ctx context.Context, key string) (bool, error)
	// Close releases the store's resources (the file of a Bolt store).
	Close() error
}

// Leases are named, expiring locks held by an owner (a replica's run of an
// investigation); see incident.Leases.
type Leases = incident.Leases

// LeaseKey is the key of the lease on the investigation of a thread
// (incident.LeaseKey).
func LeaseKey(channel, threadTS string) string { return incident.LeaseKey(channel, threadTS) }

// Options tune a store. The zero value is ready to use.
type Options struct {
	// ClaimTTL is how long a claimed event key is remembered
	// (DefaultClaimTTL when zero).
	ClaimTTL time.Duration
	// CreateTable makes a Dynamo store create its table, with TTL on
	// "expires", when the table does not exist. Off, a missing table is an
	// error.
	CreateTable bool
	// Now is the clock (time.Now when nil). Expiry of claims and leases is
	// decided by the clock of the replica that asks.
	Now func() time.Time
	// MoveAsideDamaged makes OpenBolt move a damaged file aside, to
	// PATH.damaged-TIME beside it, and create a new, empty store at PATH,
	// instead of failing. Its contents are then lost to the bot: it is for
	// an operator who asked for it.
	MoveAsideDamaged bool
	// Logger receives the warning that a damaged file was moved aside
	// (slog.Default() when nil).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.ClaimTTL <= 0 {
		o.ClaimTTL = DefaultClaimTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Spec is a parsed --store value.
type Spec struct {
	// Path is the file of a Bolt store; empty for DynamoDB.
	Path string
	// Table is the DynamoDB table; empty for a file.
	Table string
}

var tableRe = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

// ParseSpec parses a --store value: a file path (DefaultPath when empty) or
// dynamodb://TABLE.
func ParseSpec(s string) (Spec, error) {
	if s == "" {
		return Spec{Path: DefaultPath}, nil
	}
	if t, ok := strings.CutPrefix(s, "dynamodb://"); ok {
		if !tableRe.MatchString(t) {
			return Spec{}, fmt.Errorf("store %q: a DynamoDB table name is 3 to 255 letters, digits, '_', '-' or '.'", s)
		}
		return Spec{Table: t}, nil
	}
	if scheme, _, ok := strings.Cut(s, "://"); ok && !strings.ContainsAny(scheme, `/\`) {
		return Spec{}, fmt.Errorf("store %q: unknown scheme %q (a file path or dynamodb://TABLE)", s, scheme)
	}
	return Spec{Path: s}, nil
}

// Open opens the store that a --store value names: a file (created when
// missing) or dynamodb://TABLE with the standard AWS configuration (AWS_*
// variables, shared config and credentials; AWS_ENDPOINT_URL_DYNAMODB points
// it at a DynamoDB-compatible server).
func Open(ctx context.Context, spec string, opts Options) (Store, error) {
	sp, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	if sp.Table == "" {
		return OpenBolt(sp.Path, opts)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("store %s: AWS configuration: %w", spec, err)
	}
	return OpenDynamo(ctx, dynamodb.NewFromConfig(cfg), sp.Table, opts)
}

// timeKey formats t so that byte order is time order (for years 0 to 9999).
func timeKey(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// sortRecent orders investigations newest first, ties by thread.
func sortRecent(invs []incident.Investigation) {
	slices.SortFunc(invs, func(a, b incident.Investigation) int {
		if c := b.Started.Compare(a.Started); c != 0 {
			return c
		}
		return strings.Compare(b.ThreadTS, a.ThreadTS)
	})
}

// sortOldest orders investigations oldest first, ties by channel and thread.
func sortOldest(invs []incident.Investigation) {
	slices.SortFunc(invs, func(a, b incident.Investigation) int {
		if c := a.Started.Compare(b.Started); c != 0 {
			return c
		}
		if c := strings.Compare(a.Channel, b.Channel); c != 0 {
			return c
		}
		return strings.Compare(a.ThreadTS, b.ThreadTS)
	})
}

// sortFeedback orders a thread's feedback by hypothesis.
func sortFeedback(fb []incident.Feedback) {
	slices.SortStableFunc(fb, func(a, b incident.Feedback) int { return a.Hypothesis - b.Hypothesis })
}

// marshalInv encodes an investigation as JSON. JSON has no NaN or infinity:
// a report whose numbers hold one (a source may hand those back) is stored
// without them — points of a series dropped, levels of a finding left out —
// which is how the rest of the bot reads them anyway ("no reading").
func marshalInv(inv incident.Investigation) ([]byte, error) {
	b, err := json.Marshal(inv)
	var uv *json.UnsupportedValueError
	if err == nil || !errors.As(err, &uv) || inv.Report == nil {
		return b, err
	}
	rep := finiteReport(*inv.Report)
	inv.Report = &rep
	inv.Alarm.Threshold = finite(inv.Alarm.Threshold)
	return json.Marshal(inv)
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

func finitePtr(p *float64) *float64 {
	if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
		return nil
	}
	return p
}

// finiteReport returns a copy of rep without non-finite numbers.
func finiteReport(rep investigate.Report) investigate.Report {
	rep.Findings = slices.Clone(rep.Findings)
	for i := range rep.Findings {
		rep.Findings[i].Before = finitePtr(rep.Findings[i].Before)
		rep.Findings[i].During = finitePtr(rep.Findings[i].During)
	}
	rep.Hypotheses = slices.Clone(rep.Hypotheses)
	for i := range rep.Hypotheses {
		rep.Hypotheses[i].Confidence = finite(rep.Hypotheses[i].Confidence)
	}
	rep.Series = slices.Clone(rep.Series)
	for i, s := range rep.Series {
		var ts []time.Time
		var vs []float64
		for j, v := range s.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			if j < len(s.Times) {
				ts = append(ts, s.Times[j])
			}
			vs = append(vs, v)
		}
		rep.Series[i].Times, rep.Series[i].Values = ts, vs
	}
	return rep
}
