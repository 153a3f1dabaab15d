package awstelemetry

import (
	"context"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/unstuck/unstuck/investigate"
)

// Alarm reads an alarm's definition and state history. A composite alarm
// is described by its first child metric alarm in ALARM (the first child
// when none is); a metric-math alarm by the first metric its expression
// uses. Alarm.Resource is the id of the resource behind the metric's
// dimensions.
func (s *Session) Alarm(ctx context.Context, name string) (a investigate.Alarm, err error) {
	defer recoverTo(&err, "cloudwatch alarm")
	ctx = s.ctx(ctx)
	out, err := s.c.api.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{
		AlarmNames: []string{name},
		AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm},
	})
	if err != nil {
		return a, wrap("cloudwatch describe alarms", err)
	}
	a.Name = name
	var (
		metric      *cwtypes.MetricAlarm
		transitions *time.Time // when the alarm last changed state
		reason      string
	)
	switch {
	case len(out.MetricAlarms) > 0:
		m := out.MetricAlarms[0]
		metric = &m
		a.State = string(m.StateValue)
		a.Region, a.Account = arnRegionAccount(aws.ToString(m.AlarmArn))
		transitions, reason = m.StateTransitionedTimestamp, aws.ToString(m.StateReason)
	case len(out.CompositeAlarms) > 0:
		ca := out.CompositeAlarms[0]
		a.State = string(ca.StateValue)
		a.Region, a.Account = arnRegionAccount(aws.ToString(ca.AlarmArn))
		transitions, reason = ca.StateTransitionedTimestamp, aws.ToString(ca.StateReason)
		metric, err = s.compositeChild(ctx, aws.ToString(ca.AlarmRule), 0)
		if err != nil {
			return a, err
		}
	default:
		return a, &investigate.NotFoundError{Kind: "alarm", Name: name, Candidates: s.alarmCandidates(ctx, name), Region: s.c.region, Account: s.c.accountID(ctx)}
	}
	if metric != nil {
		describeMetricAlarm(&a, metric)
	}
	if a.Region == "" {
		a.Region = s.c.region
	}
	// "AlarmTypes: Use this parameter to specify whether you want the
	// operation to return metric alarms or composite alarms. If you omit
	// this parameter, only metric alarms are returned." (DescribeAlarmHistory,
	// CloudWatch API reference)
	hist, err := s.c.api.cw.DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{
		AlarmName:       aws.String(name),
		AlarmTypes:      []cwtypes.AlarmType{cwtypes.AlarmTypeCompositeAlarm, cwtypes.AlarmTypeMetricAlarm},
		HistoryItemType: cwtypes.HistoryItemTypeStateUpdate,
		ScanBy:          cwtypes.ScanByTimestampDescending,
		MaxRecords:      aws.Int32(100),
	})
	if err != nil {
		// The definition is what the investigation needs; the history
		// only dates the onset, so its failure is a problem, not an error.
		s.addProblems(wrap("cloudwatch describe alarm history", err))
	} else {
		a.History = parseAlarmHistory(hist.AlarmHistoryItems)
	}
	a.History = withLastTransition(a.History, a.State, transitions, reason)
	return a, nil
}

// withLastTransition adds the alarm's last state change, as DescribeAlarms
// dates it (StateTransitionedTimestamp: "The date and the time that the
// alarm's StateValue most recently changed"), to a history that lacks it:
// the history failed, is empty, or its newest items fell out of the page.
// Without it an alarm in ALARM would have no fire time, and the
// investigation would take the present for one.
func withLastTransition(h []investigate.AlarmStateChange, state string, at *time.Time, reason string) []investigate.AlarmStateChange {
	if at == nil || at.IsZero() || state == "" {
		return h
	}
	for _, ch := range h {
		if ch.To == state && !ch.Time.Before(at.Add(-time.Minute)) {
			return h
		}
	}
	from := ""
	for _, ch := range h {
		if !ch.Time.After(*at) {
			from = ch.To
		}
	}
	h = append(h, investigate.AlarmStateChange{Time: *at, From: from, To: state, Reason: reason})
	sort.SliceStable(h, func(i, j int) bool { return h[i].Time.Before(h[j].Time) })
	return h
}

