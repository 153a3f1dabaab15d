package handlers_test

import (
	"slices"
	"testing"
	"time"

	"github.com/unstuck/unstuck/handlers/slacktest"
)

// BenchmarkAckBurst sends a burst of 300 /investigate commands as fast as
// the socket takes them and measures each one's acknowledgement latency,
// from the envelope's delivery to its ack, while the bot starts the 300
// investigations behind them. It reports the p50, p99 and max in ms.
//
//	go test -run '^$' -bench AckBurst -benchtime 5x ./handlers/
func BenchmarkAckBurst(b *testing.B) {
	const burst = 300
	h := newHarness(b, setup{})
	var lat []time.Duration
	for b.Loop() {
		ids := make([]string, 0, burst)
		for range burst {
			ids = append(ids, h.srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, user, "orders-api-5xx")))
		}
		for _, id := range ids {
			a, ok := h.srv.WaitAck(id, 10*time.Second)
			if !ok {
				b.Fatalf("envelope %s not acknowledged", id)
			}
			lat = append(lat, a.Latency)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(0, "ns/op")
}
