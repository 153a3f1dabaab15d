package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/unstuck/unstuck/incident"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/unstuck/unstuck/investigate"
)

// ephemeral is a slash command's acknowledgement payload that only the
// user sees.
func ephemeral(text string) map[string]any {
	return map[string]any{"response_type": "ephemeral", "text": text}
}

// routeCommand answers a bad /investigate in its acknowledgement and turns a
// good one into work.
func (b *Bot) routeCommand(payload json.RawMessage) (any, job) {
	var cmd slashCommand
	if err := json.Unmarshal(payload, &cmd); err != nil {
		return ephemeral("I could not read that command."), job{}
	}
	c, err := ParseCommand(cmd.Text, b.opts.Clock())
	if err != nil {
		return ephemeral(usageText(err)), job{}
	}
	if c.Help {
		return ephemeral(Usage), job{}
	}
	ch, ok := b.cfg.Channel(cmd.ChannelID)
	if !ok {
		return ephemeral("I'm not enabled in this channel; ask whoever runs unstuck to add it."), job{}
	}
	if _, ok := ch.region(c.Region); !ok {
		return ephemeral(fmt.Sprintf("This channel may read %s, not %s.", strings.Join(ch.Regions, ", "), c.Region)), job{}
	}
	s := start{ch: ch, channel: cmd.ChannelID, user: cmd.UserID, responseURL: cmd.ResponseURL, target: c.Target, region: c.Region, now: c.At, lookback: c.Since}
	return nil, job{
		key:  eventKey("command", cmd.TriggerID),
		run:  func(ctx context.Context) { b.start(ctx, s) },
		tell: func(ctx context.Context, text string) { b.tell(ctx, s, text) },
	}
}

// eventKey is the key of an event (incident.Event.Key) of a kind and an id; "" when
// the id is missing.
func eventKey(kind, id string, more ...string) string {
	if id == "" {
		return ""
	}
	return kind + ":" + strings.Join(append([]string{id}, more...), "/")
}

// routeEvent turns an Events API payload into work: a mention, an alarm
// message, a note in an investigation's thread.
func (b *Bot) routeEvent(payload json.RawMessage) job {
	var cb eventCallback
	if json.Unmarshal(payload, &cb) != nil || cb.Type != "event_callback" {
		return job{}
	}
	var m message
	if json.Unmarshal(cb.Event, &m) != nil {
		return job{}
	}
	if b.isSelf(m) {
		return job{}
	}
	ch, ok := b.cfg.Channel(m.Channel)
	if !ok {
		return job{}
	}
	switch m.Type {
	case "app_mention":
		if m.fromBot() {
			return job{}
		}
		return job{key: eventKey("event", cb.EventID), run: func(ctx context.Context) { b.onMention(ctx, ch, m) }}
	case "message":
		switch m.Subtype {
		case "", "bot_message", "thread_broadcast", "file_share":
		default:
			return job{} // edits, deletions, joins
		}
		if m.fromBot() {
			if m.inThread() || !ch.watches(m) {
				return job{}
			}
			return job{
				// Keyed by the message, not the event: the same message
				// may come as more than one event.
				key:  eventKey("alarm", m.Channel, m.TS),
				run:  func(ctx context.Context) { b.onBotMessage(ctx, ch, m) },
				tell: func(ctx context.Context, text string) { b.reply(ctx, m.Channel, m.TS, text) },
			}
		}
		if !m.inThread() || b.mentionsMe(m.Text) {
			return job{} // top-level chatter; mentions come as app_mention
		}
		return job{key: eventKey("event", cb.EventID), run: func(ctx context.Context) { b.onThreadMessage(ctx, m) }}
	}
	return job{}
}

// routeInteraction turns a button click into work.
func (b *Bot) routeInteraction(payload json.RawMessage) job {
	var p blockActions
	if json.Unmarshal(payload, &p) != nil || p.Type != "block_actions" || len(p.Actions) == 0 {
		return job{}
	}
	ch, ok := b.cfg.Channel(p.channel())
	if !ok {
		return job{}
	}
	a := p.Actions[0]
	if !strings.HasPrefix(a.ActionID, "unstuck.") {
		return job{}
	}
	return job{
		key:  eventKey("action", p.TriggerID, a.ActionID, a.ActionTS),
		tell: func(ctx context.Context, text string) { b.ephemeral(ctx, p.channel(), p.User.ID, p.threadTS(), text) },
		run:  func(ctx context.Context) { b.onInteraction(ctx, ch, p, a.ActionID, a.Value) },
	}
}

