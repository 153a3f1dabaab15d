package handlers

import (
	"context"
	"errors"
	"fmt"
	"github.com/unstuck/unstuck/incident"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// IntentHelp lists the questions the bot answers without a model.
const IntentHelp = "Ask me in this thread (mention me):\n" +
	"• `what changed?` or `what changed on orders-table?` — the change timeline\n" +
	"• `errors on i-0abc` — the error patterns in its logs and its failing calls\n" +
	"• `check payments` — its metrics before and since the onset\n" +
	"• `traces orders-table` — the traced calls to and from it\n" +
	"• `resources` — what the investigation looked at\n" +
	"• `summary` — the report's summary again\n" +
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
	IntentUnknown    = ""
)

// Intent is a follow-up question understood without a model.
type Intent struct {
	Kind   string
	Target string // a resource id, name or ARN; "" when none was named
}

var intentPatterns = []struct {
	kind string
	re   *regexp.Regexp
}{
	{IntentHelpKind, regexp.MustCompile(`(?i)^(?:help|\?|what can you do|what do you understand)\b`)},
	{IntentChanges, regexp.MustCompile(`(?i)^(?:what|which|any)(?:\s+\w+)?\s+(?:has\s+|have\s+|was\s+|were\s+)?(?:changed|changes|deployed)(?:\s+(?:on|in|to|for|at|around)\s+(\S+))?`)},
	{IntentChanges, regexp.MustCompile(`(?i)^(?:changes?|timeline|change\s+timeline|deploys?|deployments?)(?:\s+(?:on|in|to|for|of|at)?\s*(\S+))?\s*$`)},
	{IntentErrors, regexp.MustCompile(`(?i)^(?:what(?:'s|\s+is|\s+are)?\s+)?(?:the\s+)?(?:errors?|exceptions?|logs?|failures?)\s+(?:on|in|from|of|for|at)?\s*(\S+)`)},
	{IntentTraces, regexp.MustCompile(`(?i)^(?:traces?|calls?)\s+(?:on|to|from|of|for|at)?\s*(\S+)`)},
	{IntentCheck, regexp.MustCompile(`(?i)^(?:check|how(?:'s|\s+is|\s+are)|status\s+of|metrics?(?:\s+of|\s+for|\s+on)?|look\s+at|inspect)\s+(\S+)`)},
	{IntentScope, regexp.MustCompile(`(?i)^(?:resources|topology|scope|what(?:'s|\s+is)\s+(?:around|in\s+scope))`)},
	{IntentPostmortem, regexp.MustCompile(`(?i)^(?:(?:draft|write)(?: (?:a|the))? )?(?:post-?mortem|incident (?:summary|report)|write-?up)(?: draft)?\s*[?.!]?$`)},
	{IntentSummary, regexp.MustCompile(`(?i)^(?:summary|summarize|summarise|report|tl;?dr|status)\s*\??$`)},
	{IntentRerun, regexp.MustCompile(`(?i)^(?:re-?run|again|investigate\s+again|retry|wider)\b`)},
	{IntentNotes, regexp.MustCompile(`(?i)^notes?\s*\??$`)},
}

// ParseIntent understands a follow-up question.
func ParseIntent(q string) Intent {
	q = strings.TrimSpace(strings.Trim(strings.TrimSpace(q), ",:"))
	for _, p := range intentPatterns {
		m := p.re.FindStringSubmatch(q)
		if m == nil {
			continue
		}
		it := Intent{Kind: p.kind}
		if len(m) > 1 {
			it.Target = strings.TrimRight(m[1], "?!.,;:)")
			if t := strings.ToLower(it.Target); t == "it" || t == "this" || t == "that" {
				it.Target = ""
			}
		}
		return it
	}
	return Intent{}
}

// window is the stretch of telemetry a follow-up reads: the
// investigation's, split at the onset.
type window struct {
	start, onset, end time.Time
}

func (b *Bot) windowOf(inv incident.Investigation) window {
	if rep := inv.Report; rep != nil {
		w := window{start: rep.Scope.Start, onset: rep.Onset, end: rep.Scope.End}
		if w.onset.IsZero() {
			w.onset = w.end.Add(-10 * time.Minute)
		}
		return w
	}
	end := inv.Now
	if end.IsZero() {
		end = b.opts.Clock()
	}
	lb := inv.Lookback
	if lb <= 0 {
		lb = 3 * time.Hour
	}
	return window{start: end.Add(-lb), onset: end.Add(-10 * time.Minute), end: end}
}