// describeMetricAlarm fills the metric, statistic, period, threshold and
// resource from a metric alarm.
func describeMetricAlarm(a *investigate.Alarm, m *cwtypes.MetricAlarm) {
	a.Threshold = aws.ToFloat64(m.Threshold)
	a.Comparison = string(m.ComparisonOperator)
	if m.MetricName != nil {
		a.Metric = investigate.Metric{
			Namespace: aws.ToString(m.Namespace),
			Name:      aws.ToString(m.MetricName),
			Dims:      dimsMap(m.Dimensions),
		}
		a.Stat = string(m.Statistic)
		if m.ExtendedStatistic != nil {
			a.Stat = *m.ExtendedStatistic
		}
		a.Period = time.Duration(aws.ToInt32(m.Period)) * time.Second
	} else if len(m.Metrics) > 0 {
		metrics, stat, period := mathAlarmMetrics(m.Metrics, aws.ToString(m.ThresholdMetricId))
		if len(metrics) > 0 {
			a.Metric = metrics[0]
			a.Stat = stat
			a.Period = period
		}
		for _, mm := range metrics {
			if id, _ := resourceFromDims(mm.Dims); id != "" {
				a.Resource = id
				break
			}
		}
	}
	if a.Resource == "" {
		a.Resource, _ = resourceFromDims(a.Metric.Dims)
	}
}

var alarmRuleRef = regexp.MustCompile(`(?i)\b(?:ALARM|OK|INSUFFICIENT_DATA)\(\s*("(?:[^"\\]|\\.)*"|[^)\s]+)\s*\)`)

// compositeRuleChildren returns the alarms a composite alarm's rule names,
// in the rule's order, without duplicates.
func compositeRuleChildren(rule string) []string {
	var names []string
	seen := map[string]bool{}
	for _, m := range alarmRuleRef.FindAllStringSubmatch(rule, -1) {
		n := strings.Trim(m[1], `"`)
		n = strings.ReplaceAll(n, `\"`, `"`)
		if i := strings.Index(n, ":alarm:"); strings.HasPrefix(n, "arn:") && i >= 0 {
			n = n[i+len(":alarm:"):]
		}
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		names = append(names, n)
	}
	return names
}

// compositeChild picks the child metric alarm that describes a composite:
// the first in ALARM, else the first; composite children are followed a
// few levels deep.
func (s *Session) compositeChild(ctx context.Context, rule string, depth int) (*cwtypes.MetricAlarm, error) {
	names := compositeRuleChildren(rule)
	if len(names) == 0 || depth > 3 {
		return nil, nil
	}
	if len(names) > 100 {
		names = names[:100]
	}
	out, err := s.c.api.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{
		AlarmNames: names,
		AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm},
	})
	if err != nil {
		return nil, wrap("cloudwatch describe alarms (composite children)", err)
	}
	metrics := map[string]cwtypes.MetricAlarm{}
	for _, m := range out.MetricAlarms {
		metrics[aws.ToString(m.AlarmName)] = m
	}
	composites := map[string]cwtypes.CompositeAlarm{}
	for _, c := range out.CompositeAlarms {
		composites[aws.ToString(c.AlarmName)] = c
	}
	for _, want := range []bool{true, false} {
		for _, n := range names {
			if m, ok := metrics[n]; ok && (!want || m.StateValue == cwtypes.StateValueAlarm) {
				return &m, nil
			}
		}
		for _, n := range names {
			if c, ok := composites[n]; ok && (!want || c.StateValue == cwtypes.StateValueAlarm) {
				if m, err := s.compositeChild(ctx, aws.ToString(c.AlarmRule), depth+1); err != nil || m != nil {
					return m, err
				}
			}
		}
	}
	return nil, nil
}

