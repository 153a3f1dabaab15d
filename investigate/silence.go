package investigate

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// A host can go quiet by doing less (quietPeers: its CPU or traffic far
// below its own normal) or by saying nothing at all: a terminated instance,
// a host whose hardware failed, a worker that stopped publishing. CloudWatch
// then returns no datapoints for it — not zeros — and a missing datapoint is
// no reading, so the engine cannot score the level it does not have. What it
// can judge is how often the series reports: a host that reported nearly
// every period before the onset and none (or few) since, while its peers go
// on reporting, has stopped. A series that reports sparsely anyway (a
// function invoked now and then, a count published only when it is not
// zero) is judged by its own rate, so its usual gaps are no news.

// coverage is how many periods of a window a series has datapoints in, of
// how many it could have had.
type coverage struct {
	seen, of int
	// last is the series' newest datapoint in the window; zero when it
	// has none.
	last time.Time
}

// share is the part of the periods reported.
func (c coverage) share() float64 {
	if c.of == 0 {
		return 0
	}
	return float64(c.seen) / float64(c.of)
}

// coverageIn counts a series' datapoints in w against the periods of w from
// the series' first datapoint on (a host launched within w could not report
// before it).
func coverageIn(s Series, w window, period time.Duration) coverage {
	idx := s.indexIn(w)
	c := coverage{seen: len(idx)}
	if len(idx) == 0 || period <= 0 {
		return c
	}
	from := s.Times[idx[0]]
	c.of = max(c.seen, int(w.end.Sub(from)/period))
	c.last = s.Times[idx[len(idx)-1]]
	return c
}

// silenceZ is how unlikely it is that a series which reported a share p of
// its periods (measured on nBefore of them) reports seen or fewer of n, as
// a z-score: the binomial lower tail, with p taken half a period low (a
// prior) so that a short baseline with no gap cannot make one missing
// period infinitely surprising.
func silenceZ(seenBefore, nBefore, seen, n int) float64 {
	if n <= 0 || nBefore <= 0 || seen >= n {
		return 0
	}
	p := (float64(seenBefore) + 0.5) / (float64(nBefore) + 1)
	if float64(seen) >= p*float64(n) {
		return 0
	}
	return probZ(binomialCDF(seen, n, p))
}

// binomialCDF is P(X ≤ k) for X binomial(n, p), summed in logs.
func binomialCDF(k, n int, p float64) float64 {
	if k >= n {
		return 1
	}
	lp, lq := math.Log(p), math.Log1p(-p)
	var sum float64
	for i := 0; i <= k; i++ {
		lc, _ := math.Lgamma(float64(n + 1))
		li, _ := math.Lgamma(float64(i + 1))
		lni, _ := math.Lgamma(float64(n - i + 1))
		sum += math.Exp(lc - li - lni + float64(i)*lp + float64(n-i)*lq)
	}
	return math.Min(1, sum)
}

// silentPeer is a host that stopped reporting a series its peers go on
// reporting.
type silentPeer struct {
	host           string
	before, during coverage
	peersDuring    int // the most periods a peer reported since the onset
	z              float64
	// since is when it stopped: the period after its last datapoint.
	since time.Time
}

// silentPeers finds, among hosts doing the same work, those whose series
// stopped while their peers' went on: reported far fewer periods since the
// onset than their own rate before makes likely, where a peer reported
// them. series holds the hosts' series that have any datapoint. A silence
// on most of the group is not one part failing (the source, or the
// publishing delay of the newest periods, is the same for all).
func (r *run) silentPeers(hosts []string, series map[string]Series) []silentPeer {
	base, during := r.metricBaseline(), r.metricDuring()
	// The newest period is not yet published for every series at once:
	// what is judged ends a period before the newest datapoint of any.
	var newest time.Time
	for _, h := range hosts {
		if s, ok := series[h]; ok {
			if idx := s.indexIn(during); len(idx) > 0 && s.Times[idx[len(idx)-1]].After(newest) {
				newest = s.Times[idx[len(idx)-1]]
			}
		}
	}
	if newest.IsZero() {
		return nil
	}
	during.end = newest
	cov := map[string][2]coverage{}
	for _, h := range hosts {
		s, ok := series[h]
		if !ok {
			continue
		}
		period := s.Period
		if period <= 0 {
			period = r.step
		}
		cov[h] = [2]coverage{coverageIn(s, base, period), coverageIn(s, during, period)}
	}
	var out []silentPeer
	for _, h := range hosts {
		c, ok := cov[h]
		if !ok || c[0].seen == 0 {
			continue
		}
		peers := 0
		for _, o := range hosts {
			if oc, ok := cov[o]; ok && o != h {
				peers = max(peers, oc[1].seen)
			}
		}
		z := silenceZ(c[0].seen, c[0].of, c[1].seen, peers)
		if z < anomalyZ {
			continue
		}
		// It stopped after its newest datapoint (which may lie between
		// the baseline and the onset).
		var last time.Time
		if idx := series[h].indexIn(window{time.Time{}, during.end}); len(idx) > 0 {
			last = series[h].Times[idx[len(idx)-1]]
		}
		period := series[h].Period
		if period <= 0 {
			period = r.step
		}
		out = append(out, silentPeer{host: h, before: c[0], during: c[1], peersDuring: peers, z: z, since: last.Add(period)})
	}
	if len(out)*2 > len(hosts) {
		return nil
	}
	return out
}

// silentFindings turns the hosts that stopped reporting a series into
// findings on their component candidates.
func (r *run) silentFindings(hosts []string, series map[string]Series, spec metricSpec, candFor func(string) *candidate) []*finding {
	var findings []*finding
	for _, sp := range r.silentPeers(hosts, series) {
		var others []string
		for _, o := range hosts {
			if o != sp.host {
				others = append(others, o)
			}
		}
		before, during := 100*sp.before.share(), 100*float64(sp.during.seen)/float64(sp.peersDuring)
		f := &finding{Finding: Finding{
			Kind: FindingMetric, Check: CheckComponent, Resource: sp.host, Time: sp.since,
			Summary: fmt.Sprintf("%s stopped reporting: %s has %d datapoints since %s where its peers %s have up to %d (it reported %d of %d periods before): it is gone or cannot publish, and does none of its share of the work",
				sp.host, spec.Name, sp.during.seen, Clock(sp.since), strings.Join(others, ", "), sp.peersDuring, sp.before.seen, sp.before.of),
			Before: ptr(before), During: ptr(during), Unit: "% of periods reported", Link: r.metricLink(sp.host, spec),
		}, weight: 0.6, series: metricKey(sp.host, spec), spec: spec}
		findings = append(findings, f)
		c := candFor(sp.host)
		c.evidence = append(c.evidence, f)
		// The move is the whole of its work, as large as going quiet
		// gets: what is left to weigh is whether the silence is real.
		c.score = noisyOr(c.score, 0.45*real(sp.z)*r.alignment(sp.since))
	}
	return findings
}
