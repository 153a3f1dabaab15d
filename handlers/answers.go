package handlers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/unstuck/unstuck/handlers/mrkdwn"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

// The answers to follow-ups that the report holds: why, what to do, how
// sure, what was checked and what could not be read, when it started, how
// bad it is; and, reading telemetry only where the report has nothing,
// whether a change explains it and what was found on one resource. Every
// answer is mrkdwn with each untrusted part (titles and explanations a
// model may have written, finding texts quoting logs, resource names)
// escaped and cut short; reply bounds the whole.

// Bounds of the answers' parts, in runes.
const (
	maxLineText    = 300
	maxExplanation = 700
	maxListed      = 5
)

// errNoQuerier is a follow-up that needs telemetry where none can be read.
var errNoQuerier = errors.New("no telemetry source for follow-up questions")

// reportOnly reports whether an intent is answered from the report alone.
func reportOnly(kind string) bool {
	switch kind {
	case IntentCause, IntentAction, IntentConfidence, IntentChecks, IntentUnavailable, IntentOnset, IntentImpact:
		return true
	}
	return false
}

// reportFirst reports whether an intent is answered from the report where
// it can, reading telemetry only for what the report lacks: it is answered
// even when the channel's AWS account cannot be read now.
func reportFirst(it Intent) bool {
	switch it.Kind {
	case IntentChangeCheck, IntentAbout:
		return true
	case IntentErrors:
		return it.Target == ""
	}
	return false
}

// reportAnswer answers an intent that the report alone answers.
func reportAnswer(rep investigate.Report, it Intent) string {
	switch it.Kind {
	case IntentCause:
		return causeAnswer(rep)
	case IntentAction:
		return actionAnswer(rep)
	case IntentConfidence:
		return confidenceAnswer(rep)
	case IntentChecks:
		return checksAnswer(rep)
	case IntentUnavailable:
		return unavailableAnswer(rep)
	case IntentOnset:
		return onsetAnswer(rep)
	case IntentImpact:
		return impactAnswer(rep, it.Detail == "users")
	}
	return IntentHelp
}

// confidenceText is a confidence in words and in percent: "likely (95%)".
func confidenceText(p float64) string {
	return fmt.Sprintf("%s (%.0f%%)", investigate.ConfidenceWord(p), 100*p)
}

// hypothesisText names a hypothesis: its title, its cause and resource.
func hypothesisText(h investigate.Hypothesis) string {
	return fmt.Sprintf("*%s* (`%s` on `%s`)", mrkdwn.Truncate(mrkdwn.EscapeLine(strings.TrimSuffix(h.Title, ".")), 200),
		mrkdwn.EscapeLine(string(h.Cause)), mrkdwn.Truncate(mrkdwn.EscapeLine(h.Resource), 120))
}

// findingLine is a finding as a bullet: its id and its summary, cut short.
func findingLine(f investigate.Finding) string {
	line := fmt.Sprintf("• [%s] %s", mrkdwn.EscapeLine(f.ID), mrkdwn.Truncate(mrkdwn.EscapeLine(f.Summary), maxLineText))
	if f.Link != "" {
		line += " " + mrkdwn.Link(f.Link, "console")
	}
	return line
}

// findingsOf returns the report's findings that pass keep, in order.
func findingsOf(rep investigate.Report, keep func(investigate.Finding) bool) []investigate.Finding {
	var out []investigate.Finding
	for _, f := range rep.Findings {
		if keep(f) {
			out = append(out, f)
		}
	}
	return out
}

// appendFindings adds up to n findings as bullets, and how many more.
func appendFindings(lines []string, fs []investigate.Finding, n int) []string {
	for i, f := range fs {
		if i == n {
			return append(lines, fmt.Sprintf("…and %d more", len(fs)-n))
		}
		lines = append(lines, findingLine(f))
	}
	return lines
}

// sources lists the sources a report could not read, each once, in order.
func sources(rep investigate.Report) []string {
	var out []string
	for _, u := range rep.Unavailable {
		if !slices.Contains(out, u.Source) {
			out = append(out, u.Source)
		}
	}
	return out
}