var (
	exprIdent   = regexp.MustCompile(`[a-z][a-zA-Z0-9_]*`)
	insightsNS  = regexp.MustCompile(`(?i)\bFROM\s+(?:SCHEMA\(\s*)?"?([A-Za-z0-9/_.:-]+)"?`)
	insightsAgg = regexp.MustCompile(`(?i)\bSELECT\s+[A-Z]+\(\s*"?([A-Za-z0-9_.:-]+)"?\s*\)`)
)

// mathAlarmMetrics resolves a metric-math alarm to the metrics its
// expression uses, in query order, with the first one's stat and period.
func mathAlarmMetrics(queries []cwtypes.MetricDataQuery, thresholdID string) ([]investigate.Metric, string, time.Duration) {
	byID := map[string]cwtypes.MetricDataQuery{}
	for _, q := range queries {
		byID[aws.ToString(q.Id)] = q
	}
	var root *cwtypes.MetricDataQuery
	for i, q := range queries {
		if aws.ToBool(q.ReturnData) && aws.ToString(q.Id) != thresholdID {
			root = &queries[i]
			break
		}
	}
	if root == nil {
		root = &queries[0]
	}
	used := map[string]bool{}
	var walk func(q cwtypes.MetricDataQuery, depth int)
	walk = func(q cwtypes.MetricDataQuery, depth int) {
		id := aws.ToString(q.Id)
		if used[id] || depth > 10 {
			return
		}
		used[id] = true
		expr := aws.ToString(q.Expression)
		if expr == "" {
			return
		}
		if strings.Contains(strings.ToUpper(expr), "METRICS(") {
			for _, o := range queries {
				if aws.ToString(o.Id) != thresholdID {
					walk(o, depth+1)
				}
			}
		}
		for _, tok := range exprIdent.FindAllString(expr, -1) {
			if o, ok := byID[tok]; ok && tok != thresholdID {
				walk(o, depth+1)
			}
		}
	}
	walk(*root, 0)
	var (
		metrics []investigate.Metric
		stat    string
		period  time.Duration
	)
	for _, q := range queries {
		if !used[aws.ToString(q.Id)] || q.MetricStat == nil || q.MetricStat.Metric == nil {
			continue
		}
		ms := q.MetricStat
		if len(metrics) == 0 {
			stat = aws.ToString(ms.Stat)
			period = time.Duration(aws.ToInt32(ms.Period)) * time.Second
		}
		metrics = append(metrics, investigate.Metric{
			Namespace: aws.ToString(ms.Metric.Namespace),
			Name:      aws.ToString(ms.Metric.MetricName),
			Dims:      dimsMap(ms.Metric.Dimensions),
		})
	}
	if len(metrics) == 0 {
		// A Metrics Insights query: name what it selects.
		expr := aws.ToString(root.Expression)
		m := investigate.Metric{}
		if g := insightsNS.FindStringSubmatch(expr); g != nil {
			m.Namespace = g[1]
		}
		if g := insightsAgg.FindStringSubmatch(expr); g != nil {
			m.Name = g[1]
		}
		if m.Name != "" {
			metrics = append(metrics, m)
			period = time.Duration(aws.ToInt32(root.Period)) * time.Second
		}
	}
	return metrics, stat, period
}

func dimsMap(dims []cwtypes.Dimension) map[string]string {
	if len(dims) == 0 {
		return nil
	}
	m := make(map[string]string, len(dims))
	for _, d := range dims {
		m[aws.ToString(d.Name)] = aws.ToString(d.Value)
	}
	return m
}

