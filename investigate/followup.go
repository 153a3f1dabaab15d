package investigate

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// This file is what a follow-up question about an investigation needs,
// whoever answers it (the Slack intents or a model's tools): the
// investigation's topology, one rule for the resource a name means, the
// window it reads, and a series summarised before and since the onset.

// FollowUpQuerier is what a follow-up answer reads: the engine's own
// queries. *Querier is one. The Slack intents and a model's tools both ask
// through it; it is declared here, beside the one implementation, because
// neither consumer may import the other.
type FollowUpQuerier interface {
	Changes(ctx context.Context, resource *Resource, start, end time.Time) ([]Change, error)
	Metric(ctx context.Context, r Resource, name string, start, end time.Time, period time.Duration) (Series, error)
	Logs(ctx context.Context, group string, start, end time.Time) (LogStats, error)
	Traces(ctx context.Context, id string, start, end time.Time) ([]TraceGroup, error)
	TopologySource
}

var _ FollowUpQuerier = (*Querier)(nil)

// maxKeptResources bounds the topology a report keeps: a larger one is not
// kept (follow-ups read it again), so that a stored investigation stays
// well within a DynamoDB item's 400 KB. A thousand instances with their
// ids, ARNs, dimensions, log groups and two relations each are about
// 350 KB of JSON, 40 KB gzipped as the DynamoDB store keeps it.
const maxKeptResources = 1000

// keptTopology is the part of a topology that follow-ups read, as a report
// keeps it: every resource and relation, without the resources' tags and
// settings (Config), which only the checks read. It is nil when the
// topology is too large to keep.
func keptTopology(t Topology) *Topology {
	if len(t.Resources) > maxKeptResources {
		return nil
	}
	kept := Topology{Resources: make([]Resource, len(t.Resources)), Relations: slices.Clone(t.Relations)}
	for i, r := range t.Resources {
		r.Tags, r.Config = nil, nil
		kept.Resources[i] = r
	}
	return &kept
}

// FollowUpTopology returns the topology a follow-up reads: the one the
// report kept, else (no report yet, one stored before reports kept it, or
// one too large to keep) the one src reads around the alarm.
func FollowUpTopology(ctx context.Context, src TopologySource, rep *Report, alarm Alarm) (Topology, error) {
	if rep != nil && rep.Topology != nil {
		return *rep.Topology, nil
	}
	if src == nil {
		return Topology{}, fmt.Errorf("topology: %w", ErrNoSource)
	}
	t, err := src.Topology(ctx, alarm)
	if err != nil {
		return Topology{}, fmt.Errorf("topology: %w", err)
	}
	return t, nil
}

// UnknownResourceError is a reference that names no resource of a
// topology, or several.
type UnknownResourceError struct {
	Ref string
	// Ambiguous is true when Ref is part of the id or name of several
	// resources.
	Ambiguous bool
	// Closest are resource ids to suggest: those closest to Ref, or with
	// Ambiguous those it is part of, closest first.
	Closest []string
}

func (e *UnknownResourceError) Error() string {
	if e.Ambiguous {
		return fmt.Sprintf("%q could be any of the resources %s in scope; name one", e.Ref, strings.Join(e.Closest, ", "))
	}
	if len(e.Closest) == 0 {
		return fmt.Sprintf("no resource %q in scope", e.Ref)
	}
	return fmt.Sprintf("no resource %q in scope; the closest: %s", e.Ref, strings.Join(e.Closest, ", "))
}

// closestResources is how many names an UnknownResourceError suggests.
const closestResources = 8

// Resolve returns the resource a reference names: the one whose id, name
// or ARN it is (as Find), else the one whose id or name it is in any case,
// else the only one whose id or name contains it in any case. A reference
// that names none, or is part of several, is an *UnknownResourceError with
// the closest ids.
func (t Topology) Resolve(ref string) (Resource, error) {
	if r, ok := t.Find(ref); ok {
		return r, nil
	}
	low := strings.ToLower(strings.TrimSpace(ref))
	for _, r := range t.Resources {
		if strings.ToLower(r.ID) == low || (r.Name != "" && strings.ToLower(r.Name) == low) {
			return r, nil
		}
	}
	var hits []string
	if low != "" {
		for _, r := range t.Resources {
			if strings.Contains(strings.ToLower(r.ID), low) || (r.Name != "" && strings.Contains(strings.ToLower(r.Name), low)) {
				hits = append(hits, r.ID)
			}
		}
	}
	if len(hits) == 1 {
		r, _ := t.Find(hits[0])
		return r, nil
	}
	if len(hits) > 1 {
		return Resource{}, &UnknownResourceError{Ref: ref, Ambiguous: true, Closest: ClosestNames(low, hits, closestResources)}
	}
	ids := make([]string, 0, len(t.Resources))
	for _, r := range t.Resources {
		ids = append(ids, r.ID)
	}
	return Resource{}, &UnknownResourceError{Ref: ref, Closest: ClosestNames(low, ids, closestResources)}
}

