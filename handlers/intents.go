package handlers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/unstuck/unstuck/handlers/blockkit"
	"github.com/unstuck/unstuck/handlers/mrkdwn"
	"github.com/unstuck/unstuck/incident"

	"github.com/unstuck/unstuck/investigate"
)

// IntentHelp lists the questions the bot answers without a model.
const IntentHelp = "Ask me in this thread (mention me), in your own words:\n" +
	"• `why?` or `what's the most likely cause?` — the top hypothesis and its evidence\n" +
	"• `what should I do?` — the first actions it proposes\n" +
	"• `is it the deploy?` or `did orders-table change?` — whether a change explains it, and what argues against\n" +
	"• `what about orders-table?` — what the investigation found on a resource\n" +
	"• `how sure are you?` — the confidence, in words and numbers\n" +
	"• `when did it start?` — the onset\n" +
	"• `what's the impact?` — the alarm's signal since the onset and the failing calls\n" +
	"• `what did you check?` and `what couldn't you read?` — the checks, and the sources I could not read\n" +
	"• `what changed?` or `what changed on orders-table?` — who changed what, from CloudTrail\n" +
	"• `show me the errors` or `errors on i-0abc` — the error patterns in its logs and its failing calls\n" +
	"• `check payments` — its metrics before and since the onset\n" +
	"• `traces orders-table` — the traced calls to and from it\n" +
	"• `resources` — what the investigation looked at\n" +
	"• `summary` — the report's summary again\n" +
	"• `notes` — what people said in this thread\n" +
	"• `postmortem` — a postmortem draft: timeline, impact, root cause, actions, prevention\n" +
	"• `rerun` — investigate again with a wider window\n" +
	"Whatever else you write in this thread is kept as a note and weighed as evidence the next time I investigate."

// Intent kinds.
const (
	IntentHelpKind = "help"
	IntentChanges  = "changes"
	IntentErrors   = "errors"
	IntentCheck    = "check"
	IntentTraces   = "traces"
	IntentScope    = "resources"
	IntentSummary  = "summary"
	// IntentPostmortem asks for a postmortem draft.
	IntentPostmortem = "postmortem"
	IntentRerun      = "rerun"
	IntentNotes      = "notes"
	// IntentCause asks why: the top hypothesis.
	IntentCause = "cause"
	// IntentAction asks what to do: the top hypothesis's actions.
	IntentAction = "action"
	// IntentChangeCheck asks whether a change (a deploy, a config or
	// policy change, a change to a resource) explains the alarm.
	IntentChangeCheck = "change-check"
	// IntentAbout asks what the investigation found on one resource.
	IntentAbout = "about"
	// IntentConfidence asks how sure the report is.
	IntentConfidence = "confidence"
	// IntentChecks asks what the investigation checked.
	IntentChecks = "checks"
	// IntentUnavailable asks which sources could not be read.
	IntentUnavailable = "unavailable"
	// IntentOnset asks when it started.
	IntentOnset = "onset"
	// IntentImpact asks how bad it is.
	IntentImpact  = "impact"
	IntentUnknown = ""
)

// IntentKinds are every kind ParseIntent returns, IntentUnknown last.
var IntentKinds = []string{IntentHelpKind, IntentChanges, IntentErrors, IntentCheck, IntentTraces, IntentScope, IntentSummary,
	IntentPostmortem, IntentRerun, IntentNotes, IntentCause, IntentAction, IntentChangeCheck, IntentAbout, IntentConfidence,
	IntentChecks, IntentUnavailable, IntentOnset, IntentImpact, IntentUnknown}

// Intent is a follow-up question understood without a model.
type Intent struct {
	Kind   string
	Target string // a resource id, name or ARN as typed; "" when none was named
	// Detail narrows the answer: for IntentChangeCheck the kind of change
	// asked about ("deploy", "config", "policy", "network"; "" for any),
	// for IntentImpact "users" when the question asks about people.
	Detail string
}

