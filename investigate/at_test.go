package investigate

import (
	"errors"
	"testing"
	"time"
)

func TestParseAt(t *testing.T) {
	now := time.Date(2024, 12, 3, 14, 4, 0, 0, time.UTC)
	tests := []struct {
		in         string
		want       time.Time
		wantFuture bool
		wantErr    bool
	}{
		{in: "10:32", want: time.Date(2024, 12, 3, 10, 32, 0, 0, time.UTC)},
		{in: "14:04", want: time.Date(2024, 12, 3, 14, 4, 0, 0, time.UTC)},
		{in: "23:10", want: time.Date(2024, 12, 2, 23, 10, 0, 0, time.UTC)},
		{in: "2024-12-03 10:32", want: time.Date(2024, 12, 3, 10, 32, 0, 0, time.UTC)},
		{in: "2024-12-03 10:32:15", want: time.Date(2024, 12, 3, 10, 32, 15, 0, time.UTC)},
		{in: "2024-12-03T10:32", want: time.Date(2024, 12, 3, 10, 32, 0, 0, time.UTC)},
		{in: "2024-12-03T10:32Z", want: time.Date(2024, 12, 3, 10, 32, 0, 0, time.UTC)},
		{in: "2024-12-03T10:32:00Z", want: time.Date(2024, 12, 3, 10, 32, 0, 0, time.UTC)},
		{in: "2024-12-03T11:32:00+01:00", want: time.Date(2024, 12, 3, 10, 32, 0, 0, time.UTC)},
		{in: "2024-12-03T14:04:30Z", want: time.Date(2024, 12, 3, 14, 4, 30, 0, time.UTC)}, // within the skew
		{in: "2024-12-03 14:06", wantFuture: true},
		{in: "2030-01-01T00:00Z", wantFuture: true},
		{in: "25:00", wantErr: true},
		{in: "yesterday", wantErr: true},
		{in: "2024-13-03 10:32", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseAt(tt.in, now)
		var ae *AtError
		switch {
		case tt.wantFuture || tt.wantErr:
			if !errors.As(err, &ae) || ae.Future != tt.wantFuture {
				t.Errorf("ParseAt(%q) = %v, %v; want an *AtError with Future %v", tt.in, got, err, tt.wantFuture)
			}
		case err != nil || !got.Equal(tt.want) || got.Location() != time.UTC:
			t.Errorf("ParseAt(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestWindowLayout(t *testing.T) {
	day := func(d, h int) time.Time { return time.Date(2024, 12, d, h, 0, 0, 0, time.UTC) }
	tests := []struct {
		name       string
		start, end time.Time
		want       string
	}{
		{"one day", day(3, 9), day(3, 11), "15:04"},
		{"across midnight", day(2, 23), day(3, 1), "2006-01-02 15:04"},
		{"a week", day(1, 10), day(8, 10), "2006-01-02 15:04"},
		{"same UTC day in another zone", day(3, 1).In(time.FixedZone("X", -5*3600)), day(3, 2), "15:04"},
		{"no start", time.Time{}, day(3, 1), "15:04"},
	}
	for _, tt := range tests {
		if got := WindowLayout(tt.start, tt.end); got != tt.want {
			t.Errorf("%s: WindowLayout = %q, want %q", tt.name, got, tt.want)
		}
	}
}
