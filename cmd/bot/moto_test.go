package main

// The moto tests run `bot investigate --alarm` end to end against moto, an
// AWS emulator written independently of this repository (awstest is
// written by the same hands as the adapters, so a misreading of AWS would
// show in both and cancel out). The world is built through the real AWS
// APIs (awstelemetry/mototest): a VPC and subnets, three instances of an
// Auto Scaling group behind a target group and an ALB, a Lambda target
// with an SQS trigger and a DynamoDB stream trigger, an ECS service, an RDS
// instance, a REST API, alarms, metric data with one bad instance, log
// groups with events, X-Ray segments. `go test -run TestMoto ./...` runs
// them alone; without an importable moto they skip and say so.
//
// What moto 5.2.1 lets the bot check: DescribeAlarms and GetMetricData
// (over AWS JSON 1.0: moto does not speak RPC v2 CBOR, the SDK's default
// for CloudWatch; the test switches the client with awsTestOptions), the
// ELBv2 load balancer, target groups (instance and Lambda targets) and
// target health, DescribeInstances, the Auto Scaling group and its
// members, Lambda's configuration, concurrency and event source mappings,
// DescribeTable, ECS DescribeServices and DescribeTaskDefinition,
// DescribeDBInstances and RDS DescribeEvents, API Gateway's REST APIs and
// resources with their integrations, Logs Insights StartQuery and
// GetQueryResults as calls, the Tagging API's GetResources with tag and
// resource-type filters (the widening to a CloudFormation stack's
// resources), and DescribeAlarmsForMetric by metric name and namespace
// (/investigate RESOURCE).
//
// What moto cannot check, and awstest keeps covering:
//   - CloudWatch DescribeAlarmHistory: not implemented (500), so the fire
//     time is the adapter's fallback, never a transition read from history;
//   - Logs Insights `stats` and `pattern`: moto runs only fields, sort and
//     limit and answers other queries with raw events (the adapter now
//     reports such an answer as unread);
//   - the X-Ray service graph: GetServiceGraph is a stub that always
//     answers no services, without an error, so the services on the
//     instances, their log groups and traced calls are never found (the
//     report cannot know); GetTraceSummaries answers `Users: {}` where AWS
//     answers a list, which the SDK rejects, and its summaries carry no
//     instance, entry point or root cause; BatchGetTraces is never reached;
//   - CloudTrail LookupEvents: not implemented (500), so no change is read
//     and Auto Scaling activities, ECS deployments and RDS events, read
//     beside it, are dropped with it;
//   - AWS Health DescribeEvents and DescribeAffectedEntities: no Health
//     service (500);
//   - Service Quotas GetAWSDefaultServiceQuota: not implemented (500);
//     GetServiceQuota answers NoSuchResourceException for every quota;
//   - GetResources ignores ResourceARNList (it answers every tagged
//     resource; the adapter keeps the ARN it asked for) and fails (500)
//     listing an untagged ECS cluster, so the world tags its cluster;
//     DescribeAlarmsForMetric ignores the dimensions, so the exact match
//     on a resource's dimensions is awstest's to check;
//   - what moto answers but does not model as AWS does: GetMetricData's
//     periods start at the query's StartTime, not on period boundaries,
//     and it never answers PartialData or a NextToken; PutMetricData's
//     gzip-compressed bodies fail in moto's server (the world's writer
//     sends them uncompressed; the bot never writes metrics).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/awstelemetry"
	"github.com/unstuck/unstuck/awstelemetry/mototest"
	"github.com/unstuck/unstuck/investigate"
)

// startMoto starts moto for a test, points this process's AWS
// configuration at it (AWS_ENDPOINT_URL on loopback, fake credentials) and
// switches `investigate --alarm`'s CloudWatch client to a protocol moto
// speaks, or skips the test saying why moto is not there.
func startMoto(t *testing.T) (*mototest.Server, *mototest.Recorder) {
	t.Helper()
	if err := mototest.Available(); err != nil {
		t.Skipf("SKIPPED: moto is not importable, so the end-to-end test against an independent AWS emulator did not run: %v", err)
	}
	srv, err := mototest.Start()
	if err != nil {
		t.Fatalf("moto is importable but did not start: %v", err)
	}
	t.Cleanup(srv.Stop)
	hermeticAWS(t)
	env, err := srv.Env()
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	rec := &mototest.Recorder{}
	awsTestOptions = func(o *awstelemetry.Options) {
		o.CloudWatchJSON = true
		o.HTTPClient = rec
	}
	t.Cleanup(func() { awsTestOptions = nil })
	return srv, rec
}

