package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack/socketmode"
)

// envelope is a socket-mode message from Slack.
type envelope struct {
	EnvelopeID   string          `json:"envelope_id"`
	Type         string          `json:"type"`
	Payload      json.RawMessage `json:"payload"`
	RetryAttempt int             `json:"retry_attempt"`
	RetryReason  string          `json:"retry_reason"`
}

// pool runs jobs on a fixed number of workers, with a bounded queue.
type pool struct {
	jobs chan func(context.Context)
	wg   sync.WaitGroup
	once sync.Once
	// inflight counts the jobs queued or running (the Bot's, shared by
	// its pools).
	inflight *atomic.Int64
}

func newPool(ctx context.Context, log *slog.Logger, inflight *atomic.Int64, workers, queue int) *pool {
	p := &pool{jobs: make(chan func(context.Context), queue), inflight: inflight}
	for range workers {
		p.wg.Go(func() {
			for job := range p.jobs {
				runJob(ctx, log, job)
				p.inflight.Add(-1)
			}
		})
	}
	return p
}

// runJob runs one job; a panic is logged, not fatal to the bot.
func runJob(ctx context.Context, log *slog.Logger, job func(context.Context)) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("handler panic", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	job(ctx)
}

// submit queues a job; false when the queue is full or closed.
func (p *pool) submit(job func(context.Context)) (ok bool) {
	// Counted before it is queued, so that a job that submits another is
	// never seen finished before the other is counted.
	p.inflight.Add(1)
	defer func() {
		if recover() != nil { // closed
			ok = false
		}
		if !ok {
			p.inflight.Add(-1)
		}
	}()
	select {
	case p.jobs <- job:
		return true
	default:
		return false
	}
}

// close takes no more jobs; the workers finish the queue.
func (p *pool) close() { p.once.Do(func() { close(p.jobs) }) }

// workers is the bot's running work: quick jobs (posting, answering,
// buttons) and investigations, each in its own pool so that a long
// investigation never delays an answer.
type workers struct {
	quick, slow *pool
	// intake counts the envelopes being kept and acknowledged.
	intake sync.WaitGroup
}

// Serve runs the bot on a socket-mode client until ctx ends, then stops
// taking work, lets what is in flight finish within the grace period, and
// returns. It reconnects whenever the socket drops or Slack asks it to.
func (b *Bot) Serve(ctx context.Context, sm *socketmode.Client) error {
	auth, err := b.api.AuthTestContext(ctx)
	if te := RefusedToken("bot", "auth.test", err); te != nil {
		return te
	}
	if err != nil {
		return fmt.Errorf("slack auth.test: %w", err)
	}
	b.botUserID, b.botID = auth.UserID, auth.BotID
	if err := b.resolveSenders(ctx); err != nil {
		return err
	}

	// Work outlives ctx by the grace period.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	w := &workers{
		quick: newPool(workCtx, b.log, &b.inflight, max(4, b.opts.Workers), b.opts.Queue),
		slow:  newPool(workCtx, b.log, &b.inflight, b.opts.Workers, b.opts.Queue),
	}
	b.work = w

	// Before taking work: the investigations a stop or a crash cut off
	// (this process's before it restarted, or another replica's) are
	// resumed once, as many as there are workers, and their threads told
	// (recoverInterrupted); then again every RecoverEvery, for leases that
	// expire later, and whenever a resumed one ends with others left. The events acknowledged
	// and not handled are handled again: at start all whose lease is free
	// (this process has none in hand yet), later those older than
	// eventGrace.
	rctx, cancelRecover := context.WithTimeout(ctx, 2*time.Minute)
	b.recoverPass(rctx, b.wall.Now())
	cancelRecover()
	recoverCtx, stopRecover := context.WithCancel(ctx)
	defer stopRecover()
	recoverDone := make(chan struct{})
	// The ticker starts before the socket, so that its first tick is due
	// RecoverEvery after the pass above by the WallClock.
	tick, stopTick := b.wall.Tick(b.opts.RecoverEvery)
	go func() {
		defer close(recoverDone)
		defer stopTick()
		for {
			select {
			case <-recoverCtx.Done():
				return
			case <-tick:
			case <-b.kick:
			}
			b.recoverPass(recoverCtx, b.wall.Now().Add(-eventGrace))
		}
	}()

	// The socket outlives ctx until what it delivered is acknowledged
	// (drain).
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	runDone := make(chan struct{})
	// tokenRefused receives Slack's refusal of the app token, which ends
	// Serve; refused, a disconnect that refuses the connection (too many
	// sockets, Socket Mode off), which makes the next try wait.
	tokenRefused := make(chan *TokenError, 1)
	refused := make(chan struct{}, 1)
	watch := b.watchOf(sm)
	if watch != nil {
		watch.watchDisconnects(func(reason string) { b.disconnected(reason, refused) })
	}
	go func() {
		defer close(runDone)
		if te := b.runSocket(runCtx, sm, refused); te != nil {
			tokenRefused <- te
		}
	}()

	// Envelopes are taken, and their work runs, under workCtx: what was
	// read before ctx ended is still acknowledged and done.
	b.log.Info("serving", "bot_user", b.botUserID, "workers", b.opts.Workers)
	var serveErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case te := <-tokenRefused:
			b.log.Error("socket mode: Slack refused the app token; stopping", "method", te.Method, "code", te.Code)
			serveErr = te
			break loop
		case evt, ok := <-sm.Events:
			if !ok {
				break loop
			}
			b.onSocketEvent(workCtx, sm, w, evt)
		}
	}

	// Stop taking work. What was read from the socket and not acknowledged
	// yet is acknowledged first, while the socket is up: Slack delivers an
	// unacknowledged event again (to another replica, or to this process
	// when it is back) but not a slash command or a click, which the user
	// would see fail. Then the socket and the queues close.
	b.drain(workCtx, sm, w, watch)
	stopRun()
	stopRecover()
	<-recoverDone
	b.log.Info("stopping: finishing in-flight work", "in_flight", b.InFlight(), "grace", b.opts.Grace)
	w.quick.close()
	finished := make(chan struct{})
	go func() {
		w.quick.wg.Wait()
		w.slow.close()
		w.slow.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(b.opts.Grace):
		b.log.Warn("grace period over: cancelling in-flight work")
		cancelWork()
		<-finished
	}
	<-runDone
	return serveErr
}

