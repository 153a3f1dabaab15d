package investigate

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// webEnv is an ALB in front of three instances running app, which calls a
// DynamoDB table and an external API. Everything is healthy until a test
// says otherwise.
func webEnv() *fake {
	f := newFake()
	f.alarm = Alarm{
		Name: "web-5xx", Resource: "web-alb", Region: "us-east-1",
		Metric: Metric{Namespace: "AWS/ApplicationELB", Name: "HTTPCode_Target_5XX_Count", Dims: map[string]string{"LoadBalancer": "app/web-alb/1"}},
		Stat:   "Sum", Period: time.Minute, Threshold: 50, Comparison: "GreaterThanThreshold", State: "ALARM",
		History: []AlarmStateChange{{Time: t0.Add(3 * time.Minute), From: "OK", To: "ALARM"}},
	}
	f.topo = Topology{
		Resources: []Resource{
			{ID: "web-alb", Type: TypeALB, Dims: map[string]string{"LoadBalancer": "app/web-alb/1"}},
			{ID: "i-1", Type: TypeEC2, AZ: "us-east-1a", Dims: map[string]string{"InstanceId": "i-1"}},
			{ID: "i-2", Type: TypeEC2, AZ: "us-east-1b", Dims: map[string]string{"InstanceId": "i-2"}},
			{ID: "i-3", Type: TypeEC2, AZ: "us-east-1c", Dims: map[string]string{"InstanceId": "i-3"}},
			{ID: "app", Type: TypeService, LogGroup: "/app/app"},
			{ID: "table", Type: TypeDynamoDB, Dims: map[string]string{"TableName": "table"}},
			{ID: "payments", Type: TypeExternal, URL: "https://payments.example.com"},
		},
		Relations: []Relation{
			{"web-alb", "i-1", RelTargets}, {"web-alb", "i-2", RelTargets}, {"web-alb", "i-3", RelTargets},
			{"app", "i-1", RelRunsOn}, {"app", "i-2", RelRunsOn}, {"app", "i-3", RelRunsOn},
			{"app", "table", RelCalls}, {"app", "payments", RelCalls},
		},
	}
	f.series["web-alb|AWS/ApplicationELB|HTTPCode_Target_5XX_Count"] = level(2, 800, t0)
	f.series["web-alb|AWS/ApplicationELB|RequestCount"] = level(2400, 2400, t0)
	f.series["*|AWS/EC2|CPUUtilization"] = level(25, 25, t0)
	var lines []logLine
	for _, i := range []string{"i-1", "i-2", "i-3"} {
		lines = append(lines,
			logLine{"INFO request <*> GET /api/items 200 <*>ms", i, 800, time.Time{}},
			logLine{"ERROR upstream request timed out after <*>ms, retrying", i, 0.2, time.Time{}})
	}
	f.logs["/app/app"] = logsOf(lines...)
	f.traces = tracesOf(webEdges()...)
	return f
}

func webEdges() []edge {
	var es []edge
	for _, i := range []string{"i-1", "i-2", "i-3"} {
		es = append(es,
			edge{caller: "web-alb", callee: "app", instance: i, perMin: 60, latency: 40 * time.Millisecond},
			edge{caller: "app", callee: "table", instance: i, perMin: 60, latency: 6 * time.Millisecond},
			edge{caller: "app", callee: "payments", instance: i, perMin: 60, latency: 120 * time.Millisecond})
	}
	return es
}

