package investigate

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// fireTime is when the alarm last went into ALARM at or before now, or now.
// Sources may list the history newest or oldest first.
func (r *run) fireTime() time.Time {
	var fire time.Time
	for _, h := range r.alarmDef.History {
		if strings.EqualFold(h.To, "ALARM") && !h.Time.After(r.now) && h.Time.After(fire) {
			fire = h.Time
		}
	}
	if fire.IsZero() {
		return r.now
	}
	return fire
}

// alarmFalls reports whether the alarm fires when its metric falls.
func (r *run) alarmFalls() bool {
	return strings.HasPrefix(r.alarmDef.Comparison, "LessThan")
}

// findOnset finds when the alarm's signal left its normal range: a
// change-point on the alarm's own series, not the alarm's fire time.
func (r *run) findOnset(ctx context.Context) []*finding {
	fire := r.fireTime()
	r.onset = fire.Add(-r.step)
	series, ok := get(ctx, r, "metrics", r.alarmSeries)
	if !ok || len(series) == 0 || len(series[0].Values) == 0 {
		return nil
	}
	s := series[0]
	// Coarser data than the alarm's period (a high-resolution alarm read
	// past CloudWatch's three hours of sub-minute data) is searched at its
	// own period.
	step := max(r.step, s.Period)
	onset, before, during, found := onsetOf(s, fire, step, r.alarmDef.Threshold, r.alarmFalls(), isCount(r.symptom))
	if !found {
		return []*finding{{
			Finding: Finding{
				Kind: FindingOnset, Check: CheckOnset, Resource: r.alarmDef.Resource, Time: fire,
				Summary: fmt.Sprintf("%s did not leave its normal range before the alarm fired at %s; the fire time stands for the onset",
					r.alarmDef.Metric.Name, Clock(fire)),
			},
			weight: 0.1,
		}}
	}
	r.onset, r.onsetFound = onset, true
	f := &finding{
		Finding: Finding{
			Kind: FindingOnset, Check: CheckOnset, Resource: r.alarmDef.Resource, Time: onset,
			Summary: fmt.Sprintf("%s on %s left its normal range at %s: %s before, %s after; the alarm fired at %s",
				r.alarmDef.Metric.Name, r.alarmDef.Resource, Clock(onset),
				num(before), num(during), Clock(fire)),
			Before: ptr(before), During: ptr(during), Unit: r.symptom.Unit,
		},
		weight: 1,
	}
	return []*finding{f}
}

// onsetOf finds the onset in an alarm's series: the departure from the range
// of its earlier part, up to the fire time. The threshold sets a floor on
// what counts as a departure, so that noise far below it does not.
func onsetOf(s Series, fire time.Time, step time.Duration, threshold float64, falls, count bool) (onset time.Time, before, during float64, found bool) {
	if len(s.Times) == 0 {
		return time.Time{}, 0, 0, false
	}
	first := s.Times[0]
	span := fire.Sub(first)
	reference := window{first, first.Add(span * 6 / 10)}
	search := window{first, fire.Add(step)}
	ref := s.values(reference)
	m := median(ref)
	up := 1
	if falls {
		up = -1
	}
	floor := 0.25 * (threshold - m) * float64(up)
	if floor <= 0 {
		floor = 1e-9
	}
	spread := robustSpread(ref)
	if count {
		spread = countSpread(spread, m)
	}
	onset, last, found := departure(s, reference, search, up, floor, count)
	// The alarm fires now: a run that ended well before the fire time is an
	// old blip, not the onset of what pages. What pages may be a smaller
	// rise that is still on: the run of points beyond the weak margin that
	// reaches the fire time.
	if !found || last.Before(fire.Add(-2*step)) {
		onset, found = currentRun(s, search, m, math.Max(2.5*spread, floor/4), up, fire.Add(-2*step))
	}
	if !found {
		return time.Time{}, 0, 0, false
	}
	before = mean(s.values(window{onset.Add(-time.Hour), onset}))
	during = mean(s.values(window{onset, fire.Add(step)}))
	return onset, before, during, true
}

// currentRun is the first point of the run of points beyond margin from m
// (in the direction up) that ends with the newest point of w, when that
// point is at or after since.
func currentRun(s Series, w window, m, margin float64, up int, since time.Time) (time.Time, bool) {
	idx := s.indexIn(w)
	first := -1
	for j := len(idx) - 1; j >= 0; j-- {
		if float64(up)*(s.Values[idx[j]]-m) <= margin {
			break
		}
		first = j
	}
	if first < 0 || s.Times[idx[len(idx)-1]].Before(since) {
		return time.Time{}, false
	}
	return s.Times[idx[first]], true
}

func ptr(f float64) *float64 { return &f }

// num prints a measurement briefly: integers plainly, small values with two
// significant decimals.
func num(f float64) string {
	switch {
	case f == 0:
		return "0"
	case f >= 100 || f <= -100:
		return fmt.Sprintf("%.0f", f)
	case f >= 1 || f <= -1:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", f), "0"), ".")
	default:
		return fmt.Sprintf("%.2g", f)
	}
}
