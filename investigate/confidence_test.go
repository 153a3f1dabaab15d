package investigate

import (
	"math"
	"testing"
)

func TestConfidenceWord(t *testing.T) {
	tests := []struct {
		p    float64
		want string
	}{
		{0, "unclear"}, {0.39, "unclear"}, {ClearCause, "possible"}, {0.64, "possible"},
		{LikelyCause, "likely"}, {0.95, "likely"}, {1, "likely"}, {math.NaN(), "unclear"}, {-1, "unclear"},
	}
	for _, tt := range tests {
		if got := ConfidenceWord(tt.p); got != tt.want {
			t.Errorf("ConfidenceWord(%v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}
