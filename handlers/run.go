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
}

// tell answers whoever started a request: the user privately, or the
// alarm's thread.
func (b *Bot) tell(ctx context.Context, s start, text string) {
	if s.user != "" {
		b.ephemeral(ctx, s.channel, s.user, s.threadTS, text)
		return
	}
	if _, err := b.post(ctx, s.channel, s.threadTS, []slack.Block{slack.NewSectionBlock(blockkit.Mrkdwn(text), nil, nil)}, text); err != nil {
		b.log.Warn("reply", "err", err)
	}
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
	var lease *hold
	if s.threadTS != "" {
		h, err := b.acquireWait(ctx, incident.LeaseKey(s.channel, s.threadTS), inv.ID, threadWait)
		if err != nil {
			b.log.Error("lease", "err", err)
			b.tell(ctx, s, "I can't reach my store right now, so I can't start; try again in a minute.")
			return
		}
		if h == nil {
			b.tell(ctx, s, "This thread's alarm is already being investigated.")
			return
		}
		lease = h
		if prev, err := b.store.Thread(ctx, s.channel, s.threadTS); err == nil {
			inv.Joined = prev.Joined
		}
	}
	view := blockkit.StatusView{Alarm: alarm.Name, Requester: s.user, State: incident.StateRunning, Wider: s.wider}
	blocks, fallback := blockkit.Status(view)
	ts, err := b.post(ctx, s.channel, s.threadTS, blocks, fallback)
	if err != nil {
		lease.release(ctx)
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
	inv.StatusTS = ts
	if inv.ThreadTS == "" {
		inv.ThreadTS = ts
		h, err := b.acquire(ctx, inv.Channel, inv.ThreadTS, inv.ID)
		if h == nil {
			if err == nil {
				err = errors.New("the lease of a new thread is taken")
			}
			b.log.Error("lease", "err", err)
			view.State, view.Error = incident.StateFailed, "I can't reach my store right now; try again in a minute"
			blocks, fallback := blockkit.Status(view)
			_ = b.update(ctx, inv.Channel, inv.StatusTS, blocks, fallback)
			return
		}
		lease = h
	}
	if err := b.store.Put(ctx, inv); err != nil {
		b.log.Error("store", "err", err)
	} else {
		// From here on the investigation is kept (Interrupted), not the
		// event that started it.
		b.handledWith(ctx)
	}
	if !b.work.slow.submit(func(ctx context.Context) { b.investigate(ctx, inv, backend, view, lease) }) {
		inv.State, inv.Error = incident.StateFailed, "too many investigations are waiting; try again in a few minutes"
		view.State, view.Error = incident.StateFailed, inv.Error
		blocks, fallback := blockkit.Status(view)
		_ = b.update(ctx, inv.Channel, inv.StatusTS, blocks, fallback)
		if err := b.store.Put(ctx, inv); err != nil {
			b.log.Error("store", "err", err)
		}
		lease.release(ctx)
	}
}

// notFoundText explains an unknown alarm, with the closest names.
func notFoundText(target string, err error) string {
	var nf *investigate.NotFoundError
	if !errors.As(err, &nf) {
		return fmt.Sprintf("I could not look up *%s*: %s", mrkdwn.EscapeLine(target), mrkdwn.Truncate(mrkdwn.EscapeLine(err.Error()), 500))
	}
	text := fmt.Sprintf("I can't find an alarm or resource named *%s*.", mrkdwn.EscapeLine(target))
	if len(nf.Candidates) > 0 {
		var c []string
		for _, n := range nf.Candidates {
			c = append(c, "`"+mrkdwn.EscapeLine(n)+"`")
		}
		text += " The closest I know: " + strings.Join(c, ", ") + "."
	}
	return text
}

// investigate runs one investigation and writes its report into the
// thread. It holds the investigation's lease throughout and releases it
// at the end; if the lease is lost (another replica took the investigation
// over), it stops and posts nothing more.
func (b *Bot) investigate(ctx context.Context, inv incident.Investigation, backend Backend, view blockkit.StatusView, lease *hold) {
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.opts.OutcomeTimeout)
		defer cancel()
		lease.release(rctx)
	}()

	began := time.Now()
	ictx, cancel := context.WithTimeout(ctx, b.opts.Deadline)
	defer cancel()
	defer context.AfterFunc(lease.lost, cancel)()
	if lease.isLost() {
		b.log.Warn("investigation taken over before it ran", "alarm", inv.Alarm.Name, "thread", inv.ThreadTS)
		return
	}
	b.metrics.InvestigationStarted()

	inv.State = incident.StateRunning
	if cur, err := b.store.Thread(ictx, inv.Channel, inv.ThreadTS); err == nil {
		inv.Notes = cur.Notes
	}
	_ = b.store.Put(ictx, inv)
	tr := b.newTracker(inv.Channel, inv.StatusTS, view)
	tr.start(ctx)

	rep, err := backend.Investigator.Run(ictx, investigate.Request{
		Alarm:    inv.Alarm.Name,
		Now:      inv.Now,
		Lookback: inv.Lookback,
		Notes:    inv.Notes,
	}, tr.event)
	view.Elapsed = time.Since(began)
	// Messages about the outcome go out even when the investigation's own
	// context has ended; their time counts from the end of the run, however
	// long the run took.
	out, cancelOut := context.WithTimeout(context.WithoutCancel(ctx), b.opts.OutcomeTimeout)
	defer cancelOut()
	for _, u := range rep.Unavailable {
		b.metrics.SourceError(sourceKind(u.Source))
	}
	if lease.isLost() {
		// Whoever took it over has told the thread.
		tr.stop()
		b.metrics.InvestigationFinished(OutcomeTakenOver, view.Elapsed)
		b.log.Warn("investigation taken over by another replica; its result is dropped", "alarm", inv.Alarm.Name, "thread", inv.ThreadTS)
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
		view.CutShort = true
	}
	// The thread is told the outcome before the store says it: a crash in
	// between leaves the investigation running in the store, and whoever
	// comes next tells the thread again (Interrupted), where the other
	// order would leave a thread that is never told.
	if err != nil {
		inv.State, inv.Error = incident.StateFailed, failureText(ictx, ctx, err, b.opts.Deadline)
		view.State, view.Error = incident.StateFailed, inv.Error
		tr.finish(out, view)
		if ctx.Err() != nil {
			b.offerRerun(out, inv, stoppingText(inv.Alarm.Name))
		}
		_ = b.store.Put(out, inv)
		lease.release(out)
		b.log.Warn("investigation failed", "alarm", inv.Alarm.Name, "err", err)
		b.metrics.InvestigationFinished(OutcomeFailed, view.Elapsed)
		return
	}
	// Once only: the report is posted by the holder of the lease.
	if !lease.confirm() {
		tr.stop()
		b.metrics.InvestigationFinished(OutcomeTakenOver, view.Elapsed)
		b.log.Warn("investigation taken over by another replica; its report is dropped", "alarm", inv.Alarm.Name, "thread", inv.ThreadTS)
		return
	}
	// The report is stored before it is posted, so that a question or a
	// click on it finds it, and the investigation is stored done once it
	// is posted.
	inv.Report, inv.ReportTS = &rep, nil
	_ = b.store.Put(out, inv)
	cur, _ := b.store.Thread(out, inv.Channel, inv.ThreadTS)
	msgs, fallback := blockkit.Report(rep, blockkit.ReportView{ThreadTS: inv.ThreadTS, Feedback: cur.Feedback, Joined: cur.Joined})
	for i, blocks := range msgs {
		ts, err := b.post(out, inv.Channel, inv.ThreadTS, blocks, blockkit.PartFallback(fallback, i))
		if err != nil {
			b.log.Error("report", "err", err)
			break
		}
		inv.ReportTS = append(inv.ReportTS, ts)
	}
	inv.State = incident.StateDone
	_ = b.store.Put(out, inv)
	// Done: a re-run may take the thread from here.
	lease.release(out)
	view.State, view.Report = incident.StateDone, &rep
	view.Steps = tr.steps()
	tr.finish(out, view)
	b.log.Info("investigated", "alarm", inv.Alarm.Name, "wall", view.Elapsed, "hypotheses", len(rep.Hypotheses))
	if view.CutShort {
		b.metrics.InvestigationFinished(OutcomeCutShort, view.Elapsed)
	} else {
		b.metrics.InvestigationFinished(OutcomeDone, view.Elapsed)
	}
	if b.opts.Charts {
		b.uploadChart(out, inv, rep)
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
			_ = b.store.Put(ctx, other)
		}
		text := fmt.Sprintf(":link: *%s* fired with *%s*, which I'm already investigating; I follow it there.", mrkdwn.EscapeLine(alarm.Name), mrkdwn.EscapeLine(other.Alarm.Name))
		if _, err := b.post(ctx, s.channel, s.threadTS, []slack.Block{slack.NewSectionBlock(blockkit.Mrkdwn(text), nil, nil)}, text); err != nil {
			b.log.Warn("join", "err", err)
		}
		if other.Alarm.Name != alarm.Name {
			note := fmt.Sprintf(":link: *%s* fired too (on %s) and joins this investigation.", mrkdwn.EscapeLine(alarm.Name), mrkdwn.EscapeLine(alarm.Resource))
			_, _ = b.post(ctx, other.Channel, other.ThreadTS, []slack.Block{slack.NewSectionBlock(blockkit.Mrkdwn(note), nil, nil)}, note)
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
