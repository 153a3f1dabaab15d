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

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"web-5xx", "web-5xx", 0},
		{"web-5xx", "web-5x", 1},
		{"lambda", "lamdba", 1}, // a transposition of neighbours counts once
		{"ca", "abc", 3},        // optimal string alignment, not Damerau's
		{"dynamödb", "dynamodb", 1},
		{"kitten", "sitting", 3},
	}
	for _, tt := range tests {
		if got := EditDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := EditDistance(tt.b, tt.a); got != tt.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestValidRegion(t *testing.T) {
	for _, r := range []string{"us-east-1", "eu-central-2", "us-gov-west-1", "us-isob-east-1", "cn-northwest-1"} {
		if !ValidRegion(r) {
			t.Errorf("ValidRegion(%q) = false", r)
		}
	}
	for _, r := range []string{"", "us-east", "US-EAST-1", "us-east-1a", "us-east-1 ", "global"} {
		if ValidRegion(r) {
			t.Errorf("ValidRegion(%q) = true", r)
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer text", 8, "a lon…"},
		{"naïve café", 6, "na…"}, // never half of ï
		{"abc", 1, "…"},
	}
	for _, tt := range tests {
		got := Truncate(tt.s, tt.n)
		if got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
		if len(tt.s) > tt.n && len(got) > max(tt.n, len("…")) {
			t.Errorf("Truncate(%q, %d) = %d bytes", tt.s, tt.n, len(got))
		}
	}
}
