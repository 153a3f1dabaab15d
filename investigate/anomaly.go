package investigate

import (
	"math"
	"time"
)

// This file scores how far a signal moved at the onset against its own
// normal, in units of its own noise, so that a 3% error rate on a quiet
// service and a 30% rate on a loud one are judged by one rule.
//
// The noise of a signal is the largest of:
//   - its robust spread (1.4826 × the median absolute deviation of its
//     baseline), which ignores the outliers an incident adds to a baseline;
//   - for counts, the Poisson spread √max(median, 1): a count of requests or
//     errors per period varies by about its square root even when nothing is
//     wrong, and the period (1 or 5 minutes) is part of the count, so the
//     rule holds at any resolution;
//   - for levels (latency, utilisation), a share of the median (relNoise):
//     a few percent of drift is never news;
//   - for shares (a failed share of traced calls), the binomial spread of the
//     share with the number of calls seen: a share of three calls is weak
//     evidence, a share of thousands is strong.
//
// With few baseline points (coarse data, a short history) the spread is
// widened by 1 + 1/√n: two points cannot show what normal varies by. Nothing
// else is an absolute floor: a score is a z-score, and anomalyZ is the one
// level at which the engine calls a signal anomalous.
const (
	// anomalyZ is the score from which a signal counts as anomalous.
	anomalyZ = 3.0
	// relNoise is the smallest spread of a level, as a share of its median.
	relNoise = 0.05
)

// anomaly is how far one signal moved at the onset.
type anomaly struct {
	// before is the baseline's median, during the level since the onset,
	// both in the signal's unit.
	before, during float64
	// spread is the noise the move is measured in.
	spread float64
	// z is the move in units of noise, positive in the bad direction.
	z float64
	// points is how many baseline points the normal rests on.
	points int
}

// delta is the move in the signal's unit, positive in the bad direction.
func (a anomaly) delta(up bool) float64 {
	if up {
		return a.during - a.before
	}
	return a.before - a.during
}

// strength maps a score to a weight of evidence between 0 and 1: nothing at
// or below anomalyZ−1, about 0.4 at 5, 0.65 at 8 and near 1 past 20.
func strength(z float64) float64 {
	if z <= anomalyZ-1 {
		return 0
	}
	return 1 - math.Exp(-(z-(anomalyZ-1))/6)
}

// real is how sure a score makes that a move is no noise, between 0 and 1:
// steeper than strength, since to explain what is above it a resource's
// move need only be real, not large (its size is weighed apart).
func real(z float64) float64 {
	if z <= anomalyZ-1 {
		return 0
	}
	return 1 - math.Exp(-(z-(anomalyZ-1))/2)
}

// isCount reports whether a metric is a count per period (a Sum), whose
// noise is Poisson.
func isCount(spec metricSpec) bool {
	return spec.Stat == "Sum" || spec.Stat == "SampleCount"
}

// seriesAnomaly scores a series' level during w against its baseline.
func seriesAnomaly(s Series, spec metricSpec, baseline, during window) (anomaly, bool) {
	base := s.values(baseline)
	dur := s.values(during)
	if len(base) == 0 || len(dur) == 0 {
		return anomaly{}, false
	}
	a := anomaly{before: median(base), during: mean(dur), points: len(base)}
	a.spread = noiseOf(base, isCount(spec))
	d := a.during - a.before
	if !spec.Role.rises() {
		d = -d
	}
	a.z = d / a.spread
	return a, true
}

// noiseOf is the spread of a baseline, as the comment at the top of this file
// describes.
func noiseOf(base []float64, count bool) float64 {
	m := median(base)
	spread := robustSpread(base)
	if count {
		spread = countSpread(spread, m)
	} else {
		spread = math.Max(spread, relNoise*math.Abs(m))
	}
	spread *= 1 + 1/math.Sqrt(float64(len(base)))
	return math.Max(spread, 1e-9+1e-6*math.Abs(m))
}

