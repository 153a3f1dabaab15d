package main

import (
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/unstuck/unstuck/handlers"
	"github.com/unstuck/unstuck/llm"
	"github.com/unstuck/unstuck/logging"
	"github.com/unstuck/unstuck/metrics"
	"github.com/unstuck/unstuck/store"
)

// serveLogger is bot serve's logger: text or JSON at level, with the
// model's redactor (llm's built-in rules and its configured patterns) and
// the process's own tokens and keys scrubbed from every line.
func serveLogger(w io.Writer, format, level string, model *llm.Model, secrets ...string) (*slog.Logger, error) {
	lvl, err := logging.ParseLevel(level)
	if err != nil {
		return nil, usageError{"--log-level: " + err.Error()}
	}
	secrets = append(secrets, os.Getenv("OPENAI_API_KEY"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))
	l, err := logging.New(w, format, lvl, logging.Literal(model.Redactor().Redact, secrets...))
	if err != nil {
		return nil, usageError{"--log-format: " + err.Error()}
	}
	return l, nil
}

// stdLogger routes a library's log.Logger (socket mode's) into logger.
func stdLogger(logger *slog.Logger, prefix string) *log.Logger {
	l := slog.NewLogLogger(logger.Handler(), slog.LevelInfo)
	l.SetPrefix(prefix)
	return l
}

// serveHTTP serves /metrics, /healthz and /readyz on addr until stop is
// called; ready when the socket is connected and the store answers.
func serveHTTP(addr string, m *metrics.Bot, bot *handlers.Bot, logger *slog.Logger, more map[string]metrics.Check) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	checks := map[string]metrics.Check{
		"slack": bot.SocketConnected,
		"store": briefCheck(logger, "store", bot.StoreReachable, func(err error) string { return string(store.Classify(err)) }),
	}
	maps.Copy(checks, more)
	srv := &http.Server{
		Handler:           m.Handler(checks),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          stdLogger(logger, "http: "),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server", "err", err)
		}
	}()
	logger.Info("serving /metrics, /healthz and /readyz", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

// briefCheck is check as /readyz serves it, without authentication: its
// error is a few words (brief's), never the error itself, which may name an
// endpoint, an operation, a table's ARN or a file. The error goes to the log,
// once each time the reason changes.
func briefCheck(logger *slog.Logger, name string, check metrics.Check, brief func(error) string) metrics.Check {
	var mu sync.Mutex
	last := ""
	return func(ctx context.Context) error {
		err := check(ctx)
		reason := ""
		if err != nil {
			reason = brief(err)
		}
		mu.Lock()
		changed := reason != last
		last = reason
		mu.Unlock()
		switch {
		case err != nil && changed:
			logger.Error("readiness: "+name+" failing", "reason", reason, "err", err)
		case err == nil && changed:
			logger.Info("readiness: " + name + " ok again")
		}
		if err != nil {
			return errors.New(reason)
		}
		return nil
	}
}

// cached is check answered from its last result until ttl has passed by
// now (time.Now when nil): a probe every few seconds reaches what the
// check reads once per ttl at most.
func cached(ttl time.Duration, now func() time.Time, check metrics.Check) metrics.Check {
	if now == nil {
		now = time.Now
	}
	var mu sync.Mutex
	var at time.Time
	var last error
	return func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if t := now(); at.IsZero() || t.Sub(at) >= ttl {
			last, at = check(ctx), t
		}
		return last
	}
}
