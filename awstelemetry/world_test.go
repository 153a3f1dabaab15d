package awstelemetry

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

// newALBClient serves the ALB incident and returns a client whose clock is
// the moment the alarm fired.
func newALBClient(t *testing.T) (*awstest.Server, *awstest.ALBWorld, *Client) {
	w := awstest.NewALBWorld()
	srv, c := newServerClient(t, func(o *Options) {
		o.Now = func() time.Time { return w.Fires }
		o.Present = func() time.Time { return w.Present }
	})
	w.Install(srv)
	return srv, w, c
}

func hasRel(t investigate.Topology, from, to, kind string) bool {
	for _, r := range t.Relations {
		if r.From == from && r.To == to && r.Kind == kind {
			return true
		}
	}
	return false
}

func resource(t investigate.Topology, id string) (investigate.Resource, bool) {
	for _, r := range t.Resources {
		if r.ID == id {
			return r, true
		}
	}
	return investigate.Resource{}, false
}

func TestTopologyALB(t *testing.T) {
	srv, w, c := newALBClient(t)
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	a, err := s.Alarm(ctx, "web-alb-target-5xx")
	if err != nil {
		t.Fatal(err)
	}
	topo, err := s.Topology(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Problems()) > 0 {
		t.Errorf("problems: %v", s.Problems())
	}
	if topo.Resources[0].ID != "web-alb" {
		t.Errorf("first resource = %s, want the alarm's", topo.Resources[0].ID)
	}
	alb, _ := resource(topo, "web-alb")
	if alb.Type != investigate.TypeALB || alb.Dims["LoadBalancer"] != "app/web-alb/50dc6c495c0c9188" || alb.ARN != awstest.LBARN || alb.Config["target_groups"] != "web-tg" {
		t.Errorf("alb = %+v", alb)
	}
	for i, id := range w.Instances {
		in, ok := resource(topo, id)
		if !ok {
			t.Fatalf("instance %s missing: %+v", id, topo.Resources)
		}
		if in.Type != investigate.TypeEC2 || in.AZ != awstest.AZs[i] || in.Config["az_id"] != awstest.AZIDs[i] || in.Config["instance_type"] != "m5.large" || in.Dims["InstanceId"] != id ||
			in.Config["target_health"] != "healthy" || in.Config["target_group"] != "web-tg" || in.Config["vcpus"] != "2" {
			t.Errorf("instance = %+v", in)
		}
		if !strings.HasPrefix(in.ARN, "arn:aws:ec2:us-east-1:123456789012:instance/") {
			t.Errorf("instance arn = %s", in.ARN)
		}
		for _, rel := range [][3]string{{"web-alb", id, investigate.RelTargets}, {id, "web-asg", investigate.RelMemberOf}, {"bot-forge", id, investigate.RelRunsOn}} {
			if !hasRel(topo, rel[0], rel[1], rel[2]) {
				t.Errorf("missing relation %v", rel)
			}
		}
	}
	asg, _ := resource(topo, "web-asg")
	if asg.Type != investigate.TypeASG || asg.Config["min"] != "3" || asg.Config["max"] != "6" || asg.Config["desired"] != "3" || asg.Dims["AutoScalingGroupName"] != "web-asg" {
		t.Errorf("asg = %+v", asg)
	}
	svc, _ := resource(topo, "bot-forge")
	if svc.Type != investigate.TypeService || svc.LogGroup != "/app/bot-forge" {
		t.Errorf("service = %+v", svc)
	}
	table, _ := resource(topo, "forge-templates")
	if table.Type != investigate.TypeDynamoDB || table.Config["mode"] != "on-demand" || table.Dims["TableName"] != "forge-templates" {
		t.Errorf("table = %+v", table)
	}
	if !hasRel(topo, "bot-forge", "forge-templates", investigate.RelCalls) {
		t.Error("bot-forge does not call forge-templates")
	}
	if _, ok := resource(topo, "client"); ok {
		t.Error("X-Ray's client node became a resource")
	}
	// Calls: two for the alarm, then the describes; each operation once
	// except what pagination needs.
	calls := s.CallsByOperation()
	for _, op := range []string{"Elastic Load Balancing v2.DescribeLoadBalancers", "EC2.DescribeInstances", "Auto Scaling.DescribeAutoScalingGroups", "XRay.GetServiceGraph", "DynamoDB.DescribeTable", "XRay.BatchGetTraces"} {
		if calls[op] != 1 {
			t.Errorf("%s called %d times", op, calls[op])
		}
	}
	if n := srv.Count(""); int64(n) != s.APICalls() || n > 14 {
		t.Errorf("server saw %d calls, session counted %d: %v", n, s.APICalls(), calls)
	}
}