func investigateFake(t *testing.T, f *fake) Report {
	t.Helper()
	rep, err := New(f.sources(), Options{}).Run(context.Background(), Request{Alarm: f.alarm.Name, Now: t0.Add(3 * time.Minute)}, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func top(t *testing.T, rep Report) Hypothesis {
	t.Helper()
	if len(rep.Hypotheses) == 0 {
		t.Fatalf("no hypothesis; findings: %+v", rep.Findings)
	}
	return rep.Hypotheses[0]
}

func evidenceKinds(rep Report, h Hypothesis) map[FindingKind]bool {
	kinds := map[FindingKind]bool{}
	for _, id := range h.Evidence {
		if f, ok := rep.Finding(id); ok {
			kinds[f.Kind] = true
		}
	}
	return kinds
}

func rankOf(rep Report, cause Cause, resource string) int {
	for i, h := range rep.Hypotheses {
		if h.Cause == cause && h.Resource == resource {
			return i + 1
		}
	}
	return 0
}

func TestComponentOneInstanceFails(t *testing.T) {
	f := webEnv()
	f.logs["/app/app"] = logsOf(
		logLine{"INFO request <*> GET /api/items 200 <*>ms", "i-1", 800, time.Time{}},
		logLine{"INFO request <*> GET /api/items 200 <*>ms", "i-2", 800, time.Time{}},
		logLine{"INFO request <*> GET /api/items 200 <*>ms", "i-3", 800, time.Time{}},
		logLine{"ERROR request <*> failed: open /var/lib/app/reply.tmpl: no such file or directory", "i-3", 800, t0},
	)
	f.traces = tracesOf(alter(webEdges(), func(e edge) bool { return e.caller == "web-alb" && e.instance == "i-3" }, failing(1, "TemplateError: no such file"))...)
	// A healthy peer is busy: the obvious suspect, and wrong.
	f.series["i-1|AWS/EC2|CPUUtilization"] = level(25, 92, t0.Add(-10*time.Minute))

	rep := investigateFake(t, f)
	h := top(t, rep)
	if h.Cause != CauseComponent || h.Resource != "i-3" {
		t.Fatalf("top = %s %s, want component i-3; all: %+v", h.Cause, h.Resource, rep.Hypotheses)
	}
	if got := h.Actions[0].Kind; got != ActionExclude {
		t.Errorf("first action = %s, want exclude", got)
	}
	if k := evidenceKinds(rep, h); !k[FindingLog] || !k[FindingTrace] {
		t.Errorf("evidence kinds = %v, want log and trace", k)
	}
	if r := rankOf(rep, CauseComponent, "i-1"); r == 1 {
		t.Errorf("busy healthy peer i-1 ranked first")
	}
	if !rep.Onset.Equal(t0) {
		t.Errorf("onset = %v, want %v", rep.Onset, t0)
	}
}

func TestDependencyFailsAndChangeOnItWins(t *testing.T) {
	tests := []struct {
		name      string
		change    *Change
		wantCause Cause
		wantKind  ActionKind
	}{
		{"dependency down", nil, CauseDependency, ActionExclude},
		{"policy changed on it a minute before", &Change{ID: "e1", Time: t0.Add(-time.Minute), Event: "PutResourcePolicy",
			Source: "dynamodb.amazonaws.com", Resource: "table", Actor: "arn:aws:sts::1:assumed-role/Admin/alice"}, CauseOwnChange, ActionRollback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := webEnv()
			es := alter(webEdges(), into("table"), failing(1, "AccessDeniedException: not authorized to perform dynamodb:PutItem"))
			// Slow but not failing: a red herring for an error alarm.
			alter(es, into("payments"), func(e *edge) { e.latencyAfter, e.from = 600*time.Millisecond, t0 })
			f.traces = tracesOf(es...)
			f.changes = []Change{{ID: "e0", Time: t0.Add(-40 * time.Minute), Event: "UpdateFunctionCode20150331v2",
				Source: "lambda.amazonaws.com", Resource: "reports-fn", Actor: "arn:aws:sts::1:assumed-role/github-deployer/ci"}}
			if tt.change != nil {
				f.changes = append(f.changes, *tt.change)
			}
			rep := investigateFake(t, f)
			h := top(t, rep)
			if h.Cause != tt.wantCause || h.Resource != "table" {
				t.Fatalf("top = %s %s, want %s table; all: %+v", h.Cause, h.Resource, tt.wantCause, rep.Hypotheses)
			}
			if h.Actions[0].Kind != tt.wantKind {
				t.Errorf("first action = %s, want %s", h.Actions[0].Kind, tt.wantKind)
			}
			if r := rankOf(rep, CauseDependency, "payments"); r == 1 {
				t.Errorf("slow but healthy payments ranked first")
			}
			// Calls refused (access denied) are refused by a replica or
			// another Region too: no surface offers to fail over there.
			for _, h := range rep.Hypotheses {
				for _, a := range h.Actions {
					if h.Resource == "table" && strings.Contains(strings.ToLower(a.Detail), "fail over to") {
						t.Errorf("%s %s offers %q for refused calls", h.Cause, h.Resource, a.Detail)
					}
				}
			}
		})
	}
}

func TestThrottledCallsAreALimit(t *testing.T) {
	f := webEnv()
	f.traces = tracesOf(alter(webEdges(), into("table"), func(e *edge) {
		e.throttle, e.from, e.exception = 0.5, t0, "ProvisionedThroughputExceededException"
	})...)
	rep := investigateFake(t, f)
	if h := top(t, rep); h.Cause != CauseLimit || h.Resource != "table" || h.Actions[0].Kind != ActionScale {
		t.Fatalf("top = %s %s %s, want limit table scale", h.Cause, h.Resource, h.Actions[0].Kind)
	}
}

// lambdaEnv is an API in front of one function.
func lambdaEnv() *fake {
	f := newFake()
	f.alarm = Alarm{
		Name: "api-5xx", Resource: "api", Metric: Metric{Namespace: "AWS/ApiGateway", Name: "5XXError", Dims: map[string]string{"ApiName": "api"}},
		Stat: "Sum", Period: time.Minute, Threshold: 100, Comparison: "GreaterThanThreshold",
	}
	f.topo = Topology{
		Resources: []Resource{
			{ID: "api", Type: TypeAPIGateway, Dims: map[string]string{"ApiName": "api"}},
			{ID: "fn", Type: TypeLambda, Dims: map[string]string{"FunctionName": "fn"}, LogGroup: "/aws/lambda/fn", Config: map[string]string{}},
		},
		Relations: []Relation{{"api", "fn", RelTargets}},
	}
	f.series["api|AWS/ApiGateway|5XXError"] = level(1, 9000, t0)
	f.series["api|AWS/ApiGateway|Count"] = level(18000, 18000, t0)
	f.series["fn|AWS/Lambda|Throttles"] = level(0, 9000, t0)
	f.series["fn|AWS/Lambda|ConcurrentExecutions"] = level(300, 1000, t0.Add(-2*time.Minute))
	f.quotas = []Quota{{Resource: "fn", Service: "lambda", Code: "L-B99A9384", Name: "Concurrent executions", Value: 1000}}
	return f
}

func TestLimitAndALimitLoweredByAPerson(t *testing.T) {
	t.Run("quota reached", func(t *testing.T) {
		rep := investigateFake(t, lambdaEnv())
		h := top(t, rep)
		if h.Cause != CauseLimit || h.Resource != "fn" || h.Actions[0].Kind != ActionScale {
			t.Fatalf("top = %s %s, want limit fn scale; all %+v", h.Cause, h.Resource, rep.Hypotheses)
		}
		if !strings.Contains(h.Actions[0].Detail, "L-B99A9384") {
			t.Errorf("action %q does not name the quota", h.Actions[0].Detail)
		}
	})
	t.Run("reserved concurrency lowered", func(t *testing.T) {
		f := lambdaEnv()
		f.topo.Resources[1].Config["reserved_concurrency"] = "20"
		f.series["fn|AWS/Lambda|ConcurrentExecutions"] = level(15, 20, t0.Add(-2*time.Minute))
		f.changes = []Change{{ID: "c1", Time: t0.Add(-3 * time.Minute), Event: "PutFunctionConcurrency20171031",
			Source: "lambda.amazonaws.com", Resource: "fn", Actor: "arn:aws:iam::1:user/maria",
			Params: map[string]string{"reservedConcurrentExecutions": "20"}}}
		rep := investigateFake(t, f)
		h := top(t, rep)
		if h.Cause != CauseOwnChange || h.Resource != "fn" || h.Actions[0].Kind != ActionRollback {
			t.Fatalf("top = %s %s %s, want own-change fn rollback; all %+v", h.Cause, h.Resource, h.Actions[0].Kind, rep.Hypotheses)
		}
		if k := evidenceKinds(rep, h); !k[FindingChange] || !k[FindingMetric] {
			t.Errorf("evidence kinds = %v, want the change and the limit it caused", k)
		}
	})
}

func TestChangeAfterOnsetIsRuledOut(t *testing.T) {
	f := webEnv()
	f.traces = tracesOf(alter(webEdges(), into("payments"), failing(0.9, "503 Service Unavailable"))...)
	f.changes = []Change{{ID: "late", Time: t0.Add(2 * time.Minute), Event: "UpdateService",
		Source: "ecs.amazonaws.com", Resource: "app", Actor: "arn:aws:sts::1:assumed-role/deployer/ci"}}
	rep := investigateFake(t, f)
	if h := top(t, rep); h.Cause != CauseDependency || h.Resource != "payments" {
		t.Fatalf("top = %s %s, want dependency payments", h.Cause, h.Resource)
	}
	if rankOf(rep, CauseOwnChange, "app") != 0 {
		t.Errorf("a deploy after the onset became a hypothesis")
	}
	found := false
	for _, fd := range rep.Findings {
		if fd.Kind == FindingChange && strings.Contains(fd.Summary, "cannot have caused") {
			found = true
		}
	}
	if !found {
		t.Errorf("no finding rules out the late deploy")
	}
}

func TestNewTrafficMixIsASystemChange(t *testing.T) {
	f := webEnv()
	f.series["web-alb|AWS/ApplicationELB|RequestCount"] = level(2400, 7000, t0)
	f.logs["/app/app"] = logsOf(
		logLine{"INFO request <*> GET /api/items 200 <*>ms", "i-1", 800, time.Time{}},
		logLine{"INFO request <*> GET /api/items 200 <*>ms", "i-2", 800, time.Time{}},
		logLine{"INFO request <*> GET /api/items 200 <*>ms", "i-3", 800, time.Time{}},
		logLine{"INFO request <*> GET /api/search?q=<*> ua=scrapy 200 <*>ms", "i-1", 1500, t0},
		logLine{"INFO request <*> GET /api/search?q=<*> ua=scrapy 200 <*>ms", "i-2", 1500, t0},
		logLine{"INFO request <*> GET /api/search?q=<*> ua=scrapy 200 <*>ms", "i-3", 1500, t0},
	)
	rep := investigateFake(t, f)
	h := top(t, rep)
	if h.Cause != CauseSystemChange || h.Resource != "web-alb" || h.Actions[0].Kind != ActionBlock {
		t.Fatalf("top = %s %s, want system-change web-alb block; all %+v", h.Cause, h.Resource, rep.Hypotheses)
	}
}

func TestHealthEventOnDependency(t *testing.T) {
	f := webEnv()
	f.traces = tracesOf(alter(webEdges(), into("table"), failing(0.4, "InternalServerError"))...)
	f.health = []HealthEvent{{ARN: "arn:aws:health:us-east-1::event/DYNAMODB/X", Service: "DYNAMODB", Type: "AWS_DYNAMODB_OPERATIONAL_ISSUE",
		Status: "open", Start: t0.Add(-time.Minute), Description: "Increased error rates. We are investigating."}}
	rep := investigateFake(t, f)
	h := top(t, rep)
	if h.Cause != CauseDependency || h.Resource != "table" {
		t.Fatalf("top = %s %s, want dependency table", h.Cause, h.Resource)
	}
	if !evidenceKinds(rep, h)[FindingHealth] {
		t.Errorf("the health event is not cited")
	}
}

func TestNothingStandsOut(t *testing.T) {
	f := webEnv()
	f.series["web-alb|AWS/ApplicationELB|HTTPCode_Target_5XX_Count"] = level(2, 2, t0)
	rep := investigateFake(t, f)
	if len(rep.Hypotheses) > 0 && rep.Hypotheses[0].Confidence >= ClearCause {
		t.Fatalf("healthy environment gave a confident hypothesis: %+v", rep.Hypotheses[0])
	}
}

func TestFailingSourcesLeaveACompleteReport(t *testing.T) {
	for _, kind := range []string{"topology", "metrics", "logs", "traces", "changes", "health", "quotas"} {
		t.Run(kind, func(t *testing.T) {
			f := webEnv()
			f.fail[kind] = errors.New("ThrottlingException: Rate exceeded")
			rep := investigateFake(t, f)
			found := false
			for _, u := range rep.Unavailable {
				if strings.HasPrefix(u.Source, kind) && strings.Contains(u.Error, "Rate exceeded") {
					found = true
				}
			}
			if !found {
				t.Errorf("unavailable = %+v, want an entry for %s", rep.Unavailable, kind)
			}
			if rep.Scope.Alarm != "web-5xx" || rep.Findings == nil || rep.Hypotheses == nil {
				t.Errorf("incomplete report: %+v", rep.Scope)
			}
		})
	}
}

func TestSlowSourceHitsTheCheckDeadline(t *testing.T) {
	f := webEnv()
	f.traces = tracesOf(alter(webEdges(), into("payments"), failing(0.9, "503 Service Unavailable"))...)
	f.delay["logs"] = 5 * time.Second
	rep, err := New(f.sources(), Options{CheckTimeout: 100 * time.Millisecond}).Run(context.Background(), Request{Alarm: "web-5xx", Now: t0.Add(3 * time.Minute)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, u := range rep.Unavailable {
		if strings.HasPrefix(u.Source, "logs") && strings.Contains(u.Error, "deadline") {
			found = true
		}
	}
	if !found {
		t.Errorf("unavailable = %+v, want the slow logs", rep.Unavailable)
	}
	if h := top(t, rep); h.Cause != CauseDependency || h.Resource != "payments" {
		t.Errorf("top = %s %s, want dependency payments from the traces", h.Cause, h.Resource)
	}
}

func TestUnknownAlarm(t *testing.T) {
	f := webEnv()
	_, err := New(f.sources(), Options{}).Run(context.Background(), Request{Alarm: "web-5x"}, nil)
	var nf *NotFoundError
	if !errors.As(err, &nf) || nf.Candidates[0] != "web-5xx" {
		t.Fatalf("err = %v, want a NotFoundError naming web-5xx", err)
	}
}

func TestProgressEvents(t *testing.T) {
	f := webEnv()
	var mu sync.Mutex
	stages := map[string][]string{}
	_, err := New(f.sources(), Options{}).Run(context.Background(), Request{Alarm: "web-5xx", Now: t0.Add(3 * time.Minute)}, func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		stages[ev.Check] = append(stages[ev.Check], ev.Stage)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Steps() {
		got := strings.Join(stages[c.Name], ",")
		if got != "started,finished" {
			t.Errorf("%s stages = %q, want started,finished", c.Name, got)
		}
	}
	if len(stages) != len(Steps()) {
		t.Errorf("events of %d steps, want the %d of Steps()", len(stages), len(Steps()))
	}
}

func TestFindingIDsAreStable(t *testing.T) {
	a, b := investigateFake(t, webEnv()), investigateFake(t, webEnv())
	if len(a.Findings) != len(b.Findings) {
		t.Fatalf("finding counts differ: %d, %d", len(a.Findings), len(b.Findings))
	}
	for i := range a.Findings {
		if a.Findings[i].ID != b.Findings[i].ID || a.Findings[i].Summary != b.Findings[i].Summary {
			t.Errorf("finding %d differs between runs: %q vs %q", i, a.Findings[i].Summary, b.Findings[i].Summary)
		}
	}
}

func TestActorKind(t *testing.T) {
	tests := []struct{ actor, want string }{
		{"arn:aws:sts::123456789012:assumed-role/Admin/alice", actorPerson},
		{"arn:aws:iam::123456789012:user/maria", actorPerson},
		{"arn:aws:sts::123456789012:assumed-role/github-deployer/ci", actorCI},
		{"arn:aws:sts::123456789012:assumed-role/codepipeline-role/session", actorCI},
		{"autoscaling.amazonaws.com", actorService},
		{"arn:aws:sts::123456789012:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling", actorService},
	}
	for _, tt := range tests {
		if got := actorKind(tt.actor); got != tt.want {
			t.Errorf("actorKind(%q) = %q, want %q", tt.actor, got, tt.want)
		}
	}
}

func TestCapacityLostIsASystemChange(t *testing.T) {
	f := webEnv()
	f.topo.Resources = append(f.topo.Resources, Resource{ID: "web-asg", Type: TypeASG, Dims: map[string]string{"AutoScalingGroupName": "web-asg"}})
	for _, i := range []string{"i-1", "i-2", "i-3"} {
		f.topo.Relations = append(f.topo.Relations, Relation{i, "web-asg", RelMemberOf})
	}
	// Instance counts are whole numbers, without noise.
	f.series["web-asg|AWS/AutoScaling|GroupInServiceInstances"] = func(t time.Time) float64 {
		if t.Before(t0.Add(-time.Minute)) {
			return 3
		}
		return 1
	}
	f.series["i-1|AWS/EC2|CPUUtilization"] = level(30, 97, t0)
	f.series["web-alb|AWS/ApplicationELB|HTTPCode_Target_5XX_Count"] = level(2, 300, t0)
	rep := investigateFake(t, f)
	h := top(t, rep)
	if h.Cause != CauseSystemChange || h.Resource != "web-asg" || h.Actions[0].Kind != ActionScale {
		t.Fatalf("top = %s %s, want system-change web-asg scale; all %+v", h.Cause, h.Resource, rep.Hypotheses)
	}
}

func TestSurgeTheEntryThrottlesIsBlocked(t *testing.T) {
	f := lambdaEnv()
	f.series["api|AWS/ApiGateway|Count"] = level(18000, 90000, t0)
	f.series["fn|AWS/Lambda|Throttles"] = level(0, 0, t0)
	f.series["fn|AWS/Lambda|ConcurrentExecutions"] = level(300, 300, t0)
	f.traces = tracesOf(edge{caller: "client", callee: "api", perMin: 300, throttle: 0.7, from: t0, latency: 30 * time.Millisecond})
	rep := investigateFake(t, f)
	h := top(t, rep)
	if h.Cause != CauseSystemChange || h.Resource != "api" || h.Actions[0].Kind != ActionBlock {
		t.Fatalf("top = %s %s %s, want system-change api block; all %+v", h.Cause, h.Resource, h.Actions[0].Kind, rep.Hypotheses)
	}
}

func TestANewErrorOnOneHostAlone(t *testing.T) {
	f := webEnv()
	var lines []logLine
	for _, i := range []string{"i-1", "i-2", "i-3"} {
		lines = append(lines, logLine{"INFO request <*> GET /api/items 200 <*>ms", i, 800, time.Time{}})
	}
	// A crashed worker thread logs a few lines and falls silent.
	lines = append(lines, logLine{`Exception in thread "poller-<*>" java.lang.OutOfMemoryError: Java heap space`, "i-2", 1.5, t0})
	f.logs["/app/app"] = logsOf(lines...)
	rep := investigateFake(t, f)
	if h := top(t, rep); h.Cause != CauseComponent || h.Resource != "i-2" {
		t.Fatalf("top = %s %s, want component i-2; all %+v", h.Cause, h.Resource, rep.Hypotheses)
	}
}

func TestMemoryExhaustedOnOnePeer(t *testing.T) {
	f := webEnv()
	f.series["*|CWAgent|mem_used_percent"] = level(45, 45, t0)
	f.series["i-3|CWAgent|mem_used_percent"] = level(50, 98, t0.Add(-time.Minute))
	rep := investigateFake(t, f)
	h := top(t, rep)
	if h.Cause != CauseComponent || h.Resource != "i-3" || h.Actions[0].Kind != ActionRestart {
		t.Fatalf("top = %s %s %s, want component i-3 restart; all %+v", h.Cause, h.Resource, h.Actions[0].Kind, rep.Hypotheses)
	}
	t.Run("on every peer it is a limit", func(t *testing.T) {
		f := webEnv()
		f.series["*|CWAgent|mem_used_percent"] = level(50, 98, t0.Add(-time.Minute))
		rep := investigateFake(t, f)
		if r := rankOf(rep, CauseComponent, "i-3"); r == 1 {
			t.Errorf("memory full everywhere was taken for one part failing: %+v", rep.Hypotheses)
		}
	})
}

func TestDanglingRelationAndNaN(t *testing.T) {
	f := webEnv()
	f.topo.Relations = append(f.topo.Relations, Relation{"app", "remote-node", RelCalls})
	f.series["i-2|AWS/EC2|CPUUtilization"] = func(time.Time) float64 { return math.NaN() }
	rep := investigateFake(t, f)
	if _, err := json.Marshal(rep); err != nil {
		t.Fatalf("report does not encode: %v", err)
	}
}

// The Slack side reads the alarm to find it; an investigation it starts
// with that alarm reads it no more (on AWS: no second DescribeAlarms and
// DescribeAlarmHistory), and finds what it would have found reading it.
func TestRequestCarriesTheAlarm(t *testing.T) {
	read := webEnv()
	want := investigateFake(t, read)
	if n := read.count("alarm"); n != 1 {
		t.Fatalf("a request with only the alarm's name read the alarm %d times, want 1", n)
	}

	f := webEnv()
	alarm := f.alarm
	src := f.sources()
	src.Alarms = nil // nothing to read it from: the request's alarm is all there is
	req := Request{Alarm: alarm.Name, AlarmDef: &alarm, Now: t0.Add(3 * time.Minute)}
	got, err := New(src, Options{}).Run(context.Background(), req, nil)
	if err != nil {
		t.Fatalf("Run with the alarm in the request: %v", err)
	}
	f = webEnv()
	req.AlarmDef = &f.alarm
	if _, err := New(f.sources(), Options{}).Run(context.Background(), req, nil); err != nil {
		t.Fatalf("Run with the alarm in the request: %v", err)
	}
	if n := f.count("alarm"); n != 0 {
		t.Errorf("the request carried the alarm, yet the engine read it %d times", n)
	}

	if len(got.Hypotheses) == 0 || len(want.Hypotheses) == 0 {
		t.Fatalf("hypotheses: %d with the alarm carried, %d with it read", len(got.Hypotheses), len(want.Hypotheses))
	}
	if g, w := got.Hypotheses[0], want.Hypotheses[0]; g.Cause != w.Cause || g.Resource != w.Resource || g.Confidence != w.Confidence {
		t.Errorf("first hypothesis with the alarm carried %s on %s (%.2f), with it read %s on %s (%.2f)", g.Cause, g.Resource, g.Confidence, w.Cause, w.Resource, w.Confidence)
	}
	if len(got.Findings) != len(want.Findings) {
		t.Errorf("%d findings with the alarm carried, %d with it read", len(got.Findings), len(want.Findings))
	}
	if got.Stats.APICalls != want.Stats.APICalls-1 {
		t.Errorf("%d source calls with the alarm carried, %d with it read: want one fewer", got.Stats.APICalls, want.Stats.APICalls)
	}
}

// meter is a Meter with fixed counts.
type meter Usage

func (m meter) Usage() Usage { return Usage(m) }

// Sources that count their own cost give the report's stats, and the parts
// they could not read join its unavailable list; without a meter each
// source call counts once.
func TestMeterGivesTheStats(t *testing.T) {
	plain := investigateFake(t, webEnv())
	if plain.Stats.APICalls == 0 || plain.Stats.BytesScanned != 0 {
		t.Errorf("stats without a meter %+v: want the engine's count of its calls and no bytes", plain.Stats)
	}

	f := webEnv()
	src := f.sources()
	part := Unavailable{Source: "aws", Error: "xray batch get traces: throttled"}
	src.Meter = meter{APICalls: 123, BytesScanned: 4567, Unavailable: []Unavailable{part}}
	rep, err := New(src, Options{}).Run(context.Background(), Request{Alarm: f.alarm.Name, Now: t0.Add(3 * time.Minute)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stats.APICalls != 123 || rep.Stats.BytesScanned != 4567 {
		t.Errorf("stats %+v: want the meter's 123 calls and 4567 bytes", rep.Stats)
	}
	if n := len(rep.Unavailable); n == 0 || rep.Unavailable[n-1] != part {
		t.Errorf("unavailable %+v: want the meter's part last", rep.Unavailable)
	}
}

// A change's record can say who made it where the actor's name cannot:
// AWS rotating a key names no principal ("AWS Internal"), and an agent
// writes with its host's role, whose session name is no person's.
func TestRecordSaysWhoMadeAChange(t *testing.T) {
	policy := Change{ID: "c1", Time: t0.Add(-time.Minute), Event: "PutResourcePolicy", Source: "dynamodb.amazonaws.com", Resource: "table"}
	tests := []struct {
		name   string
		change func(Change) Change
		want   Cause // the cause of the change's hypothesis on table; "" for none
	}{
		{"a person", func(c Change) Change {
			c.Actor = "arn:aws:sts::1:assumed-role/Admin/alice"
			return c
		}, CauseOwnChange},
		{"AWS, by its record", func(c Change) Change {
			c.Actor, c.EventType, c.ByService = "AWS Internal", "AwsServiceEvent", true
			return c
		}, CauseSystemChange},
		{"an agent on a host, by its record", func(c Change) Change {
			c.Actor, c.Identity, c.Role, c.Routine = "arn:aws:sts::1:assumed-role/web-instance/i-0c5e1a2b3d4f50001", "AssumedRole", "web-instance", true
			return c
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := webEnv()
			f.traces = tracesOf(alter(webEdges(), into("table"), failing(1, "AccessDeniedException: not authorized to perform dynamodb:PutItem"))...)
			f.changes = []Change{tt.change(policy)}
			rep := investigateFake(t, f)
			for _, c := range []Cause{CauseOwnChange, CauseSystemChange} {
				if r := rankOf(rep, c, "table"); (r > 0) != (c == tt.want) {
					t.Errorf("%s on table ranked %d; want a hypothesis only of cause %q; all: %+v", c, r, tt.want, rep.Hypotheses)
				}
			}
			for _, fd := range rep.Findings {
				if fd.Kind == FindingChange && tt.want != CauseOwnChange && strings.Contains(fd.Summary, "(a person)") {
					t.Errorf("finding %q calls it a person's", fd.Summary)
				}
			}
		})
	}
}

// focusedFake reads changes around an instant and records it.
type focusedFake struct {
	*fake
	mu    sync.Mutex
	focus []time.Time
}

func (f *focusedFake) ChangesAround(ctx context.Context, start, end, focus time.Time) ([]Change, error) {
	f.mu.Lock()
	f.focus = append(f.focus, focus)
	f.mu.Unlock()
	return f.Changes(ctx, start, end)
}

// A source that can read changes outward from an instant is asked to
// read them from the alarm's firing, which the onset precedes, not from
// the end of the window (an investigation hours later would spend its
// budget on the hours after the incident).
func TestChangesAreReadAroundTheFiring(t *testing.T) {
	f := webEnv()
	f.traces = tracesOf(alter(webEdges(), into("payments"), failing(0.9, "503 Service Unavailable"))...)
	fired := t0.Add(3 * time.Minute)
	f.alarm.History = []AlarmStateChange{{Time: t0.Add(-2 * time.Hour), From: "ALARM", To: "OK"}, {Time: fired, From: "OK", To: "ALARM"}}
	ff := &focusedFake{fake: f}
	src := f.sources()
	src.Changes = ff
	rep, err := New(src, Options{}).Run(context.Background(), Request{Alarm: f.alarm.Name, Now: t0.Add(5 * time.Hour)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ff.focus) != 1 || !ff.focus[0].Equal(fired) {
		t.Fatalf("changes read around %v, want once around the firing %v", ff.focus, fired)
	}
	if f.count("changes") != 1 || len(rep.Hypotheses) == 0 {
		t.Errorf("changes calls = %d, hypotheses = %d", f.count("changes"), len(rep.Hypotheses))
	}
}

// An alarm that is not in ALARM, never went into it and whose signal did
// not move pages nobody: a change minutes before now is still listed, but
// under the confidence at which the report names a cause. The same world
// with the alarm firing claims it.
func TestUnpagedAlarmClaimsNoCause(t *testing.T) {
	run := func(state string, history []AlarmStateChange) Report {
		f := webEnv()
		f.series["web-alb|AWS/ApplicationELB|HTTPCode_Target_5XX_Count"] = level(2, 2, t0)
		f.alarm.State, f.alarm.History = state, history
		f.changes = []Change{{ID: "c1", Time: t0.Add(-2 * time.Minute), Event: "UpdateService", Source: "ecs.amazonaws.com",
			Resource: "app", Actor: "arn:aws:iam::123456789012:user/alice"}}
		rep, err := New(f.sources(), Options{}).Run(context.Background(), Request{Alarm: f.alarm.Name, Now: t0.Add(3 * time.Minute)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	paged := run("ALARM", []AlarmStateChange{{Time: t0.Add(3 * time.Minute), From: "OK", To: "ALARM"}})
	if len(paged.Hypotheses) == 0 || paged.Hypotheses[0].Confidence < ClearCause {
		t.Fatalf("the firing alarm's report claims no cause: %+v", paged.Hypotheses)
	}
	quiet := run("OK", []AlarmStateChange{{Time: t0.Add(-time.Hour), From: "INSUFFICIENT_DATA", To: "OK"}})
	if len(quiet.Hypotheses) == 0 {
		t.Fatal("the change is not listed at all")
	}
	if got := quiet.Hypotheses[0]; got.Confidence >= ClearCause || got.Resource != paged.Hypotheses[0].Resource {
		t.Errorf("quiet alarm: first lead %s on %s at %.2f; want %s under %.2f", got.Cause, got.Resource, got.Confidence, paged.Hypotheses[0].Resource, ClearCause)
	}
}
