package handlers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unstuck/unstuck/handlers/mrkdwn"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm"
	"github.com/unstuck/unstuck/scenario"
	"github.com/unstuck/unstuck/scenarios"
	"github.com/unstuck/unstuck/sim"
)

// recordingQuerier answers follow-ups from fixed data and records what it
// was asked.
type recordingQuerier struct {
	topo    investigate.Topology
	series  investigate.Series
	changes []investigate.Change

	mu         sync.Mutex
	topoReads  int
	metricSpan [2]time.Time
}

func (q *recordingQuerier) Topology(context.Context, investigate.Alarm) (investigate.Topology, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.topoReads++
	return q.topo, nil
}

func (q *recordingQuerier) Changes(context.Context, *investigate.Resource, time.Time, time.Time) ([]investigate.Change, error) {
	return q.changes, nil
}

func (q *recordingQuerier) Metric(_ context.Context, _ investigate.Resource, name string, start, end time.Time, _ time.Duration) (investigate.Series, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.metricSpan = [2]time.Time{start, end}
	if name != "ThrottledRequests" {
		return investigate.Series{}, nil
	}
	return q.series, nil
}

func (q *recordingQuerier) Logs(context.Context, string, time.Time, time.Time) (investigate.LogStats, error) {
	return investigate.LogStats{}, nil
}

func (q *recordingQuerier) Traces(context.Context, string, time.Time, time.Time) ([]investigate.TraceGroup, error) {
	return nil, nil
}

func TestFollowUpQuery(t *testing.T) {
	onset := time.Date(2024, 12, 3, 10, 30, 0, 0, time.UTC)
	start, end := onset.Add(-time.Hour), onset.Add(10*time.Minute)
	topo := investigate.Topology{Resources: []investigate.Resource{
		{ID: "orders-api", Type: investigate.TypeAPIGateway},
		{ID: "orders-fn", Type: investigate.TypeLambda},
		{ID: "orders-table", Type: investigate.TypeDynamoDB},
	}}
	// Throttles: 1 a minute before the onset, 20 since; the point stamped
	// at the window's end counts.
	var series investigate.Series
	for t := start; !t.After(end); t = t.Add(time.Minute) {
		v := 1.0
		if !t.Before(onset) {
			v = 20
		}
		series.Times, series.Values = append(series.Times, t), append(series.Values, v)
	}
	stored := topo
	tests := []struct {
		name      string
		kept      *investigate.Topology
		question  string
		want      []string
		wantReads int
	}{
		{"the report's topology", &stored, "check orders-table", []string{"*orders-table* (dynamodb)", "ThrottledRequests: 1.0 → 20.0 :warning:", "(10:30 UTC)"}, 0},
		{"a report stored before it kept its topology", nil, "check orders-table", []string{"ThrottledRequests: 1.0 → 20.0 :warning:"}, 1},
		{"any case", &stored, "check Orders-Table", []string{"*orders-table* (dynamodb)"}, 0},
		{"a unique part", &stored, "check table", []string{"*orders-table* (dynamodb)"}, 0},
		{"unknown: the closest names", &stored, "check orders-tabel", []string{"I don't know *orders-tabel*", "`orders-table`, `orders-api`"}, 0},
		{"ambiguous: the names it is part of", &stored, "check orders-", []string{"I don't know *orders-*", "`orders-fn`, `orders-api`, `orders-table`"}, 0},
		{"resources", &stored, "resources", []string{"*Resources around the alarm* (3)", "`orders-fn`"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &recordingQuerier{topo: topo, series: series}
			b := &Bot{opts: Options{Clock: func() time.Time { return end }}}
			inv := incident.Investigation{
				Alarm:  investigate.Alarm{Name: "orders-5xx", Resource: "orders-api"},
				Report: &investigate.Report{Scope: investigate.Scope{Start: start, End: end}, Onset: onset, Topology: tt.kept},
			}
			got, err := b.query(context.Background(), q, inv, ParseIntent(tt.question))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("answer lacks %q:\n%s", w, got)
				}
			}
			if q.topoReads != tt.wantReads {
				t.Errorf("topology read %d times, want %d", q.topoReads, tt.wantReads)
			}
			if strings.HasPrefix(tt.question, "check") && !strings.Contains(got, "I don't know") {
				if want := [2]time.Time{start, end.Add(time.Minute)}; q.metricSpan != want {
					t.Errorf("metrics read over %v, want %v", q.metricSpan, want)
				}
			}
		})
	}
}