func TestTracesByInstance(t *testing.T) {
	_, w, c := newALBClient(t)
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	a, _ := s.Alarm(ctx, "web-alb-target-5xx")
	if _, err := s.Topology(ctx, a); err != nil {
		t.Fatal(err)
	}
	groups, err := s.Traces(ctx, investigate.TraceQuery{Start: w.Onset, End: w.Fires})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]investigate.TraceGroup{}
	for _, g := range groups {
		byKey[g.Caller+">"+g.Callee+"@"+g.Instance] = g
	}
	bad := byKey["web-alb>bot-forge@"+w.Bad]
	if bad.Requests != 30 || bad.Faults != 30 || len(bad.Exceptions) == 0 || bad.Exceptions[0].Message != "TemplateError: "+awstest.Exception || len(bad.TraceIDs) != 3 {
		t.Errorf("bad instance group = %+v\nall: %+v", bad, groups)
	}
	good := byKey["web-alb>bot-forge@"+w.Instances[0]]
	if good.Requests != 30 || good.Faults != 0 || good.Latency != 45*time.Millisecond || len(good.TraceIDs) != 0 {
		t.Errorf("good instance group = %+v", good)
	}
	// The summaries account for every request the graph counted.
	if rest, ok := byKey["web-alb>bot-forge@"]; ok {
		t.Errorf("unattributed group %+v", rest)
	}
	// Calls into the table are split by the instance that made them.
	dep := byKey["bot-forge>forge-templates@"+w.Instances[1]]
	if dep.Requests != 30 || dep.Faults != 0 || dep.Latency != 4*time.Millisecond {
		t.Errorf("dependency = %+v (%v)", dep, groups)
	}
	if _, ok := byKey["bot-forge>forge-templates@"+w.Bad]; ok {
		t.Error("the bad instance's failed requests never reached the table")
	}
	if rest, ok := byKey["bot-forge>forge-templates@"]; ok {
		t.Errorf("dependency rest = %+v", rest)
	}
}

// TestTracesCappedSummaries: when the summaries are capped, the graph's
// counts they do not cover form a group without instance.
func TestTracesCappedSummaries(t *testing.T) {
	w := awstest.NewALBWorld()
	srv, c := newServerClient(t, func(o *Options) { o.MaxTraceSummaries = 30; o.Now = func() time.Time { return w.Fires } })
	w.Install(srv)
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	a, _ := s.Alarm(ctx, "web-alb-target-5xx")
	if _, err := s.Topology(ctx, a); err != nil {
		t.Fatal(err)
	}
	groups, err := s.Traces(ctx, investigate.TraceQuery{Start: w.Onset, End: w.Fires})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]investigate.TraceGroup{}
	for _, g := range groups {
		byKey[g.Caller+">"+g.Callee+"@"+g.Instance] = g
	}
	if bad := byKey["web-alb>bot-forge@"+w.Bad]; bad.Requests != 10 || bad.Faults != 10 {
		t.Errorf("bad = %+v", bad)
	}
	if rest := byKey["web-alb>bot-forge@"]; rest.Requests != 60 || rest.Faults != 20 {
		t.Errorf("rest = %+v", rest)
	}
	if srv.Count("XRay.GetTraceSummaries") != 2 { // one for the topology, one page here
		t.Errorf("summaries pages = %d", srv.Count("XRay.GetTraceSummaries"))
	}
}

