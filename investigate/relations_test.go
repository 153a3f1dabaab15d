package investigate

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// relTopo is webEnv's topology with the resources that carry no requests
// around it: security groups, keys, a parameter, roles and a replica.
func relTopo() Topology {
	t := webEnv().topo
	t.Resources = append(t.Resources,
		Resource{ID: "db", Type: TypeRDS, Dims: map[string]string{"DBInstanceIdentifier": "db"}},
		Resource{ID: "db-replica", Type: TypeRDS, Dims: map[string]string{"DBInstanceIdentifier": "db-replica"}},
		Resource{ID: "sg-db", Type: TypeSecurityGroup},
		Resource{ID: "sg-web", Type: TypeSecurityGroup},
		Resource{ID: "sg-i1", Type: TypeSecurityGroup},
		Resource{ID: "key-table", Type: TypeKMSKey},
		Resource{ID: "key-param", Type: TypeKMSKey},
		Resource{ID: "/app/prod/flags", Type: TypeParameter},
		Resource{ID: "app-role", Type: TypeIAMRole},
		Resource{ID: "other", Type: TypeEC2, Dims: map[string]string{"InstanceId": "other"}},
	)
	t.Relations = append(t.Relations,
		Relation{"app", "db", RelCalls},
		Relation{"db-replica", "db", RelReplicaOf},
		Relation{"sg-db", "db", RelAttachedTo},
		Relation{"sg-db", "other", RelAttachedTo},
		Relation{"sg-web", "i-1", RelAttachedTo}, Relation{"sg-web", "i-2", RelAttachedTo}, Relation{"sg-web", "i-3", RelAttachedTo},
		Relation{"sg-i1", "i-1", RelAttachedTo},
		Relation{"key-table", "table", RelEncrypts},
		Relation{"key-param", "/app/prod/flags", RelEncrypts},
		Relation{"/app/prod/flags", "app", RelReadBy},
		Relation{"app-role", "i-1", RelAssumedBy}, Relation{"app-role", "i-2", RelAssumedBy}, Relation{"app-role", "i-3", RelAssumedBy},
	)
	return t
}

func TestReachOf(t *testing.T) {
	g := newGraph(relTopo(), "web-alb")
	tests := []struct {
		changed string
		want    map[string]hop
	}{
		{"sg-db", map[string]hop{"db": {RelAttachedTo, "db"}, "other": {RelAttachedTo, "other"}}},
		// A host reached brings its services, not the service's other hosts.
		{"sg-i1", map[string]hop{"i-1": {RelAttachedTo, "i-1"}, "app": {RelAttachedTo, "i-1"}}},
		{"key-table", map[string]hop{"table": {RelEncrypts, "table"}}},
		// On through a parameter the key encrypts, to what reads it and
		// the hosts it runs on.
		{"key-param", map[string]hop{
			"/app/prod/flags": {RelEncrypts, "/app/prod/flags"}, "app": {RelEncrypts, "/app/prod/flags"},
			"i-1": {RelEncrypts, "/app/prod/flags"}, "i-2": {RelEncrypts, "/app/prod/flags"}, "i-3": {RelEncrypts, "/app/prod/flags"},
		}},
		{"app-role", map[string]hop{
			"i-1": {RelAssumedBy, "i-1"}, "i-2": {RelAssumedBy, "i-2"}, "i-3": {RelAssumedBy, "i-3"}, "app": {RelAssumedBy, "i-1"},
		}},
		// A change to the source reaches its replicas; not the other way.
		{"db", map[string]hop{"db-replica": {RelReplicaOf, "db-replica"}}},
		{"db-replica", nil},
		// Requests are not followed: a table reaches nothing.
		{"table", nil},
		{"app", nil},
	}
	for _, tt := range tests {
		t.Run(tt.changed, func(t *testing.T) {
			got := g.reach[tt.changed]
			if !maps.Equal(got, tt.want) {
				t.Errorf("reach of %s = %v, want %v", tt.changed, got, tt.want)
			}
		})
	}
}