// windowOf is the stretch of telemetry a follow-up about inv reads: its
// report's, or before the report the one its request asked for.
func (b *Bot) windowOf(inv incident.Investigation) investigate.FollowUpWindow {
	now := inv.Now
	if now.IsZero() {
		now = b.opts.Clock()
	}
	return investigate.NewFollowUpWindow(inv.Report, now, inv.Lookback)
}

// noReportText answers a question that needs the report of an
// investigation that has none: still running (then more, the rest of the
// sentence), or failed.
func noReportText(inv incident.Investigation, more string) string {
	if inv.State == incident.StateFailed {
		return "This investigation did not finish (" + mrkdwn.Truncate(mrkdwn.EscapeLine(inv.Error), 300) + "), so there is no report; mention me with `rerun` to investigate again."
	}
	return "I'm still investigating; " + more
}

// answer replies to a question in an investigation's thread.
func (b *Bot) answer(ctx context.Context, ch Channel, inv incident.Investigation, q, user string, ev *keptEvent) {
	it := parseIntent(q, knownNames(inv))
	switch it.Kind {
	case IntentHelpKind:
		b.reply(ctx, inv.Channel, inv.ThreadTS, IntentHelp)
		return
	case IntentRerun:
		b.rerun(ctx, ch, inv, user, ev)
		return
	case IntentSummary:
		if inv.Report == nil {
			b.reply(ctx, inv.Channel, inv.ThreadTS, noReportText(inv, "the report will follow in this thread."))
			return
		}
		b.reply(ctx, inv.Channel, inv.ThreadTS, "*Summary*\n"+mrkdwn.Escape(inv.Report.Summary))
		return
	case IntentPostmortem:
		if inv.Report == nil {
			b.reply(ctx, inv.Channel, inv.ThreadTS, noReportText(inv, "ask for the postmortem draft once the report is in."))
			return
		}
		if b.opts.Summarizer == nil {
			b.reply(ctx, inv.Channel, inv.ThreadTS, "No postmortem drafter is configured for this bot.")
			return
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		draft, err := b.opts.Summarizer.Postmortem(sctx, inv)
		cancel()
		if err != nil {
			b.log.Warn("postmortem", "err", err)
			b.reply(ctx, inv.Channel, inv.ThreadTS, "I could not draft the postmortem: "+mrkdwn.EscapeLine(err.Error()))
			return
		}
		b.reply(ctx, inv.Channel, inv.ThreadTS, "*Postmortem draft*\n"+mrkdwn.Escape(draft))
		return
	case IntentNotes:
		if len(inv.Notes) == 0 {
			b.reply(ctx, inv.Channel, inv.ThreadTS, "No notes in this thread yet. Whatever you write here (without mentioning me) is kept as a note.")
			return
		}
		var lines []string
		for _, n := range inv.Notes {
			lines = append(lines, fmt.Sprintf("• %s %s: “%s”", investigate.Clock(n.Time), blockkit.NoteAuthor(n.Author), mrkdwn.Truncate(mrkdwn.EscapeLine(n.Text), 400)))
		}
		b.reply(ctx, inv.Channel, inv.ThreadTS, "*Notes* (weighed as evidence when I investigate again)\n"+strings.Join(lines, "\n"))
		return
	case IntentUnknown:
		if b.opts.Answerer != nil {
			backend, err := b.backends.Backend(ctx, ch, inv.ReadRegion())
			if err != nil {
				b.reply(ctx, inv.Channel, inv.ThreadTS, "I can't read this channel's AWS account: "+mrkdwn.EscapeLine(err.Error()))
				return
			}
			actx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			ans, err := b.opts.Answerer.Answer(actx, q, backend.Querier, inv)
			cancel()
			if err == nil && strings.TrimSpace(ans) != "" {
				b.reply(ctx, inv.Channel, inv.ThreadTS, mrkdwn.Escape(ans))
				return
			}
			b.log.Warn("answerer", "err", err)
		}
		b.reply(ctx, inv.Channel, inv.ThreadTS, "I didn't understand that as a question I can answer without a model.\n"+IntentHelp)
		return
	}

	// The querier: none for what the report answers alone.
	var querier Querier
	if !reportOnly(it.Kind) {
		backend, err := b.backends.Backend(ctx, ch, inv.ReadRegion())
		switch {
		case err == nil:
			querier = backend.Querier
		case reportFirst(it) && inv.Report != nil:
			// The report answers it; what it would read says why it can't.
			querier = unreadable{fmt.Errorf("this channel's AWS account: %w", err)}
		default:
			b.reply(ctx, inv.Channel, inv.ThreadTS, "I can't read this channel's AWS account: "+mrkdwn.EscapeLine(err.Error()))
			return
		}
	}
	qctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	text, err := b.query(qctx, querier, inv, it)
	if err != nil {
		text = "I could not answer that: " + mrkdwn.Truncate(mrkdwn.EscapeLine(err.Error()), 500)
	}
	b.reply(ctx, inv.Channel, inv.ThreadTS, text)
}

// query answers an intent about an investigation: from its report, and
// reading telemetry through q where the intent needs it (q may be nil for
// those the report answers). The text is mrkdwn with every untrusted part
// escaped.
func (b *Bot) query(ctx context.Context, q Querier, inv incident.Investigation, it Intent) (string, error) {
	if reportOnly(it.Kind) {
		if inv.Report == nil {
			return noReportText(inv, "ask again once the report is in."), nil
		}
		return reportAnswer(*inv.Report, it), nil
	}
	if q == nil {
		if !reportFirst(it) || inv.Report == nil {
			return "", errNoQuerier
		}
		q = unreadable{errNoQuerier}
	}
	w := b.windowOf(inv)
	if it.Kind == IntentErrors && it.Target == "" && inv.Report != nil {
		if text, ok := reportErrors(*inv.Report); ok {
			return text, nil
		}
	}
	topo, err := investigate.FollowUpTopology(ctx, q, inv.Report, inv.Alarm)
	if err != nil {
		return "", err
	}
	switch it.Kind {
	case IntentChangeCheck:
		return b.changeCheckAnswer(ctx, q, inv, topo, it, w)
	case IntentAbout:
		return b.aboutAnswer(ctx, q, inv, topo, it, w)
	}
	var res *investigate.Resource
	if it.Target != "" {
		r, err := topo.Resolve(it.Target)
		if err != nil {
			var ur *investigate.UnknownResourceError
			if errors.As(err, &ur) {
				return fmt.Sprintf("I don't know *%s* in this investigation. Resources in scope: %s.", mrkdwn.EscapeLine(it.Target), codeList(ur.Closest, 20)), nil
			}
			return "", err
		}
		res = &r
	}
	switch it.Kind {
	case IntentChanges:
		text, err := b.changesAnswer(ctx, q, inv, res, w)
		if err != nil && res == nil && inv.Report != nil {
			if text, ok := reportChanges(*inv.Report, err); ok {
				return text, nil
			}
		}
		return text, err
	case IntentScope:
		return scopeAnswer(topo), nil
	}
	if res == nil {
		alarm, ok := topo.Find(inv.Alarm.Resource)
		if !ok {
			return "Which resource? Name one, for example: " + codeList(ids(topo), 10), nil
		}
		res = &alarm
	}
	switch it.Kind {
	case IntentErrors:
		return errorsAnswer(ctx, q, inv, topo, *res, w)
	case IntentTraces:
		return tracesAnswer(ctx, q, *res, w)
	case IntentCheck:
		return checkAnswer(ctx, q, *res, w)
	}
	return IntentHelp, nil
}

func ids(topo investigate.Topology) []string {
	var out []string
	for _, r := range topo.Resources {
		out = append(out, r.ID)
	}
	return out
}

// codeList renders names as inline code, at most n.
func codeList(names []string, n int) string {
	var out []string
	for i, s := range names {
		if i == n {
			out = append(out, fmt.Sprintf("and %d more", len(names)-n))
			break
		}
		out = append(out, "`"+mrkdwn.EscapeLine(s)+"`")
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// actorName shortens an ARN actor to its last part (the person or role).
func actorName(a string) string {
	if i := strings.LastIndexAny(a, "/:"); i >= 0 && strings.HasPrefix(a, "arn:") {
		return a[i+1:]
	}
	return a
}

func relative(t, onset time.Time) string {
	if onset.IsZero() {
		return ""
	}
	d := onset.Sub(t).Round(time.Minute)
	switch {
	case d > 0:
		return fmt.Sprintf(" — %s before the onset", shortDuration(d))
	case d < 0:
		return fmt.Sprintf(" — %s after the onset", shortDuration(-d))
	}
	return " — at the onset"
}

func shortDuration(d time.Duration) string {
	if d < time.Hour {
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}

func (b *Bot) changesAnswer(ctx context.Context, q Querier, inv incident.Investigation, res *investigate.Resource, w investigate.FollowUpWindow) (string, error) {
	start, end := w.All()
	changes, err := q.Changes(ctx, res, start, end)
	if err != nil {
		return "", err
	}
	on := ""
	if res != nil {
		on = " on *" + mrkdwn.EscapeLine(res.ID) + "*"
	}
	head := fmt.Sprintf("*What changed*%s between %s and %s", on, w.Start.UTC().Format("15:04"), investigate.Clock(w.End))
	// Routine writes (agents' log streams and metrics, data events,
	// sign-ins) are never what someone changed; they are only counted.
	routine := 0
	changes = slices.DeleteFunc(changes, func(c investigate.Change) bool {
		if c.Routine {
			routine++
		}
		return c.Routine
	})
	switch {
	case routine == 1:
		head += " (1 routine write by an agent or a service left out)"
	case routine > 1:
		head += fmt.Sprintf(" (%d routine writes by agents and services left out)", routine)
	}
	if len(changes) == 0 {
		return head + ": nothing — no write events in CloudTrail.", nil
	}
	lines := []string{head + ", newest first:"}
	const maxChanges = 15
	for i, c := range changes {
		if i == maxChanges {
			lines = append(lines, fmt.Sprintf("…and %d more", len(changes)-maxChanges))
			break
		}
		line := changeHead(c, mrkdwn.EscapeLine(c.Resource))
		if c.ByService {
			line += " (made by AWS)"
		}
		if c.Error != "" {
			line += " (failed: " + mrkdwn.Truncate(mrkdwn.EscapeLine(c.Error), 120) + ")"
		}
		line += relative(c.Time, w.Onset)
		if c.ID != "" {
			line += " " + mrkdwn.Link(investigate.ChangeLink(inv.ReadRegion(), c.ID), "CloudTrail")
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n"), nil
}

// changeHead is a change's line in an answer: when, the event, on what
// (resource, already escaped) and by whom.
func changeHead(c investigate.Change, resource string) string {
	line := fmt.Sprintf("• %s *%s*", investigate.Clock(c.Time), mrkdwn.EscapeLine(c.Event))
	if resource != "" {
		line += " on " + resource
	}
	if c.Actor != "" {
		line += " by " + mrkdwn.EscapeLine(actorName(c.Actor))
	}
	return line
}

func scopeAnswer(topo investigate.Topology) string {
	lines := []string{fmt.Sprintf("*Resources around the alarm* (%d):", len(topo.Resources))}
	for i, r := range topo.Resources {
		if i == 30 {
			lines = append(lines, fmt.Sprintf("…and %d more", len(topo.Resources)-30))
			break
		}
		line := fmt.Sprintf("• `%s` %s", mrkdwn.EscapeLine(r.ID), mrkdwn.EscapeLine(string(r.Type)))
		var rel []string
		for _, x := range topo.Relations {
			if x.From == r.ID {
				rel = append(rel, mrkdwn.EscapeLine(x.Kind)+" "+mrkdwn.EscapeLine(x.To))
			}
		}
		if len(rel) > 0 {
			line += " — " + strings.Join(rel, ", ")
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func errorsAnswer(ctx context.Context, q Querier, inv incident.Investigation, topo investigate.Topology, r investigate.Resource, w investigate.FollowUpWindow) (string, error) {
	lines := []string{fmt.Sprintf("*Errors on %s* since the onset (%s), against the baseline before it, the sharpest rise first:", mrkdwn.EscapeLine(r.ID), investigate.Clock(w.Onset))}
	groups := topo.LogGroupsOf(r)
	if len(groups) > 3 {
		groups = groups[:3]
	}
	bStart, bEnd := w.Before()
	dStart, dEnd := w.During()
	allStart, allEnd := w.All()
	found := false
	for _, g := range groups {
		during, err := q.Logs(ctx, g, dStart, dEnd)
		if err != nil {
			lines = append(lines, fmt.Sprintf("• logs %s: could not read (%s)", mrkdwn.EscapeLine(g), mrkdwn.Truncate(mrkdwn.EscapeLine(err.Error()), 200)))
			continue
		}
		before, _ := q.Logs(ctx, g, bStart, bEnd)
		// Rates, not counts: the baseline is hours, the onset minutes.
		span := func(a, b time.Time) float64 { return math.Max(b.Sub(a).Minutes(), 1) }
		baseSpan, duringSpan := span(bStart, bEnd), span(dStart, dEnd)
		base := map[string]float64{}
		for _, p := range investigate.ErrorPatterns(before) {
			base[p.Pattern] = float64(p.Count) / baseSpan
		}
		pats := investigate.ErrorPatterns(during)
		rise := func(p investigate.LogPattern) float64 { return float64(p.Count)/duringSpan - base[p.Pattern] }
		sort.SliceStable(pats, func(i, j int) bool { return rise(pats[i]) > rise(pats[j]) })
		lines = append(lines, fmt.Sprintf("Log group %s (%d lines since the onset) %s", mrkdwn.EscapeLine(g), during.Lines, mrkdwn.Link(investigate.LogsLink(inv.ReadRegion(), []string{g}, logsQuery, allStart, allEnd), "Logs Insights")))
		if len(pats) == 0 {
			lines = append(lines, "• no error lines since the onset")
		}
		for i, p := range pats {
			if i == 5 {
				break
			}
			found = true
			sample := p.Sample
			if sample == "" {
				sample = p.Pattern
			}
			lines = append(lines, fmt.Sprintf("• %s/min since, %s/min before: “%s”", investigate.FormatNumber(float64(p.Count)/duringSpan), investigate.FormatNumber(base[p.Pattern]), mrkdwn.Truncate(mrkdwn.EscapeLine(sample), 400)))
		}
	}
	traces, err := q.Traces(ctx, r.ID, dStart, dEnd)
	if err == nil {
		var failing []investigate.TraceGroup
		for _, g := range traces {
			if g.Faults+g.Errors+g.Throttles > 0 {
				failing = append(failing, g)
			}
		}
		sort.Slice(failing, func(i, j int) bool {
			return failing[i].Faults+failing[i].Errors+failing[i].Throttles > failing[j].Faults+failing[j].Errors+failing[j].Throttles
		})
		if len(failing) > 0 {
			lines = append(lines, "Failing traced calls since the onset:")
		}
		for i, g := range failing {
			if i == 5 {
				break
			}
			found = true
			lines = append(lines, traceLine(g))
		}
	}
	if len(groups) == 0 && !found {
		lines = append(lines, "• I know no log group for it, and no traced call to or from it failed.")
	}
	return strings.Join(lines, "\n"), nil
}

func traceLine(g investigate.TraceGroup) string {
	edge := mrkdwn.EscapeLine(g.Caller) + " → " + mrkdwn.EscapeLine(g.Callee)
	if g.Instance != "" {
		edge += " (" + mrkdwn.EscapeLine(g.Instance) + ")"
	}
	failed := 0.0
	if g.Requests > 0 {
		failed = 100 * float64(g.Faults+g.Errors+g.Throttles) / float64(g.Requests)
	}
	line := fmt.Sprintf("• %s: %d calls, %.1f%% failed (%d faults, %d errors, %d throttled), mean %s", edge, g.Requests, failed, g.Faults, g.Errors, g.Throttles, g.Latency.Round(time.Millisecond))
	if len(g.Exceptions) > 0 {
		line += " — “" + mrkdwn.Truncate(mrkdwn.EscapeLine(g.Exceptions[0].Message), 300) + "”"
	}
	return line
}

func tracesAnswer(ctx context.Context, q Querier, r investigate.Resource, w investigate.FollowUpWindow) (string, error) {
	start, end := w.During()
	groups, err := q.Traces(ctx, r.ID, start, end)
	if err != nil {
		return "", err
	}
	head := fmt.Sprintf("*Traced calls to and from %s* since the onset (%s):", mrkdwn.EscapeLine(r.ID), investigate.Clock(w.Onset))
	if len(groups) == 0 {
		return head + " none traced.", nil
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].Requests > groups[j].Requests })
	lines := []string{head}
	for i, g := range groups {
		if i == 12 {
			lines = append(lines, fmt.Sprintf("…and %d more", len(groups)-12))
			break
		}
		lines = append(lines, traceLine(g))
	}
	return strings.Join(lines, "\n"), nil
}

// checkAnswer compares a resource's metrics before and since the onset.
func checkAnswer(ctx context.Context, q Querier, r investigate.Resource, w investigate.FollowUpWindow) (string, error) {
	names := investigate.MetricNames(r.Type)
	if len(names) > 12 {
		names = names[:12]
	}
	head := fmt.Sprintf("*%s* (%s): mean before the onset → since the onset (%s)", mrkdwn.EscapeLine(r.ID), mrkdwn.EscapeLine(string(r.Type)), investigate.Clock(w.Onset))
	if len(names) == 0 {
		return head + ": I read no metrics for this kind of resource; try `errors on` or `traces` for it.", nil
	}
	start, end := w.All()
	lines := make([]string, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			s, err := q.Metric(ctx, r, name, start, end, time.Minute)
			if err != nil {
				lines[i] = fmt.Sprintf("• %s: could not read (%s)", mrkdwn.EscapeLine(name), mrkdwn.Truncate(mrkdwn.EscapeLine(err.Error()), 150))
				return
			}
			sum := investigate.SummarizeSeries(s, w)
			if sum.Before.Points == 0 && sum.During.Points == 0 {
				lines[i] = fmt.Sprintf("• %s: no data", mrkdwn.EscapeLine(name))
				return
			}
			mark := ""
			if sum.Changed() {
				mark = " :warning:"
			}
			lines[i] = fmt.Sprintf("• %s: %s → %s%s", mrkdwn.EscapeLine(name), investigate.FormatNumber(sum.Before.Mean), investigate.FormatNumber(sum.During.Mean), mark)
		})
	}
	wg.Wait()
	return head + "\n" + strings.Join(lines, "\n"), nil
}

// logsQuery is the Logs Insights query a log group's link opens on: its
// failure lines, newest first.
const logsQuery = "fields @timestamp, @logStream, @message\n| filter @message like /(?i)(error|exception|fail|timed? ?out|denied)/\n| sort @timestamp desc\n| limit 200"
