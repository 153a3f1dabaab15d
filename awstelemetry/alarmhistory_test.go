package awstelemetry

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

// compositeWorld serves a composite alarm, web-composite, over the ALB
// scenario's metric alarm, both in ALARM: the composite since fired. Its
// history store holds the composite's items (AlarmType CompositeAlarm) and
// the child's; withHistory false leaves it empty, as after CloudWatch's
// history retention or for an alarm created in ALARM.
func compositeWorld(t *testing.T, fired time.Time, withHistory bool) (*awstest.Server, *Client) {
	t.Helper()
	srv, c := newServerClient(t)
	srv.Handle("CloudWatch.DescribeAlarms", func(r *awstest.Request) any {
		names, _ := r.Params["AlarmNames"].([]any)
		switch {
		case len(names) == 1 && names[0] == "web-composite":
			return map[string]any{"CompositeAlarms": []any{map[string]any{
				"AlarmName": "web-composite", "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-composite",
				"AlarmRule": `ALARM("web-alb-target-5xx")`, "StateValue": "ALARM", "StateReason": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-alb-target-5xx transitioned to ALARM",
				"StateTransitionedTimestamp": fired, "StateUpdatedTimestamp": fired,
			}}}
		case len(names) == 1 && names[0] == "web-alb-target-5xx":
			out := awstest.ALBAlarm()
			out["MetricAlarms"].([]any)[0].(map[string]any)["StateTransitionedTimestamp"] = fired.Add(-time.Minute)
			return out
		}
		return map[string]any{}
	})
	item := func(name, typ string, at time.Time, from, to string) any {
		data, _ := json.Marshal(map[string]any{"oldState": map[string]any{"stateValue": from}, "newState": map[string]any{"stateValue": to, "stateReason": "rule"}})
		return map[string]any{"AlarmName": name, "AlarmType": typ, "HistoryItemType": "StateUpdate", "Timestamp": at,
			"HistorySummary": "Alarm updated from " + from + " to " + to, "HistoryData": string(data)}
	}
	var items []any
	if withHistory {
		items = []any{
			item("web-composite", "CompositeAlarm", fired, "OK", "ALARM"),
			item("web-composite", "CompositeAlarm", fired.Add(-48*time.Hour), "INSUFFICIENT_DATA", "OK"),
			item("web-alb-target-5xx", "MetricAlarm", fired.Add(-time.Minute), "OK", "ALARM"),
		}
	}
	srv.Handle("CloudWatch.DescribeAlarmHistory", func(r *awstest.Request) any { return awstest.AlarmHistory(r, items) })
	return srv, c
}

// TestCompositeAlarmHistory: a composite alarm's history is asked for with
// AlarmTypes naming composites too (CloudWatch returns only metric alarms'
// history without it), so its fire time is the composite's own.
func TestCompositeAlarmHistory(t *testing.T) {
	fired := ts("2024-12-03T10:34:00Z")
	srv, c := compositeWorld(t, fired, true)
	a, err := c.NewSession().Alarm(ctxTimeout(t, 10*time.Second), "web-composite")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.History) != 2 || !a.History[1].Time.Equal(fired) || a.History[1].To != "ALARM" || a.History[1].From != "OK" {
		t.Errorf("history = %+v, want the composite's OK→ALARM at %s", a.History, fired)
	}
	for _, call := range srv.Calls() {
		if call.Op == "DescribeAlarmHistory" {
			types, _ := call.Params["AlarmTypes"].([]any)
			if len(types) != 2 {
				t.Errorf("DescribeAlarmHistory AlarmTypes = %v, want both types", call.Params["AlarmTypes"])
			}
		}
	}
}

// TestAlarmFireTimeWithoutHistory: with no history at all, the fire time is
// the alarm's StateTransitionedTimestamp, for a composite and for a metric
// alarm, and the investigation is placed around it rather than around the
// present.
func TestAlarmFireTimeWithoutHistory(t *testing.T) {
	fired := ts("2024-12-03T10:34:00Z")
	_, c := compositeWorld(t, fired, false)
	for name, want := range map[string]time.Time{"web-composite": fired, "web-alb-target-5xx": fired.Add(-time.Minute)} {
		a, err := c.NewSession().Alarm(ctxTimeout(t, 10*time.Second), name)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.History) != 1 || !a.History[0].Time.Equal(want) || a.History[0].To != "ALARM" {
			t.Errorf("%s: history = %+v, want one change to ALARM at %s", name, a.History, want)
		}
	}
	now := fired.Add(2 * time.Hour)
	eng := investigate.New(investigate.Sources{Alarms: c.NewSession()}, investigate.Options{Lookback: time.Hour, Clock: func() time.Time { return now }})
	rep, err := eng.Run(ctxTimeout(t, 10*time.Second), investigate.Request{Alarm: "web-composite", Now: now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := fired.Add(-time.Hour); !rep.Scope.Start.Equal(want) {
		t.Errorf("report window starts %s, want an hour before the fire time %s (not before the present %s)", rep.Scope.Start, fired, now)
	}
}

// TestWithLastTransition: the last transition is added only when the
// history lacks it, after the state it left.
func TestWithLastTransition(t *testing.T) {
	at := ts("2024-12-03T10:34:00Z")
	h := []investigate.AlarmStateChange{{Time: at.Add(-time.Hour), From: "ALARM", To: "OK"}}
	got := withLastTransition(h, "ALARM", &at, "r")
	if len(got) != 2 || got[1].From != "OK" || got[1].To != "ALARM" || !got[1].Time.Equal(at) {
		t.Errorf("added = %+v", got)
	}
	if again := withLastTransition(got, "ALARM", &at, "r"); len(again) != 2 {
		t.Errorf("added twice: %+v", again)
	}
	if none := withLastTransition(h, "ALARM", nil, ""); len(none) != 1 {
		t.Errorf("no timestamp: %+v", none)
	}
}
