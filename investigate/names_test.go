package investigate

import (
	"reflect"
	"testing"
)

func TestClosestNames(t *testing.T) {
	names := []string{"web-alb-target-5xx", "orders-api-5xx", "ingest-api-5xx", "web-latency"}
	tests := []struct {
		name string
		n    int
		want []string
	}{
		{"web-alb-target-5x", 1, []string{"web-alb-target-5xx"}},
		{"orders-5xx", 2, []string{"orders-api-5xx", "ingest-api-5xx"}},
		{"x", 0, nil},
	}
	for _, tt := range tests {
		if got := ClosestNames(tt.name, names, tt.n); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ClosestNames(%q, %d) = %v, want %v", tt.name, tt.n, got, tt.want)
		}
	}
}
