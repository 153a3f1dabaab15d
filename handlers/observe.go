package handlers

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/unstuck/unstuck/incident"
)

// Metrics receives the bot's measurements of itself. Package metrics
// implements it with Prometheus; a nil Options.Metrics measures nothing.
type Metrics interface {
	// Acked is one socket-mode acknowledgement: the envelope's type, the
	// time from its arrival to the acknowledgement, and the write's error.
	Acked(envelopeType string, latency time.Duration, err error)
	// InvestigationStarted is an investigation beginning to run.
	InvestigationStarted()
	// InvestigationFinished is how an investigation ended (OutcomeDone,
	// OutcomeCutShort, OutcomeFailed, OutcomeTakenOver) and how long it ran.
	InvestigationFinished(outcome string, took time.Duration)
	// SourceError is a source an investigation could not read: its kind
	// (metrics, logs, traces, changes, …), never a resource's name.
	SourceError(source string)
	// Recovered is one pass, done, over the work stopped or crashed
	// processes left (at start, then every RecoverEvery): how many
	// interrupted investigations this replica took over (failed and their
	// threads told) and how many kept events it queued again.
	Recovered(investigations, events int)
}

// Outcomes of an investigation, as Metrics sees them.
const (
	OutcomeDone      = "done"
	OutcomeCutShort  = "cut_short"
	OutcomeFailed    = "failed"
	OutcomeTakenOver = "taken_over"
)

// NopMetrics measures nothing.
type NopMetrics struct{}

func (NopMetrics) Acked(string, time.Duration, error)          {}
func (NopMetrics) InvestigationStarted()                       {}
func (NopMetrics) InvestigationFinished(string, time.Duration) {}
func (NopMetrics) SourceError(string)                          {}
func (NopMetrics) Recovered(int, int)                          {}

// sourceKind is the kind of an unavailable source: its first word ("logs
// /aws/lambda/x" is logs), so that a metric's labels stay few.
func sourceKind(source string) string {
	if f := strings.Fields(source); len(f) > 0 {
		return strings.ToLower(f[0])
	}
	return "unknown"
}

// socketState is whether the socket-mode connection is up, for Ready.
type socketState struct {
	up atomic.Bool
	// watch reads the log of the client SocketMode made.
	watch atomic.Pointer[socketWatch]
}

// ErrNotConnected is Ready's answer while the socket is down.
var ErrNotConnected = errors.New("socket mode is not connected")

// Connected reports whether the socket-mode connection is up.
func (b *Bot) Connected() bool { return b.socket.up.Load() }

// StoreReachable reads the store once: nil when it answers (a thread that
// does not exist is an answer).
func (b *Bot) StoreReachable(ctx context.Context) error {
	if b.store == nil {
		return errors.New("no store")
	}
	_, err := b.store.Thread(ctx, "readyz", "0")
	if err == nil || errors.Is(err, incident.ErrNotFound) {
		return nil
	}
	return err
}

// SocketConnected is Connected as a readiness check.
func (b *Bot) SocketConnected(context.Context) error {
	if !b.Connected() {
		return ErrNotConnected
	}
	return nil
}
