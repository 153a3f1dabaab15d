// Package metrics is the bot's own Prometheus metrics: what it
// acknowledged and how fast, the investigations it ran and how they ended,
// the sources it could not read and the model tokens it spent. The
// handlers see it through the narrow handlers.Metrics interface; Serve
// exposes it on /metrics beside /healthz and /readyz.
package metrics

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// SourceKinds are the kinds of source an investigation reads (the engine's
// names for them, first word), and the reasoner and the deadline.
var SourceKinds = []string{"alarm", "metrics", "logs", "traces", "changes", "topology", "health", "quotas", "check", "reasoner", "deadline"}

// Bot holds the metrics, in a registry of their own (with the Go runtime's
// and the process's), so that tests and several bots in one process do not
// share counters.
type Bot struct {
	reg *prometheus.Registry

	started     prometheus.Counter
	finished    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	sourceErrs  *prometheus.CounterVec
	acked       *prometheus.CounterVec
	ackLatency  *prometheus.HistogramVec
	modelTokens *prometheus.CounterVec
	passes      prometheus.Counter
	recovered   *prometheus.CounterVec
}

// New returns the metrics, registered.
func New() *Bot {
	m := &Bot{
		reg: prometheus.NewRegistry(),
		started: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "unstuck_investigations_started_total",
			Help: "Investigations started (commands, alarms, re-runs).",
		}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "unstuck_investigations_finished_total",
			Help: "Investigations finished, by outcome: done, cut_short (deadline), failed, taken_over (by another replica).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "unstuck_investigation_duration_seconds",
			Help:    "Wall time of an investigation, from start to report, by outcome.",
			Buckets: []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600},
		}, []string{"outcome"}),
		sourceErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "unstuck_source_errors_total",
			Help: "Sources an investigation could not read, by source (metrics, logs, traces, changes, topology, health, quotas, check, reasoner, deadline).",
		}, []string{"source"}),
		acked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "unstuck_envelopes_acked_total",
			Help: "Socket-mode envelopes acknowledged, by type (slash_commands, events_api, interactive) and result (ok, error).",
		}, []string{"type", "result"}),
		ackLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "unstuck_ack_latency_seconds",
			Help:    "Time from an envelope's arrival to its acknowledgement being written, by type. Slack wants it under 3s.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5},
		}, []string{"type"}),
		modelTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "unstuck_model_tokens_total",
			Help: "Model tokens spent, by kind (prompt, completion), as the server counts them (estimated when it does not).",
		}, []string{"kind"}),
		passes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "unstuck_recovery_passes_total",
			Help: "Passes over the work stopped or crashed replicas left (at start, then every minute).",
		}),
		recovered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "unstuck_recovered_total",
			Help: "Work a stopped or crashed replica left that this one took over, by kind: investigation (failed, its thread told), event (handled again).",
		}, []string{"kind"}),
	}
	m.reg.MustRegister(m.started, m.finished, m.duration, m.sourceErrs, m.acked, m.ackLatency, m.modelTokens, m.passes, m.recovered,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The known label values start at 0, so that rates and absent series
	// read right from the first scrape.
	for _, o := range []string{"done", "cut_short", "failed", "taken_over"} {
		m.finished.WithLabelValues(o)
	}
	for _, s := range SourceKinds {
		m.sourceErrs.WithLabelValues(s)
	}
	m.recovered.WithLabelValues("investigation")
	m.recovered.WithLabelValues("event")
	m.modelTokens.WithLabelValues("prompt")
	m.modelTokens.WithLabelValues("completion")
	return m
}

// Registry is where the metrics are registered.
func (m *Bot) Registry() *prometheus.Registry { return m.reg }

// Acked records one acknowledgement.
func (m *Bot) Acked(envelopeType string, latency time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.acked.WithLabelValues(envelopeType, result).Inc()
	m.ackLatency.WithLabelValues(envelopeType).Observe(latency.Seconds())
}

// InvestigationStarted records an investigation starting.
func (m *Bot) InvestigationStarted() { m.started.Inc() }

// InvestigationFinished records how an investigation ended and how long it
// took.
func (m *Bot) InvestigationFinished(outcome string, took time.Duration) {
	m.finished.WithLabelValues(outcome).Inc()
	m.duration.WithLabelValues(outcome).Observe(took.Seconds())
}

// SourceError records a source an investigation could not read.
func (m *Bot) SourceError(source string) { m.sourceErrs.WithLabelValues(source).Inc() }

// Recovered records one recovery pass and what it took over.
func (m *Bot) Recovered(investigations, events int) {
	m.passes.Inc()
	m.recovered.WithLabelValues("investigation").Add(float64(investigations))
	m.recovered.WithLabelValues("event").Add(float64(events))
}

// WorkInFlight exposes inFlight (handlers.Bot.InFlight: the work a bot
// has taken and not finished) as the gauge unstuck_work_in_flight.
func (m *Bot) WorkInFlight(inFlight func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "unstuck_work_in_flight",
		Help: "Work taken and not finished: envelopes being kept and acknowledged, and jobs (answers, buttons, investigations) waiting or running.",
	}, func() float64 { return float64(inFlight()) }))
}

// ModelTokens records the tokens of one model request.
func (m *Bot) ModelTokens(prompt, completion int) {
	if prompt > 0 {
		m.modelTokens.WithLabelValues("prompt").Add(float64(prompt))
	}
	if completion > 0 {
		m.modelTokens.WithLabelValues("completion").Add(float64(completion))
	}
}

// Check is one readiness condition: nil when it holds. /readyz has no
// authentication and serves its error's text: keep it to a few words.
type Check func(ctx context.Context) error

// Handler serves /metrics, /healthz (the process is up: always 200) and
// /readyz (every check holds: 200, else 503 with what failed, as JSON).
func (m *Bot) Handler(ready map[string]Check) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status := map[string]string{}
		code := http.StatusOK
		for name, check := range ready {
			if err := check(ctx); err != nil {
				status[name] = err.Error()
				code = http.StatusServiceUnavailable
			} else {
				status[name] = "ok"
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(status)
	})
	return mux
}