// investigateMoto runs `bot investigate --alarm NAME --format json` with
// more arguments, and returns its report and the calls it made.
func investigateMoto(t *testing.T, rec *mototest.Recorder, alarm string, args ...string) (investigate.Report, []mototest.Call) {
	t.Helper()
	before := len(rec.Calls())
	began := time.Now()
	code, out, errs := runBot(t, append([]string{"investigate", "--alarm", alarm, "--format", "json", "--llm", "offline"}, args...)...)
	t.Logf("bot investigate --alarm %s: %v", alarm, time.Since(began).Round(time.Millisecond))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep investigate.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	calls := rec.Calls()[before:]
	if t.Failed() || testing.Verbose() {
		logReport(t, rep, calls)
	}
	return rep, calls
}

func logReport(t *testing.T, rep investigate.Report, calls []mototest.Call) {
	t.Helper()
	t.Logf("onset %s", rep.Onset)
	for i, h := range rep.Hypotheses {
		t.Logf("#%d %s %s %.2f %s %v", i+1, h.Cause, h.Resource, h.Confidence, h.Title, h.Evidence)
	}
	for _, f := range rep.Findings {
		t.Logf("%s %s %s: %s", f.ID, f.Check, f.Resource, f.Summary)
	}
	for _, u := range rep.Unavailable {
		t.Logf("unavailable: %s: %s", u.Source, u.Error)
	}
	n := map[string]int{}
	for _, c := range calls {
		n[c.String()]++
	}
	for _, k := range slices.Sorted(maps.Keys(n)) {
		t.Logf("call %s ×%d", k, n[k])
	}
}

