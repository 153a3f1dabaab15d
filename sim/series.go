package sim

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/unstuck/unstuck/scenario"
)

// A series is one CloudWatch metric (namespace, name, dimensions) with one
// value per scenario step, in the statistic CloudWatch publishes it in (Sum
// for counts, Average for utilisation and latency, Maximum for concurrency).
// Its value at a step is its healthy level, changed by the scenario's items,
// plus noise drawn from a hash of (seed, series, step).

type noiseKind int

const (
	noiseNone    noiseKind = iota
	noisePoisson           // a count: Poisson around the level
	noiseTraffic           // a request count: the larger of Poisson and 2%
	noiseRel               // relative: sd = x * level
	noiseAbs               // absolute: sd = x
)

type noise struct {
	kind noiseKind
	x    float64
}

type sampleKind int

const (
	samplesSteps   sampleKind = iota // SampleCount is the number of steps
	samplesCount                     // a count: SampleCount is the sum
	samplesTraffic                   // a per-request average: SampleCount is the requests
)

// metricDef is the healthy form of one metric of one resource.
type metricDef struct {
	ns, name string
	dims     map[string]string // nil: the resource's default dimensions
	stat     string            // the statistic of one step
	noise    noise
	max      float64 // values are capped here (100 for a percentage); 0: none
	integer  bool
	samples  sampleKind
	// limit, when set, is a hard ceiling the healthy form and noise never
	// cross (a concurrency limit).
	limit func() float64
	// level is the healthy level at t, without noise.
	level func(t time.Time) float64
	// value, when set instead of level, is the healthy value at t computed
	// from other series (an aggregate over an Auto Scaling group's instances),
	// noise included.
	value func(t time.Time) float64
}

type series struct {
	key   string
	h     uint64
	node  *node // nil for an account-level series
	def   *metricDef
	items []*scenario.MetricItem
}

func dimsKey(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(d[k])
	}
	return b.String()
}

func seriesKey(ns, name string, dims map[string]string) string {
	return ns + "|" + name + "|" + dimsKey(dims)
}

// active says whether w covers t; a zero At or Until is the edge of
// telemetry.
func (m *Sim) active(w scenario.Window, t time.Time) bool {
	if !w.At.IsZero() && t.Before(w.At) {
		return false
	}
	if !w.Until.IsZero() && !t.Before(w.Until) {
		return false
	}
	return true
}

// rampAt is how far along its ramp w is at t, from 0 to 1.
func rampAt(w scenario.Window, t time.Time) float64 {
	if w.Ramp <= 0 {
		return 1
	}
	f := float64(t.Sub(w.At)) / float64(w.Ramp)
	return math.Max(0, math.Min(1, f))
}

// csvAt is the value of the last CSV point at or before t.
func csvAt(pts []scenario.Point, t time.Time) (float64, bool) {
	i := sort.Search(len(pts), func(i int) bool { return pts[i].Time.After(t) })
	if i == 0 {
		return 0, false
	}
	return pts[i-1].Value, true
}

// reading is a series' state at one step, before noise.
type reading struct {
	L        float64 // the level, in the statistic the series is published in
	nz       noise
	fromItem bool // an item set the level
	fromCSV  bool // a csv file set it: its percentiles are unknown
	// p90 and p99 are the percentile levels items set, zero where none
	// does: the healthy ones are L × tail(p).
	p90, p99 float64
}

// eval is the series' level at t without noise, the noise that applies, and
// whether an item set the level.
func (se *series) eval(m *Sim, t time.Time) (float64, noise, bool) {
	st := se.read(m, t)
	return st.L, st.nz, st.fromItem
}

