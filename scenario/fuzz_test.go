package scenario

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzParse checks that Parse never panics, and that it returns either a
// file or an ErrorList of *Error that each name the file.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(base))
	f.Add([]byte(csvDoc))
	fsys := fstest.MapFS{
		"CSV":     {Data: []byte("timestamp,value\n-1h,1\n-59m,2\n")},
		"a.csv":   {Data: []byte("1\n2\n3\n")},
		"bad.csv": {Data: []byte("\"x\n")},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data, fsys)
		if err == nil {
			if file == nil || file.Scenario == nil {
				t.Fatal("no error and no file")
			}
			return
		}
		if file != nil {
			t.Fatal("a file and an error")
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error %T is not a non-empty ErrorList: %v", err, err)
		}
		for _, e := range list {
			if e == nil || e.File == "" || e.Msg == "" {
				t.Fatalf("incomplete error %#v", e)
			}
		}
	})
}

// TestLimits checks that a file whose aliases expand to a great deal of
// work is given up on once the work passes its bound (maxWork), rather than
// read to the end. Its time is not asserted: machines are noisy.
func TestLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: big\ntitle: t\nonset: 2024-12-03T10:30:00Z\n")
	b.WriteString("alarm: {name: a, resource: r0, metric: A B, stat: Sum, threshold: 1, fires: +2m}\n")
	b.WriteString("x: &l [")
	for i := range 3000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "r%d", i)
	}
	b.WriteString("]\nresources:\n")
	// 700 resources of 3000 targets each expand to 2.1 million elements,
	// just over maxWork.
	for i := range 700 {
		fmt.Fprintf(&b, "  - {id: r%d, type: alb, targets: *l}\n", i)
	}
	_, err := Parse("big.yaml", []byte(b.String()), nil)
	if err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("got %.500v, want a stop", err)
	}
}