// TestMotoInvestigate builds the ALB world in moto and investigates its
// alarms with the bot's command line.
func TestMotoInvestigate(t *testing.T) {
	srv, rec := startMoto(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	w, err := srv.BuildALBWorld(ctx)
	if err != nil {
		t.Fatalf("%v\nmoto's log:\n%s", err, srv.Log())
	}
	t.Logf("moto %s: world built in %v; bad instance %s of %v", mototest.Version(), time.Since(began).Round(time.Millisecond), w.Bad, w.Instances)

	// The bad instance's CPU and memory run far above its peers' from the
	// onset, while the load balancer's target 5XX and latency rise: it is
	// the culprit, and every source moto cannot serve is named.
	t.Run(w.Alarm, func(t *testing.T) {
		// As of the second the alarm was set, or 90 s after the newest
		// datapoint if writing the telemetry took longer: the engine takes
		// a series whose newest point is more than two periods before the
		// fire time for an old blip, and on AWS an alarm fires within a
		// minute or so of the points that trip it. The fire time does not
		// come from moto (it has no alarm history): the adapter falls back
		// to the present, here --at (today), or to the alarm's
		// StateUpdatedTimestamp (once issue 13 item 1 is fixed), which is
		// Fired to the second (or after --at, and so not yet); either way
		// the newest point is within two periods of it, so neither the ranking nor the onset below
		// depends on that fix. Nor do they depend on items 3 and 4: the
		// data is 100 minutes old at most, read at the 60 s period its
		// alarm uses, and moto answers every query Complete.
		at := w.Fired
		if latest := w.Now.Add(90 * time.Second); at.After(latest) {
			at = latest
		}
		rep, calls := investigateMoto(t, rec, w.Alarm, "--at", at.Format(time.RFC3339))

		if len(rep.Hypotheses) == 0 {
			t.Fatal("no hypothesis")
		}
		top := rep.Hypotheses[0]
		if top.Cause != investigate.CauseComponent || top.Resource != w.Bad {
			t.Errorf("top hypothesis: %s on %s, want component on the bad instance %s", top.Cause, top.Resource, w.Bad)
		}
		if len(top.Actions) == 0 || (top.Actions[0].Kind != investigate.ActionExclude && top.Actions[0].Kind != investigate.ActionRestart) {
			t.Errorf("first action %+v, want exclude or restart", top.Actions)
		}
		// Its evidence is the bad instance's own metrics, against its peers'.
		own := 0
		for _, id := range top.Evidence {
			if f, ok := rep.Finding(id); ok && f.Resource == w.Bad && f.Kind == investigate.FindingMetric && f.Check == investigate.CheckComponent {
				own++
			}
		}
		if own == 0 {
			t.Errorf("the top hypothesis cites none of %s's metrics against its peers': %v", w.Bad, top.Evidence)
		}
		for _, h := range rep.Hypotheses[1:] {
			if h.Resource != w.Bad && h.Confidence >= top.Confidence {
				t.Errorf("%s on %s is as likely as the bad instance (%.2f)", h.Cause, h.Resource, h.Confidence)
			}
		}
		// moto's periods start at the query's start time, up to a minute
		// before the period the change is in.
		if d := rep.Onset.Sub(w.Onset); d < -time.Minute || d > time.Minute {
			t.Errorf("onset %s, want within a minute of %s", rep.Onset, w.Onset)
		}

		// The topology, read from moto's answers: the load balancer's
		// instance and Lambda targets, the group of the instances, the
		// function's triggers.
		wantRels := []investigate.Relation{
			{From: w.LoadBalancer, To: w.Function, Kind: investigate.RelTargets},
			{From: w.Queue, To: w.Function, Kind: investigate.RelTargets},
			{From: w.Table, To: w.Function, Kind: investigate.RelTargets},
		}
		for _, in := range w.Instances {
			wantRels = append(wantRels,
				investigate.Relation{From: w.LoadBalancer, To: in, Kind: investigate.RelTargets},
				investigate.Relation{From: in, To: w.Group, Kind: investigate.RelMemberOf})
		}
		checkTopology(t, rep, wantRels)

		// Every source moto could not serve is in the report.
		checkUnavailable(t, rep, calls, []string{
			"CloudWatch: DescribeAlarmHistory",
			"CloudTrail: LookupEvents",
			"Health: DescribeEvents",
			"Service Quotas: GetAWSDefaultServiceQuota",
			"XRay: GetTraceSummaries",
			"logs insights query " + w.FunctionLogGroup,
		})
		if rep.Stats.APICalls == 0 {
			t.Errorf("stats %+v: the AWS calls are not counted", rep.Stats)
		}
	})

	// The alarms beside the incident watch resources whose metrics hold
	// steady: their investigations describe each resource from moto's
	// answers, claim no cause, and name what they could not read. They
	// run as of the present, the way `bot investigate --alarm` usually runs.
	for _, tc := range []struct {
		alarm string
		rels  []investigate.Relation
		res   []string
		unav  []string
	}{
		{alarm: w.APIAlarm, res: []string{w.API, w.Function, w.Queue, w.Table},
			rels: []investigate.Relation{{From: w.API, To: w.Function, Kind: investigate.RelTargets}, {From: w.Queue, To: w.Function, Kind: investigate.RelTargets}},
			unav: []string{"CloudWatch: DescribeAlarmHistory", "CloudTrail: LookupEvents", "Health: DescribeEvents", "logs insights query " + w.FunctionLogGroup}},
		{alarm: w.DBAlarm, res: []string{w.DB},
			unav: []string{"CloudWatch: DescribeAlarmHistory", "CloudTrail: LookupEvents", "Health: DescribeEvents"}},
		{alarm: w.ServiceAlarm, res: []string{w.Service},
			unav: []string{"CloudWatch: DescribeAlarmHistory", "CloudTrail: LookupEvents", "Health: DescribeEvents"}},
	} {
		t.Run(tc.alarm, func(t *testing.T) {
			rep, calls := investigateMoto(t, rec, tc.alarm)
			// A lead may be listed, under the confidence at which the
			// report names a cause ("nothing stands out").
			for _, h := range rep.Hypotheses {
				if h.Confidence < investigate.ClearCause {
					continue
				}
				t.Errorf("a cause claimed where nothing is wrong: %s on %s (%.2f): %s", h.Cause, h.Resource, h.Confidence, h.Title)
				for _, id := range h.Evidence {
					if f, ok := rep.Finding(id); ok {
						t.Logf("  evidence %s: %s %s: %s", id, f.Kind, f.Resource, f.Summary)
					}
				}
			}
			if rep.Topology == nil {
				t.Fatal("no topology in the report")
			}
			for _, id := range tc.res {
				if _, ok := rep.Topology.Find(id); !ok {
					t.Errorf("topology lacks %s: %+v", id, rep.Topology.Resources)
				}
			}
			checkTopology(t, rep, tc.rels)
			checkUnavailable(t, rep, calls, tc.unav)
		})
	}

	// Tagged with one CloudFormation stack, the database's investigation
	// widens to the load balancer and the ECS service through the Tagging
	// API (moto ignores GetResources' ResourceARNList and answers every
	// tagged resource: the adapter keeps the one it asked for).
	t.Run("same stack", func(t *testing.T) {
		if err := w.TagStack(ctx, "bot-forge-prod"); err != nil {
			t.Fatal(err)
		}
		rep, calls := investigateMoto(t, rec, w.DBAlarm)
		checkTopology(t, rep, []investigate.Relation{
			{From: w.DB, To: w.LoadBalancer, Kind: investigate.RelSameApp},
			{From: w.DB, To: w.Service, Kind: investigate.RelSameApp},
		})
		tagged := false
		for _, c := range calls {
			tagged = tagged || c.Op == "GetResources"
		}
		if !tagged {
			t.Error("the Tagging API was not called")
		}
		for _, u := range rep.Unavailable {
			if strings.Contains(u.Error, "tagging") {
				t.Errorf("unavailable: %s: %s", u.Source, u.Error)
			}
		}
	})

	// /investigate RESOURCE: the alarm watching each resource, found with
	// DescribeAlarmsForMetric (moto matches the metric and namespace but
	// ignores the dimensions, which awstest checks).
	t.Run("alarm of a resource", func(t *testing.T) {
		opts := awstelemetry.Options{}
		awsTestOptions(&opts)
		c, err := awstelemetry.New(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		for ref, want := range map[string]string{
			w.DB:                        w.DBAlarm,
			w.LoadBalancer:              w.Alarm,
			w.Cluster + "/" + w.Service: w.ServiceAlarm,
		} {
			a, err := c.NewSession().AlarmForResource(ctx, ref)
			if err != nil || a.Name != want {
				t.Errorf("AlarmForResource(%s) = %q, %v; want %s", ref, a.Name, err, want)
			}
		}
		var nf *investigate.NotFoundError
		if _, err := c.NewSession().AlarmForResource(ctx, "no-such-resource"); !errors.As(err, &nf) {
			t.Errorf("AlarmForResource(no-such-resource) = %v; want not found", err)
		}
	})
}

// checkTopology checks that the report's topology has the relations.
func checkTopology(t *testing.T, rep investigate.Report, want []investigate.Relation) {
	t.Helper()
	if rep.Topology == nil {
		t.Error("no topology in the report")
		return
	}
	for _, r := range want {
		if !slices.Contains(rep.Topology.Relations, r) {
			t.Errorf("topology lacks %s %s %s: %+v", r.From, r.Kind, r.To, rep.Topology.Relations)
		}
	}
}

// checkUnavailable checks that the report names each of want, and every
// operation moto failed with a server error (an operation it does not
// implement).
func checkUnavailable(t *testing.T, rep investigate.Report, calls []mototest.Call, want []string) {
	t.Helper()
	var said strings.Builder
	for _, u := range rep.Unavailable {
		fmt.Fprintf(&said, "%s: %s\n", u.Source, u.Error)
	}
	for _, c := range calls {
		if c.Status >= 500 && !strings.Contains(said.String(), ": "+c.Op+",") {
			want = append(want, c.Op)
		}
	}
	for _, w := range want {
		if !strings.Contains(said.String(), w) {
			t.Errorf("the report does not say that %s could not be read; unavailable:\n%s", w, said.String())
		}
	}
}
