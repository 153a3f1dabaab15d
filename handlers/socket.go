package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack/socketmode"

	"github.com/unstuck/unstuck/incident"
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
}

func newPool(ctx context.Context, log *slog.Logger, workers, queue int) *pool {
	p := &pool{jobs: make(chan func(context.Context), queue)}
	for range workers {
		p.wg.Go(func() {
			for job := range p.jobs {
				runJob(ctx, log, job)
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
	defer func() {
		if recover() != nil { // closed
			ok = false
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
	if err != nil {
		return fmt.Errorf("slack auth.test: %w", err)
	}
	b.botUserID, b.botID = auth.UserID, auth.BotID

	// Work outlives ctx by the grace period.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	w := &workers{
		quick: newPool(workCtx, b.log, max(4, b.opts.Workers), b.opts.Queue),
		slow:  newPool(workCtx, b.log, b.opts.Workers, b.opts.Queue),
	}
	b.work = w

	// Before taking work: the investigations a stop or a crash cut off
	// (this process's before it restarted, or another replica's) are
	// marked failed and their threads told; then again every
	// RecoverEvery, for leases that expire later. The events acknowledged
	// and not handled are handled again: at start all whose lease is free
	// (this process has none in hand yet), later those older than
	// eventGrace.
	rctx, cancelRecover := context.WithTimeout(ctx, 2*time.Minute)
	b.recoverInterrupted(rctx)
	b.recoverEvents(rctx, time.Now())
	cancelRecover()
	recoverCtx, stopRecover := context.WithCancel(ctx)
	defer stopRecover()
	recoverDone := make(chan struct{})
	go func() {
		defer close(recoverDone)
		t := time.NewTicker(b.opts.RecoverEvery)
		defer t.Stop()
		for {
			select {
			case <-recoverCtx.Done():
				return
			case <-t.C:
				b.recoverInterrupted(recoverCtx)
				b.recoverEvents(recoverCtx, time.Now().Add(-eventGrace))
			}
		}
	}()

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		b.runSocket(runCtx, sm)
	}()

	b.log.Info("serving", "bot_user", b.botUserID, "workers", b.opts.Workers)
loop:
	for {
		select {
		case <-ctx.Done():
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
	b.log.Info("stopping: finishing in-flight work", "grace", b.opts.Grace)
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
	return nil
}

// runSocket keeps the socket-mode connection up: the client reconnects by
// itself on a dropped socket or a refresh; when it gives up (bad token,
// Slack unreachable for long) this tries again after a pause.
func (b *Bot) runSocket(ctx context.Context, sm *socketmode.Client) {
	pause := time.Second
	for ctx.Err() == nil {
		err := sm.RunContext(ctx)
		b.socket.up.Store(false)
		if ctx.Err() != nil {
			return
		}
		b.log.Error("socket mode stopped; reconnecting", "err", err, "in", pause)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Minute)
	}
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
	w.intake.Go(func() { b.intake(ctx, sm, w, env, payload, j, arrived) })
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

// receiveTimeout bounds keeping an event before it is acknowledged: Slack
// wants the acknowledgement within 3s.
const receiveTimeout = 1500 * time.Millisecond

// intake keeps an event in the store, acknowledges it, takes the lease on
// handling it and queues its work. An event is kept before it is
// acknowledged because Slack does not deliver an acknowledged envelope
// again: if this process dies before the event is handled, whoever comes
// next finds it (recoverEvents). A duplicate delivery is acknowledged and
// dropped. When the store fails, the event is handled without being kept.
func (b *Bot) intake(ctx context.Context, sm *socketmode.Client, w *workers, env envelope, ackPayload any, j job, arrived time.Time) {
	ev := incident.Event{Key: j.key, Type: env.Type, Payload: env.Payload, Received: time.Now()}
	rctx, cancel := context.WithTimeout(ctx, receiveTimeout)
	first, err := b.store.Receive(rctx, ev)
	cancel()
	kept := err == nil
	if err != nil {
		if ctx.Err() != nil {
			return // stopping: left unacknowledged, Slack delivers it again
		}
		b.log.Warn("event store: handling the event without keeping it", "key", j.key, "err", err)
		first = true
	}
	// Kept, it is this process's to handle even if it is stopping now.
	ctx = context.WithoutCancel(ctx)
	b.ack(ctx, sm, env, ackPayload, arrived)
	if !first {
		b.log.Info("duplicate delivery ignored", "key", j.key)
		return
	}
	var lease *hold
	if kept {
		h, err := b.acquireKey(ctx, incident.EventLeaseKey(j.key), b.owner("event"))
		switch {
		case err != nil:
			b.log.Warn("event lease: handling the event without it", "key", j.key, "err", err)
		case h == nil:
			return // another replica took it over already
		}
		lease = h
	}
	b.dispatch(w, j, lease, kept)
}

// dispatch queues an event's work. The work runs under the event's lease
// (nil when the event is not kept) and marks the event handled when it
// ends, unless shutdown cut it off: then the event is left for whoever
// comes next.
func (b *Bot) dispatch(w *workers, j job, lease *hold, kept bool) {
	var ev *keptEvent
	if kept {
		ev = &keptEvent{key: j.key}
	}
	finish := func(ctx context.Context, handled bool) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.opts.OutcomeTimeout)
		defer cancel()
		if handled {
			b.forget(ctx, ev)
		}
		lease.release(ctx)
	}
	run := func(ctx context.Context) {
		handled := false
		defer func() { finish(ctx, handled) }()
		if ctx.Err() != nil {
			return // cut off by shutdown before it ran
		}
		if ev != nil {
			ctx = context.WithValue(ctx, keptEventCtx{}, ev)
		}
		j.run(ctx)
		handled = ctx.Err() == nil
	}
	if !w.quick.submit(run) {
		b.log.Warn("queue full: dropping work", "key", j.key)
		go func() {
			if j.tell != nil {
				j.tell(context.Background(), "I'm too busy right now; try again in a minute.")
			}
			finish(context.Background(), true)
		}()
	}
}

// job is the work an envelope asks for.
type job struct {
	// key identifies the event across deliveries (incident.Event.Key).
	key string
	run func(context.Context)
	// tell answers whoever sent the event, when its work cannot be done;
	// nil when there is nobody to tell.
	tell func(ctx context.Context, text string)
}

// keptEvent is an event kept in the store (incident.Inbox) while its work runs.
type keptEvent struct {
	key string
	// forgotten is set once Handled succeeded, so that it is written once.
	forgotten atomic.Bool
}

type keptEventCtx struct{}

// handledWith forgets the kept event whose work ctx is, if any, before
// that work ends: the work is kept elsewhere from now on (an investigation
// that was Put).
func (b *Bot) handledWith(ctx context.Context) {
	if ev, ok := ctx.Value(keptEventCtx{}).(*keptEvent); ok {
		b.forget(ctx, ev)
	}
}

// forget marks a kept event handled, unless it was already; nil is no
// event.
func (b *Bot) forget(ctx context.Context, ev *keptEvent) {
	if ev != nil && !ev.forgotten.Load() && b.handled(ctx, ev.key) {
		ev.forgotten.Store(true)
	}
}

// handled forgets a kept event; false when the store failed.
func (b *Bot) handled(ctx context.Context, key string) bool {
	if err := b.store.Handled(ctx, key); err != nil {
		b.log.Warn("event store: handled", "key", key, "err", err)
		return false
	}
	return true
}

// route decides, without I/O, what an envelope's acknowledgement carries
// and what work follows it.
func (b *Bot) route(env envelope) (ackPayload any, j job) {
	switch env.Type {
	case socketmode.RequestTypeSlashCommands:
		ackPayload, j = b.routeCommand(env.Payload)
	case socketmode.RequestTypeEventsAPI:
		j = b.routeEvent(env.Payload)
	case socketmode.RequestTypeInteractive:
		j = b.routeInteraction(env.Payload)
	}
	if j.run != nil && j.key == "" {
		// A payload without its id: its deliveries cannot be told apart
		// beyond their envelope.
		j.key = "envelope:" + env.EnvelopeID
	}
	return ackPayload, j
}

// errStopped marks work cut short by shutdown.
var errStopped = errors.New("the bot is restarting")