func TestScopeStopsAtWhatServesMany(t *testing.T) {
	g := newGraph(relTopo(), "web-alb")
	// sg-db is connected to the alarm's resource, through db; "other",
	// which only shares the security group, is not connected by it.
	if _, ok := g.dist["sg-db"]; !ok {
		t.Errorf("sg-db not in scope: %v", g.inScope())
	}
	if _, ok := g.dist["other"]; ok {
		t.Errorf("other is in scope through the security group it shares with db: %v", g.inScope())
	}
	// What the alarm's requests reach does not go through a replica
	// relation or into a security group.
	down := g.downstream("web-alb")
	for _, id := range []string{"sg-db", "key-table", "db-replica", "app-role"} {
		if down[id] {
			t.Errorf("downstream of web-alb includes %s", id)
		}
	}
	if deps := g.dependencies("db"); len(deps) != 0 {
		t.Errorf("dependencies of db = %v, want none", deps)
	}
}

// TestChangeReachesFailureThroughRelation: two changes of the same kind a
// few minutes apart, neither named by the errors; the one on what the
// failing part works through is the cause, even when the other is nearer
// the onset.
func TestChangeReachesFailureThroughRelation(t *testing.T) {
	actor := "arn:aws:sts::1:assumed-role/Admin/alice"
	tests := []struct {
		name      string
		failing   func(f *fake)
		culprit   Change
		decoy     Change
		decoyRes  Resource
		wantInSum string
	}{
		{
			name: "revoked rule on the database's security group",
			failing: func(f *fake) {
				f.traces = tracesOf(alter(dbEdges(), into("db"), failing(0.9, "dial tcp 10.0.3.7:5432: i/o timeout"))...)
			},
			culprit:   Change{ID: "c1", Time: t0.Add(-5 * time.Minute), Event: "RevokeSecurityGroupIngress", Source: "ec2.amazonaws.com", Resource: "sg-db", Actor: actor},
			decoy:     Change{ID: "c2", Time: t0.Add(-2 * time.Minute), Event: "RevokeSecurityGroupIngress", Source: "ec2.amazonaws.com", Resource: "sg-batch", Actor: actor},
			decoyRes:  Resource{ID: "sg-batch", Type: TypeSecurityGroup},
			wantInSum: "it is attached to db, which fails since the onset",
		},
		{
			name: "disabled key of the table",
			failing: func(f *fake) {
				f.traces = tracesOf(alter(dbEdges(), into("table"), failing(0.9, "KMSDisabledException: the KMS key is disabled"))...)
			},
			culprit:   Change{ID: "c1", Time: t0.Add(-6 * time.Minute), Event: "DisableKey", Source: "kms.amazonaws.com", Resource: "key-table", Actor: actor},
			decoy:     Change{ID: "c2", Time: t0.Add(-2 * time.Minute), Event: "DisableKey", Source: "kms.amazonaws.com", Resource: "key-old", Actor: actor},
			decoyRes:  Resource{ID: "key-old", Type: TypeKMSKey},
			wantInSum: "it encrypts table, which fails since the onset",
		},
		{
			name: "policy taken from the role the hosts assume",
			failing: func(f *fake) {
				f.traces = tracesOf(alter(dbEdges(), into("table"), failing(0.9, "AccessDeniedException: not authorized to perform dynamodb:GetItem"))...)
			},
			culprit:   Change{ID: "c1", Time: t0.Add(-6 * time.Minute), Event: "DeleteRolePolicy", Source: "iam.amazonaws.com", Resource: "app-role", Actor: actor},
			decoy:     Change{ID: "c2", Time: t0.Add(-2 * time.Minute), Event: "DeleteRolePolicy", Source: "iam.amazonaws.com", Resource: "etl-role", Actor: actor},
			decoyRes:  Resource{ID: "etl-role", Type: TypeIAMRole},
			wantInSum: "it is assumed by i-1, and calls from app to table fail since the onset",
		},
		{
			name: "changed parameter the service reads",
			failing: func(f *fake) {
				f.traces = tracesOf(alter(dbEdges(), func(e edge) bool { return e.caller == "web-alb" }, failing(0.9, ""))...)
				var lines []logLine
				for _, i := range []string{"i-1", "i-2", "i-3"} {
					lines = append(lines,
						logLine{"INFO request <*> GET /api/items 200 <*>ms", i, 800, time.Time{}},
						logLine{"ERROR invalid configuration value for checkout.mode: <*>", i, 700, t0})
				}
				f.logs["/app/app"] = logsOf(lines...)
			},
			culprit:   Change{ID: "c1", Time: t0.Add(-6 * time.Minute), Event: "PutParameter", Source: "ssm.amazonaws.com", Resource: "/app/prod/flags", Actor: actor},
			decoy:     Change{ID: "c2", Time: t0.Add(-2 * time.Minute), Event: "PutParameter", Source: "ssm.amazonaws.com", Resource: "/batch/prod/flags", Actor: actor},
			decoyRes:  Resource{ID: "/batch/prod/flags", Type: TypeParameter},
			wantInSum: "it is read by app, which fails since the onset",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := webEnv()
			f.topo = relTopo()
			f.topo.Resources = append(f.topo.Resources, tt.decoyRes)
			tt.failing(f)
			f.changes = []Change{tt.culprit, tt.decoy}
			rep := investigateFake(t, f)
			h := top(t, rep)
			if h.Cause != CauseOwnChange || h.Resource != tt.culprit.Resource || h.Actions[0].Kind != ActionRollback {
				t.Fatalf("top = %s %s %s, want own-change %s rollback; all %+v", h.Cause, h.Resource, h.Actions[0].Kind, tt.culprit.Resource, rep.Hypotheses)
			}
			if r := rankOf(rep, CauseOwnChange, tt.decoy.Resource); r == 1 {
				t.Errorf("decoy %s ranked first", tt.decoy.Resource)
			}
			i := slices.IndexFunc(rep.Findings, func(f Finding) bool { return f.Kind == FindingChange && f.Resource == tt.culprit.Resource })
			if i < 0 || !strings.Contains(rep.Findings[i].Summary, tt.wantInSum) {
				t.Errorf("change finding does not say %q: %+v", tt.wantInSum, rep.Findings)
			}
		})
	}
}