// drainRounds bounds the rounds of draining at shutdown: envelopes that
// arrive while the ones before are acknowledged are taken too, a few
// times over.
const drainRounds = 3

// drain takes the envelopes read from the socket and not yet taken, and
// waits until every envelope taken is acknowledged and, with a watch, the
// acknowledgements are written.
func (b *Bot) drain(ctx context.Context, sm *socketmode.Client, w *workers, watch *socketWatch) {
	for range drainRounds {
		n := 0
	take:
		for {
			select {
			case evt, ok := <-sm.Events:
				if !ok {
					break take
				}
				b.onSocketEvent(ctx, sm, w, evt)
				n++
			default:
				break take
			}
		}
		w.intake.Wait()
		if watch != nil && b.socket.up.Load() && !watch.flush(ackDeadline) {
			b.log.Warn("stopping: acknowledgements not written before the socket closes")
		}
		if n == 0 {
			return
		}
	}
}

// runSocket keeps the socket-mode connection up: the client reconnects by
// itself on a dropped socket or a refresh; when it gives up (Slack
// unreachable for long), or Slack refuses the connection (disconnected),
// this tries again after a pause, which doubles each time up to a minute.
// A token Slack refuses for good (apps.connections.open: invalid_auth,
// not_authed, …) is returned instead: no retry can help.
func (b *Bot) runSocket(ctx context.Context, sm *socketmode.Client, refused <-chan struct{}) *TokenError {
	pause := time.Second
	for ctx.Err() == nil {
		rctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-refused:
				cancel()
			case <-rctx.Done():
			}
		}()
		err := sm.RunContext(rctx)
		refusal := rctx.Err() != nil && ctx.Err() == nil
		cancel()
		b.socket.up.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if te := RefusedToken("app", "apps.connections.open", err); te != nil {
			return te
		}
		if refusal {
			b.log.Warn("socket mode: connecting again after Slack's refusal", "in", pause)
		} else {
			b.log.Error("socket mode stopped; reconnecting", "err", err, "in", pause)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Minute)
	}
	return nil
}

