package investigate

import (
	"math"
	"sort"
	"time"
)

// window is a half-open time interval [start, end).
type window struct {
	start, end time.Time
}

func (w window) contains(t time.Time) bool {
	return !t.Before(w.start) && t.Before(w.end)
}

// values returns the series' values inside w.
func (s Series) values(w window) []float64 {
	var out []float64
	// A source may hand back NaN or infinities; they are no reading.
	for _, i := range s.indexIn(w) {
		out = append(out, s.Values[i])
	}
	return out
}

// indexIn returns the indexes of the series' readings inside w.
func (s Series) indexIn(w window) []int {
	var idx []int
	for i, t := range s.Times {
		if i < len(s.Values) && w.contains(t) && !math.IsNaN(s.Values[i]) && !math.IsInf(s.Values[i], 0) {
			idx = append(idx, i)
		}
	}
	return idx
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

func maxOf(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		m = math.Max(m, x)
	}
	if math.IsInf(m, -1) {
		return 0
	}
	return m
}

func minOf(xs []float64) float64 {
	m := math.Inf(1)
	for _, x := range xs {
		m = math.Min(m, x)
	}
	if math.IsInf(m, 1) {
		return 0
	}
	return m
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// robustSpread is the median absolute deviation scaled to a normal
// distribution's standard deviation; it ignores the outliers an incident adds
// to a baseline.
func robustSpread(xs []float64) float64 {
	m := median(xs)
	dev := make([]float64, len(xs))
	for i, x := range xs {
		dev[i] = math.Abs(x - m)
	}
	return 1.4826 * median(dev)
}

// departure finds when a series left its normal range in one direction
// (up > 0: it rose; up < 0: it fell) before or at the end of the series.
//
// The normal range is the median and robust spread of reference; a point is
// abnormal when it lies beyond max(k·spread, floor) from the median. The
// departure is the first point of the last run of abnormal points (gaps of one
// point allowed), extended back over a ramp while points stay beyond a
// smaller margin. end is the run's last abnormal point. found is false when
// no point in w is abnormal.
//
// count says the series counts events per period, whose noise is Poisson
// (see noiseOf): a count of 2 against a usual 0 or 1 is no departure. On
// coarse data (5-minute periods and longer) one normal point inside a run
// ends it: there a single noisy point would move the onset by a whole
// period.
func departure(s Series, reference, w window, up int, floor float64, count bool) (t, end time.Time, found bool) {
	ref := s.values(reference)
	if len(ref) == 0 {
		return time.Time{}, time.Time{}, false
	}
	m := median(ref)
	spread := robustSpread(ref)
	if count {
		spread = countSpread(spread, m)
	}
	coarse := spacing(s) >= 5*time.Minute
	strong := math.Max(5*spread, floor)
	weak := math.Max(2.5*spread, floor/4)
	beyond := func(x, margin float64) bool {
		if up >= 0 {
			return x-m > margin
		}
		return m-x > margin
	}
	idx := s.indexIn(w)
	// Walk back from the newest point to the last abnormal run.
	last := -1
	for j := len(idx) - 1; j >= 0; j-- {
		if beyond(s.Values[idx[j]], strong) {
			last = j
			break
		}
	}
	if last < 0 {
		return time.Time{}, time.Time{}, false
	}
	first := last
	for j := last - 1; j >= 0; j-- {
		if beyond(s.Values[idx[j]], strong) {
			first = j
			continue
		}
		// One normal point inside a run is noise, not a return to normal.
		if !coarse && j > 0 && beyond(s.Values[idx[j-1]], strong) {
			continue
		}
		break
	}
	// A drift far smaller than the jump it leads into is not part of it:
	// the run starts where the signal reaches a tenth of its full jump.
	jump := 0.0
	for j := first; j <= last; j++ {
		jump = math.Max(jump, math.Abs(s.Values[idx[j]]-m))
	}
	for first < last && math.Abs(s.Values[idx[first]]-m) < 0.1*jump {
		first++
	}
	// A ramp leaves the normal range before it crosses the strong margin;
	// on coarse data only a point on the way up from the one before it
	// counts, so that one noisy point is not taken for a ramp.
	for first > 0 && beyond(s.Values[idx[first-1]], math.Max(weak, 0.1*jump)) {
		if coarse && (first < 2 || !beyond(s.Values[idx[first-1]]-s.Values[idx[first-2]]+m, weak)) {
			break
		}
		first--
	}
	// A ramp's first points are only part of the way: follow its slope back
	// to where it left the median (at most a few points).
	if !coarse && first+1 < len(idx) && first > 0 {
		v0, v1 := s.Values[idx[first]], s.Values[idx[first+1]]
		dist, slope := v0-m, v1-v0
		if up < 0 {
			dist, slope = -dist, -slope
		}
		// A step followed by noise has a tiny slope: that is no ramp.
		if back := math.Round(dist / slope); slope > 0 && dist > 0 && back <= 3 {
			first -= min(int(back), first)
		}
	}
	return s.Times[idx[first]], s.Times[idx[last]], true
}

// spacing is the median time between a series' datapoints.
func spacing(s Series) time.Duration {
	var gaps []float64
	for i := 1; i < len(s.Times); i++ {
		gaps = append(gaps, float64(s.Times[i].Sub(s.Times[i-1])))
	}
	return time.Duration(median(gaps))
}
