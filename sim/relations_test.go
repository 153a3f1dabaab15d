package sim

import (
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// relScenario is the ALB example with the relations that carry no
// requests around it.
func relScenario() *scenario.Scenario {
	s := albScenario()
	s.Resources[0].AttachedTo = []string{inst1, inst2, inst3}
	s.Resources = append(s.Resources,
		scenario.Resource{ID: "db", Type: "rds", Name: "db"},
		scenario.Resource{ID: "db-ro", Type: "rds", Name: "db-ro", ReplicaOf: "db"},
		scenario.Resource{ID: "fn", Type: "lambda", Name: "fn"},
		scenario.Resource{ID: "jobs", Type: "sqs", Name: "jobs", Triggers: []string{"fn"}},
		scenario.Resource{ID: "key-1", Type: "kms-key", Name: "key-1", Encrypts: []string{"forge-templates", "jobs"}},
		scenario.Resource{ID: "flags", Type: "parameter", Name: "/forge/flags", ReadBy: []string{"bot-forge"}},
		scenario.Resource{ID: "fn-role", Type: "iam-role", Name: "fn-role", AssumedBy: []string{"fn"}},
	)
	return s
}

func TestTopologyRelationsThatCarryNoRequests(t *testing.T) {
	top, err := New(relScenario(), Options{}).Topology(bg, investigate.Alarm{})
	if err != nil {
		t.Fatal(err)
	}
	rels := map[investigate.Relation]bool{}
	for _, r := range top.Relations {
		rels[r] = true
	}
	for _, want := range []investigate.Relation{
		{From: "sg-0bastion", To: inst1, Kind: investigate.RelAttachedTo},
		{From: "sg-0bastion", To: inst3, Kind: investigate.RelAttachedTo},
		{From: "key-1", To: "forge-templates", Kind: investigate.RelEncrypts},
		{From: "key-1", To: "jobs", Kind: investigate.RelEncrypts},
		{From: "flags", To: "bot-forge", Kind: investigate.RelReadBy},
		{From: "fn-role", To: "fn", Kind: investigate.RelAssumedBy},
		{From: "db-ro", To: "db", Kind: investigate.RelReplicaOf},
		{From: "jobs", To: "fn", Kind: investigate.RelTargets},
	} {
		if !rels[want] {
			t.Errorf("missing relation %+v", want)
		}
	}
	if rels[investigate.Relation{From: "db", To: "", Kind: investigate.RelReplicaOf}] {
		t.Errorf("a database that is no replica has a replica-of relation")
	}
}

func TestReplicaPublishesReplicaLag(t *testing.T) {
	s := New(relScenario(), Options{})
	sc := relScenario()
	q := func(db string) investigate.MetricQuery {
		return investigate.MetricQuery{ID: db, Stat: "Average", Period: time.Minute, Metric: investigate.Metric{
			Namespace: "AWS/RDS", Name: "ReplicaLag", Dims: map[string]string{"DBInstanceIdentifier": db}}}
	}
	lag := metrics(t, s, q("db-ro"), sc.Start(), sc.Start().Add(time.Hour))
	if len(lag.Values) == 0 {
		t.Fatalf("replica db-ro publishes no ReplicaLag")
	}
	if m := mean(lag.Values); m <= 0 || m > 1 {
		t.Errorf("healthy ReplicaLag mean %v s, want under a second", m)
	}
	if src := metrics(t, s, q("db"), sc.Start(), sc.Start().Add(time.Hour)); len(src.Values) != 0 {
		t.Errorf("the source db publishes ReplicaLag: %v", src.Values[:1])
	}
}
