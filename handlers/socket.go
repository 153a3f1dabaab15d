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

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	runDone := make(chan struct{})
	// refused receives Slack's refusal of the app token, which ends Serve.
	refused := make(chan *TokenError, 1)
	go func() {
		defer close(runDone)
		if te := b.runSocket(runCtx, sm); te != nil {
			refused <- te
		}
	}()

	b.log.Info("serving", "bot_user", b.botUserID, "workers", b.opts.Workers)
	var serveErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case te := <-refused:
			b.log.Error("socket mode: Slack refused the app token; stopping", "method", te.Method, "code", te.Code)
			serveErr = te
			break loop
		case evt, ok := <-sm.Events:
			if !ok {
				break loop
			}
			b.onSocketEvent(ctx, sm, w, evt)
		}
	}

	// Stop taking work: close the socket (Slack redelivers to another
	// replica what this one does not acknowledge) and the queues.
	stopRun()
	stopRecover()
	<-recoverDone
	w.intake.Wait()
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

// runSocket keeps the socket-mode connection up: the client reconnects by
// itself on a dropped socket or a refresh; when it gives up (Slack
// unreachable for long) this tries again after a pause. A token Slack
// refuses for good (apps.connections.open: invalid_auth, not_authed, …) is
// returned instead: no retry can help.
func (b *Bot) runSocket(ctx context.Context, sm *socketmode.Client) *TokenError {
	pause := time.Second
	for ctx.Err() == nil {
		err := sm.RunContext(ctx)
		b.socket.up.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if te := RefusedToken("app", "apps.connections.open", err); te != nil {
			return te
		}
		b.log.Error("socket mode stopped; reconnecting", "err", err, "in", pause)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Minute)
	}
	return nil
}

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
		b.ack(ctx, sm, env, payload, arrived)
		return
	}
	// Counted until intake has queued the work (which counts itself).
	b.inflight.Add(1)
	w.intake.Go(func() {
		defer b.inflight.Add(-1)
		b.intake(ctx, sm, w, env, payload, j, arrived)
	})
}

// ack acknowledges an envelope with its payload.
func (b *Bot) ack(ctx context.Context, sm *socketmode.Client, env envelope, payload any, arrived time.Time) {
	ackCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := sm.AckCtx(ackCtx, env.EnvelopeID, payload)
	cancel()
	b.metrics.Acked(env.Type, time.Since(arrived), err)
	if err != nil {
		b.log.Warn("ack failed", "envelope", env.EnvelopeID, "err", err)
	}
}