// read is the series' state at t. Items apply in file order. An item that
// moves only percentiles (a slow tail) lifts the level by the share of
// requests its tail holds: 1% of p99's rise, 10% of p90's, so that the
// tail moves far more than the average.
func (se *series) read(m *Sim, t time.Time) reading {
	var st reading
	healthy := noise{noiseRel, 0.03}
	if d := se.def; d != nil {
		if d.value != nil {
			st.L = d.value(t)
		} else {
			st.L = d.level(t)
			st.nz = d.noise
			healthy = d.noise
		}
	}
	for _, it := range se.items {
		if !m.active(it.Window, t) {
			continue
		}
		switch {
		case len(it.CSV) > 0:
			if v, ok := csvAt(it.CSV, t); ok {
				st.L, st.nz, st.fromItem, st.fromCSV = v, noise{}, true, true
			}
		case it.Value != nil:
			st.L += (*it.Value - st.L) * rampAt(it.Window, t)
			st.nz, st.fromItem, st.fromCSV = noise{noiseRel, 0.03}, true, false
			if it.Noise != nil {
				st.nz = noise{noiseAbs, *it.Noise}
			}
		case it.Baseline != nil:
			st.L += (*it.Baseline - st.L) * rampAt(it.Window, t)
			st.nz, st.fromItem, st.fromCSV = healthy, true, false
			if it.Noise != nil {
				st.nz = noise{noiseAbs, *it.Noise}
			}
		}
		if it.P90 == nil && it.P99 == nil {
			continue
		}
		var lift float64
		for _, pc := range []struct {
			p     float64
			level *float64
			into  *float64
			share float64
		}{{0.9, it.P90, &st.p90, 0.1}, {0.99, it.P99, &st.p99, 0.01}} {
			if pc.level == nil {
				continue
			}
			from := *pc.into
			if from == 0 {
				from = st.L * tail(pc.p)
			}
			*pc.into = from + (*pc.level-from)*rampAt(it.Window, t)
			lift = math.Max(lift, pc.share*(*pc.into-from))
		}
		if it.Value == nil && it.Baseline == nil {
			st.L += lift
		}
	}
	return st
}

// silentAt reports whether the series has no datapoint at step t: an item
// silences it (or its whole resource) there.
func (se *series) silentAt(m *Sim, t time.Time) bool {
	if notStarted(se.node, t) {
		return true // a task reports from its start on (tasks.go)
	}
	for _, it := range se.items {
		if it.Silent && m.active(it.Window, t) {
			return true
		}
	}
	return false
}

// quantile is the series' pNN at step t, whose value (noise included) is
// v; false when it has none (a csv series without percentile items). The
// healthy distribution has its pNN at v × tail(p); where items set p90 or
// p99 the quantiles run through them (linear in the normal quantile of p
// between the average, p90 and p99, scaled as a tail beyond p99), with the
// step's noise, and never below the average or each other.
func (se *series) quantile(m *Sim, t time.Time, v, p float64) (float64, bool) {
	st := se.read(m, t)
	if st.p90 == 0 && st.p99 == 0 {
		if st.fromCSV {
			return 0, false
		}
		return v * tail(p), true
	}
	f := 1.0
	if st.L > 0 {
		f = v / st.L
	}
	a90, a99 := st.L*tail(0.9), st.L*tail(0.99)
	if st.p90 > 0 {
		a90 = st.p90
	}
	if st.p99 > 0 {
		a99 = st.p99
	}
	a90 = math.Max(a90*f, v)
	a99 = math.Max(a99*f, a90)
	z, z90, z99 := probit(p), probit(0.9), probit(0.99)
	switch {
	case p <= 0.5:
		return v * tail(p), true
	case p <= 0.9:
		return v + (a90-v)*z/z90, true
	case p <= 0.99:
		return a90 + (a99-a90)*(z-z90)/(z99-z90), true
	}
	return a99 * tail(p) / tail(0.99), true
}

// level is the series' value at t without noise.
func (se *series) level(m *Sim, t time.Time) float64 {
	L, _, _ := se.eval(m, t)
	return L
}