// Before the report is done, a follow-up reads the request's window and the
// topology once.
func TestFollowUpQueryBeforeTheReport(t *testing.T) {
	now := time.Date(2024, 12, 3, 12, 0, 0, 0, time.UTC)
	q := &recordingQuerier{topo: investigate.Topology{Resources: []investigate.Resource{{ID: "orders-table", Type: investigate.TypeDynamoDB}}}}
	b := &Bot{opts: Options{Clock: func() time.Time { return now.Add(time.Hour) }}}
	inv := incident.Investigation{Alarm: investigate.Alarm{Name: "orders-5xx"}, Now: now, Lookback: 2 * time.Hour, State: incident.StateRunning}
	got, err := b.query(context.Background(), q, inv, ParseIntent("check orders-table"))
	if err != nil {
		t.Fatal(err)
	}
	if q.topoReads != 1 || !strings.Contains(got, "(11:50 UTC)") {
		t.Errorf("topology read %d times; answer:\n%s", q.topoReads, got)
	}
	if want := [2]time.Time{now.Add(-2 * time.Hour), now.Add(time.Minute)}; q.metricSpan != want {
		t.Errorf("metrics read over %v, want %v", q.metricSpan, want)
	}
}

func TestFollowUpQueryWithoutQuerier(t *testing.T) {
	b := &Bot{opts: Options{Clock: time.Now}}
	_, err := b.query(context.Background(), nil, incident.Investigation{}, ParseIntent("check x"))
	if err == nil || !strings.Contains(err.Error(), "no telemetry source") {
		t.Errorf("err = %v, want no telemetry source", err)
	}
}

