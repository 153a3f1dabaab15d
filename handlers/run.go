package handlers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/unstuck/unstuck/handlers/blockkit"
	"github.com/unstuck/unstuck/handlers/mrkdwn"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

// start is a request to start an investigation.
type start struct {
	ch       Channel
	channel  string
	threadTS string // the thread to work in; "" posts a new message
	user     string // who asked; "" for an alarm message
	// responseURL answers a slash command where the bot is not a member.
	responseURL string
	target      string // an alarm or a resource
	region      string
	now         time.Time
	lookback    time.Duration
	// fromAlarm: an alarm message started it, so it may join another.
	fromAlarm bool
	wider     bool
	// event is the kept event that asked for it, nil when none: it is
	// handled once the investigation is stored, which keeps the work from
	// then on.
	event *keptEvent
}

// tell answers whoever started a request: the user privately, or the
// alarm's thread.
func (b *Bot) tell(ctx context.Context, s start, text string) {
	if s.user != "" {
		b.ephemeral(ctx, s.channel, s.user, s.threadTS, text)
		return
	}
	b.reply(ctx, s.channel, s.threadTS, text)
}

// start resolves the alarm, posts the first message and queues the
// investigation.
func (b *Bot) start(ctx context.Context, s start) {
	region, ok := s.ch.region(s.region)
	if !ok {
		b.tell(ctx, s, fmt.Sprintf("This channel may not read %s.", mrkdwn.EscapeLine(s.region)))
		return
	}
	if s.user != "" && !b.allowed(ctx, s.ch, s.user) {
		b.tell(ctx, s, "Only members of this channel's unstuck user group may start investigations here.")
		return
	}
	backend, err := b.backends.Backend(ctx, s.ch, region)
	if err != nil {
		b.log.Error("backend", "err", err)
		b.tell(ctx, s, "I can't read this channel's AWS account: "+mrkdwn.EscapeLine(err.Error()))
		return
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	alarm, err := backend.Alarms.FindAlarm(fctx, s.target)
	cancel()
	if err != nil {
		b.tell(ctx, s, notFoundText(s.target, err))
		return
	}
	if alarm.Region != "" {
		region = alarm.Region
	}
	if s.fromAlarm {
		// Messages of one alarm that arrive together (two notifiers post
		// it) are grouped one at a time, so that each sees the
		// investigation the one before started and joins it.
		g, err := b.acquireWait(ctx, groupKey(s.channel, alarm.Name), b.owner("group"), groupWait)
		if g == nil {
			b.log.Warn("alarm group lease: grouping without it", "alarm", alarm.Name, "err", err)
		}
		defer g.release(context.WithoutCancel(ctx))
		if b.join(ctx, s, alarm) {
			return
		}
	}

	inv := incident.Investigation{
		ID:        b.owner("inv"),
		Channel:   s.channel,
		ThreadTS:  s.threadTS,
		Alarm:     alarm,
		Region:    region,
		Requester: s.user,
		Now:       s.now,
		Lookback:  s.lookback,
		State:     incident.StateQueued,
		Started:   b.opts.Clock(),
	}
	// Only the holder of the thread's lease works on its investigation:
	// in an existing thread it is taken before anything is posted (another
	// replica, or another click, may be at it); a new thread's is taken as
	// soon as its first message gives the thread.
	r := &run{b: b, inv: inv, view: blockkit.StatusView{Alarm: alarm.Name, Requester: s.user, State: incident.StateRunning, Wider: s.wider}}
	if s.threadTS != "" {
		h, err := b.acquireWait(ctx, incident.LeaseKey(s.channel, s.threadTS), inv.ID, threadWait)
		if err != nil {
			b.log.Error("lease", "err", err)
			b.tell(ctx, s, b.storeTrouble(err)+", so I can't start; try again in a minute. If it lasts, tell whoever runs me: my log says what is wrong.")
			return
		}
		if h == nil {
			b.tell(ctx, s, "This thread's alarm is already being investigated.")
			return
		}
		r.lease = h
		if prev, err := b.store.Thread(ctx, s.channel, s.threadTS); err == nil {
			r.inv.Joined = prev.Joined
		} else if !errors.Is(err, incident.ErrNotFound) {
			b.log.Warn("store: the thread's earlier investigation not read", "thread", s.threadTS, "err", err)
		}
	}
	blocks, fallback := blockkit.Status(r.view)
	ts, err := b.post(ctx, s.channel, s.threadTS, blocks, fallback)
	if err != nil {
		r.lease.release(ctx)
		b.log.Error("first message", "err", err)
		var se slack.SlackErrorResponse
		if errors.As(err, &se) && (se.Err == "not_in_channel" || se.Err == "channel_not_found") && s.responseURL != "" {
			text := "I'm not a member of this channel, so I can't start a thread here: invite me with `/invite @unstuck` and ask again."
			if _, _, err := b.api.PostMessageContext(ctx, s.channel, slack.MsgOptionResponseURL(s.responseURL, slack.ResponseTypeEphemeral), slack.MsgOptionText(text, false)); err != nil {
				b.log.Warn("response_url", "err", err)
			}
		}
		return
	}
	r.inv.StatusTS = ts
	if r.inv.ThreadTS == "" {
		r.inv.ThreadTS = ts
		h, err := b.acquire(ctx, r.inv.Channel, r.inv.ThreadTS, r.inv.ID)
		if h == nil {
			if err == nil {
				err = errors.New("the lease of a new thread is taken")
			}
			b.log.Error("lease", "err", err)
			// Never stored: only its message says it failed.
			r.view.State, r.view.Error = incident.StateFailed, b.storeTrouble(err)+"; try again in a minute"
			r.showStatus(ctx)
			return
		}
		r.lease = h
	}
	r.queued(ctx, s.event)
	if !b.work.slow.submit(r.execute(backend)) {
		r.failed(ctx, nil, "too many investigations are waiting; try again in a few minutes", false)
		r.lease.release(ctx)
	}
}

// notFoundText explains an unknown alarm, with the closest names.
func notFoundText(target string, err error) string {
	var nf *investigate.NotFoundError
	if !errors.As(err, &nf) {
		return fmt.Sprintf("I could not look up *%s*: %s", mrkdwn.EscapeLine(target), mrkdwn.Truncate(mrkdwn.EscapeLine(err.Error()), 500))
	}
	where := nf.Where()
	if where != "" {
		where = " " + mrkdwn.EscapeLine(strings.TrimSpace(where))
	}
	text := fmt.Sprintf("I can't find an alarm or resource named *%s*%s.", mrkdwn.EscapeLine(target), where)
	if len(nf.Candidates) > 0 {
		var c []string
		for _, n := range nf.Candidates {
			c = append(c, "`"+mrkdwn.EscapeLine(n)+"`")
		}
		text += " The closest I know: " + strings.Join(c, ", ") + "."
	}
	return text
}

// run is one investigation's life in its thread: queued, running, then
// done or failed; one that a stop or a crash cut off is resumed, queued
// again, once. Its transitions write the store and log a write that
// fails; the thread is told before the store, so that a crash in between
// leaves the investigation active in the store and whoever comes next
// tells the thread (recoverInterrupted), where the other order would leave
// a thread that is never told. Resuming is the exception (see resume).
type run struct {
	b    *Bot
	inv  incident.Investigation
	view blockkit.StatusView
	// lease is the thread's: held from before the investigation is stored
	// queued until after it is stored done or failed.
	lease *hold
}

// save writes the investigation as it stands; false, logged, when the
// store failed.
func (r *run) save(ctx context.Context) bool {
	if err := r.b.store.Put(ctx, r.inv); err != nil {
		r.b.log.Error("store: investigation not saved", "alarm", r.inv.Alarm.Name, "thread", r.inv.ThreadTS, "state", r.inv.State, "err", err)
		return false
	}
	return true
}

// showStatus updates the investigation's status message to the view.
func (r *run) showStatus(ctx context.Context) {
	blocks, fallback := blockkit.Status(r.view)
	if err := r.b.update(ctx, r.inv.Channel, r.inv.StatusTS, blocks, fallback); err != nil {
		r.b.log.Warn("status update", "thread", r.inv.ThreadTS, "err", err)
	}
}

// queued stores the investigation queued. Once it is stored, the event
// that asked for it is handled: the investigation is what is kept from
// here on (Interrupted finds it), not the event.
func (r *run) queued(ctx context.Context, ev *keptEvent) {
	r.inv.State = incident.StateQueued
	if r.save(ctx) {
		r.b.forget(ctx, ev)
	}
}

// running stores the investigation running, with the notes its thread has
// by now.
func (r *run) running(ctx context.Context) {
	r.inv.State = incident.StateRunning
	cur, err := r.b.store.Thread(ctx, r.inv.Channel, r.inv.ThreadTS)
	if err != nil {
		r.b.log.Warn("store: the thread's notes not read", "thread", r.inv.ThreadTS, "err", err)
	} else {
		r.inv.Notes = cur.Notes
	}
	r.save(ctx)
}

// failed ends the investigation failed for the reason text: its status
// message says so (through the tracker when the run had one, so that no
// late progress update overwrites it), a Re-run is offered when the bot
// is stopping, and then the store is written.
func (r *run) failed(ctx context.Context, tr *tracker, text string, stopping bool) {
	r.inv.State, r.inv.Error = incident.StateFailed, text
	r.view.State, r.view.Error = incident.StateFailed, text
	if tr != nil {
		tr.finish(ctx, r.view)
	} else {
		r.showStatus(ctx)
	}
	if stopping {
		r.b.offerRerun(ctx, r.inv, stoppingText(r.inv.Alarm.Name))
	}
	r.save(ctx)
}

// resume stores the investigation queued again with one more resume, and
// then tells its thread that it is resumed. The count is stored before the
// thread is told, unlike the other transitions: a crash in between leaves
// it counted, so that whoever comes next does not resume it blindly a
// second time (and says so in the thread), where the other order could
// resume a request that crashes the process over and over. False, logged,
// when the store refused the write: it is not resumed then.
func (r *run) resume(ctx context.Context) bool {
	r.inv.Resumes++
	r.inv.State, r.inv.Error = incident.StateQueued, ""
	if !r.save(ctx) {
		return false
	}
	r.b.reply(ctx, r.inv.Channel, r.inv.ThreadTS, resumingText(r.inv.Alarm.Name))
	return true
}

// interrupted ends an investigation a stop or a crash cut off, and that is
// not resumed, failed for the reason why: its status message and its
// thread (text, with a Re-run button for a person) say so, and then the
// store is written.
func (r *run) interrupted(ctx context.Context, why, text string) {
	r.inv.State, r.inv.Error = incident.StateFailed, why
	r.view.State, r.view.Error = incident.StateFailed, why
	if r.inv.StatusTS != "" {
		r.showStatus(ctx)
	}
	r.b.offerRerun(ctx, r.inv, text)
	r.save(ctx)
}

// done stores the report, posts it in the thread and stores the
// investigation done: stored before it is posted, so that a question or a
// click on it finds it, and done once it is posted.
func (r *run) done(ctx context.Context, rep investigate.Report) {
	r.inv.Report, r.inv.ReportTS = &rep, nil
	r.save(ctx)
	cur, err := r.b.store.Thread(ctx, r.inv.Channel, r.inv.ThreadTS)
	if err != nil {
		r.b.log.Warn("store: the thread's feedback not read", "thread", r.inv.ThreadTS, "err", err)
		cur = r.inv
	}
	msgs, fallback := blockkit.Report(rep, blockkit.ReportView{ThreadTS: r.inv.ThreadTS, Feedback: cur.Feedback, Joined: cur.Joined})
	r.view.Posted = blockkit.PostedWhole
	for i, blocks := range msgs {
		ts, err := r.b.post(ctx, r.inv.Channel, r.inv.ThreadTS, blocks, blockkit.PartFallback(fallback, i))
		if err != nil {
			r.b.log.Error("report", "part", i, "err", err)
			if i == 0 {
				// Slack refused the first screen: the answer still goes
				// out, in a few plain lines, and the status says so.
				r.view.Posted = blockkit.PostedNone
				short, shortFallback := blockkit.Shortened(rep)
				if ts, err := r.b.post(ctx, r.inv.Channel, r.inv.ThreadTS, short, shortFallback); err != nil {
					r.b.log.Error("shortened report", "err", err)
				} else {
					r.view.Posted = blockkit.PostedShort
					r.inv.ReportTS = append(r.inv.ReportTS, ts)
				}
			}
			break
		}
		r.inv.ReportTS = append(r.inv.ReportTS, ts)
	}
	r.inv.State = incident.StateDone
	r.save(ctx)
}

// takenOver drops what the run found: another replica took the
// investigation over and tells the thread itself.
func (r *run) takenOver(tr *tracker, what string) {
	tr.stop()
	r.b.metrics.InvestigationFinished(OutcomeTakenOver, r.view.Elapsed)
	r.b.log.Warn("investigation taken over by another replica; "+what+" is dropped", "alarm", r.inv.Alarm.Name, "thread", r.inv.ThreadTS)
}

// execute is the job that runs the investigation and writes its report
// into the thread. It holds the investigation's lease throughout and
// releases it at the end; if the lease is lost (another replica took the
// investigation over), it stops and posts nothing more.
func (r *run) execute(backend Backend) func(context.Context) {
	return func(ctx context.Context) {
		b := r.b
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.opts.OutcomeTimeout)
			defer cancel()
			r.lease.release(rctx)
		}()

		began := time.Now()
		ictx, cancel := context.WithTimeout(ctx, b.opts.Deadline)
		defer cancel()
		defer context.AfterFunc(r.lease.lost, cancel)()
		if r.lease.isLost() {
			b.log.Warn("investigation taken over before it ran", "alarm", r.inv.Alarm.Name, "thread", r.inv.ThreadTS)
			return
		}
		b.metrics.InvestigationStarted()
		r.running(ictx)
		tr := b.newTracker(r.inv.Channel, r.inv.ThreadTS, r.inv.StatusTS, r.view)
		tr.start(ctx)

		// The alarm as the request found it is read no more.
		alarm := r.inv.Alarm
		rep, err := backend.Investigator.Run(ictx, investigate.Request{
			Alarm:    r.inv.Alarm.Name,
			AlarmDef: &alarm,
			Now:      r.inv.Now,
			Lookback: r.inv.Lookback,
			Notes:    r.inv.Notes,
		}, tr.event)
		r.view.Elapsed = time.Since(began)
		if b.opts.Redact != nil {
			rep = b.opts.Redact(rep)
		}
		// Messages about the outcome go out even when the investigation's
		// own context has ended; their time counts from the end of the
		// run, however long the run took.
		out, cancelOut := context.WithTimeout(context.WithoutCancel(ctx), b.opts.OutcomeTimeout)
		defer cancelOut()
		for _, u := range rep.Unavailable {
			b.metrics.SourceError(sourceKind(u.Source))
		}
		if r.lease.isLost() {
			r.takenOver(tr, "its result")
			return
		}
		if err == nil && ctx.Err() != nil {
			// Shut down past the grace period: what the engine returned is
			// missing most of its reads, so say so instead of reporting it.
			err = ctx.Err()
		}
		if err == nil && errors.Is(ictx.Err(), context.DeadlineExceeded) {
			// The engine reports what it read by the deadline; say what cut
			// the rest short.
			rep.Unavailable = append(rep.Unavailable, investigate.Unavailable{
				Source: "deadline",
				Error:  fmt.Sprintf("the investigation's %s deadline passed; what was not read by then is missing", b.opts.Deadline),
			})
			b.metrics.SourceError("deadline")
			r.view.CutShort = true
		}
		if err != nil {
			r.failed(out, tr, failureText(ictx, ctx, err, b.opts.Deadline), ctx.Err() != nil)
			r.lease.release(out)
			b.log.Warn("investigation failed", "alarm", r.inv.Alarm.Name, "err", err)
			b.metrics.InvestigationFinished(OutcomeFailed, r.view.Elapsed)
			return
		}
		// Once only: the report is posted by the holder of the lease.
		if !r.lease.confirm() {
			r.takenOver(tr, "its report")
			return
		}
		r.done(out, rep)
		// Done: a re-run may take the thread from here.
		r.lease.release(out)
		r.view.State, r.view.Report = incident.StateDone, &rep
		r.view.Steps = tr.steps()
		tr.finish(out, r.view)
		b.log.Info("investigated", "alarm", r.inv.Alarm.Name, "wall", r.view.Elapsed, "hypotheses", len(rep.Hypotheses))
		if r.view.CutShort {
			b.metrics.InvestigationFinished(OutcomeCutShort, r.view.Elapsed)
		} else {
			b.metrics.InvestigationFinished(OutcomeDone, r.view.Elapsed)
		}
		if b.opts.Charts {
			b.uploadChart(out, r.inv, rep)
		}
	}
}