// onInteraction handles a button click.
func (b *Bot) onInteraction(ctx context.Context, ch Channel, p blockActions, actionID, value string) {
	if !b.allowed(ctx, ch, p.User.ID) {
		b.ephemeral(ctx, p.channel(), p.User.ID, p.threadTS(), "Only members of this channel's unstuck user group may use these buttons.")
		return
	}
	b.onAction(ctx, ch, p, actionID, value)
}

func (b *Bot) isSelf(m message) bool {
	return (b.botUserID != "" && m.User == b.botUserID) || (b.botID != "" && m.BotID == b.botID)
}

func (b *Bot) mentionsMe(text string) bool {
	return b.botUserID != "" && strings.Contains(text, "<@"+b.botUserID)
}

// allowed checks the channel's user-group restriction.
func (b *Bot) allowed(ctx context.Context, ch Channel, user string) bool {
	if ch.UserGroup == "" {
		return true
	}
	b.groupsMu.Lock()
	g, ok := b.groups[ch.UserGroup]
	b.groupsMu.Unlock()
	// Cached on the wall clock: the simulator's clock stands still.
	if !ok || time.Since(g.at) > 5*time.Minute {
		users, err := b.api.GetUserGroupMembersContext(ctx, ch.UserGroup)
		if err != nil {
			b.log.Warn("user group members", "group", ch.UserGroup, "err", err)
			return false
		}
		g = groupMembers{users: users, at: time.Now()}
		b.groupsMu.Lock()
		b.groups[ch.UserGroup] = g
		b.groupsMu.Unlock()
	}
	return slices.Contains(g.users, user)
}

// msgOptions are the options of every message the bot sends: its blocks,
// the fallback text, no unfurling and no parsing of names.
func msgOptions(blocks []slack.Block, fallback string) []slack.MsgOption {
	return []slack.MsgOption{
		slack.MsgOptionText(fallback, false),
		slack.MsgOptionBlocks(blocks...),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
		slack.MsgOptionParse(false),
		slack.MsgOptionLinkNames(false),
	}
}

// post sends a message (in a thread when threadTS is set), retrying when
// Slack rate-limits it.
func (b *Bot) post(ctx context.Context, channel, threadTS string, blocks []slack.Block, fallback string) (string, error) {
	opts := msgOptions(blocks, fallback)
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	var ts string
	err := retryRateLimit(ctx, func() error {
		var err error
		_, ts, err = b.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("chat.postMessage: %w", err)
	}
	return ts, nil
}

func (b *Bot) update(ctx context.Context, channel, ts string, blocks []slack.Block, fallback string) error {
	err := retryRateLimit(ctx, func() error {
		_, _, _, err := b.api.UpdateMessageContext(ctx, channel, ts, msgOptions(blocks, fallback)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("chat.update: %w", err)
	}
	return nil
}

func (b *Bot) ephemeral(ctx context.Context, channel, user, threadTS, text string) {
	opts := msgOptions([]slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}, text)
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	if err := retryRateLimit(ctx, func() error {
		_, err := b.api.PostEphemeralContext(ctx, channel, user, opts...)
		return err
	}); err != nil {
		b.log.Warn("chat.postEphemeral", "err", err)
	}
}

// retryRateLimit retries a call Slack rate-limited, after the wait it asks
// for (at most three tries).
func retryRateLimit(ctx context.Context, call func() error) error {
	var err error
	for range 3 {
		err = call()
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(min(rl.RetryAfter, 30*time.Second)):
		}
	}
	return err
}

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
	if _, err := b.post(ctx, s.channel, s.threadTS, []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}, text); err != nil {
		b.log.Warn("reply", "err", err)
	}
}

