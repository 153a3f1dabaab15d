package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unstuck/unstuck/incident"
)

// BenchmarkBurst is a burst of events: many goroutines (16 per GOMAXPROCS)
// each claim an event, store its investigation and add a note to it — three
// store operations, all writes. ops/s counts store operations.
//
//	go test -run '^$' -bench Burst -benchtime 3000x ./store/
func BenchmarkBurst(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			st, _ := be.open(b, Options{})
			ctx := context.Background()
			t0 := time.Now()
			var seq atomic.Int64
			b.SetParallelism(16)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := seq.Add(1)
					ts := fmt.Sprintf("%d.%06d", 1700000000+i, i)
					if ok, err := st.Claim(ctx, "Ev"+ts); err != nil || !ok {
						b.Fatalf("claim: %v %v", ok, err)
					}
					inv := sampleInv(fmt.Sprintf("C%d", i%8), ts, t0.Add(time.Duration(i)*time.Millisecond))
					inv.State = incident.StateRunning
					if err := st.Put(ctx, inv); err != nil {
						b.Fatal(err)
					}
					if err := st.AddNote(ctx, inv.Channel, ts, noteAt(t0, "a note")); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(3*b.N)/time.Since(start).Seconds(), "ops/s")
		})
	}
}