// failureText says why an investigation failed, for the thread.
func failureText(ictx, workCtx context.Context, err error, deadline time.Duration) string {
	var nf *investigate.NotFoundError
	switch {
	case workCtx.Err() != nil:
		return errStopped.Error() + " before it finished; press Re-run or ask again"
	case errors.Is(ictx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("it took longer than its %s deadline", deadline)
	case errors.As(err, &nf):
		return notFoundText(nf.Name, err)
	}
	return mrkdwn.Truncate(mrkdwn.EscapeLine(err.Error()), 500)
}

// join attaches an alarm that fired close to another investigation in the
// channel, sharing its alarm or resources, to that investigation.
func (b *Bot) join(ctx context.Context, s start, alarm investigate.Alarm) bool {
	recent, err := b.store.Recent(ctx, s.channel, b.opts.Clock().Add(-b.opts.GroupWindow))
	if err != nil {
		return false
	}
	for _, other := range recent {
		if other.ThreadTS == s.threadTS || other.State == incident.StateFailed || !related(other, alarm) {
			continue
		}
		if other.Alarm.Name != alarm.Name && !slices.Contains(other.Joined, alarm.Name) {
			other.Joined = append(other.Joined, alarm.Name)
			if err := b.store.Put(ctx, other); err != nil {
				b.log.Error("store: joined alarm not saved", "alarm", alarm.Name, "thread", other.ThreadTS, "err", err)
			}
		}
		text := fmt.Sprintf(":link: *%s* fired with *%s*, which I'm already investigating; I follow it there.", mrkdwn.EscapeLine(alarm.Name), mrkdwn.EscapeLine(other.Alarm.Name))
		b.reply(ctx, s.channel, s.threadTS, text)
		if other.Alarm.Name != alarm.Name {
			note := fmt.Sprintf(":link: *%s* fired too (on %s) and joins this investigation.", mrkdwn.EscapeLine(alarm.Name), mrkdwn.EscapeLine(alarm.Resource))
			b.reply(ctx, other.Channel, other.ThreadTS, note)
		}
		return true
	}
	return false
}

// related reports whether an alarm shares its name or resources with an
// investigation.
func related(inv incident.Investigation, a investigate.Alarm) bool {
	if inv.Alarm.Name == a.Name || slices.Contains(inv.Joined, a.Name) {
		return true
	}
	if a.Resource == "" {
		return false
	}
	if inv.Alarm.Resource == a.Resource {
		return true
	}
	return inv.Report != nil && slices.Contains(inv.Report.Scope.Resources, a.Resource)
}

// errStopped marks work cut short by shutdown.
var errStopped = errors.New("the bot is restarting")

// storeTrouble says why the store failed, for a user: a few words from
// Options.StoreFailure, never the error itself.
func (b *Bot) storeTrouble(err error) string {
	if err != nil && b.opts.StoreFailure != nil {
		if kind := b.opts.StoreFailure(err); kind != "" {
			return "I can't use my store right now (" + kind + ")"
		}
	}
	return "I can't reach my store right now"
}