// shareAnomaly scores a share of n calls (failed, throttled) against the
// share before. The score is the binomial tail: how unlikely at least that
// many failures are in n calls at the usual rate, as a z-score, so that one
// failure in three calls is weak evidence and a third of thousands is not.
// The usual rate is taken one standard error high, since it was itself
// measured on a sample, and a prior of half a failure keeps a baseline of none
// from making any failure infinitely surprising.
func shareAnomaly(before float64, nBefore int, during float64, nDuring int) anomaly {
	if nDuring == 0 {
		return anomaly{}
	}
	p := (before*float64(nBefore) + 0.5) / (float64(nBefore) + 1)
	p = math.Min(0.999, p+math.Sqrt(p*(1-p)/math.Max(float64(nBefore), 1)))
	spread := math.Sqrt(p * (1 - p) / float64(nDuring))
	a := anomaly{before: before, during: during, spread: spread, points: nBefore}
	k := math.Round(during * float64(nDuring))
	if during <= p {
		a.z = (during - p) / spread
		return a
	}
	a.z = tailZ(k, float64(nDuring), p)
	return a
}

// maxZ caps a score where a tail probability underflows.
const maxZ = 40

// tailZ is the z-score of P(X ≥ k) for X binomial(n, p): by the Poisson
// approximation while n·p is small, by the normal one beyond.
func tailZ(k, n, p float64) float64 {
	lambda := n * p
	if lambda > 50 {
		return math.Min(maxZ, (k-0.5-lambda)/math.Sqrt(lambda*(1-p)))
	}
	return probZ(1 - poissonCDF(k-1, lambda))
}

// poissonCDF is P(X ≤ k) for X Poisson(lambda), summed in logs.
func poissonCDF(k, lambda float64) float64 {
	var p float64
	logTerm := -lambda
	for i := 0.0; i <= k; i++ {
		p += math.Exp(logTerm)
		logTerm += math.Log(lambda) - math.Log(i+1)
		if p >= 1 {
			return 1
		}
	}
	return p
}

// probZ turns a tail probability into the z-score with that upper tail,
// capped where it underflows.
func probZ(tail float64) float64 {
	if tail <= 1e-300 || math.IsNaN(tail) {
		return maxZ
	}
	return math.Min(maxZ, math.Sqrt2*math.Erfinv(1-2*tail))
}

// meanAnomaly scores a mean latency over n calls against the mean before.
// Latencies of single calls vary about as much as their mean (a coefficient
// of variation near 1), so the mean of n varies by mean/√n.
func meanAnomaly(before time.Duration, nBefore int, during time.Duration, nDuring int) anomaly {
	if nBefore == 0 || nDuring == 0 || before <= 0 {
		return anomaly{}
	}
	b, d := ms(before), ms(during)
	spread := math.Max(relNoise*b, b*math.Sqrt(1/float64(nBefore)+1/float64(nDuring)))
	return anomaly{before: b, during: d, spread: spread, z: (d - b) / spread, points: nBefore}
}

// poissonAnomaly scores a count seen in one window against the count in
// another, scaled to its length.
func poissonAnomaly(before int, beforeLen time.Duration, during int, duringLen time.Duration) anomaly {
	if beforeLen <= 0 || duringLen <= 0 {
		return anomaly{}
	}
	expected := float64(before) * float64(duringLen) / float64(beforeLen)
	spread := math.Sqrt(math.Max(expected, 1))
	return anomaly{before: expected, during: float64(during), spread: spread, z: (float64(during) - expected) / spread, points: before}
}

// lowTailZ is how surprising it is to see as few as k events where lambda
// were expected, as a z-score: the Poisson lower tail P(X ≤ k), where the
// normal approximation understates the absence of a steady stream.
func lowTailZ(k, lambda float64) float64 {
	if lambda <= 0 || k >= lambda {
		return 0
	}
	return probZ(poissonCDF(k, lambda))
}

// upperTailZ is how surprising it is to see k or more events where lambda
// were expected, as a z-score: the Poisson upper tail.
func upperTailZ(k, lambda float64) float64 {
	lambda = math.Max(lambda, 0.1) // a rate never seen is not a rate of zero
	if k <= lambda {
		return 0
	}
	if lambda > 50 {
		return math.Min(maxZ, (k-0.5-lambda)/math.Sqrt(lambda))
	}
	return probZ(1 - poissonCDF(math.Ceil(k)-1, lambda))
}

// countSpread is a count's spread at least its Poisson noise, √max(m, 1)
// around a median m.
func countSpread(spread, m float64) float64 {
	return math.Max(spread, math.Sqrt(math.Max(math.Abs(m), 1)))
}

// toMS converts a latency in a spec's unit to milliseconds.
func toMS(spec metricSpec, v float64) float64 {
	if spec.Unit == "s" {
		return 1000 * v
	}
	return v
}
