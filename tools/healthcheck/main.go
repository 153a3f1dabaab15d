// Command healthcheck asks a bot's /healthz and exits 0 when it answers
// 200, 1 otherwise. The container image has no shell and no curl, so a
// health check that runs a command in the container (ECS's healthCheck,
// Docker's HEALTHCHECK) runs this:
//
//	/healthcheck                                  # http://127.0.0.1:9090/healthz
//	/healthcheck http://127.0.0.1:8080/healthz
//
// It speaks just enough HTTP/1.0 over net to read a status line, which
// keeps it far smaller than a net/http client.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultURL is where the deployments serve /healthz (bot serve
// --http-addr :9090).
const DefaultURL = "http://127.0.0.1:9090/healthz"

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	if len(args) > 1 {
		fmt.Fprintln(stderr, "usage: healthcheck [http://HOST:PORT/PATH]")
		return 2
	}
	target := DefaultURL
	if len(args) == 1 {
		target = args[0]
	}
	if err := check(target, 3*time.Second); err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	return 0
}

// check GETs target and returns nil on a 200.
func check(target string, timeout time.Duration) error {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("%q: want http://HOST:PORT/PATH", target)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	conn, err := net.DialTimeout("tcp", host, timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: unstuck-healthcheck\r\nConnection: close\r\n\r\n", u.RequestURI(), u.Host); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("%s: no answer: %w", target, err)
	}
	fields := strings.Fields(line)
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "HTTP/") {
		return fmt.Errorf("%s: not an HTTP answer: %q", target, strings.TrimSpace(line))
	}
	if fields[1] != "200" {
		return fmt.Errorf("%s: %s", target, strings.TrimSpace(strings.TrimPrefix(line, fields[0])))
	}
	return nil
}