// start resolves the alarm, posts the first message and queues the
// investigation.
func (b *Bot) start(ctx context.Context, s start) {
	region, ok := s.ch.region(s.region)
	if !ok {
		b.tell(ctx, s, fmt.Sprintf("This channel may not read %s.", EscapeLine(s.region)))
		return
	}
	if s.user != "" && !b.allowed(ctx, s.ch, s.user) {
		b.tell(ctx, s, "Only members of this channel's unstuck user group may start investigations here.")
		return
	}
	backend, err := b.backends.Backend(ctx, s.ch, region)
	if err != nil {
		b.log.Error("backend", "err", err)
		b.tell(ctx, s, "I can't read this channel's AWS account: "+EscapeLine(err.Error()))
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
	view := statusView{Alarm: alarm.Name, Requester: s.user, State: incident.StateRunning, Wider: s.wider}
	blocks, fallback := statusMessage(view)
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
			blocks, fallback := statusMessage(view)
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
		blocks, fallback := statusMessage(view)
		_ = b.update(ctx, inv.Channel, inv.StatusTS, blocks, fallback)
		if err := b.store.Put(ctx, inv); err != nil {
			b.log.Error("store", "err", err)
		}
		lease.release(ctx)
	}
}

// partFallback is the notification text of the report's i-th message.
func partFallback(fallback string, i int) string {
	if i == 0 {
		return fallback
	}
	return "unstuck report, continued"
}

// notFoundText explains an unknown alarm, with the closest names.
func notFoundText(target string, err error) string {
	var nf *investigate.NotFoundError
	if !errors.As(err, &nf) {
		return fmt.Sprintf("I could not look up *%s*: %s", EscapeLine(target), truncate(EscapeLine(err.Error()), 500))
	}
	text := fmt.Sprintf("I can't find an alarm or resource named *%s*.", EscapeLine(target))
	if len(nf.Candidates) > 0 {
		var c []string
		for _, n := range nf.Candidates {
			c = append(c, "`"+EscapeLine(n)+"`")
		}
		text += " The closest I know: " + strings.Join(c, ", ") + "."
	}
	return text
}

// investigate runs one investigation and writes its report into the
// thread. It holds the investigation's lease throughout and releases it
// at the end; if the lease is lost (another replica took the investigation
// over), it stops and posts nothing more.
func (b *Bot) investigate(ctx context.Context, inv incident.Investigation, backend Backend, view statusView, lease *hold) {
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
	msgs, fallback := reportMessages(rep, reportView{ThreadTS: inv.ThreadTS, Feedback: cur.Feedback, Joined: cur.Joined})
	for i, blocks := range msgs {
		ts, err := b.post(out, inv.Channel, inv.ThreadTS, blocks, partFallback(fallback, i))
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
	return truncate(EscapeLine(err.Error()), 500)
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
		text := fmt.Sprintf(":link: *%s* fired with *%s*, which I'm already investigating; I follow it there.", EscapeLine(alarm.Name), EscapeLine(other.Alarm.Name))
		if _, err := b.post(ctx, s.channel, s.threadTS, []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}, text); err != nil {
			b.log.Warn("join", "err", err)
		}
		if other.Alarm.Name != alarm.Name {
			note := fmt.Sprintf(":link: *%s* fired too (on %s) and joins this investigation.", EscapeLine(alarm.Name), EscapeLine(alarm.Resource))
			_, _ = b.post(ctx, other.Channel, other.ThreadTS, []slack.Block{slack.NewSectionBlock(mrkdwn(note), nil, nil)}, note)
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

// onBotMessage handles a watched bot's top-level message: an alarm
// notification starts, offers or closes an investigation.
func (b *Bot) onBotMessage(ctx context.Context, ch Channel, m message) {
	am, ok := RecognizeAlarm(m.Text, m.parts())
	if !ok {
		return
	}
	if ch.Account != "" && am.Account != "" && am.Account != ch.Account {
		b.log.Info("alarm from another account ignored", "alarm", am.Name, "account", am.Account)
		return
	}
	if _, ok := ch.region(am.Region); !ok {
		b.log.Info("alarm from a region the channel may not read", "alarm", am.Name, "region", am.Region)
		return
	}
	switch am.State {
	case AlarmStateOK:
		b.onAlarmOK(ctx, m, am)
	case AlarmStateAlarm:
		s := start{ch: ch, channel: m.Channel, threadTS: m.TS, target: am.Name, region: am.Region, fromAlarm: true}
		if ch.Alarms == AlarmsButton {
			b.offer(ctx, s, am)
			return
		}
		b.start(ctx, s)
	}
}

// offer posts an Investigate button in an alarm's thread.
func (b *Bot) offer(ctx context.Context, s start, am AlarmMessage) {
	text := fmt.Sprintf("CloudWatch alarm *%s* is in ALARM.", EscapeLine(am.Name))
	value := am.Region + "|" + am.Name
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(text), nil, nil),
		slack.NewActionBlock("offer", button(ActionInvestigate, "Investigate", truncate(value, 1900), slack.StylePrimary)),
	}
	if _, err := b.post(ctx, s.channel, s.threadTS, blocks, text); err != nil {
		b.log.Warn("offer", "err", err)
	}
}