// disconnected is told the reason of each disconnect message Slack sends.
// Slack-go reconnects at once whatever the reason; a refusal (too many
// connections, Socket Mode off) is logged for an operator, and refused
// makes runSocket pause before the next try instead.
func (b *Bot) disconnected(reason string, refused chan<- struct{}) {
	b.socket.up.Store(false)
	switch reason {
	case "warning", "refresh_requested":
		b.log.Info("socket mode: Slack asked for a new connection; reconnecting", "reason", reason)
		return
	case "too_many_websockets":
		b.log.Error("socket mode: Slack refused the connection: the app has more socket-mode connections than Slack allows (10); run at most 10 replicas, and look for other processes using this app token", "reason", reason)
	case "link_disabled":
		b.log.Error("socket mode: Slack closed the connection because Socket Mode is turned off for this app; turn it on in the app's settings (Socket Mode)", "reason", reason)
	default:
		b.log.Warn("socket mode: Slack closed the connection; reconnecting", "reason", reason)
		return
	}
	select {
	case refused <- struct{}{}:
	default:
	}
}

// ackDeadline is how long Slack waits for an acknowledgement before it
// gives up on the envelope: an event is sent again, a slash command or a
// click fails in front of the user.
const ackDeadline = 3 * time.Second

// onSocketEvent acknowledges an envelope at once and hands its work to a
// pool. Nothing here waits on the network except the acknowledgement.
func (b *Bot) onSocketEvent(ctx context.Context, sm *socketmode.Client, w *workers, evt socketmode.Event) {
	arrived := time.Now()
	var env envelope
	switch evt.Type {
	case socketmode.EventTypeSlashCommand, socketmode.EventTypeEventsAPI, socketmode.EventTypeInteractive:
		if evt.Request == nil {
			return
		}
		env = envelope{EnvelopeID: evt.Request.EnvelopeID, Type: evt.Request.Type, Payload: evt.Request.Payload, RetryAttempt: evt.Request.RetryAttempt, RetryReason: evt.Request.RetryReason}
	case socketmode.EventTypeErrorBadMessage:
		// slack-go could not parse the payload into its types; the
		// envelope still needs its acknowledgement, and our own parsing
		// reads fewer fields.
		bad, ok := evt.Data.(*socketmode.ErrorBadMessage)
		if !ok || json.Unmarshal(bad.Message, &env) != nil || env.EnvelopeID == "" {
			b.log.Warn("unreadable socket message", "data", fmt.Sprintf("%T", evt.Data))
			return
		}
	case socketmode.EventTypeConnected:
		b.socket.up.Store(true)
		b.log.Info("connected to Slack")
		return
	case socketmode.EventTypeHello:
		// Slack's hello on a new socket: the connection is established.
		b.socket.up.Store(true)
		if b.opts.OnReady != nil {
			b.readyOnce.Do(b.opts.OnReady)
		}
		return
	case socketmode.EventTypeConnecting, socketmode.EventTypeDisconnect, socketmode.EventTypeInvalidAuth:
		b.socket.up.Store(false)
		return
	case socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed:
		if evt.Type == socketmode.EventTypeConnectionError {
			b.socket.up.Store(false)
		}
		b.log.Warn("socket mode", "event", evt.Type, "data", fmt.Sprint(evt.Data))
		return
	default:
		return
	}
	payload, j := b.route(env)
	if j.run == nil {
		b.ack(ctx, sm, env, payload, arrived, false)
		return
	}
	// Counted until intake has queued the work (which counts itself).
	b.inflight.Add(1)
	w.intake.Go(func() {
		defer b.inflight.Add(-1)
		b.intake(ctx, sm, w, env, payload, j, arrived)
	})
}

// ack acknowledges an envelope with its payload, and reports whether it
// did. Slack-go only queues an acknowledgement: with confirm and a client
// made by SocketMode, ack waits until it is written on the connection the
// envelope came on, within ackDeadline of its arrival; written on another
// connection (the first dropped meanwhile) it is lost.
func (b *Bot) ack(ctx context.Context, sm *socketmode.Client, env envelope, payload any, arrived time.Time, confirm bool) bool {
	watch := b.watchOf(sm)
	var written <-chan bool
	if watch != nil {
		written = watch.expect(env.EnvelopeID)
	}
	ackCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := sm.AckCtx(ackCtx, env.EnvelopeID, payload)
	cancel()
	switch {
	case err != nil && watch != nil:
		watch.cancel(env.EnvelopeID)
	case confirm && watch != nil:
		err = watch.wait(ctx, env.EnvelopeID, written, arrived.Add(ackDeadline))
	}
	b.metrics.Acked(env.Type, time.Since(arrived), err)
	if err != nil {
		b.log.Warn("ack failed", "envelope", env.EnvelopeID, "type", env.Type, "err", err)
		return false
	}
	return true
}