// unreadLine says which sources could not be read, or "" when all were.
func unreadLine(rep investigate.Report, why string) string {
	srcs := sources(rep)
	if len(srcs) == 0 {
		return ""
	}
	return fmt.Sprintf("I could not read %s%s.", codeList(srcs, 10), why)
}

// topLine names the most likely cause in a sentence, "" without one.
func topLine(rep investigate.Report) string {
	if len(rep.Hypotheses) == 0 {
		return "No hypothesis stands out."
	}
	h := rep.Hypotheses[0]
	return fmt.Sprintf("The most likely cause is %s — %s.", hypothesisText(h), confidenceText(h.Confidence))
}

func causeAnswer(rep investigate.Report) string {
	if len(rep.Hypotheses) == 0 {
		lines := []string{"*Cause*: nothing stands out — no check found a change, a limit, a failing part or a failing dependency that explains the alarm."}
		if l := unreadLine(rep, ", where it could be"); l != "" {
			lines = append(lines, l)
		}
		return strings.Join(append(lines, "Ask `what did you check?`, or `rerun` to look further back."), "\n")
	}
	h := rep.Hypotheses[0]
	var lines []string
	if h.Confidence < investigate.ClearCause {
		lines = append(lines, fmt.Sprintf("*Cause*: nothing stands out clearly. The strongest lead, %s, is %s: a place to look, not an answer.", hypothesisText(h), confidenceText(h.Confidence)))
	} else {
		lines = append(lines, fmt.Sprintf("*Most likely cause* — %s: %s", confidenceText(h.Confidence), hypothesisText(h)))
	}
	if h.Explanation != "" {
		lines = append(lines, mrkdwn.Truncate(mrkdwn.EscapeLine(h.Explanation), maxExplanation))
	}
	if len(h.Evidence) > 0 {
		lines = append(lines, "Evidence: "+strings.Join(escapeAll(h.Evidence), ", ")+" (the report's findings).")
	}
	if len(rep.Hypotheses) > 1 {
		n := rep.Hypotheses[1]
		lines = append(lines, fmt.Sprintf("Next: %s — %s.", hypothesisText(n), confidenceText(n.Confidence)))
	}
	if l := unreadLine(rep, ", so a cause there would be missed"); l != "" {
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

func escapeAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = mrkdwn.EscapeLine(s)
	}
	return out
}

func actionAnswer(rep investigate.Report) string {
	if len(rep.Hypotheses) == 0 {
		return "*What to do*: nothing stands out, so I have no action to propose. Ask `what did you check?`, or `rerun` to look further back."
	}
	h := rep.Hypotheses[0]
	head := fmt.Sprintf("*What to do* about %s — %s. I propose; I never run these myself:", hypothesisText(h), confidenceText(h.Confidence))
	if h.Confidence < investigate.ClearCause {
		head = fmt.Sprintf("*What to do*: the strongest lead, %s, is %s — confirm it before you act:", hypothesisText(h), confidenceText(h.Confidence))
	}
	lines := []string{head}
	if len(h.Actions) == 0 {
		lines = append(lines, "• I have no action for it.")
	}
	for i, a := range h.Actions {
		if i == 3 {
			break
		}
		lines = append(lines, fmt.Sprintf("%d. %s (`%s`)", i+1, mrkdwn.Truncate(mrkdwn.EscapeLine(a.Detail), maxLineText), mrkdwn.EscapeLine(string(a.Kind))))
	}
	if len(rep.Hypotheses) > 1 && len(rep.Hypotheses[1].Actions) > 0 {
		n := rep.Hypotheses[1]
		lines = append(lines, fmt.Sprintf("If it is not that but %s — %s: %s.", hypothesisText(n), confidenceText(n.Confidence),
			mrkdwn.Truncate(mrkdwn.EscapeLine(strings.TrimSuffix(n.Actions[0].Detail, ".")), maxLineText)))
	}
	if len(h.Prevention) > 0 {
		lines = append(lines, "Afterwards, to keep it from coming back: "+mrkdwn.Truncate(mrkdwn.EscapeLine(h.Prevention[0]), maxLineText))
	}
	return strings.Join(lines, "\n")
}

