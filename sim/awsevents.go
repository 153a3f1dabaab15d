package sim

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// What AWS records outside CloudTrail — Auto Scaling activities, ECS
// service events, RDS events — reaches the engine with the changes, in
// the shapes the AWS adapter gives them (awstelemetry's systemChanges).

// steadyEvery is how often an ECS service that is at its desired count
// says so: "duplicate event messages are omitted until either the cause
// is resolved or six hours passes" (Amazon ECS Developer Guide, service
// event messages).
const steadyEvery = 6 * time.Hour

// activityInstance finds the instance an Auto Scaling activity names.
var activityInstance = regexp.MustCompile(`\bi-[0-9a-f]{8,17}\b`)

// awsEvents are the scenario's events and the healthy services' steady
// state messages in [lo, hi).
func (m *Sim) awsEvents(lo, hiT time.Time) []investigate.Change {
	var out []investigate.Change
	for i, e := range m.sc.Events {
		if e.At.Before(lo) || !e.At.Before(hiT) {
			continue
		}
		n, ok := m.byID[e.Resource]
		if !ok {
			continue
		}
		out = append(out, m.awsEvent(n, e, m.key("event", strconv.Itoa(i))))
	}
	for _, n := range m.nodes {
		if n.r.Type != investigate.TypeECS {
			continue
		}
		k := m.key("steady", n.r.ID)
		phase := time.Duration(unit(k) * float64(steadyEvery)).Truncate(time.Second)
		for t := lo.Truncate(steadyEvery).Add(phase); t.Before(hiT); t = t.Add(steadyEvery) {
			if t.Before(lo) || t.Before(m.sc.Start()) {
				continue
			}
			h := hi(k, t.Unix())
			out = append(out, investigate.Change{
				ID: uuid(mix64(h^1), mix64(h^2)), Time: t, Event: "ServiceEvent", Source: "ecs.amazonaws.com",
				Resource: n.r.ID, Actor: "ecs.amazonaws.com", ByService: true, Routine: true,
				Message: fmt.Sprintf("(service %s) has reached a steady state.", n.name),
				Params:  map[string]string{"cluster": n.r.Cluster, "service": n.name},
			})
		}
	}
	return out
}

// awsEvent is one scenario event as the AWS adapter reads it.
func (m *Sim) awsEvent(n *node, e scenario.EventItem, k uint64) investigate.Change {
	switch n.r.Type {
	case investigate.TypeASG:
		event := "ScalingActivity"
		switch {
		case strings.HasPrefix(e.Description, "Launching"):
			event = "LaunchInstance"
		case strings.HasPrefix(e.Description, "Terminating"):
			event = "TerminateInstance"
		}
		res := n.r.ID
		if id := activityInstance.FindString(e.Description); id != "" {
			res = id
		}
		ch := investigate.Change{
			ID: uuid(k, mix64(k)), Time: e.At, Event: event, Source: "autoscaling.amazonaws.com",
			Resource: res, Actor: "autoscaling.amazonaws.com", ByService: true, Message: e.Message,
			Params: map[string]string{"autoScalingGroupName": n.name, "description": e.Description, "cause": e.Cause, "status": e.Status},
		}
		if e.Status == "Failed" || e.Status == "Cancelled" {
			ch.Error = e.Status
		}
		return ch
	case investigate.TypeRDS:
		cat := "notification"
		if len(e.Categories) > 0 {
			cat = e.Categories[0]
		}
		return investigate.Change{
			ID: fmt.Sprintf("rds:%s:%d", n.name, e.At.Unix()), Time: e.At, Event: "RDS" + camel(cat), Source: "rds.amazonaws.com",
			Resource: n.r.ID, Actor: "rds.amazonaws.com", ByService: true, Message: e.Message,
			Params: map[string]string{"message": e.Message, "categories": strings.Join(e.Categories, ","), "sourceArn": n.arn},
		}
	}
	// An ECS service event says what the scheduler did or could not do;
	// it is no change (the deployment that made it act is one).
	return investigate.Change{
		ID: uuid(k, mix64(k)), Time: e.At, Event: "ServiceEvent", Source: "ecs.amazonaws.com",
		Resource: n.r.ID, Actor: "ecs.amazonaws.com", ByService: true, Routine: true, Message: e.Message,
		Params: map[string]string{"cluster": n.r.Cluster, "service": n.name},
	}
}

// camel joins the words of an RDS event category: "configuration change"
// is ConfigurationChange.
func camel(s string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}
