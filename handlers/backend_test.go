package handlers

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/unstuck/unstuck/investigate"
)

// namedAlarms is an alarm source that knows alarms by name only.
type namedAlarms map[string]investigate.Alarm

func (n namedAlarms) Alarm(_ context.Context, name string) (investigate.Alarm, error) {
	if a, ok := n[name]; ok {
		return a, nil
	}
	var names []string
	for k := range n {
		names = append(names, k)
	}
	return investigate.Alarm{}, &investigate.NotFoundError{Kind: "alarm", Name: name, Candidates: investigate.ClosestNames(name, names, 3)}
}

// watchers finds the alarm of a resource from a map, as an account would.
type watchers struct {
	alarms map[string]investigate.Alarm
	err    error
	asked  []string
}

func (w *watchers) AlarmForResource(_ context.Context, resource string) (investigate.Alarm, error) {
	w.asked = append(w.asked, resource)
	if w.err != nil {
		return investigate.Alarm{}, w.err
	}
	if a, ok := w.alarms[resource]; ok {
		return a, nil
	}
	return investigate.Alarm{}, &investigate.NotFoundError{Kind: "alarm watching", Name: resource}
}

// TestFindAlarmOfAnInstance: "/investigate i-…" on AWS, where the bot knows
// no alarm by name to search the topology of, finds the alarm through
// Resources; a name that is neither stays a NotFoundError with the closest
// alarm names; a failure to read the alarms is no "not found".
func TestFindAlarmOfAnInstance(t *testing.T) {
	cpu := investigate.Alarm{Name: "web-i3-cpu", Resource: "i-0c5e1a2b3d4f50003"}
	known := namedAlarms{"web-alb-target-5xx": {Name: "web-alb-target-5xx", Resource: "web-alb"}, "web-i3-cpu": cpu}
	w := &watchers{alarms: map[string]investigate.Alarm{"i-0c5e1a2b3d4f50003": cpu}}
	k := KnownAlarms{Alarms: known, Resources: w}
	ctx := context.Background()

	a, err := k.FindAlarm(ctx, "i-0c5e1a2b3d4f50003")
	if err != nil || a.Name != "web-i3-cpu" {
		t.Fatalf("FindAlarm(instance) = %q, %v; want web-i3-cpu", a.Name, err)
	}
	if a, err := k.FindAlarm(ctx, "web-alb-target-5xx"); err != nil || a.Name != "web-alb-target-5xx" {
		t.Errorf("FindAlarm(alarm name) = %q, %v", a.Name, err)
	}
	if len(w.asked) != 1 {
		t.Errorf("asked for the alarms of %v; an alarm's name needs no search", w.asked)
	}

	_, err = k.FindAlarm(ctx, "web-alb-target-5x")
	var nf *investigate.NotFoundError
	if !errors.As(err, &nf) || !slices.Contains(nf.Candidates, "web-alb-target-5xx") {
		t.Errorf("FindAlarm(typo) = %v; want not found, with the closest name", err)
	}

	w.err = errors.New("AccessDeniedException: not authorized to perform cloudwatch:DescribeAlarmsForMetric")
	_, err = k.FindAlarm(ctx, "i-0c5e1a2b3d4f50009")
	if errors.As(err, &nf) || err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("FindAlarm with the alarms unreadable = %v; want the cause, not a not-found", err)
	}

	// Without Resources (the simulator), an instance no known alarm's
	// topology holds is not found, as before.
	_, err = KnownAlarms{Alarms: known}.FindAlarm(ctx, "i-0c5e1a2b3d4f50003")
	if !errors.As(err, &nf) {
		t.Errorf("without Resources: %v", err)
	}
}