// "What changed" lists what people and AWS changed, and only counts the
// routine writes of agents and services.
func TestChangesAnswerLeavesOutRoutineWrites(t *testing.T) {
	onset := time.Date(2024, 12, 3, 10, 30, 0, 0, time.UTC)
	q := &recordingQuerier{changes: []investigate.Change{
		{Time: onset.Add(-2 * time.Minute), Event: "PutResourcePolicy", Resource: "orders-table", Actor: "arn:aws:iam::123456789012:user/alice"},
		{Time: onset.Add(-time.Minute), Event: "CreateLogStream", Resource: "/app/orders", Actor: "i-0abc", Routine: true},
		{Time: onset.Add(-30 * time.Second), Event: "RotateKey", Resource: "orders-key", Actor: "kms.amazonaws.com", ByService: true},
	}}
	w := investigate.FollowUpWindow{Start: onset.Add(-time.Hour), Onset: onset, End: onset.Add(10 * time.Minute)}
	b := New(nil, nil, nil, Config{}, Options{})
	got, err := b.changesAnswer(context.Background(), q, incident.Investigation{}, nil, w)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PutResourcePolicy", "RotateKey", "(made by AWS)", "1 routine write"} {
		if !strings.Contains(got, want) {
			t.Errorf("answer lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "CreateLogStream") {
		t.Errorf("a routine write is listed as a change:\n%s", got)
	}
}

// scopeNames are the resources of the dynamodb-policy-change scenario, as
// knownNames gives them to the classifier.
var scopeNames = []string{"orders-api", "orders-fn", "orders", "orders-table", "payments-api", "reports", "reports-fn"}

// The classifier understands what people ask after a report, however they
// put it: typos, word order, politeness, Slack markup. What asks for none
// of the intents is not forced into one.
func TestIntentPhrasings(t *testing.T) {
	tests := []struct {
		q    string
		want Intent
	}{
		// The cause.
		{"what is the most likely cause?", Intent{Kind: IntentCause}},
		{"waht is the root casue", Intent{Kind: IntentCause}},
		{"hey can you tell me why this happened pls", Intent{Kind: IntentCause}},
		{"why?", Intent{Kind: IntentCause}},
		{"<@U0BOT> what happened here", Intent{Kind: IntentCause}},
		{"so whats the culprit", Intent{Kind: IntentCause}},
		{"root cause??", Intent{Kind: IntentCause}},
		{"*why* did it break?", Intent{Kind: IntentCause}},
		// What to do.
		{"what should I do?", Intent{Kind: IntentAction}},
		{"next steps?", Intent{Kind: IntentAction}},
		{"how do we fix this", Intent{Kind: IntentAction}},
		{"any mitigation we can apply right now?", Intent{Kind: IntentAction}},
		{"recomend an action", Intent{Kind: IntentAction}},
		{"ok so what do we do now", Intent{Kind: IntentAction}},
		// Whether a change explains it.
		{"is it the deploy?", Intent{Kind: IntentChangeCheck, Detail: "deploy"}},
		{"the deploy — is that it?", Intent{Kind: IntentChangeCheck, Detail: "deploy"}},
		{"was it the config change?", Intent{Kind: IntentChangeCheck, Detail: "config"}},
		{"did orders-table change?", Intent{Kind: IntentChangeCheck, Target: "orders-table"}},
		{"could the policy change be the reason?", Intent{Kind: IntentChangeCheck, Detail: "policy"}},
		{"deployment to blame?", Intent{Kind: IntentChangeCheck, Detail: "deploy"}},
		{"is the depoly responsible", Intent{Kind: IntentChangeCheck, Detail: "deploy"}},
		{"was it the deploy of orders-fn?", Intent{Kind: IntentChangeCheck, Target: "orders-fn", Detail: "deploy"}},
		{"did someone touch the security group?", Intent{Kind: IntentChangeCheck, Detail: "network"}},
		// One resource.
		{"what about orders-fn?", Intent{Kind: IntentAbout, Target: "orders-fn"}},
		{"and reports?", Intent{Kind: IntentAbout, Target: "reports"}},
		{"is it the database?", Intent{Kind: IntentAbout, Target: "database"}},
		{"orders-table?", Intent{Kind: IntentAbout, Target: "orders-table"}},
		{"tell me about payments-api please", Intent{Kind: IntentAbout, Target: "payments-api"}},
		{"is orders-table healthy?", Intent{Kind: IntentAbout, Target: "orders-table"}},
		// How sure.
		{"how sure are you?", Intent{Kind: IntentConfidence}},
		{"how confident r u", Intent{Kind: IntentConfidence}},
		{"are you sure about this?", Intent{Kind: IntentConfidence}},
		{"confidance level?", Intent{Kind: IntentConfidence}},
		// What was checked, what could not be read.
		{"what did you check?", Intent{Kind: IntentChecks}},
		{"what did you look at", Intent{Kind: IntentChecks}},
		{"which checks did you run", Intent{Kind: IntentChecks}},
		{"how did you investigate this", Intent{Kind: IntentChecks}},
		{"what couldn't you read?", Intent{Kind: IntentUnavailable}},
		{"missing data?", Intent{Kind: IntentUnavailable}},
		{"which sources failed", Intent{Kind: IntentUnavailable}},
		{"any blind spots?", Intent{Kind: IntentUnavailable}},
		{"were you denied access anywhere", Intent{Kind: IntentUnavailable}},
		// When.
		{"when did it start?", Intent{Kind: IntentOnset}},
		{"when did this begin", Intent{Kind: IntentOnset}},
		{"since when?", Intent{Kind: IntentOnset}},
		{"how long has this been going on", Intent{Kind: IntentOnset}},
		{"what time did the errors start", Intent{Kind: IntentOnset}},
		// Who changed what.
		{"who changed what", Intent{Kind: IntentChanges}},
		{"recent changes", Intent{Kind: IntentChanges}},
		{"deploys", Intent{Kind: IntentChanges}},
		{"did anything change?", Intent{Kind: IntentChanges}},
		{"any recnet chagnes", Intent{Kind: IntentChanges}},
		{"what changed on orders-table?", Intent{Kind: IntentChanges, Target: "orders-table"}},
		// The errors.
		{"show me the errors", Intent{Kind: IntentErrors}},
		{"show me the logs", Intent{Kind: IntentErrors}},
		{"exceptions?", Intent{Kind: IntentErrors}},
		{"can you pull up the eror logs for orders-fn", Intent{Kind: IntentErrors, Target: "orders-fn"}},
		// The impact.
		{"what's the impact?", Intent{Kind: IntentImpact}},
		{"how bad is it", Intent{Kind: IntentImpact}},
		{"how many users are affected", Intent{Kind: IntentImpact, Detail: "users"}},
		{"how many requests failed", Intent{Kind: IntentImpact}},
		{"whats the blast radius", Intent{Kind: IntentImpact}},
		{"imapct?", Intent{Kind: IntentImpact}},
		// What was there before.
		{"check payments-api", Intent{Kind: IntentCheck, Target: "payments-api"}},
		{"traces to orders-table", Intent{Kind: IntentTraces, Target: "orders-table"}},
		{"check again", Intent{Kind: IntentRerun}},
		{"tl;dr", Intent{Kind: IntentSummary}},
		{"incident summary?", Intent{Kind: IntentPostmortem}},
		{"?", Intent{Kind: IntentHelpKind}},
		// Not a question any intent answers: the model, or the help.
		{"thanks!", Intent{}},
		{"ok", Intent{}},
		{"lol", Intent{}},
		{"who is on call tonight?", Intent{}},
		{"who is in charge of orders?", Intent{}},
		{"is it friday yet?", Intent{}},
		{"the cache looks cold", Intent{}},
		{"good morning team", Intent{}},
		{"I'm grabbing coffee", Intent{}},
		{"any chance you can ping bob?", Intent{}},
		{"nice work", Intent{}},
		{"", Intent{}},
	}
	for _, tt := range tests {
		if got := parseIntent(tt.q, scopeNames); got != tt.want {
			t.Errorf("parseIntent(%q) = %+v, want %+v", tt.q, got, tt.want)
		}
	}
}

// A resource named like a cue word is the resource asked about.
func TestIntentKnownNames(t *testing.T) {
	if got := parseIntent("what about reports?", nil); got.Kind == IntentAbout {
		t.Errorf("without the names, %+v", got)
	}
	if got, want := parseIntent("what about reports?", scopeNames), (Intent{Kind: IntentAbout, Target: "reports"}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// The help lists an example of every question it can answer, and each
// example is understood as one.
func TestIntentHelpExamples(t *testing.T) {
	covered := map[string]bool{IntentHelpKind: true, IntentUnknown: true}
	parts := strings.Split(IntentHelp, "`")
	for i := 1; i < len(parts); i += 2 {
		it := ParseIntent(parts[i])
		if it.Kind == IntentUnknown {
			t.Errorf("the example %q is not understood", parts[i])
		}
		covered[it.Kind] = true
	}
	for _, k := range IntentKinds {
		if !covered[k] {
			t.Errorf("the help has no example of %q", k)
		}
	}
}

// The classifier's ties go by the rules' order, so the same question
// always gets the same intent.
func TestIntentDeterministic(t *testing.T) {
	for i := 0; i < 50; i++ {
		if got := parseIntent("what caused the errors", scopeNames); got.Kind != IntentCause {
			t.Fatalf("run %d: %+v", i, got)
		}
	}
}

// scenarioInvestigation runs a scenario through the simulator and the
// engine, as the bot does, and returns the done investigation, a querier
// over the same telemetry, and a bot on the scenario's clock.
func scenarioInvestigation(t *testing.T, name string, fail ...string) (incident.Investigation, Querier, *Bot) {
	t.Helper()
	f, err := scenario.Load(scenarios.FS, name+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	opts := sim.Options{Fail: map[string]error{}}
	for _, k := range fail {
		opts.Fail[k] = sim.ErrAccessDenied
	}
	backend := sim.New(f.Scenario, opts)
	eng := investigate.New(backend.Sources(), investigate.Options{Reasoner: llm.NewOffline(), Lookback: backend.Now().Sub(f.Scenario.Start()), Clock: backend.Now})
	rep, err := eng.Run(context.Background(), investigate.Request{Alarm: f.Scenario.Alarm.Name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	inv := incident.Investigation{
		Channel: "C1", ThreadTS: "1.1", State: incident.StateDone, Report: &rep,
		Alarm: investigate.Alarm{Name: f.Scenario.Alarm.Name, Resource: rep.Scope.Resource},
	}
	return inv, investigate.NewQuerier(backend.Sources()), New(nil, nil, nil, Config{}, Options{Clock: backend.Now})
}

// ask answers a question about inv as the thread does once it has
// understood it.
func ask(t *testing.T, b *Bot, q Querier, inv incident.Investigation, question string) string {
	t.Helper()
	it := parseIntent(question, knownNames(inv))
	if it.Kind == IntentUnknown {
		t.Fatalf("%q is not understood", question)
	}
	got, err := b.query(context.Background(), q, inv, it)
	if err != nil {
		t.Fatalf("%q: %v", question, err)
	}
	return got
}

func wantAll(t *testing.T, question, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%q: the answer lacks %q:\n%s", question, w, got)
		}
	}
}

// Each intent answers from the report of a real investigation (a policy
// change on a DynamoDB table, a deploy left beside it), with its facts.
func TestIntentAnswersFromTheReport(t *testing.T) {
	inv, q, b := scenarioInvestigation(t, "dynamodb-policy-change")
	rep := *inv.Report
	// The engine tells the table's story once (the policy change); the
	// answers that name a runner-up need one, resting on evidence of its
	// own.
	if len(rep.Hypotheses) == 1 {
		rep.Hypotheses = append(rep.Hypotheses, investigate.Hypothesis{
			Cause: investigate.CauseDependency, Resource: "orders-table", Confidence: 0.4, Title: "orders-table, a dependency, is failing",
			Evidence: []string{"f4"}, Actions: []investigate.Action{{Kind: investigate.ActionExclude, Detail: "Fail away from orders-table: shed or queue the calls from orders"}},
		})
		inv.Report = &rep
	}
	if len(rep.Hypotheses) < 2 || len(rep.Hypotheses[0].Actions) == 0 || rep.Onset.IsZero() {
		t.Fatalf("the scenario's report changed: %+v", rep.Hypotheses)
	}
	top, next := rep.Hypotheses[0], rep.Hypotheses[1]
	onset := investigate.Clock(rep.Onset)
	tests := []struct {
		question string
		want     []string
	}{
		{"what is the most likely cause?", []string{"*Most likely cause* — likely (95%)", "`" + top.Resource + "`", mrkdwn.EscapeLine(top.Title),
			"Evidence: " + strings.Join(top.Evidence, ", "), "Next: *" + next.Title + "*", confidenceText(next.Confidence)}},
		{"what should I do?", []string{mrkdwn.EscapeLine(top.Actions[0].Detail), "(`rollback`)", "I never run these myself", mrkdwn.EscapeLine(next.Actions[0].Detail)}},
		{"how sure are you?", []string{"likely (95%) that it is", "`" + top.Resource + "`", "possible (40%)", "likely from 65%"}},
		{"what did you check?", []string{"over 11:00–14:04 UTC (onset 14:00 UTC)", "scope: 7 resources", "changes: 2 findings (f2, f3)",
			"limits: nothing found", "dependency: 1 finding (f4)", fmt.Sprintf("%d API calls", rep.Stats.APICalls)}},
		{"what couldn't you read?", []string{"nothing — every source I asked answered"}},
		{"when did it start?", []string{"*Onset*: " + onset, "Tue 3 Dec 2024", "[f1]", "The last change before it", "PutResourcePolicy", "alice"}},
		{"how many users are affected?", []string{"*Impact* of `orders-api-5xx`", "0.35 before, 544 after", "since 14:00 UTC: 4 min", "5XX in that time",
			"100% of traced calls", "not users"}},
		{"show me the errors", []string{"failing traced calls", "[f4]", "AccessDeniedException", "`errors on RESOURCE`"}},
		{"who changed what?", []string{"*What changed*", "PutResourcePolicy", "alice", "UpdateFunctionCode"}},
		{"is it the deploy?", []string{"*Probably not.*", "[f3]", "reports-fn", "no hypothesis rests on it", "most likely cause is *" + top.Title}},
		{"was it the policy change?", []string{"*Yes — likely (95%).*", "[f2] replaced the resource policy (PutResourcePolicy) on orders-table", "Against it:", next.Title + "* (`dependency`"}},
		{"did orders-fn change?", []string{"*No.* CloudTrail shows no change to `orders-fn` between 11:00 and 14:04 UTC"}},
		{"was the code change in the queue to blame?", []string{"*Probably not.* I found a deploy", "reports-fn"}},
		{"what about orders-fn?", []string{"*orders-fn* (lambda)", "`orders-api` targets it", "not among the candidate causes", "Errors: 0.489 → 550 :warning:"}},
		{"is it the database?", []string{"*orders-table* (dynamodb)", "Candidate cause 1", "Candidate cause 2", "[f2]", "[f4]"}},
	}
	for _, tt := range tests {
		t.Run(tt.question, func(t *testing.T) {
			wantAll(t, tt.question, ask(t, b, q, inv, tt.question), tt.want...)
		})
	}
}

// A deploy that is the cause is a yes, with what argues against it; the
// sources that could not be read are named, in the answers that depend on
// them too.
func TestIntentAnswersDeployAndUnreadSources(t *testing.T) {
	inv, q, b := scenarioInvestigation(t, "checkout-alb-5xx-evening", sim.KindHealth, sim.KindQuotas)
	rep := *inv.Report
	var srcs []string
	for _, u := range rep.Unavailable {
		srcs = append(srcs, u.Source)
	}
	if !slices.Contains(srcs, "health") || !slices.Contains(srcs, "quotas") {
		t.Fatalf("unavailable: %+v", rep.Unavailable)
	}
	tests := []struct {
		question string
		want     []string
	}{
		{"the deploy — is that it?", []string{"*Yes — likely (95%).*", "`checkout-svc`", "[f2] updated the service (UpdateService) on checkout-svc", "Against it:",
			"I could not read `health`, `quotas`"}},
		{"did catalog-svc change?", []string{"*Probably not.*", "[f4] updated the service (UpdateService) on catalog-svc", "checkout-svc"}},
		{"what couldn't you read?", []string{"*What I could not read* (2)", "• *health*: ", "• *quotas*: ", "AccessDeniedException"}},
		{"why?", []string{"`checkout-svc`", "I could not read `health`, `quotas`"}},
		{"show me the errors", []string{"error lines in the logs", "[f6]", "[f7]", "TypeError"}},
	}
	for _, tt := range tests {
		t.Run(tt.question, func(t *testing.T) {
			wantAll(t, tt.question, ask(t, b, q, inv, tt.question), tt.want...)
		})
	}
}

// With no telemetry to read (the channel's account is out of reach), what
// the report holds is still answered, and what needs a read says why not.
func TestIntentAnswersWithoutQuerier(t *testing.T) {
	inv, _, b := scenarioInvestigation(t, "dynamodb-policy-change")
	wantAll(t, "errors", ask(t, b, nil, inv, "show me the errors"), "AccessDeniedException")
	wantAll(t, "policy", ask(t, b, nil, inv, "was it the policy change?"), "*Yes — likely (95%).*")
	wantAll(t, "orders-fn", ask(t, b, nil, inv, "did orders-fn change?"), "*I can't tell.*", "no telemetry source")
	wantAll(t, "onset", ask(t, b, nil, inv, "when did it start"), "14:00 UTC")
	if _, err := b.query(context.Background(), nil, inv, parseIntent("check orders-fn", nil)); !errors.Is(err, errNoQuerier) {
		t.Errorf("a metrics read without a querier: %v", err)
	}
}

// Before the report, the questions it answers wait for it.
func TestIntentAnswersBeforeTheReport(t *testing.T) {
	b := &Bot{opts: Options{Clock: time.Now}}
	inv := incident.Investigation{State: incident.StateRunning}
	for _, question := range []string{"why?", "what should I do", "how sure are you", "is it the deploy?"} {
		got, err := b.query(context.Background(), &recordingQuerier{}, inv, parseIntent(question, nil))
		if err != nil || !strings.Contains(got, "I'm still investigating") {
			t.Errorf("%q: %q, %v", question, got, err)
		}
	}
}

// What a model or a log line wrote into the report is escaped in the
// answers.
func TestIntentAnswersEscape(t *testing.T) {
	rep := investigate.Report{
		Scope: investigate.Scope{Alarm: "a", Resource: "r"},
		Hypotheses: []investigate.Hypothesis{{Cause: investigate.CauseComponent, Resource: "r", Confidence: 0.5,
			Title: "<!channel> *bold*", Explanation: "see <https://evil.example|here>", Evidence: []string{"f1"},
			Actions: []investigate.Action{{Kind: investigate.ActionRestart, Detail: "<@U123> restart"}}}},
		Findings: []investigate.Finding{{ID: "f1", Kind: investigate.FindingLog, Summary: "ERROR <!here> `rm -rf`"}},
	}
	for _, kind := range []string{IntentCause, IntentAction, IntentConfidence} {
		got := reportAnswer(rep, Intent{Kind: kind})
		for _, bad := range []string{"<!channel>", "<https://evil", "<@U123>", "*bold*"} {
			if strings.Contains(got, bad) {
				t.Errorf("%s: %q is not escaped:\n%s", kind, bad, got)
			}
		}
		if !strings.Contains(got, "possible (50%)") && kind != IntentAction {
			t.Errorf("%s: no confidence in words:\n%s", kind, got)
		}
	}
	got, _ := reportErrors(rep)
	if strings.Contains(got, "<!here>") || strings.Contains(got, "`rm") {
		t.Errorf("errors: not escaped:\n%s", got)
	}
}

// The kinds of the newer resource types stand for them in a question:
// "is it the cache?" is about the ElastiCache cluster.
func TestIntentKindWordsOfNewTypes(t *testing.T) {
	inv, q, b := scenarioInvestigation(t, "menu-latency-cache-evictions")
	var cache string
	for _, r := range inv.Report.Topology.Resources {
		if r.Type == investigate.TypeElastiCache {
			cache = r.ID
		}
	}
	if cache == "" {
		t.Fatal("the scenario has no ElastiCache cluster")
	}
	got := ask(t, b, q, inv, "is it the cache?")
	wantAll(t, "is it the cache?", got, "*"+cache+"* (elasticache)")
}
