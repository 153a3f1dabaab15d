package scenario

import (
	"errors"
	"strings"
	"testing"
)

// base is a valid document using every section. Each case of TestErrors
// replaces one piece of it (without changing its line count, unless said).
const base = `name: test-scenario
title: a test
account: "123456789012"
region: us-east-1
onset: 2024-12-03T10:30:00Z
history: 3h
step: 1m
alarm:
  name: api-5xx
  resource: api
  metric: AWS/ApiGateway 5XXError
  stat: Sum
  period: 1m
  threshold: 10
  comparison: GreaterThanThreshold
  fires: +3m
resources:
  - {id: api, type: apigw, targets: [fn]}
  - {id: fn, type: lambda, memory: 512}
  - id: svc
    type: service
    runs_on: [fn]
    calls: [table]
  - {id: table, type: dynamodb}
  - {id: web, type: alb, targets: [i-1]}
  - {id: i-1, type: ec2, asg: grp}
  - {id: grp, type: asg, min: 1, max: 3, desired: 1}
metrics:
  - {resource: fn, metric: AWS/Lambda Errors, at: +0m, value: 5}
logs:
  - {service: svc, on: fn, level: error, rate: 10/s, text: boom}
traces:
  - {edge: svc>table, on: fn, at: +0m, until: +20m, fault: 0.5}
changes:
  - {at: -1m, event: PutItem, source: dynamodb.amazonaws.com, resource: table, actor: alice}
health:
  - {at: -5m, service: DYNAMODB, type: AWS_DYNAMODB_ISSUE, status: open, resources: [table]}
quotas:
  - {resource: fn, service: lambda, code: L-B99A9384, name: Concurrent executions, value: 1000}
notes:
  - {at: +5m, author: bob, text: hi}
expect:
  cause: own-change
  resource: table
  action: [rollback]
`

