package investigate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Querier answers follow-up questions about an investigation from the same
// sources the engine read: what changed on a resource, a metric of a
// resource, a log group's patterns, the traced calls of an edge. The Slack
// intents and a model's tools both ask through it.
type Querier struct {
	src Sources
}

// NewQuerier returns a querier over the given sources.
func NewQuerier(src Sources) *Querier { return &Querier{src: src} }

// ErrNoSource is returned when the source a query needs is not configured.
var ErrNoSource = errors.New("source not configured")

// Changes returns the mutating changes in [start, end) that touch the
// resource (matched by id, name or ARN), newest first; all mutating changes
// when resource is nil.
func (q *Querier) Changes(ctx context.Context, resource *Resource, start, end time.Time) ([]Change, error) {
	if q.src.Changes == nil {
		return nil, fmt.Errorf("changes: %w", ErrNoSource)
	}
	all, err := q.src.Changes.Changes(ctx, start, end)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	var out []Change
	for _, c := range all {
		if c.ReadOnly || strings.HasPrefix(c.Event, "AssumeRole") {
			continue
		}
		if resource != nil && !refersTo(c.Resource, *resource) {
			continue
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

// refersTo reports whether a reference (an id, a name or an ARN) names the
// resource.
func refersTo(ref string, r Resource) bool {
	if ref == "" {
		return false
	}
	if ref == r.ID || ref == r.Name || (r.ARN != "" && ref == r.ARN) {
		return true
	}
	if strings.HasPrefix(ref, "arn:") {
		if i := strings.LastIndexAny(ref, "/:"); i >= 0 {
			last := ref[i+1:]
			return last == r.ID || last == r.Name
		}
	}
	return false
}

// MetricNames lists the metrics the engine knows for a resource type.
func MetricNames(resourceType ResourceType) []string {
	var names []string
	for _, s := range catalog[resourceType] {
		names = append(names, s.Name)
	}
	return names
}

// CatalogMetrics lists the metrics the engine knows for a resource type, by
// namespace and name (without dimensions: the resource's Dims are them).
func CatalogMetrics(resourceType ResourceType) []Metric {
	var out []Metric
	for _, s := range catalog[resourceType] {
		out = append(out, Metric{Namespace: s.Namespace, Name: s.Name})
	}
	return out
}

// Metric reads one metric of a resource by name (one of MetricNames for its
// type), in its usual statistic, over [start, end).
func (q *Querier) Metric(ctx context.Context, r Resource, name string, start, end time.Time, period time.Duration) (Series, error) {
	if q.src.Metrics == nil {
		return Series{}, fmt.Errorf("metrics: %w", ErrNoSource)
	}
	var spec *metricSpec
	for _, s := range catalog[r.Type] {
		if strings.EqualFold(s.Name, name) {
			spec = &s
			break
		}
	}
	if spec == nil {
		return Series{}, fmt.Errorf("metric %s: not one of %s for a %s", name, strings.Join(MetricNames(r.Type), ", "), r.Type)
	}
	if period <= 0 {
		period = time.Minute
	}
	id := metricKey(r.ID, *spec)
	series, err := q.src.Metrics.Metrics(ctx, []MetricQuery{{ID: id, Metric: Metric{Namespace: spec.Namespace, Name: spec.Name, Dims: r.Dims}, Stat: spec.Stat, Period: period}}, start, end)
	if err != nil {
		return Series{}, fmt.Errorf("metrics: %w", err)
	}
	for _, s := range series {
		if s.ID == id {
			return s, nil
		}
	}
	return Series{ID: id}, nil
}

// Logs summarises a log group's lines in [start, end).
func (q *Querier) Logs(ctx context.Context, group string, start, end time.Time) (LogStats, error) {
	if q.src.Logs == nil {
		return LogStats{}, fmt.Errorf("logs: %w", ErrNoSource)
	}
	st, err := q.src.Logs.Logs(ctx, LogQuery{Group: group, Start: start, End: end})
	if err != nil {
		return LogStats{}, fmt.Errorf("logs %s: %w", group, err)
	}
	return st, nil
}

// ErrorPatterns are the log patterns of a group that report failures.
func ErrorPatterns(st LogStats) []LogPattern {
	var out []LogPattern
	for _, p := range st.Patterns {
		if isErrorLine(p.Pattern) {
			out = append(out, p)
		}
	}
	return out
}

// Traces returns the traced calls in [start, end) whose caller or callee is
// the given resource id (all of them when id is empty).
func (q *Querier) Traces(ctx context.Context, id string, start, end time.Time) ([]TraceGroup, error) {
	if q.src.Traces == nil {
		return nil, fmt.Errorf("traces: %w", ErrNoSource)
	}
	groups, err := q.src.Traces.Traces(ctx, TraceQuery{Start: start, End: end})
	if err != nil {
		return nil, fmt.Errorf("traces: %w", err)
	}
	var out []TraceGroup
	for _, g := range groups {
		if id == "" || g.Caller == id || g.Callee == id || g.Instance == id {
			out = append(out, g)
		}
	}
	return out, nil
}

// Topology returns the resources around an alarm.
func (q *Querier) Topology(ctx context.Context, alarm Alarm) (Topology, error) {
	if q.src.Topology == nil {
		return Topology{}, fmt.Errorf("topology: %w", ErrNoSource)
	}
	t, err := q.src.Topology.Topology(ctx, alarm)
	if err != nil {
		return Topology{}, fmt.Errorf("topology: %w", err)
	}
	return t, nil
}

// Find returns the resource of a topology that a reference (id, name or
// ARN) names.
func (t Topology) Find(ref string) (Resource, bool) {
	for _, r := range t.Resources {
		if refersTo(ref, r) {
			return r, true
		}
	}
	return Resource{}, false
}