// dbEdges are webEdges and app's calls into db.
func dbEdges() []edge {
	es := webEdges()
	for _, i := range []string{"i-1", "i-2", "i-3"} {
		es = append(es, edge{caller: "app", callee: "db", instance: i, perMin: 60, latency: 3 * time.Millisecond})
	}
	return es
}

// TestLaggingReplicaIsTakenOutOfTheReadPath: reads from a replica slow
// down as its ReplicaLag climbs; the replica is the culprit, and the move
// names its source.
func TestLaggingReplicaIsTakenOutOfTheReadPath(t *testing.T) {
	f := webEnv()
	f.topo = relTopo()
	f.topo.Relations = append(f.topo.Relations, Relation{"app", "db-replica", RelCalls})
	f.alarm.Metric.Name = "TargetResponseTime"
	f.alarm.Stat, f.alarm.Threshold = "Average", 1
	f.series["web-alb|AWS/ApplicationELB|HTTPCode_Target_5XX_Count"] = level(2, 2, t0)
	f.series["web-alb|AWS/ApplicationELB|TargetResponseTime"] = level(0.05, 1.6, t0)
	f.series["db-replica|AWS/RDS|ReplicaLag"] = level(0.4, 180, t0)
	es := dbEdges()
	for _, i := range []string{"i-1", "i-2", "i-3"} {
		es = append(es, edge{caller: "app", callee: "db-replica", instance: i, perMin: 60, latency: 3 * time.Millisecond})
	}
	alter(es, into("db-replica"), func(e *edge) { e.latencyAfter, e.from = 1500*time.Millisecond, t0 })
	alter(es, func(e edge) bool { return e.caller == "web-alb" }, func(e *edge) { e.latencyAfter, e.from = 1550*time.Millisecond, t0 })
	f.traces = tracesOf(es...)
	rep := investigateFake(t, f)
	h := top(t, rep)
	if h.Resource != "db-replica" || (h.Cause != CauseDependency && h.Cause != CauseComponent) {
		t.Fatalf("top = %s %s, want db-replica as a dependency or component; all %+v", h.Cause, h.Resource, rep.Hypotheses)
	}
	if a := h.Actions[0]; a.Kind != ActionExclude || !strings.Contains(a.Detail, "its source db") {
		t.Errorf("first action = %s %q, want exclude sending the reads to its source db", a.Kind, a.Detail)
	}
}