// LogGroupsOf returns the log groups of a resource and of what runs on it
// or what it runs on, its own first.
func (t Topology) LogGroupsOf(r Resource) []string {
	var groups []string
	add := func(g string) {
		if g != "" && !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	add(r.LogGroup)
	for _, x := range t.Relations {
		if x.Kind != RelRunsOn {
			continue
		}
		if x.To == r.ID {
			if s, ok := t.Find(x.From); ok {
				add(s.LogGroup)
			}
		}
		if x.From == r.ID {
			if h, ok := t.Find(x.To); ok {
				add(h.LogGroup)
			}
		}
	}
	return groups
}

// Follow-up windows.
const (
	// assumedOnset is how long before the end of the window a follow-up
	// takes the onset to be when the report found none (or there is no
	// report yet).
	assumedOnset = 10 * time.Minute
	// readPast is how far past the end of the window a follow-up reads, so
	// that the period stamped at the end is in.
	readPast = time.Minute
)

// FollowUpWindow is the stretch of telemetry a follow-up reads: the
// investigation's window, split at the onset.
type FollowUpWindow struct {
	Start, Onset, End time.Time
	// OnsetAssumed is true when Onset is not the report's (it found none,
	// or there is no report yet) but ten minutes before End.
	OnsetAssumed bool
}

// NewFollowUpWindow returns the window a follow-up about an investigation
// reads: its report's window and onset; before the report is done, the
// window its request asked for, lookback (the engine's default when not
// positive) up to now.
func NewFollowUpWindow(rep *Report, now time.Time, lookback time.Duration) FollowUpWindow {
	var w FollowUpWindow
	if rep != nil {
		w = FollowUpWindow{Start: rep.Scope.Start, Onset: rep.Onset, End: rep.Scope.End}
	} else {
		if lookback <= 0 {
			lookback = defaultLookback
		}
		w = FollowUpWindow{Start: now.Add(-lookback), End: now}
	}
	if w.Onset.IsZero() || w.Onset.Before(w.Start) || w.Onset.After(w.End) {
		w.Onset, w.OnsetAssumed = w.End.Add(-assumedOnset), true
		if w.Onset.Before(w.Start) {
			w.Onset = w.Start
		}
	}
	return w
}

// Before is the range before the onset: [Start, Onset).
func (w FollowUpWindow) Before() (start, end time.Time) { return w.Start, w.Onset }

// During is the range since the onset, including the period stamped at
// End.
func (w FollowUpWindow) During() (start, end time.Time) { return w.Onset, w.End.Add(readPast) }

// All is the whole window, including the period stamped at End.
func (w FollowUpWindow) All() (start, end time.Time) { return w.Start, w.End.Add(readPast) }

// SeriesStats are the points of a series in a range, in a few numbers;
// with no points the numbers are NaN.
type SeriesStats struct {
	Points               int
	Min, Max, Mean, Last float64
}

// StatsIn summarises the points of s in [start, end).
func StatsIn(s Series, start, end time.Time) SeriesStats {
	st := SeriesStats{Min: math.Inf(1), Max: math.Inf(-1)}
	sum := 0.0
	for i, t := range s.Times {
		if i >= len(s.Values) || t.Before(start) || !t.Before(end) {
			continue
		}
		v := s.Values[i]
		st.Points++
		st.Min, st.Max, sum, st.Last = math.Min(st.Min, v), math.Max(st.Max, v), sum+v, v
	}
	if st.Points == 0 {
		nan := math.NaN()
		return SeriesStats{Min: nan, Max: nan, Mean: nan, Last: nan}
	}
	st.Mean = sum / float64(st.Points)
	return st
}

// SeriesSummary is a series before and since the onset of a follow-up's
// window.
type SeriesSummary struct {
	Before, During SeriesStats
}

// SummarizeSeries summarises s before and since the window's onset.
func SummarizeSeries(s Series, w FollowUpWindow) SeriesSummary {
	bs, be := w.Before()
	ds, de := w.During()
	return SeriesSummary{Before: StatsIn(s, bs, be), During: StatsIn(s, ds, de)}
}

// Changed reports a shift of the mean worth pointing out: by at least half
// again and at least 1, or from nothing to something.
func (s SeriesSummary) Changed() bool {
	before, during := s.Before.Mean, s.During.Mean
	if math.IsNaN(before) || math.IsNaN(during) {
		return false
	}
	diff := math.Abs(during - before)
	base := math.Max(math.Abs(before), 1e-9)
	return diff/base >= 0.5 && diff >= 1
}

// FormatNumber writes a measured value for people and models alike: whole
// from 100, one decimal from 1, three significant digits below, "–" for
// NaN.
func FormatNumber(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
