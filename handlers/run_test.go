package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unstuck/unstuck/handlers"
	"github.com/unstuck/unstuck/handlers/slacktest"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm"
)

// lockedBuffer is a log sink the bot's goroutines write to and a test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// refusingStore refuses to store an investigation in one state.
type refusingStore struct {
	*incident.Memory
	state incident.State
}

func (s refusingStore) Put(ctx context.Context, inv incident.Investigation) error {
	if inv.State == s.state {
		return errors.New("store unavailable")
	}
	return s.Memory.Put(ctx, inv)
}

// A write of the investigation's life that the store refuses is logged
// with the state it was to record, and the thread is still told.
func TestRunLogsRefusedWrites(t *testing.T) {
	for _, state := range []incident.State{incident.StateQueued, incident.StateRunning, incident.StateDone} {
		t.Run(string(state), func(t *testing.T) {
			logs := &lockedBuffer{}
			h := newHarness(t, setup{
				store: refusingStore{Memory: incident.NewMemory(0), state: state},
				opts:  handlers.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))},
			})
			thread := h.investigate("orders-api-5xx")
			if _, ok := h.report(channel, thread, 10*time.Second); !ok {
				t.Fatal("no report in the thread")
			}
			want := "state=" + string(state)
			if !h.srv.WaitFor(5*time.Second, func() bool {
				for _, line := range strings.Split(logs.String(), "\n") {
					if strings.Contains(line, "investigation not saved") && strings.Contains(line, want) {
						return true
					}
				}
				return false
			}) {
				t.Errorf("no log of the refused write (%s):\n%s", want, logs.String())
			}
		})
	}
}

// countingAlarms counts the alarm reads.
type countingAlarms struct {
	investigate.AlarmSource
	reads atomic.Int32
}

func (c *countingAlarms) Alarm(ctx context.Context, name string) (investigate.Alarm, error) {
	c.reads.Add(1)
	return c.AlarmSource.Alarm(ctx, name)
}

// The alarm is read once per investigation: the engine gets it with the
// request instead of reading it again (on AWS, a DescribeAlarms and a
// DescribeAlarmHistory).
func TestRunReadsTheAlarmOnce(t *testing.T) {
	var alarms *countingAlarms
	h := newHarness(t, setup{sources: func(src investigate.Sources) investigate.Sources {
		alarms = &countingAlarms{AlarmSource: src.Alarms}
		src.Alarms = alarms
		return src
	}})
	thread := h.investigate("orders-api-5xx")
	if _, ok := h.report(channel, thread, 10*time.Second); !ok {
		t.Fatal("no report in the thread")
	}
	if got := alarms.reads.Load(); got != 1 {
		t.Errorf("alarm reads = %d, want 1", got)
	}
}

// unknownAlarms knows no alarm, and answers with long close names.
type unknownAlarms struct{ closest []string }

func (u unknownAlarms) Alarm(_ context.Context, name string) (investigate.Alarm, error) {
	return investigate.Alarm{}, &investigate.NotFoundError{Kind: "alarm", Name: name, Candidates: u.closest}
}

// An unknown name of 255 characters, with eight close names as long that
// escaping makes four times longer, is
// still answered: the reply keeps within Slack's limits instead of being
// refused (invalid_blocks) and leaving the user with no answer.
func TestLongNotFoundReplyReachesTheUser(t *testing.T) {
	long := func(c string) string { return strings.Repeat(c, 255) }
	var closest []string
	for _, c := range "abcdefgh" {
		// Escaped, each grows fourfold (&lt;).
		closest = append(closest, string(c)+long("<")[1:])
	}
	h := newHarness(t, setup{sources: func(src investigate.Sources) investigate.Sources {
		src.Alarms = unknownAlarms{closest: closest}
		return src
	}})
	env := h.srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, user, long("z")))
	if _, ok := h.srv.WaitAck(env, 3*time.Second); !ok {
		t.Fatal("no ack")
	}
	if !h.srv.WaitFor(5*time.Second, func() bool {
		for _, m := range h.srv.Messages(channel) {
			if m.Ephemeral && strings.Contains(m.BlocksText(), "can't find an alarm or resource") {
				return true
			}
		}
		return false
	}) {
		t.Errorf("the user was never told the name is unknown: %+v", h.srv.Messages(channel))
	}
}

