package investigate

import (
	"context"
	"fmt"
	"math"
	"sort"
)

// Shift is one resource's score in the trivial baseline.
type Shift struct {
	Resource string  `json:"resource"`
	Metric   string  `json:"metric"`
	Score    float64 `json:"score"`
}

// Baseline ranks the resources around an alarm by the trivial statistic the
// engine is measured against: the robust shift of each resource's latency
// or failed-request series at the onset — the level since the onset minus
// the median of its own earlier datapoints, over their median absolute
// deviation — largest first. It reads the same sources as Run and finds the
// onset the same way, and nothing else: no graph, no traces, no logs, no
// typing. It exists so that an evaluation can print the two side by side.
func (e *Engine) Baseline(ctx context.Context, req Request) ([]Shift, error) {
	r, err := e.begin(ctx, req)
	if err != nil {
		return nil, err
	}
	r.startBackground(ctx)
	r.scope(ctx)
	r.findOnset(ctx)
	metrics, err := r.metrics.wait(ctx)
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	best := map[string]Shift{}
	for _, id := range r.g.inScope() {
		for _, spec := range catalog[r.g.typeOf(id)] {
			if spec.Role != roleLatency && !spec.Role.failure() {
				continue
			}
			s := metrics[metricKey(id, spec)]
			base, dur := s.values(r.metricBaseline()), s.values(r.metricDuring())
			if len(base) == 0 || len(dur) == 0 {
				continue
			}
			m := median(base)
			mad := math.Max(robustSpread(base), 1e-9+1e-3*math.Abs(m))
			z := math.Abs(mean(dur)-m) / mad
			if b, ok := best[id]; !ok || z > b.Score {
				best[id] = Shift{Resource: id, Metric: spec.Name, Score: z}
			}
		}
	}
	out := make([]Shift, 0, len(best))
	for _, s := range best {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Resource < out[j].Resource
	})
	return out, nil
}
