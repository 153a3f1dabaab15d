package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/store/storetest"
)

// filledFile is a closed store file holding investigations over several
// pages.
func filledFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "unstuck.db")
	s, err := OpenBolt(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func fill(t *testing.T, s Store) {
	t.Helper()
	start := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range 200 {
		inv := incident.Investigation{Channel: "C1", ThreadTS: fmt.Sprintf("%d.0001", 1700000000+i), State: incident.StateDone,
			Started: start.Add(time.Duration(i) * time.Second), Error: strings.Repeat("x", 400)}
		if err := s.Put(context.Background(), inv); err != nil {
			t.Fatal(err)
		}
	}
}

// A damaged file is an error at open that names the file and says how to
// recover, never a panic; today a smashed freelist panics in bolt.Open and a
// truncated file opens.
func TestOpenDamagedFile(t *testing.T) {
	for _, damage := range storetest.Damages {
		t.Run(damage, func(t *testing.T) {
			path := filledFile(t)
			if err := storetest.Damage(path, damage); err != nil {
				t.Fatal(err)
			}
			s, err := OpenBolt(path, Options{})
			if err == nil {
				s.Close()
				t.Fatal("a damaged file opened")
			}
			var dmg *DamagedError
			if !errors.As(err, &dmg) || dmg.Path != path {
				t.Fatalf("want a DamagedError for %s, got %T: %v", path, err, err)
			}
			for _, want := range []string{path, "move the file aside", "bbolt check", "bbolt compact", "--store-move-damaged"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not say %q: %v", want, err)
				}
			}
			if Classify(err) != FailDamaged {
				t.Errorf("Classify = %q, want %q", Classify(err), FailDamaged)
			}
		})
	}
}

// With MoveAsideDamaged, a damaged file is moved aside, kept as it was, a
// warning says where, and the store starts empty.
func TestOpenDamagedFileMovesAside(t *testing.T) {
	for _, damage := range storetest.Damages {
		t.Run(damage, func(t *testing.T) {
			path := filledFile(t)
			if err := storetest.Damage(path, damage); err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			s, err := OpenBolt(path, Options{MoveAsideDamaged: true, Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, err := s.Recent(context.Background(), "C1", time.Time{})
			if err != nil || len(got) != 0 {
				t.Errorf("the new store: %d investigations, %v; want none", len(got), err)
			}
			fill(t, s)
			aside, _ := filepath.Glob(path + ".damaged-*")
			if len(aside) != 1 {
				t.Fatalf("damaged files beside %s: %v", path, aside)
			}
			kept, err := os.ReadFile(aside[0])
			if err != nil || !bytes.Equal(kept, before) {
				t.Errorf("the damaged file was not kept as it was (%v)", err)
			}
			if l := log.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, aside[0]) || !strings.Contains(l, "EMPTY store") {
				t.Errorf("no warning naming %s:\n%s", aside[0], l)
			}
		})
	}
}

// A file damaged under an open store: reads return a DamagedError (bbolt's
// panic recovered at the store's boundary), and from then on every call
// does, without touching the file. Today the reads panic.
func TestReadAfterDamage(t *testing.T) {
	for _, damage := range []string{storetest.SmashData, storetest.Truncate} {
		t.Run(damage, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "unstuck.db")
			s, err := OpenBolt(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			fill(t, s)
			if err := storetest.Damage(path, damage); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			_, err = s.Recent(ctx, "C1", time.Time{})
			var dmg *DamagedError
			if !errors.As(err, &dmg) || dmg.Path != path {
				t.Fatalf("Recent on a damaged file: want a DamagedError, got %T: %v", err, err)
			}
			if _, err := s.Thread(ctx, "readyz", "0"); !errors.As(err, &dmg) {
				t.Errorf("Thread after the damage: %v", err)
			}
			if _, err := s.Receive(ctx, incident.Event{Key: "command:1", Received: time.Now()}); !errors.As(err, &dmg) {
				t.Errorf("Receive after the damage: %v", err)
			}
			if err := s.Put(ctx, incident.Investigation{Channel: "C1", ThreadTS: "1.0"}); !errors.As(err, &dmg) {
				t.Errorf("Put after the damage: %v", err)
			}
		})
	}
}

// DynamoDB's errors, as the SDK returns them after its retries, are
// classified by their code; the rest by their kind.
func TestClassify(t *testing.T) {
	api := func(code string) error {
		return fmt.Errorf("store: put: operation error DynamoDB: PutItem, https response error StatusCode: 400, RequestID: X, api error: %w",
			&smithy.GenericAPIError{Code: code, Message: "arn:aws:dynamodb:eu-west-1:123456789012:table/unstuck"})
	}
	for err, want := range map[error]Failure{
		api("ProvisionedThroughputExceededException"):             FailThrottled,
		api("ThrottlingException"):                                FailThrottled,
		api("AccessDeniedException"):                              FailDenied,
		api("UnrecognizedClientException"):                        FailDenied,
		api("ExpiredTokenException"):                              FailDenied,
		api("ResourceNotFoundException"):                          FailNoTable,
		api("InternalServerError"):                                FailOther,
		fmt.Errorf("store: thread: %w", context.DeadlineExceeded): FailTimeout,
		&DamagedError{Path: "x.db", Err: errors.New("truncated")}: FailDamaged,
	} {
		if got := Classify(err); got != want {
			t.Errorf("Classify(%v) = %q, want %q", err, got, want)
		}
		if strings.Contains(string(Classify(err)), "arn:") {
			t.Errorf("Classify(%v) serves the ARN", err)
		}
	}
}
