package redact

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkRedactOrdinary redacts the lines of the embedded scenarios, the
// ordinary text (log lines, exceptions, names) that makes up most of what
// passes the boundary, one line at a time as reports and logs pass it.
func BenchmarkRedactOrdinary(b *testing.B) {
	paths, err := filepath.Glob("../scenarios/*.yaml")
	if err != nil || len(paths) == 0 {
		b.Fatalf("scenarios: %v", err)
	}
	var lines []string
	size := 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			lines = append(lines, l)
			size += len(l)
		}
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		for _, l := range lines {
			Redact(l)
		}
	}
}
