package investigate

import (
	"math"
	"testing"
	"time"
)

// seriesOf builds a 1-minute series over three hours before t0 and ten
// minutes after it.
func seriesOf(fn func(t time.Time) float64) Series {
	var s Series
	for t := t0.Add(-3 * time.Hour); t.Before(t0.Add(10 * time.Minute)); t = t.Add(time.Minute) {
		s.Times = append(s.Times, t)
		s.Values = append(s.Values, fn(t))
	}
	return s
}

func ramp(from, to float64, start time.Time, over time.Duration) func(time.Time) float64 {
	return func(t time.Time) float64 {
		switch {
		case t.Before(start):
			return from + jitter(t)
		case t.Sub(start) >= over:
			return to + jitter(t)
		}
		return from + (to-from)*float64(t.Sub(start))/float64(over) + jitter(t)
	}
}

func TestOnsetOf(t *testing.T) {
	fire := t0.Add(4 * time.Minute)
	tests := []struct {
		name      string
		fn        func(time.Time) float64
		threshold float64
		falls     bool
		want      time.Time
		wantFound bool
	}{
		{"step at the onset", level(2, 800, t0), 50, false, t0, true},
		{"step before the fire time is not the fire time", level(2, 800, t0.Add(-2*time.Minute)), 50, false, t0.Add(-2 * time.Minute), true},
		{"ramp from the healthy level", ramp(3, 480, t0, 2*time.Minute), 100, false, t0, true},
		{"slow ramp", ramp(3, 900, t0, 5*time.Minute), 100, false, t0, true},
		// Errors that grow in proportion to rising traffic are not the
		// fault: the onset is the jump, not the drift before it.
		{"drift before a jump", func(t time.Time) float64 {
			if !t.Before(t0) {
				return 9000 + jitter(t)
			}
			return ramp(18, 54, t0.Add(-5*time.Minute), 5*time.Minute)(t)
		}, 100, false, t0, true},
		{"a falling metric", level(40, 2, t0), 10, true, t0, true},
		{"noise only", level(20, 20, t0), 100, false, time.Time{}, false},
		{"one noisy spike long before is not the onset", func(t time.Time) float64 {
			if t.Equal(t0.Add(-90 * time.Minute)) {
				return 400
			}
			return level(2, 800, t0)(t)
		}, 50, false, t0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, _, found := onsetOf(seriesOf(tt.fn), fire, time.Minute, tt.threshold, tt.falls, false)
			if found != tt.wantFound || !got.Equal(tt.want) {
				t.Errorf("onset = %v (found %v), want %v (found %v)", got.Format("15:04"), found, tt.want.Format("15:04"), tt.wantFound)
			}
		})
	}
}

func TestShiftAndAlignment(t *testing.T) {
	r := &run{onset: t0, step: time.Minute, telemetry: window{t0.Add(-3 * time.Hour), t0.Add(10 * time.Minute)}}
	r.during = window{t0, r.telemetry.end}
	spec := metricSpec{Role: roleErrors}
	sh := r.shiftOf(seriesOf(level(2, 800, t0)), spec)
	if !sh.moved || math.Abs(sh.during-800) > 20 || !sh.start.Equal(t0) {
		t.Errorf("step: %+v, want moved to ~800 from %v", sh, t0)
	}
	if sh := r.shiftOf(seriesOf(level(2, 4, t0)), spec); sh.moved {
		t.Errorf("a rise below the role's minimum moved: %+v", sh)
	}
	tests := []struct {
		start time.Time
		want  float64
	}{
		{t0, 1},
		{t0.Add(-30 * time.Minute), 0.5},
		{t0.Add(10 * time.Minute), 0.3},
		{time.Time{}, 0.6},
	}
	for _, tt := range tests {
		if got := r.alignment(tt.start); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("alignment(%v) = %v, want %v", tt.start, got, tt.want)
		}
	}
}
