package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestMetricsContent(t *testing.T) {
	m := New()
	m.Acked("slash_commands", 2*time.Millisecond, nil)
	m.Acked("events_api", time.Millisecond, errors.New("write failed"))
	m.InvestigationStarted()
	m.InvestigationFinished("done", 4*time.Second)
	m.SourceError("logs")
	m.ModelTokens(1200, 300)
	m.ModelTokens(100, 0)
	m.Recovered(1, 0)
	m.Recovered(0, 2)
	m.WorkInFlight(func() int { return 3 })
	code, body := scrape(t, m.Handler(nil), "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		"unstuck_investigations_started_total 1",
		`unstuck_investigations_finished_total{outcome="done"} 1`,
		`unstuck_investigations_finished_total{outcome="failed"} 0`,
		`unstuck_investigation_duration_seconds_bucket{outcome="done",le="5"} 1`,
		`unstuck_investigation_duration_seconds_bucket{outcome="done",le="2"} 0`,
		`unstuck_source_errors_total{source="logs"} 1`,
		`unstuck_source_errors_total{source="metrics"} 0`,
		`unstuck_envelopes_acked_total{result="ok",type="slash_commands"} 1`,
		`unstuck_envelopes_acked_total{result="error",type="events_api"} 1`,
		`unstuck_ack_latency_seconds_bucket{type="slash_commands",le="0.0025"} 1`,
		`unstuck_model_tokens_total{kind="prompt"} 1300`,
		`unstuck_model_tokens_total{kind="completion"} 300`,
		"unstuck_recovery_passes_total 2",
		`unstuck_recovered_total{kind="investigation"} 1`,
		`unstuck_recovered_total{kind="event"} 2`,
		"unstuck_work_in_flight 3",
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestHealthAndReady(t *testing.T) {
	up := true
	h := New().Handler(map[string]Check{
		"slack": func(context.Context) error {
			if !up {
				return errors.New("socket mode is not connected")
			}
			return nil
		},
		"store": func(context.Context) error { return nil },
	})
	if code, body := scrape(t, h, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := scrape(t, h, "/readyz"); code != http.StatusOK || !strings.Contains(body, `"slack":"ok"`) {
		t.Errorf("/readyz up: %d %s", code, body)
	}
	up = false
	code, body := scrape(t, h, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"slack":"socket mode is not connected"`) || !strings.Contains(body, `"store":"ok"`) {
		t.Errorf("/readyz down: %d %s", code, body)
	}
	if code, _ := scrape(t, h, "/nothing"); code != http.StatusNotFound {
		t.Errorf("/nothing: %d", code)
	}
}
