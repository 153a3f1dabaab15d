package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

const handoffYAML = `
name: handoff-test
title: a service publishes to a topic and starts a state machine
onset: 2025-06-02T10:00:00Z
history: 1h
alarm: {name: a, resource: web-alb, metric: AWS/ApplicationELB HTTPCode_Target_5XX_Count, stat: Sum, threshold: 1, fires: +3m}
resources:
  - {id: web-alb, type: alb, rps: 30, targets: [i-1]}
  - {id: i-1, type: ec2}
  - {id: web, type: service, runs_on: [i-1], calls: [events, fulfil]}
  - {id: events, type: sns, subscribers: [audit-fn, mail-queue]}
  - {id: audit-fn, type: lambda}
  - {id: mail-queue, type: sqs}
  - {id: fulfil, type: sfn, invokes: [pick-fn, stock]}
  - {id: pick-fn, type: lambda}
  - {id: stock, type: dynamodb}
metrics:
  - {resource: events, metric: AWS/SNS NumberOfNotificationsFailed, at: +0m, value: 600}
  - {resource: fulfil, metric: AWS/States ExecutionsFailed, at: +0m, value: 900}
`

func TestHandoff(t *testing.T) {
	f, err := scenario.Parse("handoff.yaml", []byte(handoffYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := New(f.Scenario, Options{})
	topo, err := m.Topology(bg, investigate.Alarm{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []investigate.Relation{
		{From: "events", To: "audit-fn", Kind: investigate.RelCalls},
		{From: "events", To: "mail-queue", Kind: investigate.RelCalls},
		{From: "fulfil", To: "pick-fn", Kind: investigate.RelCalls},
	} {
		if !slices.Contains(topo.Relations, want) {
			t.Errorf("relations lack %+v", want)
		}
	}
	arn := "arn:aws:states:us-east-1:123456789012:stateMachine:fulfil"
	for _, r := range topo.Resources {
		if r.ID == "fulfil" && (r.Dims["StateMachineArn"] != arn || r.Config["workflow"] != "standard") {
			t.Errorf("fulfil = %+v", r)
		}
	}
	onset, start, end := m.sc.Onset, m.sc.Start(), m.sc.Alarm.Fires
	q := func(ns, name string, dims map[string]string) (float64, float64) {
		t.Helper()
		s := metrics(t, m, investigate.MetricQuery{ID: "q", Metric: investigate.Metric{Namespace: ns, Name: name, Dims: dims}, Stat: "Sum", Period: time.Minute}, start, end)
		b, d := valuesIn(s, start, onset), valuesIn(s, onset, end)
		if len(b) == 0 || len(d) == 0 {
			t.Fatalf("%s: no datapoints", name)
		}
		return mean(b), mean(d)
	}
	topic := map[string]string{"TopicName": "events"}
	sm := map[string]string{"StateMachineArn": arn}
	for _, c := range []struct {
		ns, name string
		dims     map[string]string
		before   [2]float64
		during   [2]float64
	}{
		// every request publishes once and starts one execution: 1800 a minute
		{nsSNS, "NumberOfMessagesPublished", topic, [2]float64{1650, 1950}, [2]float64{1650, 1950}},
		// each message goes to both subscribers; what fails is not delivered
		{nsSNS, "NumberOfNotificationsDelivered", topic, [2]float64{3300, 3900}, [2]float64{2700, 3300}},
		{nsStates, "ExecutionsStarted", sm, [2]float64{1650, 1950}, [2]float64{1650, 1950}},
		{nsStates, "ExecutionsSucceeded", sm, [2]float64{1650, 1950}, [2]float64{750, 1050}},
		{nsStates, "ExecutionThrottled", sm, [2]float64{0, 0}, [2]float64{0, 0}},
		// the subscriber and the task are invoked by them
		{nsLambda, "Invocations", map[string]string{"FunctionName": "audit-fn"}, [2]float64{1650, 2200}, [2]float64{1650, 2200}},
		{nsLambda, "Invocations", map[string]string{"FunctionName": "pick-fn"}, [2]float64{1650, 2200}, [2]float64{1650, 2200}},
	} {
		b, d := q(c.ns, c.name, c.dims)
		if b < c.before[0] || b > c.before[1] || d < c.during[0] || d > c.during[1] {
			t.Errorf("%s %v: %.0f before, %.0f since the onset; want %v and %v", c.name, c.dims, b, d, c.before, c.during)
		}
	}
}