// onAlarmOK notes in the latest investigation of an alarm that it is OK.
func (b *Bot) onAlarmOK(ctx context.Context, m message, am AlarmMessage) {
	recent, err := b.store.Recent(ctx, m.Channel, b.opts.Clock().Add(-24*time.Hour))
	if err != nil {
		return
	}
	for _, inv := range recent {
		if inv.Alarm.Name != am.Name && !slices.Contains(inv.Joined, am.Name) {
			continue
		}
		text := fmt.Sprintf(":large_green_circle: *%s* is back to OK.", EscapeLine(am.Name))
		if _, err := b.post(ctx, inv.Channel, inv.ThreadTS, []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}, text); err != nil {
			b.log.Warn("ok note", "err", err)
		}
		_ = b.store.AddNote(ctx, inv.Channel, inv.ThreadTS, investigate.Note{Time: b.opts.Clock(), Author: "CloudWatch", Text: am.Name + " returned to OK"})
		return
	}
}

// onThreadMessage keeps a person's message in an investigation's thread as
// a note.
func (b *Bot) onThreadMessage(ctx context.Context, m message) {
	if strings.TrimSpace(m.Text) == "" {
		return
	}
	if _, err := b.store.Thread(ctx, m.Channel, m.ThreadTS); err != nil {
		return // not an investigation's thread
	}
	n := investigate.Note{Time: b.opts.Clock(), Author: m.User, Text: Redact(plainText(m.Text))}
	if err := b.store.AddNote(ctx, m.Channel, m.ThreadTS, n); err != nil {
		b.log.Warn("note", "err", err)
	}
}

var mentionRe = regexp.MustCompile(`<@[A-Z0-9]+(\|[^>]*)?>`)

// plainText turns a message's mrkdwn into the words a person typed:
// mentions and links unwrapped, entities decoded.
func plainText(s string) string {
	s = mentionRe.ReplaceAllString(s, "")
	return strings.TrimSpace(unescapeSlack(s))
}

// onMention answers a question in an investigation's thread, or starts an
// investigation from "@unstuck investigate ALARM".
func (b *Bot) onMention(ctx context.Context, ch Channel, m message) {
	q := plainText(m.Text)
	thread := m.ThreadTS
	if thread == "" {
		thread = m.TS
	}
	if !b.allowed(ctx, ch, m.User) {
		b.ephemeral(ctx, m.Channel, m.User, thread, "Only members of this channel's unstuck user group may ask me here.")
		return
	}
	if rest, ok := cutWord(q, "investigate"); ok {
		c, err := ParseCommand(rest, b.opts.Clock())
		if err != nil || c.Help {
			b.reply(ctx, m.Channel, thread, usageText(err))
			return
		}
		b.start(ctx, start{ch: ch, channel: m.Channel, threadTS: thread, user: m.User, target: c.Target, region: c.Region, now: c.At, lookback: c.Since})
		return
	}
	inv, err := b.store.Thread(ctx, m.Channel, thread)
	if err != nil {
		b.reply(ctx, m.Channel, thread, "There is no investigation in this thread. Start one with `/investigate ALARM`, or mention me with `investigate ALARM`.\n\n"+IntentHelp)
		return
	}
	b.answer(ctx, ch, inv, q, m.User)
}

// cutWord cuts a leading word (case-insensitive) off s.
func cutWord(s, word string) (string, bool) {
	f := strings.Fields(s)
	if len(f) == 0 || !strings.EqualFold(f[0], word) {
		return "", false
	}
	return strings.TrimSpace(s[len(f[0]):]), true
}

