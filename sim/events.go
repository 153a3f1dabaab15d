package sim

import (
	"context"
	"fmt"
	"maps"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// Alarm returns the scenario's alarm: its definition and a state history
// that went OK at the start of telemetry and ALARM at the fire time, with a
// CloudWatch-style reason quoting the simulated datapoint.
func (m *Sim) Alarm(ctx context.Context, name string) (investigate.Alarm, error) {
	if err := m.call(ctx, KindAlarm); err != nil {
		return investigate.Alarm{}, err
	}
	a := m.sc.Alarm
	if name != a.Name {
		return investigate.Alarm{}, &investigate.NotFoundError{Kind: "alarm", Name: name, Candidates: []string{a.Name}}
	}
	out := m.alarmDef()
	out.State = "OK"
	out.History = []investigate.AlarmStateChange{{
		Time: m.sc.Start(), From: "INSUFFICIENT_DATA", To: "OK",
		Reason: "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching].",
	}}
	if !a.Fires.After(m.now) {
		out.State = "ALARM"
		out.History = append(out.History, investigate.AlarmStateChange{
			Time: a.Fires, From: "OK", To: "ALARM", Reason: m.alarmReason(out),
		})
	}
	return out, nil
}

func (m *Sim) alarmDef() investigate.Alarm {
	a := m.sc.Alarm
	dims := maps.Clone(a.Dims)
	if len(dims) == 0 {
		if n, ok := m.byID[a.Resource]; ok {
			dims = maps.Clone(n.dims)
		}
	}
	period := a.Period
	if period <= 0 {
		period = time.Minute
	}
	cmp := a.Comparison
	if cmp == "" {
		cmp = "GreaterThanThreshold"
	}
	return investigate.Alarm{
		Name:       a.Name,
		Resource:   a.Resource,
		Metric:     investigate.Metric{Namespace: a.Namespace, Name: a.MetricName, Dims: dims},
		Stat:       a.Stat,
		Period:     period,
		Threshold:  a.Threshold,
		Comparison: cmp,
		Region:     m.sc.Region,
		Account:    m.sc.Account,
	}
}

// alarmReason is the reason CloudWatch gives for going into ALARM, with the
// simulated value of the last period before the fire time.
func (m *Sim) alarmReason(a investigate.Alarm) string {
	fires := m.sc.Alarm.Fires
	at := fires.Add(-a.Period).Truncate(a.Period)
	q := investigate.MetricQuery{ID: "alarm", Metric: a.Metric, Stat: a.Stat, Period: a.Period}
	s := m.query(q, at, at.Add(a.Period))
	v := math.NaN()
	if len(s.Values) > 0 {
		v = s.Values[len(s.Values)-1]
		at = s.Times[len(s.Times)-1]
	}
	words := map[string]string{
		"GreaterThanThreshold":          "greater than",
		"GreaterThanOrEqualToThreshold": "greater than or equal to",
		"LessThanThreshold":             "less than",
		"LessThanOrEqualToThreshold":    "less than or equal to",
	}
	w, ok := words[a.Comparison]
	if !ok {
		w = "outside the band of"
	}
	return fmt.Sprintf("Threshold Crossed: 1 datapoint [%s (%s)] was %s the threshold (%s).",
		javaFloat(v), at.UTC().Format("02/01/06 15:04:05"), w, javaFloat(a.Threshold))
}

// javaFloat formats v the way CloudWatch's reasons do: 812.0, 0.25.
func javaFloat(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// Changes returns the CloudTrail management events in [start, end): the
// scenario's changes and routine background activity (read-only calls by
// monitoring roles and services, role assumptions by service principals, a
// few an hour), sorted by time.
func (m *Sim) Changes(ctx context.Context, start, end time.Time) ([]investigate.Change, error) {
	if err := m.call(ctx, KindChanges); err != nil {
		return nil, err
	}
	lo, hiT, ok := m.clipEvents(start, end)
	if !ok {
		return []investigate.Change{}, nil
	}
	out := []investigate.Change{}
	for i, c := range m.sc.Changes {
		if c.At.Before(lo) || !c.At.Before(hiT) {
			continue
		}
		k := m.key("change", strconv.Itoa(i))
		out = append(out, investigate.Change{
			ID:       uuid(k, mix64(k)),
			Time:     c.At,
			Event:    c.Event,
			Source:   c.Source,
			Resource: c.Resource,
			Actor:    c.Actor,
			ReadOnly: readOnlyEvent(c.Event),
			Error:    c.Error,
			Params:   maps.Clone(c.Params),
		})
	}
	out = append(out, m.awsEvents(lo, hiT)...)
	out = append(out, m.routineEvents(lo, hiT)...)
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// clipEvents narrows [start, end) to telemetry up to and including Now.
func (m *Sim) clipEvents(start, end time.Time) (time.Time, time.Time, bool) {
	if s := m.sc.Start(); start.Before(s) {
		start = s
	}
	if lim := m.now.Add(time.Nanosecond); end.After(lim) {
		end = lim
	}
	return start, end, start.Before(end)
}

// readOnlyEvent is CloudTrail's readOnly flag for an event name.
func readOnlyEvent(event string) bool {
	for _, p := range []string{"Describe", "Get", "List", "Lookup", "Head", "AssumeRole"} {
		if strings.HasPrefix(event, p) {
			return true
		}
	}
	return false
}

type bgEvent struct {
	event, source, actor, resource string
}

// routine is the catalogue of background events for the scenario's account.
func (m *Sim) routine() []bgEvent {
	acct := m.sc.Account
	role := func(r, session string) string {
		return fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", acct, r, session)
	}
	monitor := role("monitoring-readonly", "collector")
	grafana := role("grafana-cloudwatch", "grafana")
	var evs []bgEvent
	add := func(e bgEvent) { evs = append(evs, e) }
	add(bgEvent{"GetMetricData", "monitoring.amazonaws.com", grafana, ""})
	add(bgEvent{"DescribeAlarms", "monitoring.amazonaws.com", monitor, ""})
	principals := map[string]bool{}
	seen := map[investigate.ResourceType]bool{}
	for _, n := range m.nodes {
		id := n.r.ID
		switch n.r.Type {
		case investigate.TypeEC2:
			if !seen["ec2"] {
				add(bgEvent{"DescribeInstances", "ec2.amazonaws.com", monitor, ""})
				add(bgEvent{"DescribeInstanceStatus", "ec2.amazonaws.com", monitor, ""})
			}
			principals["ec2.amazonaws.com"] = true
		case investigate.TypeALB:
			add(bgEvent{"DescribeTargetHealth", "elasticloadbalancing.amazonaws.com", monitor, id})
		case investigate.TypeASG:
			add(bgEvent{"DescribeAutoScalingGroups", "autoscaling.amazonaws.com", monitor, id})
		case investigate.TypeECS:
			add(bgEvent{"DescribeServices", "ecs.amazonaws.com", monitor, id})
			principals["ecs-tasks.amazonaws.com"] = true
		case investigate.TypeLambda:
			if !seen["lambda"] {
				add(bgEvent{"ListFunctions", "lambda.amazonaws.com", monitor, ""})
			}
			principals["lambda.amazonaws.com"] = true
		case investigate.TypeDynamoDB:
			add(bgEvent{"DescribeTable", "dynamodb.amazonaws.com", monitor, id})
		case investigate.TypeRDS:
			add(bgEvent{"DescribeDBInstances", "rds.amazonaws.com", monitor, id})
		case investigate.TypeSQS:
			if !seen["sqs"] {
				add(bgEvent{"ListQueues", "sqs.amazonaws.com", monitor, ""})
			}
		case investigate.TypeService:
			host := id
			if len(n.hosts) > 0 {
				host = n.hosts[0].name
			}
			add(bgEvent{"GetParameter", "ssm.amazonaws.com", role(id+"-role", host), "/" + id + "/config"})
		case investigate.TypeKMSKey:
			add(bgEvent{"DescribeKey", "kms.amazonaws.com", monitor, id})
		}
		seen[n.r.Type] = true
	}
	for _, p := range []string{"ec2.amazonaws.com", "ecs-tasks.amazonaws.com", "lambda.amazonaws.com"} {
		if !principals[p] {
			continue
		}
		for _, n := range m.nodes {
			if n.r.Type != investigate.TypeService {
				continue
			}
			arn := fmt.Sprintf("arn:aws:iam::%s:role/%s-role", acct, n.r.ID)
			add(bgEvent{"AssumeRole", "sts.amazonaws.com", p, arn})
			add(bgEvent{"AssumeRole", "sts.amazonaws.com", p, arn})
		}
	}
	return evs
}

// routineEvents is the routine activity in [lo, hi): one or two events in every
// quarter hour of telemetry, chosen and placed by hash.
func (m *Sim) routineEvents(lo, hiT time.Time) []investigate.Change {
	const slot = 15 * time.Minute
	cat := m.routine()
	var out []investigate.Change
	for s := lo.Truncate(slot); s.Before(hiT); s = s.Add(slot) {
		k := m.key("cloudtrail", strconv.FormatInt(s.Unix(), 10))
		n := 1 + int(k%3)/2
		for j := 0; j < n; j++ {
			h := hi(k, int64(j))
			t := s.Add(time.Duration(unit(h) * float64(slot))).Truncate(time.Second)
			if t.Before(lo) || !t.Before(hiT) || t.Before(m.sc.Start()) {
				continue
			}
			e := cat[int(mix64(h)%uint64(len(cat)))]
			out = append(out, investigate.Change{
				ID:       uuid(mix64(h^1), mix64(h^2)),
				Time:     t,
				Event:    e.event,
				Source:   e.source,
				Resource: e.resource,
				Actor:    e.actor,
				ReadOnly: true,
			})
		}
	}
	return out
}

// Health returns the scenario's AWS Health events that overlap [start, end)
// and have begun and been posted by Now.
func (m *Sim) Health(ctx context.Context, start, end time.Time) ([]investigate.HealthEvent, error) {
	if err := m.call(ctx, KindHealth); err != nil {
		return nil, err
	}
	lo, hiT, ok := m.clipEvents(start, end)
	out := []investigate.HealthEvent{}
	if !ok {
		return out, nil
	}
	for i, h := range m.sc.Health {
		at, until := h.At, h.Until
		if at.IsZero() {
			at = m.sc.Start()
		}
		if until.IsZero() {
			until = m.sc.End()
		}
		posted := h.PostedAt
		if posted.IsZero() {
			posted = at
		}
		// AWS Health lists an event once it is posted, dated from the
		// start it gives.
		if !at.Before(hiT) || !until.After(lo) || posted.After(m.now) {
			continue
		}
		k := m.key("health", strconv.Itoa(i))
		ev := investigate.HealthEvent{
			ARN:         fmt.Sprintf("arn:aws:health:%s::event/%s/%s/%s_%s", m.sc.Region, h.Service, h.Type, h.Type, strings.ToUpper(hex(k, 8))),
			Service:     h.Service,
			Type:        h.Type,
			Status:      h.Status,
			Start:       at,
			Region:      m.sc.Region,
			AZ:          h.AZ,
			Resources:   append([]string(nil), h.Resources...),
			Description: h.Description,
			Posted:      posted,
		}
		if until.Before(m.sc.End()) && !until.After(m.now) {
			ev.End = until
		}
		out = append(out, ev)
	}
	return out, nil
}

// Quotas returns the scenario's quotas on the given resources.
func (m *Sim) Quotas(ctx context.Context, resources []investigate.Resource) ([]investigate.Quota, error) {
	if err := m.call(ctx, KindQuotas); err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, r := range resources {
		ids[r.ID] = true
	}
	out := []investigate.Quota{}
	for _, q := range m.sc.Quotas {
		if ids[q.Resource] {
			out = append(out, investigate.Quota{Resource: q.Resource, Service: q.Service, Code: q.Code, Name: q.Name, Value: q.Value})
		}
	}
	return out, nil
}
