package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// The text report of a window that spans days says the date of its times
// (the window's and each finding's); one within a day keeps the time of day.
func TestTextWindowOverADaySaysDates(t *testing.T) {
	finding := investigate.Finding{ID: "f1", Kind: investigate.FindingMetric, Resource: "r", Time: time.Date(2024, 12, 3, 10, 31, 0, 0, time.UTC), Summary: "errors up"}
	tests := []struct {
		name       string
		start, end time.Time
		want       []string
	}{
		{"within a day", time.Date(2024, 12, 3, 9, 0, 0, 0, time.UTC), time.Date(2024, 12, 3, 11, 0, 0, 0, time.UTC),
			[]string{"telemetry 09:00 to 11:00 UTC", "f1 10:31 metric"}},
		{"over a day", time.Date(2024, 12, 1, 11, 0, 0, 0, time.UTC), time.Date(2024, 12, 3, 11, 0, 0, 0, time.UTC),
			[]string{"telemetry 2024-12-01 11:00 to 2024-12-03 11:00 UTC", "f1 2024-12-03 10:31 metric"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			rep := investigate.Report{Scope: investigate.Scope{Alarm: "a", Resource: "r", Start: tt.start, End: tt.end}, Findings: []investigate.Finding{finding}}
			if err := writeText(&b, rep); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("text lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}