// noReportText answers a question that needs the report of an
// investigation that has none: still running (then more, the rest of the
// sentence), or failed.
func noReportText(inv incident.Investigation, more string) string {
	if inv.State == incident.StateFailed {
		return "This investigation did not finish (" + truncate(EscapeLine(inv.Error), 300) + "), so there is no report; mention me with `rerun` to investigate again."
	}
	return "I'm still investigating; " + more
}

// answer replies to a question in an investigation's thread.
func (b *Bot) answer(ctx context.Context, ch Channel, inv incident.Investigation, q, user string) {
	it := ParseIntent(q)
	switch it.Kind {
	case IntentHelpKind:
		b.reply(ctx, inv.Channel, inv.ThreadTS, IntentHelp)
		return
	case IntentRerun:
		b.rerun(ctx, ch, inv, user)
		return
	case IntentSummary:
		if inv.Report == nil {
			b.reply(ctx, inv.Channel, inv.ThreadTS, noReportText(inv, "the report will follow in this thread."))
			return
		}
		b.reply(ctx, inv.Channel, inv.ThreadTS, "*Summary*\n"+Escape(inv.Report.Summary))
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
			b.reply(ctx, inv.Channel, inv.ThreadTS, "I could not draft the postmortem: "+EscapeLine(err.Error()))
			return
		}
		b.reply(ctx, inv.Channel, inv.ThreadTS, "*Postmortem draft*\n"+Escape(draft))
		return
	case IntentNotes:
		if len(inv.Notes) == 0 {
			b.reply(ctx, inv.Channel, inv.ThreadTS, "No notes in this thread yet. Whatever you write here (without mentioning me) is kept as a note.")
			return
		}
		var lines []string
		for _, n := range inv.Notes {
			lines = append(lines, fmt.Sprintf("• %s %s: “%s”", clock(n.Time), noteAuthor(n.Author), truncate(EscapeLine(n.Text), 400)))
		}
		b.reply(ctx, inv.Channel, inv.ThreadTS, "*Notes* (weighed as evidence when I investigate again)\n"+strings.Join(lines, "\n"))
		return
	case IntentUnknown:
		if b.opts.Answerer != nil {
			backend, err := b.backends.Backend(ctx, ch, inv.ReadRegion())
			if err != nil {
				b.reply(ctx, inv.Channel, inv.ThreadTS, "I can't read this channel's AWS account: "+EscapeLine(err.Error()))
				return
			}
			actx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			ans, err := b.opts.Answerer.Answer(actx, q, backend.Querier, inv)
			cancel()
			if err == nil && strings.TrimSpace(ans) != "" {
				b.reply(ctx, inv.Channel, inv.ThreadTS, Escape(ans))
				return
			}
			b.log.Warn("answerer", "err", err)
		}
		b.reply(ctx, inv.Channel, inv.ThreadTS, "I didn't understand that as a question I can answer without a model.\n"+IntentHelp)
		return
	}

	backend, err := b.backends.Backend(ctx, ch, inv.ReadRegion())
	if err != nil {
		b.reply(ctx, inv.Channel, inv.ThreadTS, "I can't read this channel's AWS account: "+EscapeLine(err.Error()))
		return
	}
	qctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	text, err := b.query(qctx, backend.Querier, inv, it)
	if err != nil {
		text = "I could not answer that: " + truncate(EscapeLine(err.Error()), 500)
	}
	b.reply(ctx, inv.Channel, inv.ThreadTS, text)
}

// errUnknownResource is a target not in the investigation's topology.
type errUnknownResource struct {
	ref   string
	known []string
}

func (e *errUnknownResource) Error() string {
	return fmt.Sprintf("%s is not among the resources around this alarm", e.ref)
}