// reply posts text (already escaped mrkdwn) in a thread.
func (b *Bot) reply(ctx context.Context, channel, thread, text string) {
	blocks := sections(text)
	if len(blocks) > maxBlocks {
		blocks = blocks[:maxBlocks]
	}
	if _, err := b.post(ctx, channel, thread, blocks, truncate(firstLine(text), 300)); err != nil {
		b.log.Warn("reply", "err", err)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// onAction handles a button.
func (b *Bot) onAction(ctx context.Context, ch Channel, p blockActions, actionID, value string) {
	channel := p.channel()
	if actionID == ActionInvestigate {
		region, name, ok := strings.Cut(value, "|")
		if !ok || name == "" {
			return
		}
		thread := p.threadTS()
		if inv, err := b.store.Thread(ctx, channel, thread); err == nil && inv.State != incident.StateFailed {
			b.ephemeral(ctx, channel, p.User.ID, thread, "This alarm is already being investigated in this thread.")
			return
		}
		// The offer is answered: replace its button with who pressed it.
		text := fmt.Sprintf("CloudWatch alarm *%s* is in ALARM. incident.Investigation started by %s.", EscapeLine(name), userMention(p.User.ID))
		_ = b.update(ctx, channel, p.messageTS(), []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}, text)
		b.start(ctx, start{ch: ch, channel: channel, threadTS: thread, user: p.User.ID, target: name, region: region})
		return
	}
	thread, idx, err := parseButtonValue(value)
	if err != nil {
		return
	}
	inv, err := b.store.Thread(ctx, channel, thread)
	if err != nil {
		b.ephemeral(ctx, channel, p.User.ID, thread, "I no longer know this investigation (the bot may have restarted); start a new one with /investigate.")
		return
	}
	switch actionID {
	case ActionAccept, ActionDiscard:
		b.onVerdict(ctx, inv, p, idx, actionID)
	case ActionRerun:
		b.rerun(ctx, ch, inv, p.User.ID)
	case ActionChanges:
		b.answer(ctx, ch, inv, "what changed", p.User.ID)
	case ActionPostmortem:
		b.answer(ctx, ch, inv, "postmortem", p.User.ID)
	}
}

// rerun investigates a thread's alarm again with the thread's notes: over
// twice the window (at least an hour) when it has a report, over the same
// window when it never finished.
func (b *Bot) rerun(ctx context.Context, ch Channel, inv incident.Investigation, user string) {
	if inv.Report == nil {
		b.start(ctx, start{ch: ch, channel: inv.Channel, threadTS: inv.ThreadTS, user: user, target: inv.Alarm.Name, region: inv.Region, now: inv.Now, lookback: inv.Lookback})
		return
	}
	lookback := 2 * inv.Report.Scope.End.Sub(inv.Report.Scope.Start)
	lookback = min(max(lookback, time.Hour), maxSince)
	b.start(ctx, start{ch: ch, channel: inv.Channel, threadTS: inv.ThreadTS, user: user, target: inv.Alarm.Name, region: inv.Region, now: inv.Now, lookback: lookback, wider: true})
}

// onVerdict records an accept or discard and updates the report message.
func (b *Bot) onVerdict(ctx context.Context, inv incident.Investigation, p blockActions, idx int, actionID string) {
	if inv.Report == nil || idx < 0 || idx >= len(inv.Report.Hypotheses) {
		return
	}
	h := inv.Report.Hypotheses[idx]
	verdict := incident.VerdictAccepted
	if actionID == ActionDiscard {
		verdict = incident.VerdictDiscarded
	}
	f := incident.Feedback{Hypothesis: idx, Cause: string(h.Cause), Resource: h.Resource, Verdict: verdict, User: p.User.ID, Time: b.opts.Clock()}
	if err := b.store.SetFeedback(ctx, inv.Channel, inv.ThreadTS, f); err != nil {
		b.log.Error("feedback", "err", err)
		return
	}
	b.log.Info("feedback", "alarm", inv.Alarm.Name, "hypothesis", idx, "cause", h.Cause, "resource", h.Resource, "verdict", verdict, "user", p.User.ID)
	cur, err := b.store.Thread(ctx, inv.Channel, inv.ThreadTS)
	if err != nil {
		return
	}
	msgs, fallback := reportMessages(*cur.Report, reportView{ThreadTS: cur.ThreadTS, Feedback: cur.Feedback, Joined: cur.Joined})
	// Update the clicked message with the part of the report that holds
	// the hypothesis.
	part := slices.IndexFunc(msgs, func(blocks []slack.Block) bool {
		return slices.ContainsFunc(blocks, func(bl slack.Block) bool {
			id := hypothesisBlockID(idx)
			return bl.ID() == id || bl.ID() == id+"-verdict"
		})
	})
	if part < 0 {
		return
	}
	if err := b.update(ctx, cur.Channel, p.messageTS(), msgs[part], partFallback(fallback, part)); err != nil {
		b.log.Warn("update report", "err", err)
	}
}
