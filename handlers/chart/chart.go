// Package chart draws an investigation's series as a PNG: one panel per
// series (the alarm's metric first, then the culprit's telling series), on a
// shared time axis, with the onset marked by a red line. It uses the
// standard library only, with a small built-in font for the axis numbers.
package chart

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/unstuck/unstuck/investigate"
)

// Size of the image.
const (
	Width       = 800
	panelHeight = 170
	marginLeft  = 70
	marginRight = 20
	marginTop   = 14
	axisHeight  = 30
	maxPanels   = 4
)

var (
	background = color.RGBA{255, 255, 255, 255}
	gridColor  = color.RGBA{225, 228, 232, 255}
	axisColor  = color.RGBA{110, 110, 110, 255}
	textColor  = color.RGBA{60, 60, 60, 255}
	onsetColor = color.RGBA{220, 40, 40, 255}
	lineColors = []color.RGBA{{29, 53, 87, 255}, {230, 126, 34, 255}, {39, 174, 96, 255}, {142, 68, 173, 255}}
)

// ErrNoData is returned when no series has a point to draw.
var ErrNoData = errors.New("chart: no datapoints")

// Write draws the series with the onset marked (a zero onset draws none)
// and encodes the image as PNG.
func Write(w io.Writer, series []investigate.NamedSeries, onset time.Time) error {
	img, err := Draw(series, onset)
	if err != nil {
		return err
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// Draw draws the series; see Write.
func Draw(series []investigate.NamedSeries, onset time.Time) (*image.RGBA, error) {
	var panels []investigate.NamedSeries
	var t0, t1 time.Time
	for _, s := range series {
		if len(s.Times) == 0 || len(s.Times) != len(s.Values) {
			continue
		}
		if len(panels) == maxPanels {
			break
		}
		panels = append(panels, s)
		if t0.IsZero() || s.Times[0].Before(t0) {
			t0 = s.Times[0]
		}
		if last := s.Times[len(s.Times)-1]; last.After(t1) {
			t1 = last
		}
	}
	if len(panels) == 0 {
		return nil, ErrNoData
	}
	// Around the onset: enough baseline to see the change, not the whole
	// lookback, in which the incident would be a sliver at the right.
	if !onset.IsZero() && onset.After(t0) && !onset.After(t1) {
		before := max(45*time.Minute, 3*t1.Sub(onset))
		if start := onset.Add(-before); start.After(t0) {
			t0 = start
			for i := range panels {
				panels[i] = clip(panels[i], t0)
			}
		}
	}
	if !t1.After(t0) {
		t1 = t0.Add(time.Minute)
	}
	height := marginTop + len(panels)*panelHeight + axisHeight
	img := image.NewRGBA(image.Rect(0, 0, Width, height))
	fill(img, img.Bounds(), background)
	plotW := Width - marginLeft - marginRight
	xOf := func(t time.Time) int {
		return marginLeft + int(math.Round(float64(plotW)*float64(t.Sub(t0))/float64(t1.Sub(t0))))
	}

	for i, s := range panels {
		top := marginTop + i*panelHeight
		bottom := top + panelHeight - 16
		lo, hi := bounds(s.Values)
		yOf := func(v float64) int {
			return bottom - int(math.Round(float64(bottom-top)*(v-lo)/(hi-lo)))
		}
		// Grid and axes.
		for g := 0; g <= 4; g++ {
			y := top + g*(bottom-top)/4
			hline(img, marginLeft, Width-marginRight, y, gridColor)
		}
		vline(img, marginLeft, top, bottom, axisColor)
		hline(img, marginLeft, Width-marginRight, bottom, axisColor)
		text(img, 4, top, number(hi), textColor)
		text(img, 4, bottom-10, number(lo), textColor)
		// What the panel shows, in its colour, at its top left.
		caption(img, marginLeft+6, top+12, panelTitle(s), lineColors[i%len(lineColors)])
		// The series.
		c := lineColors[i%len(lineColors)]
		for j := 1; j < len(s.Times); j++ {
			line(img, xOf(s.Times[j-1]), yOf(s.Values[j-1]), xOf(s.Times[j]), yOf(s.Values[j]), c)
		}
		if len(s.Times) == 1 {
			fill(img, image.Rect(xOf(s.Times[0])-2, yOf(s.Values[0])-2, xOf(s.Times[0])+3, yOf(s.Values[0])+3), c)
		}
		if !onset.IsZero() && !onset.Before(t0) && !onset.After(t1) {
			x := xOf(onset)
			vline(img, x, top, bottom, onsetColor)
			vline(img, x+1, top, bottom, onsetColor)
		}
	}
	// Time axis: start, onset and end.
	y := marginTop + len(panels)*panelHeight
	text(img, marginLeft, y, t0.UTC().Format("15:04"), textColor)
	text(img, Width-marginRight-textWidth(t1.UTC().Format("15:04")), y, t1.UTC().Format("15:04"), textColor)
	if !onset.IsZero() && !onset.Before(t0) && !onset.After(t1) {
		label := onset.UTC().Format("15:04")
		x := min(max(xOf(onset)-textWidth(label)/2, marginLeft+textWidth("00:00")+8), Width-marginRight-2*textWidth("00:00")-8)
		text(img, x, y, label, onsetColor)
	}
	return img, nil
}

// clip drops the points before start.
func clip(s investigate.NamedSeries, start time.Time) investigate.NamedSeries {
	i := 0
	for i < len(s.Times) && s.Times[i].Before(start) {
		i++
	}
	s.Times, s.Values = s.Times[i:], s.Values[i:]
	return s
}

// bounds returns the range to draw values in, with a little headroom and
// never empty.
func bounds(vs []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if math.IsInf(lo, 1) {
		return 0, 1
	}
	if lo > 0 && lo < hi/2 {
		lo = 0 // counts and rates read best from zero
	}
	if hi == lo {
		hi = lo + math.Max(1, math.Abs(lo)*0.1)
	}
	hi += (hi - lo) * 0.05
	return lo, hi
}

// number formats an axis value compactly.
func number(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return fmt.Sprintf("%.1f", v)
	case a == 0:
		return "0"
	}
	return fmt.Sprintf("%.3f", v)
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	fill(img, image.Rect(x0, y, x1+1, y+1), c)
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	fill(img, image.Rect(x, y0, x+1, y1+1), c)
}

// line draws a two-pixel line (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		fill(img, image.Rect(x0, y0, x0+2, y0+2), c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sign(x int) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// glyphs is a 3×5 font for the characters axis labels use; each row is
// three bits, most significant on the left.
var glyphs = map[rune][5]uint8{
	'0': {7, 5, 5, 5, 7}, '1': {2, 6, 2, 2, 7}, '2': {7, 1, 7, 4, 7}, '3': {7, 1, 7, 1, 7},
	'4': {5, 5, 7, 1, 1}, '5': {7, 4, 7, 1, 7}, '6': {7, 4, 7, 5, 7}, '7': {7, 1, 1, 2, 2},
	'8': {7, 5, 7, 5, 7}, '9': {7, 5, 7, 1, 7}, ':': {0, 2, 0, 2, 0}, '.': {0, 0, 0, 0, 2},
	'-': {0, 0, 7, 0, 0}, 'k': {4, 5, 6, 5, 5}, 'M': {5, 7, 7, 5, 5}, ' ': {},
}

const scale = 2

func textWidth(s string) int { return len([]rune(s)) * 4 * scale }

// text draws s with its top left at (x, y).
func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for _, r := range s {
		g, ok := glyphs[r]
		if !ok {
			g = glyphs['-']
		}
		for row := 0; row < 5; row++ {
			for col := 0; col < 3; col++ {
				if g[row]&(4>>col) != 0 {
					fill(img, image.Rect(x+col*scale, y+row*scale, x+(col+1)*scale, y+(row+1)*scale), c)
				}
			}
		}
		x += 4 * scale
	}
}

// panelTitle names a panel's series: resource, metric and unit.
func panelTitle(s investigate.NamedSeries) string {
	t := s.Resource + "  " + s.Metric
	if s.Unit != "" {
		t += " (" + s.Unit + ")"
	}
	if len(t) > 90 {
		t = t[:89] + "…"
	}
	return t
}

// caption writes text with its baseline at y, in basicfont's 7×13 face (the
// built-in glyphs cover only the axis numbers).
func caption(img *image.RGBA, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
