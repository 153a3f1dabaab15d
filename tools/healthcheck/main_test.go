package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()

	if code := run([]string{srv.URL + "/healthz"}, io.Discard); code != 0 {
		t.Errorf("200: exit %d, want 0", code)
	}
	if code := run([]string{srv.URL + "/other"}, io.Discard); code != 1 {
		t.Errorf("404: exit %d, want 1", code)
	}
	status = http.StatusServiceUnavailable
	var stderr strings.Builder
	if code := run([]string{srv.URL + "/healthz"}, &stderr); code != 1 || !strings.Contains(stderr.String(), "503") {
		t.Errorf("503: exit %d (%q), want 1 naming 503", code, stderr.String())
	}
}

func TestHealthcheckFailures(t *testing.T) {
	// Nothing listens: a closed port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := check("http://"+addr+"/healthz", time.Second); err == nil {
		t.Error("closed port: no error")
	}

	// A server that never answers: the deadline ends the check.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	go func() {
		c, err := hang.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(2 * time.Second)
		}
	}()
	start := time.Now()
	if err := check("http://"+hang.Addr().String()+"/healthz", 200*time.Millisecond); err == nil {
		t.Error("silent server: no error")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("silent server: took %v past a 200ms deadline", d)
	}

	for _, bad := range []string{"https://127.0.0.1/healthz", "127.0.0.1:9090", "http:///healthz", "::"} {
		if err := check(bad, time.Second); err == nil || !strings.Contains(err.Error(), "want http://") {
			t.Errorf("%q: %v, want a usage error", bad, err)
		}
	}
	if code := run([]string{"a", "b"}, io.Discard); code != 2 {
		t.Errorf("two arguments: exit %d, want 2", code)
	}
}