func TestBaseIsValid(t *testing.T) {
	f, err := Parse("test.yaml", []byte(base), nil)
	if err != nil {
		t.Fatalf("base document: %v", err)
	}
	s := f.Scenario
	if got, want := s.Logs[0].PerMin, 600.0; got != want {
		t.Errorf("rate 10/s: got %v per minute, want %v", got, want)
	}
	if got, want := s.Traces[0].Until, s.Onset.Add(20*60e9); !got.Equal(want) {
		t.Errorf("traces[0].until: got %v, want %v", got, want)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name     string
		old, new string // replace old (which must occur once in base) by new
		line     int
		field    string
		msg      string // a fragment of the message
	}{
		// top level
		{"unknown top field", "title: a test", "titel: a test", 2, "titel", `unknown field "titel" (did you mean "title"?)`},
		{"missing title", "title: a test\n", "# no title\n", 1, "title", `missing required field "title"`},
		{"missing name", "name: test-scenario\n", "# no name\n", 2, "name", `missing required field "name"`},
		{"bad name", "name: test-scenario", "name: Test_Scenario", 1, "name", `bad name "Test_Scenario"`},
		{"bad account", `account: "123456789012"`, `account: "12345"`, 3, "account", `bad account "12345" (want 12 digits`},
		{"bad region", "region: us-east-1", "region: Virginia", 4, "region", `bad region "Virginia"`},
		{"bad onset", "onset: 2024-12-03T10:30:00Z", "onset: 2024-12-03 10:30", 5, "onset", `bad instant "2024-12-03 10:30"`},
		{"offset onset", "onset: 2024-12-03T10:30:00Z", "onset: +0m", 5, "onset", `want an RFC 3339 instant`},
		{"bad history", "history: 3h", "history: 3 hours", 6, "history", `bad duration "3 hours"`},
		{"negative step", "step: 1m", "step: -1m", 7, "step", `duration "-1m" is too short`},
		{"too many steps", "history: 3h\nstep: 1m", "history: 400h\nstep: 1s", 7, "step", `want at most 1000000`},
		{"duplicate field", "history: 3h", "onset: 2024-12-03T10:30:00Z", 6, "onset", `duplicate field "onset" (first at line 5)`},
		{"bad yaml", "title: a test", "title: a: test", 2, "", `invalid YAML: mapping values are not allowed in this context`},
		{"not a mapping", base, "- name: x\n", 1, "", `want a mapping of fields (name, title, onset, alarm, resources, ...), found a list`},
		{"empty", base, "# nothing\n", 0, "", `empty file`},
		{"two documents", base, base + "---\nname: x\n", 47, "", `a second YAML document`},
		{"alias expanded", "  - {id: grp, type: asg, min: 1, max: 3, desired: 1}", "  - &g {id: grp, type: asg, min: 1, max: 3, desired: 1}\n  - {<<: *g, id: grp2, colour: red}", 28, "resources[7].colour", `unknown field "colour" for type asg (want one of id, type, name, arn, az, tags, min, max, desired)`},

		// alarm
		{"unknown alarm field", "  stat: Sum", "  stats: Sum", 12, "alarm.stats", `unknown field "stats" (did you mean "stat"?)`},
		{"missing fires", "  fires: +3m\n", "", 9, "alarm.fires", `missing required field "fires"`},
		{"bad offset", "fires: +3m", "fires: +3x", 16, "alarm.fires", `bad time "+3x" (want an offset from onset with a sign`},
		{"offset without sign", "fires: +3m", "fires: 3m", 16, "alarm.fires", `bad time "3m"`},
		{"fires before onset", "fires: +3m", "fires: -3m", 16, "alarm.fires", `fires "-3m" is before onset`},
		{"alarm unknown resource", "  resource: api", "  resource: apx", 10, "alarm.resource", `unknown resource id "apx" (did you mean "api"?)`},
		{"bad metric", "metric: AWS/ApiGateway 5XXError", "metric: AWS/ApiGateway", 11, "alarm.metric", `bad metric "AWS/ApiGateway" (want "Namespace MetricName"`},
		{"bad stat", "stat: Sum", "stat: Avg", 12, "alarm.stat", `bad stat "Avg"`},
		{"bad percentile", "stat: Sum", "stat: p101", 12, "alarm.stat", `bad stat "p101"`},
		{"bad period", "period: 1m", "period: 45s", 13, "alarm.period", `bad period "45s" (want 10s, 30s or a multiple of 1m`},
		{"bad threshold", "threshold: 10", "threshold: ten", 14, "alarm.threshold", `want a number, found "ten"`},
		{"bad comparison", "comparison: GreaterThanThreshold", "comparison: GreaterThan", 15, "alarm.comparison", `unknown comparison "GreaterThan" (want one of GreaterThanThreshold`},

		// resources
		{"bad type", "{id: i-1, type: ec2, asg: grp}", "{id: i-1, type: ec3, asg: grp}", 26, "resources[5].type", `unknown type "ec3" (did you mean "ec2"? want one of alb, apigw, ec2,`},
		{"missing type", "{id: table, type: dynamodb}", "{id: table}", 24, "resources[3].type", `missing required field "type"`},
		{"missing id", "{id: table, type: dynamodb}", "{type: dynamodb}", 24, "resources[3].id", `missing required field "id"`},
		{"duplicate id", "{id: web, type: alb, targets: [i-1]}", "{id: fn, type: alb, targets: [i-1]}", 25, "resources[4].id", `duplicate id "fn" (first at line 19)`},
		{"reserved id", "{id: web, type: alb, targets: [i-1]}", "{id: client, type: alb, targets: [i-1]}", 25, "resources[4].id", `id "client" is reserved`},
		{"no resources", "resources:\n", "resources: []\nxresources:\n", 17, "resources", `want at least one resource`},
		{"field of another type", "{id: fn, type: lambda, memory: 512}", "{id: fn, type: lambda, rps: 512}", 19, "resources[1].rps", `field "rps" does not apply to type lambda`},
		{"unknown target", "targets: [fn]", "targets: [fnn]", 18, "resources[0].targets[0]", `unknown resource id "fnn"`},
		{"asg of wrong type", "asg: grp", "asg: fn", 26, "resources[5].asg", `"fn" is a resource of type lambda (want type asg)`},
		{"runs_on wrong type", "runs_on: [fn]", "runs_on: [table]", 22, "resources[2].runs_on[0]", `"table" is a resource of type dynamodb (want type ec2, ecs or lambda)`},
		{"unknown call", "calls: [table]", "calls: [tabel]", 23, "resources[2].calls[0]", `unknown resource id "tabel" (did you mean "table"?)`},
		{"attached_to wrong type", "{id: grp, type: asg, min: 1, max: 3, desired: 1}", "{id: grp, type: asg, min: 1, max: 3, desired: 1}\n  - {id: sg-1, type: security-group, attached_to: [table]}", 28, "resources[7].attached_to[0]", `"table" is a resource of type dynamodb (want type alb, ec2, ecs, lambda or rds)`},
		{"encrypts unknown", "{id: grp, type: asg, min: 1, max: 3, desired: 1}", "{id: grp, type: asg, min: 1, max: 3, desired: 1}\n  - {id: key-1, type: kms-key, encrypts: [tabel]}", 28, "resources[7].encrypts[0]", `unknown resource id "tabel" (did you mean "table"?)`},
		{"read_by wrong type", "{id: grp, type: asg, min: 1, max: 3, desired: 1}", "{id: grp, type: asg, min: 1, max: 3, desired: 1}\n  - {id: p-1, type: parameter, read_by: [table]}", 28, "resources[7].read_by[0]", `"table" is a resource of type dynamodb (want type service, ec2, ecs or lambda)`},
		{"assumed_by itself", "{id: grp, type: asg, min: 1, max: 3, desired: 1}", "{id: grp, type: asg, min: 1, max: 3, desired: 1}\n  - {id: role-1, type: iam-role, assumed_by: [role-1]}", 28, "resources[7].assumed_by[0]", `"role-1" is the resource itself`},
		{"replica_of wrong type", "{id: grp, type: asg, min: 1, max: 3, desired: 1}", "{id: grp, type: asg, min: 1, max: 3, desired: 1}\n  - {id: db-1, type: rds, replica_of: table}", 28, "resources[7].replica_of", `"table" is a resource of type dynamodb (want type rds)`},
		{"replica_of itself", "{id: grp, type: asg, min: 1, max: 3, desired: 1}", "{id: grp, type: asg, min: 1, max: 3, desired: 1}\n  - {id: db-1, type: rds, replica_of: db-1}", 28, "resources[7].replica_of", `"db-1" is the resource itself`},
		{"triggers wrong type", "{id: grp, type: asg, min: 1, max: 3, desired: 1}", "{id: grp, type: asg, min: 1, max: 3, desired: 1}\n  - {id: q-1, type: sqs, triggers: [table]}", 28, "resources[7].triggers[0]", `"table" is a resource of type dynamodb (want type lambda)`},
		{"relation field of another type", "{id: grp, type: asg, min: 1, max: 3, desired: 1}", "{id: grp, type: asg, min: 1, max: 3, desired: 1}\n  - {id: sg-1, type: security-group, encrypts: [table]}", 28, "resources[7].encrypts", `field "encrypts" does not apply to type security-group`},
		{"min over max", "min: 1, max: 3", "min: 4, max: 3", 27, "resources[6].max", `max 3 is less than min 4`},
		{"bad memory", "memory: 512", "memory: 64", 19, "resources[1].memory", `64 is out of range (want 128 to 10240)`},
		{"rcu on demand", "{id: table, type: dynamodb}", "{id: table, type: dynamodb, rcu: 5}", 24, "resources[3].rcu", `rcu applies to mode provisioned only`},
		{"bad arn", "{id: table, type: dynamodb}", "{id: table, type: dynamodb, arn: table/x}", 24, "resources[3].arn", `bad arn "table/x"`},
		{"same arn", "{id: table, type: dynamodb}", "{id: table, type: lambda, name: fn}", 24, "resources[3].arn", `is also the arn of resources[1]`},
		{"nat serves a service", "{id: web, type: alb, targets: [i-1]}", "{id: web, type: nat, serves: [svc]}", 25, "resources[4].serves[0]", `"svc" is a resource of type service (want type ec2, ecs, lambda or asg)`},
		{"ebs on a function", "{id: web, type: alb, targets: [i-1]}", "{id: web, type: ebs, instance: fn}", 25, "resources[4].instance", `"fn" is a resource of type lambda (want type ec2)`},
		{"iops of gp2", "{id: web, type: alb, targets: [i-1]}", "{id: web, type: ebs, iops: 6000}", 25, "resources[4].iops", `iops applies to volume types gp3, io1 and io2 (this volume is gp2`},
		{"bad volume type", "{id: web, type: alb, targets: [i-1]}", "{id: web, type: ebs, volume_type: gp4}", 25, "resources[4].volume_type", `"gp4"`},
		{"bad node type", "{id: web, type: alb, targets: [i-1]}", "{id: web, type: elasticache, node_type: r6g.large}", 25, "resources[4].node_type", `bad node type "r6g.large" (want cache.FAMILY.SIZE`},
		{"bad cache engine", "{id: web, type: alb, targets: [i-1]}", "{id: web, type: elasticache, engine: mysql}", 25, "resources[4].engine", `"mysql"`},
		{"db_cluster not aurora", "{id: web, type: alb, targets: [i-1]}", "{id: web, type: rds, db_cluster: fn}", 25, "resources[4].db_cluster", `"fn" is a resource of type lambda (want type aurora)`},
		{"role without cluster", "{id: web, type: alb, targets: [i-1]}", "{id: web, type: rds, cluster_role: reader}", 25, "resources[4].cluster_role", `cluster_role applies to a member of an aurora cluster`},
		{"two writers", "{id: web, type: alb, targets: [i-1]}", "{id: web, type: aurora}\n  - {id: db1, type: rds, db_cluster: web, cluster_role: writer}\n  - {id: db2, type: rds, db_cluster: web, cluster_role: writer}", 27, "resources[6].cluster_role", `web has a writer already`},

		// metrics
		{"metric unknown resource", "{resource: fn, metric: AWS/Lambda Errors", "{resource: fm, metric: AWS/Lambda Errors", 29, "metrics[0].resource", `unknown resource id "fm"`},
		{"metric bad metric", "metric: AWS/Lambda Errors", "metric: AWS/Lambda Errors Count", 29, "metrics[0].metric", `bad metric "AWS/Lambda Errors Count"`},
		{"value and baseline", "value: 5}", "value: 5, baseline: 3}", 29, "metrics[0].baseline", `value and baseline are exclusive`},
		{"no value", "at: +0m, value: 5}", "at: +0m}", 29, "metrics[0]", `want one of value, baseline, csv, silent or p90/p99, found none`},
		{"no metric", "{resource: fn, metric: AWS/Lambda Errors, at: +0m, value: 5}", "{resource: fn, at: +0m, value: 5}", 29, "metrics[0].metric", `missing required field "metric"`},
		{"value and silent", "value: 5}", "value: 5, silent: true}", 29, "metrics[0].silent", `value and silent are exclusive`},
		{"silent not a bool", "value: 5}", "silent: yes please}", 29, "metrics[0].silent", `want true or false, found "yes please"`},
		{"silent with ramp", "value: 5}", "silent: true, ramp: 1m}", 29, "metrics[0].ramp", `ramp does not apply to a silent item`},
		{"silent with p99", "value: 5}", "silent: true, p99: 3}", 29, "metrics[0].p99", `p99 does not combine with silent`},
		{"dims without metric", "{resource: fn, metric: AWS/Lambda Errors, at: +0m, value: 5}", "{resource: fn, dims: {A: b}, at: +0m, silent: true}", 29, "metrics[0].dims", `dims need a metric`},
		{"p99 under p90", "value: 5}", "p90: 9, p99: 8}", 29, "metrics[0].p99", `p99 8 is less than p90 9`},
		{"p90 under value", "value: 5}", "value: 5, p90: 4}", 29, "metrics[0].p90", `p90 4 is less than the value 5`},
		{"negative p99", "value: 5}", "p99: -1}", 29, "metrics[0].p99", `-1 is out of range (want at least 0)`},
		{"negative noise", "value: 5}", "value: 5, noise: -1}", 29, "metrics[0].noise", `-1 is out of range (want at least 0)`},
		{"csv without fs", "value: 5}", "csv: x.csv}", 29, "metrics[0].csv", `csv "x.csv" cannot be read`},

		// logs
		{"log service not a service", "{service: svc, on: fn", "{service: fn, on: fn", 31, "logs[0].service", `"fn" is a resource of type lambda (want type service)`},
		{"log neither service nor group", "{service: svc, on: fn, ", "{on: fn, ", 31, "logs[0]", `want service (a service id) or group`},
		{"log unknown on", "on: fn, level", "on: fx, level", 31, "logs[0].on", `unknown resource id "fx"`},
		{"log on elsewhere", "on: fn, level", "on: i-1, level", 31, "logs[0].on", `"i-1" is not one of the resources service svc runs on (fn)`},
		{"bad level", "level: error", "level: warning", 31, "logs[0].level", `unknown level "warning" (want one of info, warn, error)`},
		{"bad rate", "rate: 10/s", "rate: 10/h", 31, "logs[0].rate", `bad rate "10/h" (want N/m or N/s`},
		{"bare rate", "rate: 10/s", "rate: 10", 31, "logs[0].rate", `bad rate "10"`},

		// traces
		{"unknown id in edge", "edge: svc>table", "edge: svc>tabel", 33, "traces[0].edge", `unknown resource id "tabel" (did you mean "table"?)`},
		{"unknown caller in edge", "edge: svc>table", "edge: svx>table", 33, "traces[0].edge", `unknown resource id "svx"`},
		{"client as callee", "edge: svc>table", "edge: svc>client", 33, "traces[0].edge", `client can only be the caller`},
		{"client to non-entry", "edge: svc>table", "edge: client>table", 33, "traces[0].edge", `client calls entry resources only`},
		{"bad edge", "edge: svc>table", "edge: svc-table", 33, "traces[0].edge", `bad edge "svc-table" (want caller>callee`},
		{"unknown field nested", "fault: 0.5}", "faults: 0.5}", 33, "traces[0].faults", `unknown field "faults" (did you mean "fault"?)`},
		{"share over 1", "fault: 0.5}", "fault: 1.5}", 33, "traces[0].fault", `1.5 is out of range (want 0 to 1)`},
		{"shares sum over 1", "fault: 0.5}", "fault: 0.5, error: 0.7}", 33, "traces[0]", `fault + error + throttle is 1.2`},
		{"bad latency", "fault: 0.5}", "latency: fast}", 33, "traces[0].latency", `bad duration "fast"`},
		{"until before at", "until: +20m", "until: -1m", 33, "traces[0].until", `until "-1m" is not after at "+0m"`},
		{"at after end", "at: +0m, until: +20m", "at: +40m", 33, "traces[0].at", `at "+40m" is not before until (default: the end of telemetry, alarm.fires + 30m = +33m)`},
		{"trace on neither side", "on: fn, at: +0m, until", "on: i-1, at: +0m, until", 33, "traces[0].on", `"i-1" is a host of neither svc nor table (want a host of the caller, the instance making the calls: fn)`},
		{"trace on client edge", "edge: svc>table, on: fn", "edge: client>web, on: fn", 33, "traces[0].on", `"fn" is not an instance serving web's requests (want i-1)`},
		{"trace on not a compute", "on: fn, at: +0m, until", "on: table, at: +0m, until", 33, "traces[0].on", `"table" is a resource of type dynamodb`},

		// changes
		{"change unknown resource", "resource: table, actor", "resource: tables, actor", 35, "changes[0].resource", `unknown resource id "tables"`},
		{"change bad arn", "resource: table, actor", "resource: \"arn:aws:x\", actor", 35, "changes[0].resource", `bad arn "arn:aws:x"`},
		{"change missing actor", ", actor: alice}", "}", 35, "changes[0].actor", `missing required field "actor"`},
		{"change bad at", "{at: -1m, event", "{at: yesterday, event", 35, "changes[0].at", `bad time "yesterday"`},

		// health
		{"bad status", "status: open", "status: opened", 37, "health[0].status", `unknown status "opened" (want one of open, closed)`},
		{"health unknown resource", "resources: [table]", "resources: [table, tabl]", 37, "health[0].resources[1]", `unknown resource id "tabl"`},

		// quotas, notes
		{"quota unknown resource", "{resource: fn, service: lambda", "{resource: fx, service: lambda", 39, "quotas[0].resource", `unknown resource id "fx"`},
		{"quota with at", "value: 1000}", "value: 1000, at: +0m}", 39, "quotas[0].at", `unknown field "at"`},
		{"note missing text", ", text: hi}", "}", 41, "notes[0].text", `missing required field "text"`},

		// expect
		{"bad cause", "cause: own-change", "cause: own-changes", 43, "expect.cause", `unknown cause "own-changes" (want one of own-change, system-change, limit, component, dependency)`},
		{"bad action in list", "action: [rollback]", "action: [rollback, reboot]", 45, "expect.action[1]", `unknown action "reboot" (want one of rollback, block, scale, restart, exclude)`},
		{"expect unknown resource", "  resource: table\n  action", "  resource: [tabel]\n  action", 44, "expect.resource[0]", `unknown resource id "tabel"`},
		{"expect unknown field", "  action: [rollback]", "  actions: [rollback]", 45, "expect.actions", `unknown field "actions" (did you mean "action"?)`},
		{"bad onset_within", "  action: [rollback]", "  action: [rollback]\n  onset_within: soon", 46, "expect.onset_within", `bad duration "soon"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := base
			if strings.Count(doc, c.old) != 1 {
				t.Fatalf("test bug: %q occurs %d times in base", c.old, strings.Count(doc, c.old))
			}
			doc = strings.Replace(doc, c.old, c.new, 1)
			f, err := Parse("test.yaml", []byte(doc), nil)
			if err == nil {
				t.Fatalf("Parse: no error, want %d: %s: %s", c.line, c.field, c.msg)
			}
			if f != nil {
				t.Errorf("Parse returned a file with an error")
			}
			var first *Error
			if !errors.As(err, &first) {
				t.Fatalf("errors.As(%T, *Error) = false", err)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("errors.As(%T, ErrorList) = false", err)
			}
			for _, e := range list {
				if e.File == "test.yaml" && e.Line == c.line && e.Field == c.field && strings.Contains(e.Msg, c.msg) {
					return
				}
			}
			t.Errorf("no error %d: %s: ...%s...; got:\n%v", c.line, c.field, c.msg, err)
		})
	}
}

// TestErrorsAll checks that one run reports every problem, in line order.
func TestErrorsAll(t *testing.T) {
	doc := strings.NewReplacer(
		"title: a test", "titel: a test",
		"fires: +3m", "fires: 3m",
		"type: ec2", "type: ec3",
		"edge: svc>table", "edge: svc>nope",
	).Replace(base)
	_, err := Parse("test.yaml", []byte(doc), nil)
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("got %v, want an ErrorList", err)
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Field)
	}
	want := []string{"title", "titel", "alarm.fires", "resources[5].type", "traces[0].edge"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("fields: got %v, want %v\n%v", got, want, err)
	}
}

func TestErrorFormat(t *testing.T) {
	cases := []struct {
		e    Error
		want string
	}{
		{Error{File: "a.yaml", Line: 3, Field: "resources[2].type", Msg: `unknown type "ec3"`}, `a.yaml:3: resources[2].type: unknown type "ec3"`},
		{Error{File: "a.yaml", Field: "name", Msg: "m"}, `a.yaml: name: m`},
		{Error{File: "a.yaml", Line: 7, Msg: "invalid YAML: x"}, `a.yaml:7: invalid YAML: x`},
	}
	for _, c := range cases {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	l := ErrorList{&cases[0].e, &cases[1].e}
	if got, want := l.Error(), cases[0].want+"\n"+cases[1].want; got != want {
		t.Errorf("list: got %q, want %q", got, want)
	}
}