func confidenceAnswer(rep investigate.Report) string {
	scale := fmt.Sprintf("(I say likely from %.0f%%, possible from %.0f%%; below that nothing stands out.)", 100*investigate.LikelyCause, 100*investigate.ClearCause)
	if len(rep.Hypotheses) == 0 {
		return "*How sure*: I have no hypothesis to be sure of — nothing stands out. " + scale
	}
	h := rep.Hypotheses[0]
	lines := []string{fmt.Sprintf("*How sure*: %s that it is %s, resting on %s.", confidenceText(h.Confidence), hypothesisText(h), investigate.Count(len(h.Evidence), "finding"))}
	if len(h.Evidence) > 0 {
		lines[0] = strings.TrimSuffix(lines[0], ".") + " (" + strings.Join(escapeAll(h.Evidence), ", ") + ")."
	}
	var others []string
	for i, o := range rep.Hypotheses[1:] {
		if i == 3 {
			break
		}
		others = append(others, fmt.Sprintf("%s — %s", hypothesisText(o), confidenceText(o.Confidence)))
	}
	if len(others) > 0 {
		lines = append(lines, "Other candidates: "+strings.Join(others, "; ")+".")
	}
	if l := unreadLine(rep, ", so I may be less sure than this reads"); l != "" {
		lines = append(lines, l)
	}
	return strings.Join(append(lines, scale), "\n")
}

// windowText is the report's window: "11:00–14:04 UTC".
func windowText(rep investigate.Report) string {
	return rep.Scope.Start.UTC().Format("15:04") + "–" + investigate.Clock(rep.Scope.End)
}

func onsetText(rep investigate.Report) string {
	if rep.Onset.IsZero() {
		return "no clear onset"
	}
	return "onset " + investigate.Clock(rep.Onset)
}

