package sim

import (
	"context"
	"errors"
	"testing"
	"time"
)

// FaultRate: about that share of calls meet a fault, of each kind, the
// same ones for the same seed; a slow call takes SlowBy longer.
func TestFaults(t *testing.T) {
	run := func(seed int64) (errs []error, s *Sim) {
		s = New(albScenario(), Options{FaultRate: 0.3, FaultSeed: seed, SlowBy: time.Millisecond})
		for range 600 {
			_, err := s.Health(context.Background(), s.Now().Add(-time.Hour), s.Now())
			errs = append(errs, err)
		}
		return errs, s
	}
	a, s := run(7)
	b, _ := run(7)
	var throttled, denied int
	for i, err := range a {
		if (err == nil) != (b[i] == nil) {
			t.Fatalf("call %d: %v, then %v with the same seed", i, err, b[i])
		}
		switch {
		case errors.Is(err, ErrThrottled):
			throttled++
		case errors.Is(err, ErrAccessDenied):
			denied++
		case err != nil:
			t.Fatalf("call %d: unexpected error %v", i, err)
		}
	}
	f := s.Faults()
	if f[FaultThrottled] != throttled || f[FaultDenied] != denied {
		t.Errorf("Faults() = %v, errors: %d throttled, %d denied", f, throttled, denied)
	}
	for _, k := range []string{FaultThrottled, FaultDenied, FaultSlow} {
		if f[k] < 30 || f[k] > 90 {
			t.Errorf("%s: %d of 600 calls at rate 0.3, want about 60", k, f[k])
		}
	}
	if n := len(New(albScenario(), Options{}).Faults()); n != 0 {
		t.Errorf("no FaultRate: %d faults", n)
	}
}
