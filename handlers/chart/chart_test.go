package chart

import (
	"bytes"
	"errors"
	"image/png"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

func series(resource string, start time.Time, values ...float64) investigate.NamedSeries {
	s := investigate.NamedSeries{Resource: resource, Metric: "Errors"}
	for i, v := range values {
		s.Times = append(s.Times, start.Add(time.Duration(i)*time.Minute))
		s.Values = append(s.Values, v)
	}
	return s
}

func TestWrite(t *testing.T) {
	start := time.Date(2024, 12, 3, 13, 0, 0, 0, time.UTC)
	vals := make([]float64, 120)
	for i := 100; i < 120; i++ {
		vals[i] = 500
	}
	onset := start.Add(100 * time.Minute)
	var buf bytes.Buffer
	if err := Write(&buf, []investigate.NamedSeries{series("api", start, vals...), series("table", start, vals...)}, onset); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if b.Dx() != Width || b.Dy() != marginTop+2*panelHeight+axisHeight {
		t.Errorf("size = %v", b)
	}
	// The onset line is red, in each panel.
	reds := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 == 220 && g>>8 == 40 && bl>>8 == 40 {
				reds++
			}
		}
	}
	if reds < 2*100 {
		t.Errorf("onset line: %d red pixels", reds)
	}
}

func TestWriteNoData(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, nil, time.Time{}); !errors.Is(err, ErrNoData) {
		t.Errorf("err = %v, want ErrNoData", err)
	}
	// One point and a flat series draw without dividing by zero.
	s := series("x", time.Unix(0, 0), 3)
	if err := Write(&buf, []investigate.NamedSeries{s}, time.Time{}); err != nil {
		t.Error(err)
	}
}

func TestNumber(t *testing.T) {
	tests := map[float64]string{0: "0", 0.25: "0.250", 3.14159: "3.1", 544: "544", 25000: "25k", 2.5e6: "2.5M"}
	for v, want := range tests {
		if got := number(v); got != want {
			t.Errorf("number(%v) = %q, want %q", v, got, want)
		}
	}
}