// value is the series' value at step t.
func (se *series) value(m *Sim, t time.Time) float64 {
	L, nz, fromItem := se.eval(m, t)
	h := hi(se.h, t.UnixNano())
	v := L
	switch nz.kind {
	case noisePoisson:
		v = float64(poisson(L, h))
	case noiseTraffic:
		v = L + math.Max(math.Sqrt(math.Max(L, 0)), 0.02*L)*gauss(h)
	case noiseRel:
		v = L * (1 + nz.x*gauss(h))
	case noiseAbs:
		v = L + nz.x*gauss(h)
	}
	if v < 0 {
		v = 0
	}
	if d := se.def; d != nil {
		if d.max > 0 && v > d.max {
			v = d.max
		}
		if d.limit != nil {
			if lim := d.limit(); lim > 0 && v > lim && (!fromItem || L <= lim) {
				v = lim
			}
		}
		if d.integer {
			v = math.Round(v)
		}
	}
	return v
}

func (se *series) native() string {
	if se.def != nil {
		return se.def.stat
	}
	return "Average"
}

// aggregate combines one period's step values into the statistic asked for.
func (m *Sim) aggregate(se *series, stat string, times []time.Time, vals []float64) float64 {
	var sum, mx, mn float64
	mx, mn = math.Inf(-1), math.Inf(1)
	for _, v := range vals {
		sum += v
		mx = math.Max(mx, v)
		mn = math.Min(mn, v)
	}
	avg := sum / float64(len(vals))
	switch stat {
	case "Sum":
		return sum
	case "Average":
		return avg
	case "Maximum":
		return mx
	case "Minimum":
		return mn
	case "SampleCount":
		if se.def != nil {
			switch se.def.samples {
			case samplesCount:
				return sum
			case samplesTraffic:
				if se.node != nil {
					var n float64
					for _, t := range times {
						n += m.traffic(se.node.flow, t) * m.step.Seconds()
					}
					return math.Round(n)
				}
			}
		}
		return float64(len(vals))
	}
	if p, ok := percentile(stat); ok {
		return avg * tail(p)
	}
	return avg
}

// hasTails reports whether the series' percentiles are not simply its
// healthy tail: items set them, or a csv file sets its level.
func (se *series) hasTails() bool {
	for _, it := range se.items {
		if it.P90 != nil || it.P99 != nil || len(it.CSV) > 0 {
			return true
		}
	}
	return false
}

// normStat spells a statistic as CloudWatch does.
func normStat(stat string) string {
	for _, s := range []string{"Sum", "Average", "Maximum", "Minimum", "SampleCount"} {
		if strings.EqualFold(stat, s) {
			return s
		}
	}
	switch strings.ToLower(stat) {
	case "", "avg":
		return "Average"
	case "max":
		return "Maximum"
	case "min":
		return "Minimum"
	}
	return stat
}

// percentile parses pNN (or pNN.N).
func percentile(stat string) (float64, bool) {
	if len(stat) < 2 || (stat[0] != 'p' && stat[0] != 'P') {
		return 0, false
	}
	var p float64
	var seen bool
	scale := 0.0
	for _, c := range stat[1:] {
		switch {
		case c >= '0' && c <= '9':
			seen = true
			if scale == 0 {
				p = p*10 + float64(c-'0')
			} else {
				p += float64(c-'0') * scale
				scale /= 10
			}
		case c == '.' && scale == 0:
			scale = 0.1
		default:
			return 0, false
		}
	}
	if !seen || p <= 0 || p >= 100 {
		return 0, false
	}
	return p / 100, true
}

// tail is how far the pNN of a latency-like series lies above its average.
func tail(p float64) float64 { return math.Exp(0.2 * probit(p)) }

// probit is the standard normal quantile of p.
func probit(p float64) float64 {
	lo, hi := -10.0, 10.0
	for i := 0; i < 80; i++ {
		mid := (lo + hi) / 2
		if 0.5*math.Erfc(-mid/math.Sqrt2) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}