// fixedRun reports the same report for any request.
type fixedRun struct{ rep investigate.Report }

func (f fixedRun) Run(context.Context, investigate.Request, func(investigate.Event)) (investigate.Report, error) {
	return f.rep, nil
}

// A secret in what the engine read (an error line, a source's failure) is
// out of the report before the store keeps it, not only where Slack's
// escaping renders it.
func TestStoredReportIsRedacted(t *testing.T) {
	const secret = "AKIAIOSFODNN7EXAMPLE"
	rep := investigate.Report{
		Scope:   investigate.Scope{Alarm: "orders-api-5xx", Resource: "orders-api"},
		Summary: "errors since 14:00",
		Findings: []investigate.Finding{{ID: "f1", Kind: investigate.FindingLog, Resource: "orders-api",
			Summary: "ERROR signing failed for key " + secret}},
		Hypotheses:  []investigate.Hypothesis{{Cause: investigate.CauseDependency, Resource: "orders-api", Confidence: 0.6, Title: "x", Evidence: []string{"f1"}}},
		Unavailable: []investigate.Unavailable{{Source: "logs", Error: "denied for " + secret}},
	}
	h := newHarness(t, setup{
		investigator: fixedRun{rep},
		opts:         handlers.Options{Redact: func(r investigate.Report) investigate.Report { return llm.RedactReport(nil, r) }},
	})
	thread := h.investigate("orders-api-5xx")
	if _, ok := h.report(channel, thread, 10*time.Second); !ok {
		t.Fatal("no report in the thread")
	}
	inv, err := h.store.Thread(context.Background(), channel, thread)
	if err != nil || inv.Report == nil {
		t.Fatalf("stored: %v", err)
	}
	stored, _ := json.Marshal(inv)
	if strings.Contains(string(stored), secret) {
		t.Errorf("the store keeps the secret: %s", stored)
	}
}

// throttledError is a store error of a kind the bot's StoreFailure knows.
type throttledError struct{ table string }

func (e throttledError) Error() string {
	return "dynamodb PutItem on " + e.table + ": ProvisionedThroughputExceededException"
}

// leaseRefusingStore fails every lease with err.
type leaseRefusingStore struct {
	*incident.Memory
	err error
}

func (s leaseRefusingStore) Acquire(context.Context, string, string, time.Duration) (bool, error) {
	return false, s.err
}

// A store that fails tells the user what kind of failure it is, in the
// words StoreFailure gives, and never the error (a table's ARN).
func TestStoreFailureReachesTheUserBriefly(t *testing.T) {
	const arn = "arn:aws:dynamodb:us-east-1:123456789012:table/unstuck"
	h := newHarness(t, setup{
		store: leaseRefusingStore{Memory: incident.NewMemory(0), err: throttledError{table: arn}},
		opts: handlers.Options{StoreFailure: func(err error) string {
			if errors.As(err, new(throttledError)) {
				return "store throttled"
			}
			return "store error"
		}},
	})
	env := h.srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, user, "orders-api-5xx"))
	if _, ok := h.srv.WaitAck(env, 3*time.Second); !ok {
		t.Fatal("no ack")
	}
	var got string
	if !h.srv.WaitFor(5*time.Second, func() bool {
		for _, m := range h.srv.Messages(channel) {
			if m.User == slacktest.BotUserID && strings.Contains(m.BlocksText()+m.Text, "try again") {
				got = m.BlocksText() + m.Text
				return true
			}
		}
		return false
	}) {
		t.Fatal("the user was not told the investigation could not start")
	}
	if !strings.Contains(got, "store throttled") || strings.Contains(got, arn) {
		t.Errorf("message %q: want the kind of failure (store throttled) and not the table", got)
	}
}