func TestTracesWithoutTopologyUseClientCaller(t *testing.T) {
	_, w, c := newALBClient(t)
	s := c.NewSession()
	groups, err := s.Traces(ctxTimeout(t, 5*time.Second), investigate.TraceQuery{Start: w.Onset, End: w.Fires})
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Problems(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
	found := false
	for _, g := range groups {
		if g.Caller == "client" && g.Callee == "bot-forge" && g.Instance == w.Bad && g.Faults == 30 {
			found = true
		}
	}
	if !found {
		t.Errorf("no client>bot-forge@bad group: %+v", groups)
	}
}

func TestLogsStatsPatternsAndStreams(t *testing.T) {
	srv, w, c := newALBClient(t)
	s := c.NewSession()
	st, err := s.Logs(ctxTimeout(t, 10*time.Second), investigate.LogQuery{Group: "/app/bot-forge", Start: w.Onset, End: w.Fires})
	if err != nil {
		t.Fatal(err)
	}
	if st.Group != "/app/bot-forge" || st.Lines != 3*3*200+3*800 || st.ByStream[w.Bad] != 3*200+3*800 || st.ByStream[w.Instances[0]] != 600 {
		t.Errorf("stats = %+v", st)
	}
	if len(st.Patterns) != 2 || st.Patterns[0].Pattern != awstest.ErrPattern || st.Patterns[0].Count != 2400 {
		t.Fatalf("patterns = %+v", st.Patterns)
	}
	if bs := st.Patterns[0].ByStream; bs[w.Bad] != 2400 || bs[w.Instances[0]] != 0 {
		t.Errorf("error pattern by stream = %v", bs)
	}
	if st.Patterns[1].Pattern != awstest.OKPattern || st.Patterns[1].ByStream != nil {
		t.Errorf("info pattern = %+v", st.Patterns[1])
	}
	// three queries, each scanning 3 min × 3 streams × 120 kB
	if st.BytesScanned != 3*3*3*120000 || s.BytesScanned() != st.BytesScanned || c.BytesScanned() != st.BytesScanned {
		t.Errorf("bytes = %d session %d", st.BytesScanned, s.BytesScanned())
	}
	if srv.Count("CloudWatch Logs.StartQuery") != 3 || srv.Count("CloudWatch Logs.GetQueryResults") < 6 {
		t.Errorf("calls = %v", s.CallsByOperation())
	}
	// Queries carry the window in epoch seconds.
	for _, call := range srv.Calls() {
		if call.Op == "StartQuery" && (call.Params["startTime"].(float64) != float64(w.Onset.Unix()) || call.Params["endTime"].(float64) != float64(w.Fires.Unix())) {
			t.Errorf("start query = %v", call.Params)
		}
	}
}

// An endpoint that does not run Logs Insights' stats and pattern commands
// (moto 5.2 knows only fields, sort and limit) answers with the raw
// events: rows without the fields the queries compute. Read as they are
// they would count as a log group with no lines, and the report would not
// say the logs went unread.
func TestLogsAnswerWithoutTheQuerysFields(t *testing.T) {
	srv, w, c := newALBClient(t)
	raw := map[string]any{"status": "Complete", "results": []any{
		[]any{map[string]any{"field": "@ptr", "value": "CmAKJwoj"}},
		[]any{map[string]any{"field": "@ptr", "value": "CmAKJwok"}},
	}}
	srv.Reply("CloudWatch Logs.GetQueryResults", raw)
	_, err := c.NewSession().Logs(ctxTimeout(t, 10*time.Second), investigate.LogQuery{Group: "/app/bot-forge", Start: w.Onset, End: w.Fires})
	if err == nil || !strings.Contains(err.Error(), "none with @logStream and lines") {
		t.Fatalf("err = %v, want the rows without the stats fields named", err)
	}

	// An empty answer is no lines, not a failure.
	srv.Reply("CloudWatch Logs.GetQueryResults", map[string]any{"status": "Complete", "results": []any{}})
	st, err := c.NewSession().Logs(ctxTimeout(t, 10*time.Second), investigate.LogQuery{Group: "/app/bot-forge", Start: w.Onset, End: w.Fires})
	if err != nil || st.Lines != 0 {
		t.Fatalf("empty answer: %+v, %v", st, err)
	}
}

func TestLogsBytesCap(t *testing.T) {
	w := awstest.NewALBWorld()
	srv, c := newServerClient(t, func(o *Options) { o.LogBytesCap = 1 << 20 })
	w.Install(srv)
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	// 3 min × 3 streams × 120 kB = 1.08 MB per query: the first two
	// queries spend the budget.
	_, err := s.Logs(ctx, investigate.LogQuery{Group: "/app/bot-forge", Start: w.Onset, End: w.Fires})
	if err != nil {
		t.Fatalf("first query: %v", err)
	}
	_, err = s.Logs(ctx, investigate.LogQuery{Group: "/app/bot-forge", Start: w.Onset, End: w.Fires})
	if !errors.Is(err, ErrLogBytesCap) {
		t.Fatalf("over the cap: err = %v", err)
	}
	if !strings.HasPrefix(err.Error(), "logs insights query /app/bot-forge: ") {
		t.Errorf("error = %q", err)
	}
	// A new session has its own budget.
	if _, err := c.NewSession().Logs(ctx, investigate.LogQuery{Group: "/app/bot-forge", Start: w.Onset, End: w.Fires}); err != nil {
		t.Errorf("new session: %v", err)
	}
}

func TestLogsStopsAtDeadline(t *testing.T) {
	srv, w, c := newALBClient(t)
	srv.Reply("CloudWatch Logs.GetQueryResults", map[string]any{"status": "Running", "results": []any{}})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err := c.NewSession().Logs(ctx, investigate.LogQuery{Group: "/app/bot-forge", Start: w.Onset, End: w.Fires})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	// Logs returns once both of its queries have returned, and each stops
	// its query before it returns; the server counts a call before it
	// answers it. So the count is final now: no wait.
	if srv.Count("CloudWatch Logs.StopQuery") != 2 {
		t.Errorf("StopQuery calls = %d, want one per running query", srv.Count("CloudWatch Logs.StopQuery"))
	}
}

func TestChangesFromCloudTrailAndAutoScaling(t *testing.T) {
	srv, w, c := newALBClient(t)
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	a, _ := s.Alarm(ctx, "web-alb-target-5xx")
	if _, err := s.Topology(ctx, a); err != nil {
		t.Fatal(err)
	}
	start := w.Onset.Add(-3 * time.Hour)
	changes, err := s.Changes(ctx, start, w.Fires)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 {
		t.Fatalf("changes = %+v", changes)
	}
	sg := changes[0]
	if sg.Event != "AuthorizeSecurityGroupIngress" || sg.Resource != "sg-0bastion" || sg.Actor != "arn:aws:sts::123456789012:assumed-role/NetworkAdmin/kenji" ||
		sg.Source != "ec2.amazonaws.com" || sg.ReadOnly || !sg.Time.Equal(w.Onset.Add(-2*time.Hour)) || sg.Params["ipPermissions.items.0.fromPort"] != "22" {
		t.Errorf("sg change = %+v", sg)
	}
	// The CloudWatch agent's log stream names its log group, and its
	// record says it is routine: its instance's role wrote it.
	if cl := changes[1]; cl.Event != "CreateLogStream" || cl.Resource != "/app/bot-forge" || !cl.Routine || cl.ByService || cl.Role != "CWAgent" {
		t.Errorf("agent's change = %+v", cl)
	}
	if srv.Count("CloudTrail.LookupEvents") != 2 {
		t.Errorf("LookupEvents calls = %d", srv.Count("CloudTrail.LookupEvents"))
	}
	for _, call := range srv.Calls() {
		if call.Op != "LookupEvents" {
			continue
		}
		attrs := call.Params["LookupAttributes"].([]any)
		if a := attrs[0].(map[string]any); a["AttributeKey"] != "ReadOnly" || a["AttributeValue"] != "false" {
			t.Errorf("lookup attributes = %v", attrs)
		}
	}
	// The scaling activity is older than the window.
	if srv.Count("Auto Scaling.DescribeScalingActivities") != 1 {
		t.Errorf("scaling activities not read")
	}
}

func TestHealthAndQuotasOverJSON(t *testing.T) {
	srv, w, c := newALBClient(t)
	s := c.NewSession()
	ctx := ctxTimeout(t, 5*time.Second)
	srv.Reply("Health.DescribeEvents", map[string]any{"events": []any{
		map[string]any{"arn": "arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/AWS_EC2_OPERATIONAL_ISSUE_ABC", "service": "EC2",
			"eventTypeCode": "AWS_EC2_OPERATIONAL_ISSUE", "eventTypeCategory": "issue", "region": "us-east-1", "availabilityZone": "us-east-1c",
			"startTime": w.Onset.Add(-5 * time.Minute), "statusCode": "open", "eventScopeCode": "ACCOUNT_SPECIFIC"},
		map[string]any{"arn": "arn:aws:health:us-east-1::event/old", "service": "EC2", "eventTypeCode": "AWS_EC2_OLD", "region": "us-east-1",
			"startTime": w.Onset.Add(-30 * time.Hour), "endTime": w.Onset.Add(-20 * time.Hour), "statusCode": "closed", "eventScopeCode": "PUBLIC"},
	}})
	srv.Reply("Health.DescribeAffectedEntities", map[string]any{"entities": []any{
		map[string]any{"eventArn": "arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/AWS_EC2_OPERATIONAL_ISSUE_ABC", "entityValue": w.Bad},
	}})
	events, err := s.Health(ctx, w.Onset.Add(-3*time.Hour), w.Fires)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Type != "AWS_EC2_OPERATIONAL_ISSUE" || events[0].AZ != "us-east-1c" || events[0].Status != "open" ||
		len(events[0].Resources) != 1 || events[0].Resources[0] != w.Bad || !events[0].Start.Equal(w.Onset.Add(-5*time.Minute)) {
		t.Errorf("events = %+v", events)
	}
	for _, call := range srv.Calls() {
		if call.Op == "DescribeEvents" {
			regions := call.Params["filter"].(map[string]any)["regions"].([]any)
			if regions[0] != "us-east-1" || regions[1] != "global" {
				t.Errorf("filter = %v", call.Params["filter"])
			}
		}
	}

	quotas, err := s.Quotas(ctx, []investigate.Resource{
		{ID: w.Bad, Type: investigate.TypeEC2, Config: map[string]string{"instance_type": "m5.large"}},
		{ID: w.Instances[0], Type: investigate.TypeEC2, Config: map[string]string{"instance_type": "m5.large"}},
		{ID: "web-alb", Type: investigate.TypeALB},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(quotas) != 2 || quotas[0].Code != "L-1216C47A" || quotas[0].Value != 64 || quotas[0].Service != "ec2" || quotas[0].Resource != w.Bad {
		t.Errorf("quotas = %+v", quotas)
	}
	if srv.Count("Service Quotas.GetServiceQuota") != 1 {
		t.Errorf("GetServiceQuota calls = %d, want one per quota", srv.Count("Service Quotas.GetServiceQuota"))
	}
}

func TestMetricsOverCBOR(t *testing.T) {
	srv, w, c := newALBClient(t)
	s := c.NewSession()
	dims := map[string]string{"LoadBalancer": "app/web-alb/50dc6c495c0c9188"}
	queries := []investigate.MetricQuery{
		{ID: "web-alb|AWS/ApplicationELB|HTTPCode_Target_5XX_Count", Metric: investigate.Metric{Namespace: "AWS/ApplicationELB", Name: "HTTPCode_Target_5XX_Count", Dims: dims}, Stat: "Sum", Period: time.Minute},
		{ID: "i-0c5e1a2b3d4f50003|AWS/EC2|CPUUtilization", Metric: investigate.Metric{Namespace: "AWS/EC2", Name: "CPUUtilization", Dims: map[string]string{"InstanceId": w.Bad}}, Stat: "Average", Period: 5 * time.Minute},
		{ID: "nothing", Metric: investigate.Metric{Namespace: "AWS/Nope", Name: "Nothing"}, Stat: "Sum", Period: time.Minute},
	}
	series, err := s.Metrics(ctxTimeout(t, 5*time.Second), queries, w.Onset.Add(-time.Hour), w.Fires)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 3 || series[0].ID != queries[0].ID || series[1].ID != queries[1].ID || series[2].ID != "nothing" {
		t.Fatalf("series ids = %+v", series)
	}
	s5 := series[0]
	if len(s5.Times) != 63 || len(s5.Values) != 63 || !s5.Times[0].Equal(w.Onset.Add(-time.Hour)) || s5.Values[62] < 700 || s5.Values[0] > 2 {
		t.Errorf("5xx series: %d points, first %v last %v", len(s5.Times), s5.Values[0], s5.Values[len(s5.Values)-1])
	}
	if !sort.SliceIsSorted(s5.Times, func(i, j int) bool { return s5.Times[i].Before(s5.Times[j]) }) {
		t.Error("not oldest first")
	}
	if len(series[1].Times) != 13 || len(series[2].Times) != 0 {
		t.Errorf("cpu %d points, nothing %d", len(series[1].Times), len(series[2].Times))
	}
	if srv.Count("CloudWatch.GetMetricData") != 1 {
		t.Errorf("GetMetricData calls = %d", srv.Count("CloudWatch.GetMetricData"))
	}
}