// query answers an intent that reads telemetry; the text is mrkdwn with
// every untrusted part escaped.
func (b *Bot) query(ctx context.Context, q Querier, inv incident.Investigation, it Intent) (string, error) {
	if q == nil {
		return "", errors.New("no telemetry source for follow-up questions")
	}
	w := b.windowOf(inv)
	topo, err := q.Topology(ctx, inv.Alarm)
	if err != nil {
		return "", err
	}
	var res *investigate.Resource
	if it.Target != "" {
		r, err := findResource(topo, it.Target)
		if err != nil {
			var ur *errUnknownResource
			if errors.As(err, &ur) {
				return fmt.Sprintf("I don't know *%s* in this investigation. Resources in scope: %s.", EscapeLine(it.Target), codeList(ur.known, 20)), nil
			}
			return "", err
		}
		res = &r
	}
	switch it.Kind {
	case IntentChanges:
		return b.changesAnswer(ctx, q, inv, res, w)
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

// findResource finds a resource by id, name or ARN, or by a unique
// case-insensitive part of its id or name.
func findResource(topo investigate.Topology, ref string) (investigate.Resource, error) {
	if r, ok := topo.Find(ref); ok {
		return r, nil
	}
	low := strings.ToLower(ref)
	var hits []investigate.Resource
	for _, r := range topo.Resources {
		if strings.EqualFold(r.ID, ref) || strings.EqualFold(r.Name, ref) {
			return r, nil
		}
		if strings.Contains(strings.ToLower(r.ID), low) || (r.Name != "" && strings.Contains(strings.ToLower(r.Name), low)) {
			hits = append(hits, r)
		}
	}
	if len(hits) == 1 {
		return hits[0], nil
	}
	return investigate.Resource{}, &errUnknownResource{ref: ref, known: closest(ref, ids(topo), 8)}
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
		out = append(out, "`"+EscapeLine(s)+"`")
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

func (b *Bot) changesAnswer(ctx context.Context, q Querier, inv incident.Investigation, res *investigate.Resource, w window) (string, error) {
	changes, err := q.Changes(ctx, res, w.start, w.end.Add(time.Minute))
	if err != nil {
		return "", err
	}
	on := ""
	if res != nil {
		on = " on *" + EscapeLine(res.ID) + "*"
	}
	head := fmt.Sprintf("*What changed*%s between %s and %s", on, w.start.UTC().Format("15:04"), clock(w.end))
	if len(changes) == 0 {
		return head + ": nothing — no write events in CloudTrail.", nil
	}
	lines := []string{head + " (newest first):"}
	const maxChanges = 15
	for i, c := range changes {
		if i == maxChanges {
			lines = append(lines, fmt.Sprintf("…and %d more", len(changes)-maxChanges))
			break
		}
		line := fmt.Sprintf("• %s *%s*", clock(c.Time), EscapeLine(c.Event))
		if c.Resource != "" {
			line += " on " + EscapeLine(c.Resource)
		}
		if c.Actor != "" {
			line += " by " + EscapeLine(actorName(c.Actor))
		}
		if c.Error != "" {
			line += " (failed: " + truncate(EscapeLine(c.Error), 120) + ")"
		}
		line += relative(c.Time, w.onset)
		if c.ID != "" {
			line += " " + link(investigate.ChangeLink(inv.ReadRegion(), c.ID), "CloudTrail")
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n"), nil
}

func scopeAnswer(topo investigate.Topology) string {
	lines := []string{fmt.Sprintf("*Resources around the alarm* (%d):", len(topo.Resources))}
	for i, r := range topo.Resources {
		if i == 30 {
			lines = append(lines, fmt.Sprintf("…and %d more", len(topo.Resources)-30))
			break
		}
		line := fmt.Sprintf("• `%s` %s", EscapeLine(r.ID), EscapeLine(string(r.Type)))
		var rel []string
		for _, x := range topo.Relations {
			if x.From == r.ID {
				rel = append(rel, EscapeLine(x.Kind)+" "+EscapeLine(x.To))
			}
		}
		if len(rel) > 0 {
			line += " — " + strings.Join(rel, ", ")
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// logGroupsOf are the log groups of a resource and of the services that run
// on it.
func logGroupsOf(topo investigate.Topology, r investigate.Resource) []string {
	var groups []string
	add := func(g string) {
		if g != "" && !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	add(r.LogGroup)
	for _, x := range topo.Relations {
		if x.Kind == investigate.RelRunsOn && x.To == r.ID {
			if s, ok := topo.Find(x.From); ok {
				add(s.LogGroup)
			}
		}
		if x.Kind == investigate.RelRunsOn && x.From == r.ID {
			if h, ok := topo.Find(x.To); ok {
				add(h.LogGroup)
			}
		}
	}
	return groups
}

func errorsAnswer(ctx context.Context, q Querier, inv incident.Investigation, topo investigate.Topology, r investigate.Resource, w window) (string, error) {
	lines := []string{fmt.Sprintf("*Errors on %s* since the onset (%s), against the baseline before it, the sharpest rise first:", EscapeLine(r.ID), clock(w.onset))}
	groups := logGroupsOf(topo, r)
	if len(groups) > 3 {
		groups = groups[:3]
	}
	found := false
	for _, g := range groups {
		during, err := q.Logs(ctx, g, w.onset, w.end.Add(time.Minute))
		if err != nil {
			lines = append(lines, fmt.Sprintf("• logs %s: could not read (%s)", EscapeLine(g), truncate(EscapeLine(err.Error()), 200)))
			continue
		}
		before, _ := q.Logs(ctx, g, w.start, w.onset)
		// Rates, not counts: the baseline is hours, the onset minutes.
		span := func(a, b time.Time) float64 { return math.Max(b.Sub(a).Minutes(), 1) }
		baseSpan, duringSpan := span(w.start, w.onset), span(w.onset, w.end.Add(time.Minute))
		base := map[string]float64{}
		for _, p := range investigate.ErrorPatterns(before) {
			base[p.Pattern] = float64(p.Count) / baseSpan
		}
		pats := investigate.ErrorPatterns(during)
		rise := func(p investigate.LogPattern) float64 { return float64(p.Count)/duringSpan - base[p.Pattern] }
		sort.SliceStable(pats, func(i, j int) bool { return rise(pats[i]) > rise(pats[j]) })
		lines = append(lines, fmt.Sprintf("Log group %s (%d lines since the onset) %s", EscapeLine(g), during.Lines, link(investigate.LogsLink(inv.ReadRegion(), []string{g}, logsQuery, w.start, w.end.Add(time.Minute)), "Logs Insights")))
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
			lines = append(lines, fmt.Sprintf("• %s/min since, %s/min before: “%s”", num(float64(p.Count)/duringSpan), num(base[p.Pattern]), truncate(EscapeLine(sample), 400)))
		}
	}
	traces, err := q.Traces(ctx, r.ID, w.onset, w.end.Add(time.Minute))
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
	edge := EscapeLine(g.Caller) + " → " + EscapeLine(g.Callee)
	if g.Instance != "" {
		edge += " (" + EscapeLine(g.Instance) + ")"
	}
	failed := 0.0
	if g.Requests > 0 {
		failed = 100 * float64(g.Faults+g.Errors+g.Throttles) / float64(g.Requests)
	}
	line := fmt.Sprintf("• %s: %d calls, %.1f%% failed (%d faults, %d errors, %d throttled), mean %s", edge, g.Requests, failed, g.Faults, g.Errors, g.Throttles, g.Latency.Round(time.Millisecond))
	if len(g.Exceptions) > 0 {
		line += " — “" + truncate(EscapeLine(g.Exceptions[0].Message), 300) + "”"
	}
	return line
}

func tracesAnswer(ctx context.Context, q Querier, r investigate.Resource, w window) (string, error) {
	groups, err := q.Traces(ctx, r.ID, w.onset, w.end.Add(time.Minute))
	if err != nil {
		return "", err
	}
	head := fmt.Sprintf("*Traced calls to and from %s* since the onset (%s):", EscapeLine(r.ID), clock(w.onset))
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
func checkAnswer(ctx context.Context, q Querier, r investigate.Resource, w window) (string, error) {
	names := investigate.MetricNames(r.Type)
	if len(names) > 12 {
		names = names[:12]
	}
	head := fmt.Sprintf("*%s* (%s): mean before the onset → since the onset (%s)", EscapeLine(r.ID), EscapeLine(string(r.Type)), clock(w.onset))
	if len(names) == 0 {
		return head + ": I read no metrics for this kind of resource; try `errors on` or `traces` for it.", nil
	}
	lines := make([]string, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			s, err := q.Metric(ctx, r, name, w.start, w.end.Add(time.Minute), time.Minute)
			if err != nil {
				lines[i] = fmt.Sprintf("• %s: could not read (%s)", EscapeLine(name), truncate(EscapeLine(err.Error()), 150))
				return
			}
			before, during := meanIn(s, w.start, w.onset), meanIn(s, w.onset, w.end.Add(time.Minute))
			if math.IsNaN(before) && math.IsNaN(during) {
				lines[i] = fmt.Sprintf("• %s: no data", EscapeLine(name))
				return
			}
			mark := ""
			if changed(before, during) {
				mark = " :warning:"
			}
			lines[i] = fmt.Sprintf("• %s: %s → %s%s", EscapeLine(name), num(before), num(during), mark)
		})
	}
	wg.Wait()
	return head + "\n" + strings.Join(lines, "\n"), nil
}

func meanIn(s investigate.Series, start, end time.Time) float64 {
	sum, n := 0.0, 0
	for i, t := range s.Times {
		if !t.Before(start) && t.Before(end) {
			sum += s.Values[i]
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// changed reports a level shift worth a mark: at least half again, or from
// nothing to something.
func changed(before, during float64) bool {
	if math.IsNaN(before) || math.IsNaN(during) {
		return false
	}
	diff := math.Abs(during - before)
	base := math.Max(math.Abs(before), 1e-9)
	return diff/base >= 0.5 && diff >= 1
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// logsQuery is the Logs Insights query a log group's link opens on: its
// failure lines, newest first.
const logsQuery = "fields @timestamp, @logStream, @message\n| filter @message like /(?i)(error|exception|fail|timed? ?out|denied)/\n| sort @timestamp desc\n| limit 200"
