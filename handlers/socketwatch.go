package handlers

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// SocketLogger is where slack-go's socket-mode client writes its log (a
// *log.Logger is one).
type SocketLogger interface {
	Output(calldepth int, s string) error
}

// SocketMode returns the socket-mode client for Serve: slack-go's, whose
// log the bot reads for what slack-go does not tell its caller. Slack-go
// reconnects on any disconnect message without saying why Slack sent it,
// and an acknowledgement it accepts is only queued: from its log the bot
// learns the reason (and logs it: a connection over Slack's cap, or Socket
// Mode turned off, needs an operator) and when each acknowledgement was
// written, and on which connection. The log goes on to log, when debug is
// set, as with socketmode.OptionDebug; log may be nil. A client made
// otherwise still works with Serve, without either.
func (b *Bot) SocketMode(api *slack.Client, log SocketLogger, debug bool, opts ...socketmode.Option) *socketmode.Client {
	w := &socketWatch{next: log, debug: debug, recv: map[string]received{}, acks: map[string]*pendingAck{}, changed: make(chan struct{})}
	opts = append(slices.Clone(opts), socketmode.OptionDebug(true), socketmode.OptionLog(w))
	w.sm = socketmode.New(api, opts...)
	b.socket.watch.Store(w)
	return w.sm
}

// watchOf is the watch on sm's log; nil when sm was not made by
// SocketMode.
func (b *Bot) watchOf(sm *socketmode.Client) *socketWatch {
	if w := b.socket.watch.Load(); w != nil && w.sm == sm {
		return w
	}
	return nil
}

// socketWatch reads a socket-mode client's log. The lines it reads are
// slack-go's debug lines (v0.35): a change there shows in the tests that
// drop connections and stop the bot.
type socketWatch struct {
	sm    *socketmode.Client
	next  SocketLogger
	debug bool

	mu sync.Mutex
	// onDisconnect is told the reason of each disconnect message.
	onDisconnect func(reason string)
	// conn counts the connections opened.
	conn int
	// recv is the connection each envelope came on, by envelope id.
	recv map[string]received
	// acks are the acknowledgements queued and not yet written.
	acks    map[string]*pendingAck
	changed chan struct{}
}

type received struct {
	conn int
	at   time.Time
}

type pendingAck struct {
	at time.Time
	// done gets whether the acknowledgement was written on the
	// connection its envelope came on.
	done   chan bool
	failed bool
}

// The debug lines of slack-go's socket-mode client the watch reads.
const (
	logConnected = "WebSocket connection succeeded on try "
	logReceived  = "Received WebSocket message: "
	logWriteFail = "failed to write Socket Mode response for envelope ID "
	logSent      = "Finished sending Socket Mode response with envelope ID "
)

// Output reads one line of the client's log, and passes it on when debug
// is set.
func (w *socketWatch) Output(calldepth int, s string) error {
	line := strings.TrimSpace(s)
	var reason string
	w.mu.Lock()
	switch {
	case strings.HasPrefix(line, logConnected):
		w.conn++
	case strings.HasPrefix(line, logReceived):
		var m struct {
			Type       string `json:"type"`
			EnvelopeID string `json:"envelope_id"`
			Reason     string `json:"reason"`
		}
		if json.Unmarshal([]byte(strings.TrimPrefix(line, logReceived)), &m) == nil {
			if m.Type == socketmode.RequestTypeDisconnect {
				reason = cmp.Or(m.Reason, "(none)")
			}
			if m.EnvelopeID != "" {
				w.received(m.EnvelopeID)
			}
		}
	case strings.HasPrefix(line, logWriteFail):
		if id, ok := envelopeID(line, logWriteFail); ok {
			if a := w.acks[id]; a != nil {
				a.failed = true
			}
		}
	case strings.HasPrefix(line, logSent):
		if id, ok := envelopeID(line, logSent); ok {
			w.sent(id)
		}
	}
	on := w.onDisconnect
	w.mu.Unlock()
	if reason != "" && on != nil {
		on(reason)
	}
	if w.debug && w.next != nil {
		return w.next.Output(calldepth+1, s)
	}
	return nil
}

// envelopeID reads the quoted envelope id that follows prefix.
func envelopeID(line, prefix string) (string, bool) {
	rest, _, _ := strings.Cut(strings.TrimPrefix(line, prefix), ":")
	id, err := strconv.Unquote(strings.TrimSpace(rest))
	return id, err == nil
}

// keep bounds what the watch remembers of envelopes and acknowledgements
// that never got further (a connection that dropped meanwhile).
const keep = time.Minute

// received notes the connection an envelope came on; call with mu held.
func (w *socketWatch) received(id string) {
	now := time.Now()
	if len(w.recv) > 1000 {
		for k, r := range w.recv {
			if now.Sub(r.at) > keep {
				delete(w.recv, k)
			}
		}
	}
	w.recv[id] = received{conn: w.conn, at: now}
}

// sent settles an acknowledgement slack-go has written, or failed to;
// call with mu held.
func (w *socketWatch) sent(id string) {
	r, seen := w.recv[id]
	delete(w.recv, id)
	a := w.acks[id]
	if a == nil {
		return
	}
	delete(w.acks, id)
	a.done <- !a.failed && (!seen || r.conn == w.conn)
	w.notify()
}

// notify wakes flush; call with mu held.
func (w *socketWatch) notify() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// expect registers an acknowledgement about to be queued; its channel
// gets whether it was written on the connection its envelope came on.
func (w *socketWatch) expect(id string) <-chan bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for k, a := range w.acks {
		if now.Sub(a.at) > keep {
			delete(w.acks, k)
		}
	}
	a := &pendingAck{at: now, done: make(chan bool, 1)}
	w.acks[id] = a
	return a.done
}

// cancel forgets an acknowledgement that was not queued after all.
func (w *socketWatch) cancel(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.acks, id)
	w.notify()
}

// errAckLost is an acknowledgement that did not reach the connection its
// envelope came on: Slack has not received it.
var errAckLost = errors.New("acknowledgement not written on the envelope's connection")

// wait waits for an acknowledgement's write until the deadline.
func (w *socketWatch) wait(ctx context.Context, id string, done <-chan bool, deadline time.Time) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case ok := <-done:
		if !ok {
			return errAckLost
		}
		return nil
	case <-timer.C:
		w.cancel(id)
		return fmt.Errorf("%w: not written within %s of the envelope's arrival", errAckLost, ackDeadline)
	case <-ctx.Done():
		w.cancel(id)
		return ctx.Err()
	}
}

// flush waits until every acknowledgement queued is written, or timeout.
func (w *socketWatch) flush(timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		n, changed := len(w.acks), w.changed
		w.mu.Unlock()
		if n == 0 {
			return true
		}
		select {
		case <-changed:
		case <-deadline:
			return false
		}
	}
}

// watchDisconnects sets what is told the reason of each disconnect
// message.
func (w *socketWatch) watchDisconnects(on func(reason string)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.onDisconnect = on
}
