package investigate

import "context"

// A latency's average hides a slow tail: when one call in fifty waits on a
// slow shard or a timeout, the average barely moves while p99 jumps. Where
// CloudWatch publishes a latency's percentiles (from the raw values it
// receives), the engine reads its p99 beside the average and judges the
// latency on it; where it does not (a source that has no percentiles, a
// series published as statistic sets) the average stands.

// tailStat is the percentile the engine reads latencies at.
const tailStat = "p99"

// tails are the latency metrics whose percentiles AWS publishes.
var tails = map[string]bool{
	"AWS/ApplicationELB TargetResponseTime": true,
	"AWS/ApiGateway Latency":                true,
	"AWS/ApiGateway IntegrationLatency":     true,
	"AWS/Lambda Duration":                   true,
}

// hasTail reports whether the engine asks for a metric's p99.
func hasTail(s metricSpec) bool {
	return s.Role == roleLatency && tails[s.Namespace+" "+s.Name]
}

// tailSpec is a latency's p99: its query and its key in the metrics read
// are its own.
func tailSpec(s metricSpec) metricSpec {
	s.Stat = tailStat
	return s
}

// tailKey is the query id of a resource's metric at its p99.
func tailKey(resource string, s metricSpec) string {
	return metricKey(resource, s) + "|" + tailStat
}

// tailSeries is a resource's latency at p99, where it was read and has
// readings both before the onset and since: the spec it returns says p99.
func (r *run) tailSeries(ctx context.Context, resource string, s metricSpec) (Series, metricSpec, bool) {
	if !hasTail(s) || r.tailMetrics == nil {
		return Series{}, s, false
	}
	all, ok := get(ctx, r, "metrics "+tailStat, r.tailMetrics)
	if !ok {
		return Series{}, s, false
	}
	ser, ok := all[tailKey(resource, s)]
	if !ok || len(ser.values(r.metricBaseline())) == 0 || len(ser.values(r.metricDuring())) == 0 {
		return Series{}, s, false
	}
	return ser, tailSpec(s), true
}