// resourceFromDims names the resource a metric's dimensions point at, and
// its type, as the topology names it.
func resourceFromDims(d map[string]string) (id string, typ investigate.ResourceType) {
	if v := d["LoadBalancer"]; v != "" {
		return lbNameFromDim(v), investigate.TypeALB
	}
	if v := d["InstanceId"]; v != "" {
		return v, investigate.TypeEC2
	}
	if v := d["FunctionName"]; v != "" {
		return v, investigate.TypeLambda
	}
	if v := d["TableName"]; v != "" {
		return v, investigate.TypeDynamoDB
	}
	if v := d["DBInstanceIdentifier"]; v != "" {
		return v, investigate.TypeRDS
	}
	if v := d["QueueName"]; v != "" {
		return v, investigate.TypeSQS
	}
	if v := d["ApiName"]; v != "" {
		return v, investigate.TypeAPIGateway
	}
	if v := d["ServiceName"]; v != "" && d["ClusterName"] != "" {
		return v, investigate.TypeECS
	}
	if v := d["AutoScalingGroupName"]; v != "" {
		return v, investigate.TypeASG
	}
	if v := d["NatGatewayId"]; v != "" {
		return v, investigate.TypeNATGateway
	}
	if v := d["VolumeId"]; v != "" {
		return v, investigate.TypeEBS
	}
	if v := d["CacheClusterId"]; v != "" {
		return v, investigate.TypeElastiCache
	}
	if v := d["DBClusterIdentifier"]; v != "" {
		return v, investigate.TypeAurora
	}
	if v := d["TopicName"]; v != "" {
		return v, investigate.TypeSNS
	}
	if v := d["StateMachineArn"]; v != "" {
		return stateMachineName(v), investigate.TypeStepFunctions
	}
	return "", ""
}

// lbNameFromDim turns a LoadBalancer dimension ("app/NAME/ID") or ARN into
// the load balancer's name.
func lbNameFromDim(v string) string {
	if i := strings.Index(v, ":loadbalancer/"); i >= 0 {
		v = v[i+len(":loadbalancer/"):]
	}
	parts := strings.Split(v, "/")
	if len(parts) == 3 {
		return parts[1]
	}
	return v
}

// arnRegionAccount returns an ARN's region and account.
func arnRegionAccount(arn string) (region, account string) {
	p := strings.SplitN(arn, ":", 6)
	if len(p) < 6 {
		return "", ""
	}
	return p[3], p[4]
}

// alarmHistoryData is the JSON in a StateUpdate history item.
type alarmHistoryData struct {
	OldState struct {
		StateValue  string `json:"stateValue"`
		StateReason string `json:"stateReason"`
	} `json:"oldState"`
	NewState struct {
		StateValue  string `json:"stateValue"`
		StateReason string `json:"stateReason"`
	} `json:"newState"`
}

var historySummary = regexp.MustCompile(`from (\w+) to (\w+)`)

// parseAlarmHistory turns state-update items (any order) into transitions,
// oldest first.
func parseAlarmHistory(items []cwtypes.AlarmHistoryItem) []investigate.AlarmStateChange {
	var out []investigate.AlarmStateChange
	for _, it := range items {
		if it.HistoryItemType != "" && it.HistoryItemType != cwtypes.HistoryItemTypeStateUpdate {
			continue
		}
		ch := investigate.AlarmStateChange{Time: aws.ToTime(it.Timestamp)}
		var d alarmHistoryData
		if json.Unmarshal([]byte(aws.ToString(it.HistoryData)), &d) == nil && d.NewState.StateValue != "" {
			ch.From, ch.To, ch.Reason = d.OldState.StateValue, d.NewState.StateValue, d.NewState.StateReason
		} else if m := historySummary.FindStringSubmatch(aws.ToString(it.HistorySummary)); m != nil {
			ch.From, ch.To = m[1], m[2]
		} else {
			continue
		}
		out = append(out, ch)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// alarmCandidates lists up to five alarm names close to name, for the
// not-found message. Failures leave it empty.
func (s *Session) alarmCandidates(ctx context.Context, name string) []string {
	prefix := name
	if i := strings.IndexAny(name, "-_ ./"); i > 0 {
		prefix = name[:i]
	}
	if len(prefix) > 3 {
		prefix = prefix[:3]
	}
	out, err := s.c.api.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{
		AlarmNamePrefix: aws.String(prefix),
		AlarmTypes:      []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm},
		MaxRecords:      aws.Int32(100),
	})
	if err != nil {
		return nil
	}
	var names []string
	for _, m := range out.MetricAlarms {
		names = append(names, aws.ToString(m.AlarmName))
	}
	for _, c := range out.CompositeAlarms {
		names = append(names, aws.ToString(c.AlarmName))
	}
	return investigate.ClosestNames(name, names, 5)
}