func checksAnswer(rep investigate.Report) string {
	lines := []string{fmt.Sprintf("*What I checked* for `%s` on `%s`, over %s (%s):",
		mrkdwn.EscapeLine(rep.Scope.Alarm), mrkdwn.EscapeLine(rep.Scope.Resource), windowText(rep), onsetText(rep))}
	for _, s := range investigate.Steps() {
		var line string
		switch s.Name {
		case investigate.CheckScope:
			line = fmt.Sprintf("• %s: %s around the alarm", s.Label, investigate.Count(len(rep.Scope.Resources), "resource"))
		case investigate.CheckOnset:
			line = fmt.Sprintf("• %s: none found", s.Label)
			if !rep.Onset.IsZero() {
				line = fmt.Sprintf("• %s: %s", s.Label, investigate.Clock(rep.Onset))
			}
		default:
			var ids []string
			for _, f := range rep.Findings {
				if f.Check == s.Name {
					ids = append(ids, mrkdwn.EscapeLine(f.ID))
				}
			}
			line = fmt.Sprintf("• %s: nothing found", s.Label)
			if len(ids) > 0 {
				line = fmt.Sprintf("• %s: %s (%s)", s.Label, investigate.Count(len(ids), "finding"), strings.Join(ids, ", "))
			}
		}
		lines = append(lines, line)
	}
	if notes := findingsOf(rep, func(f investigate.Finding) bool { return f.Check == investigate.CheckNotes }); len(notes) > 0 {
		lines = append(lines, fmt.Sprintf("• notes from the thread: %s", investigate.Count(len(notes), "finding")))
	}
	cost := fmt.Sprintf("That took %s", investigate.Count(rep.Stats.APICalls, "API call"))
	if rep.Stats.BytesScanned > 0 {
		cost += " and " + sizeText(rep.Stats.BytesScanned) + " of logs scanned"
	}
	lines = append(lines, cost+".")
	if l := unreadLine(rep, " — ask `what couldn't you read?`"); l != "" {
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// sizeText is a byte count for people: "22 MB".
func sizeText(n int64) string {
	const k = 1000
	switch {
	case n >= k*k*k:
		return fmt.Sprintf("%.1f GB", float64(n)/(k*k*k))
	case n >= k*k:
		return fmt.Sprintf("%.0f MB", float64(n)/(k*k))
	case n >= k:
		return fmt.Sprintf("%.0f kB", float64(n)/k)
	}
	return fmt.Sprintf("%d bytes", n)
}

func unavailableAnswer(rep investigate.Report) string {
	if len(rep.Unavailable) == 0 {
		return "*What I could not read*: nothing — every source I asked answered."
	}
	lines := []string{fmt.Sprintf("*What I could not read* (%d):", len(rep.Unavailable))}
	for i, u := range rep.Unavailable {
		if i == 10 {
			lines = append(lines, fmt.Sprintf("…and %d more", len(rep.Unavailable)-10))
			break
		}
		lines = append(lines, fmt.Sprintf("• *%s*: %s", mrkdwn.EscapeLine(u.Source), mrkdwn.Truncate(mrkdwn.EscapeLine(u.Error), 200)))
	}
	return strings.Join(append(lines, "What those would have shown is missing from the report, so a cause there could be missed; `rerun` once they can be read."), "\n")
}

func onsetAnswer(rep investigate.Report) string {
	if rep.Onset.IsZero() {
		return fmt.Sprintf("*Onset*: I found none — the alarm's signal did not clearly leave its normal range over %s. `rerun` looks further back.", windowText(rep))
	}
	lines := []string{fmt.Sprintf("*Onset*: %s (%s).", investigate.Clock(rep.Onset), rep.Onset.UTC().Format("Mon 2 Jan 2006"))}
	lines = appendFindings(lines, findingsOf(rep, func(f investigate.Finding) bool { return f.Kind == investigate.FindingOnset }), 2)
	// The last change before it, which people look at first.
	var last *investigate.Finding
	for i, f := range rep.Findings {
		if f.Kind == investigate.FindingChange && f.Time.Before(rep.Onset) && (last == nil || f.Time.After(last.Time)) {
			last = &rep.Findings[i]
		}
	}
	if last != nil {
		lines = append(lines, "The last change before it:", findingLine(*last))
	}
	return strings.Join(lines, "\n")
}

func impactAnswer(rep investigate.Report, users bool) string {
	lines := []string{fmt.Sprintf("*Impact* of `%s` on `%s`:", mrkdwn.EscapeLine(rep.Scope.Alarm), mrkdwn.EscapeLine(rep.Scope.Resource))}
	lines = appendFindings(lines, findingsOf(rep, func(f investigate.Finding) bool { return f.Kind == investigate.FindingOnset }), 1)
	if !rep.Onset.IsZero() && rep.Scope.End.After(rep.Onset) {
		line := fmt.Sprintf("• since %s: %s, up to %s (the report's end)", investigate.Clock(rep.Onset), shortDuration(rep.Scope.End.Sub(rep.Onset).Round(time.Minute)), investigate.Clock(rep.Scope.End))
		if n, what, ok := alarmTotal(rep); ok {
			line += fmt.Sprintf("; about %s %s in that time", investigate.FormatNumber(n), mrkdwn.EscapeLine(what))
		}
		lines = append(lines, line)
	}
	// What the traffic did, and the calls that fail.
	more := findingsOf(rep, func(f investigate.Finding) bool {
		return f.Check == investigate.CheckTraffic || f.Kind == investigate.FindingTrace && f.Unit == "% failed" || f.Kind == investigate.FindingHealth
	})
	lines = appendFindings(lines, more, 4)
	if users {
		lines = append(lines, "• People: the telemetry counts requests and calls, not users, so I can't say how many people were affected.")
	}
	if len(lines) == 1 {
		lines = append(lines, "• The report has no measure of it: no onset and no failing calls.")
	}
	return strings.Join(lines, "\n")
}

// alarmTotal adds up the alarm's metric since the onset when it is a count
// per minute with a point a minute ("5XX/min"): about how many there were.
func alarmTotal(rep investigate.Report) (float64, string, bool) {
	for _, s := range rep.Series {
		if s.Resource != rep.Scope.Resource {
			continue
		}
		what, perMin := strings.CutSuffix(s.Unit, "/min")
		if !perMin || what == "" || len(s.Times) < 2 || s.Times[1].Sub(s.Times[0]) != time.Minute {
			return 0, "", false
		}
		sum, n := 0.0, 0
		for i, t := range s.Times {
			if i < len(s.Values) && !t.Before(rep.Onset) && !t.After(rep.Scope.End) {
				sum += s.Values[i]
				n++
			}
		}
		return sum, what, n > 0
	}
	return 0, "", false
}

// reportErrors lists the errors the report found: its log findings, else
// its failing traced calls; false when it found neither.
func reportErrors(rep investigate.Report) (string, bool) {
	fs := findingsOf(rep, func(f investigate.Finding) bool { return f.Kind == investigate.FindingLog })
	what := "error lines in the logs"
	if len(fs) == 0 {
		fs = findingsOf(rep, func(f investigate.Finding) bool { return f.Kind == investigate.FindingTrace && f.Unit == "% failed" })
		what = "failing traced calls (no log finding)"
	}
	if len(fs) == 0 {
		return "", false
	}
	lines := []string{fmt.Sprintf("*Errors* the investigation found since the %s — %s:", onsetText(rep), what)}
	lines = appendFindings(lines, fs, maxListed)
	return strings.Join(append(lines, "For a fresh read of one resource's logs and failing calls: `errors on RESOURCE`."), "\n"), true
}

// reportChanges lists the changes the report found, for when CloudTrail
// cannot be read now; false when it found none.
func reportChanges(rep investigate.Report, err error) (string, bool) {
	fs := findingsOf(rep, func(f investigate.Finding) bool { return f.Kind == investigate.FindingChange })
	if len(fs) == 0 {
		return "", false
	}
	lines := []string{fmt.Sprintf("*Changes the report found* (I could not read CloudTrail again now: %s):", mrkdwn.Truncate(mrkdwn.EscapeLine(err.Error()), 200))}
	return strings.Join(appendFindings(lines, fs, 10), "\n"), true
}

// sameResource reports whether a finding's or hypothesis's resource (an
// id, a name or an ARN) is the resource id.
func sameResource(ref, id string) bool {
	r, i := strings.ToLower(ref), strings.ToLower(id)
	return r == i || strings.HasSuffix(r, "/"+i) || strings.HasSuffix(r, ":"+i)
}

// reportResources are the resources the report's hypotheses and findings
// name, the top hypothesis's first.
func reportResources(rep *investigate.Report) []string {
	if rep == nil {
		return nil
	}
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, h := range rep.Hypotheses {
		add(h.Resource)
	}
	for _, f := range rep.Findings {
		add(f.Resource)
	}
	return out
}

// knownNames are the names a question about an investigation may use for
// its resources: the ids in scope, the topology's names and the report's
// resources.
func knownNames(inv incident.Investigation) []string {
	rep := inv.Report
	if rep == nil {
		return nil
	}
	names := append([]string{}, rep.Scope.Resources...)
	if rep.Topology != nil {
		for _, r := range rep.Topology.Resources {
			names = append(names, r.ID, r.Name)
		}
	}
	return append(names, reportResources(rep)...)
}

// resolveRef finds the resource a question names: in the topology (as
// Topology.Resolve), else among the report's resources, else by its kind
// ("the database"), the one the report ranks first. The resource is nil
// when the id is the report's but not the topology's (a security group, a
// parameter). Else the error is the topology's *UnknownResourceError.
func resolveRef(topo investigate.Topology, rep *investigate.Report, ref string) (string, *investigate.Resource, error) {
	r, err := topo.Resolve(ref)
	if err == nil {
		return r.ID, &r, nil
	}
	low := strings.ToLower(strings.TrimSpace(ref))
	var hits []string
	for _, id := range reportResources(rep) {
		switch l := strings.ToLower(id); {
		case l == low:
			return id, nil, nil
		case low != "" && strings.Contains(l, low):
			hits = append(hits, id)
		}
	}
	if len(hits) == 1 {
		return hits[0], nil, nil
	}
	if types, ok := kindWords[low]; ok {
		var ofKind []investigate.Resource
		for _, r := range topo.Resources {
			if slices.Contains(types, r.Type) {
				ofKind = append(ofKind, r)
			}
		}
		for _, id := range reportResources(rep) {
			for _, r := range ofKind {
				if sameResource(id, r.ID) {
					return r.ID, &r, nil
				}
			}
		}
		if len(ofKind) == 1 {
			return ofKind[0].ID, &ofKind[0], nil
		}
	}
	return "", nil, err
}

// unknownText answers a question about a resource no name matches.
func unknownText(ref string, err error) (string, error) {
	var ur *investigate.UnknownResourceError
	if errors.As(err, &ur) {
		return fmt.Sprintf("I don't know *%s* in this investigation. Resources in scope: %s.", mrkdwn.EscapeLine(ref), codeList(ur.Closest, 20)), nil
	}
	return "", err
}

// changeKind is the kind of change a CloudTrail event is, in the words a
// question uses (changeKinds): "deploy", "config", "policy", "network",
// or "" for another.
func changeKind(event string) string {
	has := func(parts ...string) bool {
		return slices.ContainsFunc(parts, func(p string) bool { return strings.Contains(event, p) })
	}
	switch {
	case investigate.IsDeploy(event):
		return "deploy"
	case has("Parameter", "Configuration", "Config", "Flag", "Environment", "Setting"):
		return "config"
	case has("SecurityGroup", "NetworkAcl", "Route", "Subnet", "Vpc", "Firewall"):
		return "network"
	case has("Policy", "Role", "Permission", "Grant"):
		return "policy"
	}
	return ""
}

// findingChangeKind is the kind of change a change finding reports: its
// event, or in a report from before findings named it, the event its
// summary starts with (or "deploy (Event)").
func findingChangeKind(f investigate.Finding) string {
	if f.Event != "" {
		return changeKind(f.Event)
	}
	s := f.Summary
	if rest, ok := strings.CutPrefix(s, "deploy ("); ok {
		s = rest
	}
	event, _, _ := strings.Cut(s, " ")
	return changeKind(strings.TrimRight(event, ")"))
}

// changeNoun is what a change-check asks about, for its answer.
func changeNoun(kind, id string) string {
	noun := map[string]string{"deploy": "a deploy", "config": "a configuration change", "policy": "a policy or permission change", "network": "a network change"}[kind]
	if noun == "" {
		noun = "a change"
	}
	if id != "" {
		noun += " to `" + mrkdwn.EscapeLine(id) + "`"
	}
	return noun
}

// cites reports whether a hypothesis rests on any of the findings.
func cites(h investigate.Hypothesis, fs []investigate.Finding) bool {
	return slices.ContainsFunc(fs, func(f investigate.Finding) bool { return slices.Contains(h.Evidence, f.ID) })
}

// changeCheckAnswer answers "is it the deploy?", "did X change?": yes when
// a hypothesis at the top rests on such a change, with what argues
// against; no or probably not with what the report and CloudTrail show.
func (b *Bot) changeCheckAnswer(ctx context.Context, q Querier, inv incident.Investigation, topo investigate.Topology, it Intent, w investigate.FollowUpWindow) (string, error) {
	rep := inv.Report
	if rep == nil {
		return noReportText(inv, "ask again once the report is in."), nil
	}
	var id string
	var res *investigate.Resource
	if it.Target != "" {
		var err error
		id, res, err = resolveRef(topo, rep, it.Target)
		_, kind := kindWords[strings.ToLower(it.Target)]
		switch {
		case err != nil && kind:
			// "was it a code change in the app?": about any change.
		case err != nil:
			return unknownText(it.Target, err)
		}
	}
	noun := changeNoun(it.Detail, id)
	matches := findingsOf(*rep, func(f investigate.Finding) bool {
		return f.Kind == investigate.FindingChange && (id == "" || sameResource(f.Resource, id)) && (it.Detail == "" || findingChangeKind(f) == it.Detail)
	})
	rank := slices.IndexFunc(rep.Hypotheses, func(h investigate.Hypothesis) bool { return cites(h, matches) })
	var lines []string
	switch {
	case rank == 0:
		h := rep.Hypotheses[0]
		if h.Confidence >= investigate.ClearCause {
			lines = append(lines, fmt.Sprintf("*Yes — %s.* The top hypothesis, %s, rests on %s:", confidenceText(h.Confidence), hypothesisText(h), noun))
		} else {
			lines = append(lines, fmt.Sprintf("*Perhaps — %s.* It is the strongest lead, %s, but a weak one; it rests on %s:", confidenceText(h.Confidence), hypothesisText(h), noun))
		}
		lines = appendFindings(lines, findingsOf(*rep, func(f investigate.Finding) bool {
			return slices.Contains(h.Evidence, f.ID) && slices.Contains(matches, f)
		}), 3)
		lines = append(lines, "Against it:")
		against := 0
		for _, o := range rep.Hypotheses[1:] {
			if against == 2 {
				break
			}
			if !cites(o, matches) {
				against++
				lines = append(lines, fmt.Sprintf("• %s — %s, resting on other findings (%s)", hypothesisText(o), confidenceText(o.Confidence), strings.Join(escapeAll(o.Evidence), ", ")))
			}
		}
		if l := unreadLine(*rep, ", where something else could show"); l != "" {
			against++
			lines = append(lines, "• "+l)
		}
		if against == 0 {
			lines = append(lines, "• nothing in the report: no other hypothesis, and every source was read.")
		}
	case rank > 0:
		h, top := rep.Hypotheses[rank], rep.Hypotheses[0]
		lines = append(lines, fmt.Sprintf("*Probably not the main cause.* %s is candidate %d, %s — %s:", investigate.UpperFirst(noun), rank+1, hypothesisText(h), confidenceText(h.Confidence)))
		lines = appendFindings(lines, findingsOf(*rep, func(f investigate.Finding) bool {
			return slices.Contains(h.Evidence, f.ID) && slices.Contains(matches, f)
		}), 3)
		lines = append(lines, fmt.Sprintf("Ranked above it: %s — %s.", hypothesisText(top), confidenceText(top.Confidence)))
	case len(matches) > 0:
		lines = append(lines, fmt.Sprintf("*Probably not.* I found %s, but no hypothesis rests on it (too far from the onset, after it, or on nothing that fails):", noun))
		lines = appendFindings(lines, matches, 3)
		lines = append(lines, topLine(*rep))
	default:
		text, err := b.cloudTrailCheck(ctx, q, *rep, res, id, it.Detail, noun, w)
		if err != nil {
			return "", err
		}
		lines = append(lines, text, topLine(*rep))
	}
	return strings.Join(lines, "\n"), nil
}

// cloudTrailCheck reads CloudTrail for a change the report has no finding
// on.
func (b *Bot) cloudTrailCheck(ctx context.Context, q Querier, rep investigate.Report, res *investigate.Resource, id, kind, noun string, w investigate.FollowUpWindow) (string, error) {
	start, end := w.All()
	changes, err := q.Changes(ctx, res, start, end)
	if err != nil {
		return fmt.Sprintf("*I can't tell.* The report has no finding on %s, and I could not read CloudTrail now (%s).", noun, mrkdwn.Truncate(mrkdwn.EscapeLine(err.Error()), 200)), nil
	}
	changes = slices.DeleteFunc(changes, func(c investigate.Change) bool {
		return c.Routine || (kind != "" && changeKind(c.Event) != kind) || (id != "" && res == nil && !sameResource(c.Resource, id))
	})
	between := fmt.Sprintf("between %s and %s", w.Start.UTC().Format("15:04"), investigate.Clock(w.End))
	if len(changes) == 0 {
		return fmt.Sprintf("*No.* CloudTrail shows no %s %s.", strings.TrimPrefix(noun, "a "), between), nil
	}
	lines := []string{fmt.Sprintf("*Probably not.* CloudTrail has %s %s, but the report ties none of them to the alarm:", investigate.Count(len(changes), "such change"), between)}
	for i, c := range changes {
		if i == maxListed {
			lines = append(lines, fmt.Sprintf("…and %d more", len(changes)-maxListed))
			break
		}
		line := changeHead(c, mrkdwn.Truncate(mrkdwn.EscapeLine(c.Resource), 120))
		lines = append(lines, line+relative(c.Time, w.Onset))
	}
	return strings.Join(lines, "\n"), nil
}

// aboutAnswer answers "what about X?": the hypotheses and findings on it,
// where it sits in the topology, and, when the report found nothing on it,
// its metrics before and since the onset.
func (b *Bot) aboutAnswer(ctx context.Context, q Querier, inv incident.Investigation, topo investigate.Topology, it Intent, w investigate.FollowUpWindow) (string, error) {
	id, res, err := resolveRef(topo, inv.Report, it.Target)
	if err != nil {
		return unknownText(it.Target, err)
	}
	head := "*" + mrkdwn.EscapeLine(id) + "*"
	if res != nil {
		head += " (" + mrkdwn.EscapeLine(string(res.Type)) + ")"
	}
	lines := []string{head}
	var hyps []string
	var fs []investigate.Finding
	if rep := inv.Report; rep != nil {
		for i, h := range rep.Hypotheses {
			if sameResource(h.Resource, id) {
				hyps = append(hyps, fmt.Sprintf("• Candidate cause %d: %s — %s", i+1, hypothesisText(h), confidenceText(h.Confidence)))
			}
		}
		fs = findingsOf(*rep, func(f investigate.Finding) bool { return sameResource(f.Resource, id) })
	}
	lines = append(lines, hyps...)
	if len(fs) > 0 {
		lines = append(lines, "What the investigation found on it:")
		lines = appendFindings(lines, fs, 6)
	}
	if res != nil {
		var rel []string
		for _, x := range topo.Relations {
			switch id {
			case x.From:
				rel = append(rel, mrkdwn.EscapeLine(x.Kind)+" `"+mrkdwn.EscapeLine(x.To)+"`")
			case x.To:
				rel = append(rel, "`"+mrkdwn.EscapeLine(x.From)+"` "+mrkdwn.EscapeLine(x.Kind)+" it")
			}
		}
		if len(rel) > 8 {
			rel = append(rel[:8], fmt.Sprintf("and %d more", len(rel)-8))
		}
		if len(rel) > 0 {
			lines = append(lines, "In the topology: "+strings.Join(rel, "; ")+".")
		}
	}
	if inv.Report != nil && len(hyps) == 0 {
		lines = append(lines, "It is not among the candidate causes. "+topLine(*inv.Report))
	}
	if len(fs) == 0 && res != nil {
		// Nothing in the report: its metrics say whether anything moved.
		m, err := checkAnswer(ctx, q, *res, w)
		if err != nil {
			return "", fmt.Errorf("metrics of %s: %w", res.ID, err)
		}
		lines = append(lines, "The report has no finding on it; its metrics (:warning: where the mean shifted):", m)
	} else if len(fs) == 0 {
		lines = append(lines, "The report has no finding on it.")
	}
	return strings.Join(lines, "\n"), nil
}

// unreadable is the querier of a channel whose telemetry cannot be read
// now: every read fails with why, and the answers that read it say so.
type unreadable struct{ err error }

func (u unreadable) Changes(context.Context, *investigate.Resource, time.Time, time.Time) ([]investigate.Change, error) {
	return nil, u.err
}

func (u unreadable) Metric(context.Context, investigate.Resource, string, time.Time, time.Time, time.Duration) (investigate.Series, error) {
	return investigate.Series{}, u.err
}

func (u unreadable) Logs(context.Context, string, time.Time, time.Time) (investigate.LogStats, error) {
	return investigate.LogStats{}, u.err
}

func (u unreadable) Traces(context.Context, string, time.Time, time.Time) ([]investigate.TraceGroup, error) {
	return nil, u.err
}

func (u unreadable) Topology(context.Context, investigate.Alarm) (investigate.Topology, error) {
	return investigate.Topology{}, u.err
}
