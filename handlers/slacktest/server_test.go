package slacktest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
)

// client is a bare socket-mode connection to the server, read by the test.
type client struct {
	t  *testing.T
	ws *websocket.Conn
	// pings counts the pings received (read by next's caller only).
	pings chan struct{}
}

func dial(t *testing.T, s *Server) *client {
	t.Helper()
	url := "ws" + strings.TrimPrefix(strings.TrimSuffix(s.URL, "/api/"), "http") + "/ws"
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, ws: ws, pings: make(chan struct{}, 100)}
	ws.SetPingHandler(func(string) error {
		select {
		case c.pings <- struct{}{}:
		default:
		}
		return nil
	})
	t.Cleanup(func() { _ = ws.Close() })
	if m := c.next(); m["type"] != "hello" {
		t.Fatalf("first message %v, want hello", m)
	}
	return c
}

// next reads the next message.
func (c *client) next() map[string]any {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m map[string]any
	if err := c.ws.ReadJSON(&m); err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

func (c *client) ack(id string) {
	c.t.Helper()
	if err := c.ws.WriteJSON(map[string]any{"envelope_id": id}); err != nil {
		c.t.Fatal(err)
	}
}

func deliveryOf(s *Server, id string) Delivery {
	d, _ := s.Delivery(id)
	return d
}

// Slack retries Events API envelopes only: a slash command or a click that
// finds no connection, is not acknowledged in time or whose connection
// closes first is lost, and the user is told it failed.
func TestDeliveryByType(t *testing.T) {
	payloads := map[string]any{
		TypeEvents:      EventCallback("", UserMessage("C1", "U1", "hi", "1.1", "")),
		TypeSlash:       SlashCommand("/investigate", "C1", "U1", "x"),
		TypeInteractive: BlockAction("C1", "U1", "1.1", "", "a", "v"),
	}
	tests := []struct {
		name, typ string
		// lose happens to the first delivery: "down" sends while no
		// connection is open, "close" closes the connection unacknowledged,
		// "timeout" leaves it unacknowledged.
		lose string
		// want: delivered again on the next connection, or failed.
		redelivered bool
	}{
		{"event while down", TypeEvents, "down", true},
		{"event on a closed connection", TypeEvents, "close", true},
		{"command while down", TypeSlash, "down", false},
		{"command on a closed connection", TypeSlash, "close", false},
		{"command not acknowledged", TypeSlash, "timeout", false},
		{"click while down", TypeInteractive, "down", false},
		{"click on a closed connection", TypeInteractive, "close", false},
		{"click not acknowledged", TypeInteractive, "timeout", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServerWith(Options{AckTimeout: 50 * time.Millisecond})
			defer s.Close()
			var id string
			if tt.lose == "down" {
				id = s.Send(tt.typ, payloads[tt.typ])
			}
			c := dial(t, s)
			if tt.lose != "down" {
				id = s.Send(tt.typ, payloads[tt.typ])
				if m := c.next(); m["envelope_id"] != id {
					t.Fatalf("got %v, want envelope %s", m, id)
				}
				switch tt.lose {
				case "close":
					_ = c.ws.Close()
					if !s.WaitFor(5*time.Second, func() bool { return s.Open() == 0 }) {
						t.Fatal("the connection did not close")
					}
					c = dial(t, s)
				case "timeout":
					if !s.WaitFor(5*time.Second, func() bool { return deliveryOf(s, id).Failed }) {
						t.Fatalf("not failed after the ack timeout: %+v", deliveryOf(s, id))
					}
					c.ack(id)
					if _, ok := s.WaitAck(id, 5*time.Second); !ok {
						t.Fatal("the late ack was not recorded")
					}
				}
			}
			// A marker event goes out after whatever the new connection
			// was owed.
			marker := s.Send(TypeEvents, payloads[TypeEvents])
			var got []string
			for {
				m := c.next()
				got = append(got, m["envelope_id"].(string))
				if m["envelope_id"] == marker {
					break
				}
			}
			redelivered := len(got) > 1 && got[0] == id
			d := deliveryOf(s, id)
			if redelivered != tt.redelivered || d.Failed == tt.redelivered {
				t.Errorf("envelopes on the new connection %v, %+v; want redelivered %v", got, d, tt.redelivered)
			}
			if tt.lose == "timeout" && !d.Acked {
				t.Errorf("%+v: the late ack is not recorded", d)
			}
		})
	}
}

// Slack asks for a response payload only where one may be given: slash
// commands, not events or block actions.
func TestAcceptsResponsePayload(t *testing.T) {
	tests := []struct {
		typ     string
		payload any
		want    bool
	}{
		{TypeSlash, SlashCommand("/investigate", "C1", "U1", "x"), true},
		{TypeEvents, EventCallback("", UserMessage("C1", "U1", "hi", "1.1", "")), false},
		{TypeInteractive, BlockAction("C1", "U1", "1.1", "", "a", "v"), false},
		{TypeInteractive, map[string]any{"type": "view_submission"}, true},
	}
	s := NewServer()
	defer s.Close()
	c := dial(t, s)
	for _, tt := range tests {
		s.Send(tt.typ, tt.payload)
		m := c.next()
		if got := m["accepts_response_payload"]; got != tt.want {
			t.Errorf("%s %v: accepts_response_payload = %v, want %v", tt.typ, tt.payload, got, tt.want)
		}
	}
}

// Pings come at the configured interval; by default at about Slack's.
func TestPings(t *testing.T) {
	s := NewServerWith(Options{PingInterval: 10 * time.Millisecond})
	defer s.Close()
	c := dial(t, s)
	go func() {
		for {
			if _, _, err := c.ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for range 3 {
		select {
		case <-c.pings:
		case <-time.After(5 * time.Second):
			t.Fatal("no ping")
		}
	}
	if n := s.Pings(); n < 3 {
		t.Errorf("Pings() = %d, want at least the 3 received", n)
	}
	// The default interval is about Slack's, well within the 30s slack-go
	// waits for a ping.
	def := NewServer()
	defer def.Close()
	if def.ping < 5*time.Second || def.ping >= 30*time.Second {
		t.Errorf("default ping interval %s", def.ping)
	}
}

// Disconnect messages carry their reason; the connections past ten are
// told too_many_websockets and closed.
func TestDisconnects(t *testing.T) {
	tests := []struct {
		reason string
		closed bool
	}{
		{ReasonWarning, false},
		{ReasonRefresh, false},
		{ReasonLinkDisabled, true},
		{ReasonTooMany, true},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			s := NewServer()
			defer s.Close()
			c := dial(t, s)
			s.Disconnect(tt.reason)
			if m := c.next(); m["type"] != "disconnect" || m["reason"] != tt.reason {
				t.Fatalf("got %v, want a disconnect for %s", m, tt.reason)
			}
			if tt.closed {
				if !s.WaitFor(5*time.Second, func() bool { return s.Open() == 0 }) {
					t.Error("the connection stays open")
				}
				return
			}
			// Open until the client has a new connection.
			if s.Open() != 1 {
				t.Fatalf("%d open, want 1", s.Open())
			}
			dial(t, s)
			_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			var m map[string]any
			if err := c.ws.ReadJSON(&m); err == nil || s.Open() != 1 {
				t.Errorf("the old connection is still open (%v, %d open)", m, s.Open())
			}
		})
	}

	t.Run("eleventh connection", func(t *testing.T) {
		s := NewServerWith(Options{MaxConnections: 2})
		defer s.Close()
		dial(t, s)
		dial(t, s)
		url := "ws" + strings.TrimPrefix(strings.TrimSuffix(s.URL, "/api/"), "http") + "/ws"
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		var m map[string]any
		if err := ws.ReadJSON(&m); err != nil || m["reason"] != ReasonTooMany {
			t.Fatalf("got %v, %v; want too_many_websockets", m, err)
		}
		if err := ws.ReadJSON(&m); err == nil {
			t.Errorf("the connection stays open: %v", m)
		}
		if s.Open() != 2 {
			t.Errorf("%d open, want 2", s.Open())
		}
	})
}

// Over a method's limit, the server answers as Slack does: HTTP 429 with
// Retry-After, which slack-go returns as a RateLimitedError, or a 200 with
// the error ratelimited.
func TestRateLimits(t *testing.T) {
	for _, inBody := range []bool{false, true} {
		s := NewServerWith(Options{RateLimitedInBody: inBody, RateLimits: map[string]Limit{
			"chat.update":      {N: 2, Window: time.Hour},
			"chat.postMessage": {N: 1, Window: time.Hour, PerChannel: true},
		}})
		api := slack.New(BotToken, slack.OptionAPIURL(s.URL))
		ctx := context.Background()
		_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("a", false))
		if err != nil {
			t.Fatal(err)
		}
		// Another channel has its own budget.
		if _, _, err := api.PostMessageContext(ctx, "C2", slack.MsgOptionText("a", false)); err != nil {
			t.Errorf("C2: %v", err)
		}
		_, _, err = api.PostMessageContext(ctx, "C1", slack.MsgOptionText("b", false))
		var got []error
		got = append(got, err)
		for range 3 {
			_, _, _, err := api.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText("c", false))
			got = append(got, err)
		}
		// Over the limit: the second post in C1 and the third update.
		for i, err := range got {
			over := i == 0 || i == 3
			var rl *slack.RateLimitedError
			var se slack.SlackErrorResponse
			switch {
			case !over && err != nil:
				t.Errorf("in body %v, call %d: %v", inBody, i, err)
			case over && !inBody && (!errors.As(err, &rl) || rl.RetryAfter < time.Hour-time.Minute):
				t.Errorf("in body %v, call %d: %v, want a RateLimitedError to wait about an hour", inBody, i, err)
			case over && inBody && (!errors.As(err, &se) || se.Err != "ratelimited"):
				t.Errorf("in body %v, call %d: %v, want the error ratelimited", inBody, i, err)
			}
		}
		if n := len(s.Calls("chat.update")); n != 3 {
			t.Errorf("%d chat.update calls recorded, want 3", n)
		}
		s.Close()
	}
}

// A user who is not in the channel gets no ephemeral message.
func TestEphemeralToNonMember(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.SetMembers("C1", "U1")
	api := slack.New(BotToken, slack.OptionAPIURL(s.URL))
	if _, err := api.PostEphemeral("C1", "U1", slack.MsgOptionText("hi", false)); err != nil {
		t.Errorf("member: %v", err)
	}
	var se slack.SlackErrorResponse
	if _, err := api.PostEphemeral("C1", "U2", slack.MsgOptionText("hi", false)); !errors.As(err, &se) || se.Err != "user_not_in_channel" {
		t.Errorf("non-member: %v, want user_not_in_channel", err)
	}
	if _, err := api.PostEphemeral("C2", "U2", slack.MsgOptionText("hi", false)); err != nil {
		t.Errorf("channel without members set: %v", err)
	}
}

func TestCheckBlocks(t *testing.T) {
	section := func(text string) map[string]any {
		return map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": text}}
	}
	button := func(actionID string, mod func(map[string]any)) map[string]any {
		b := map[string]any{"type": "button", "action_id": actionID, "text": map[string]any{"type": "plain_text", "text": "Go"}, "value": "v"}
		if mod != nil {
			mod(b)
		}
		return b
	}
	actions := func(id string, els ...any) map[string]any {
		return map[string]any{"type": "actions", "block_id": id, "elements": els}
	}
	fields := func(n, size int) map[string]any {
		var fs []any
		for range n {
			fs = append(fs, map[string]any{"type": "mrkdwn", "text": strings.Repeat("f", size)})
		}
		return map[string]any{"type": "section", "fields": fs}
	}
	many := func(n int, el func(i int) any) []any {
		var out []any
		for i := range n {
			out = append(out, el(i))
		}
		return out
	}
	ctxEl := func(int) any { return map[string]any{"type": "mrkdwn", "text": "c"} }
	tests := []struct {
		name   string
		blocks []any
		want   string
	}{
		{"ok", []any{section("hi"), actions("a", button("x", nil), button("y", nil))}, ""},
		{"the same action id in two blocks", []any{actions("a", button("x", nil)), actions("b", button("x", nil))}, ""},
		{"51 blocks", many(51, func(int) any { return map[string]any{"type": "divider"} }), "invalid_blocks"},
		{"section text 3001", []any{section(strings.Repeat("x", 3001))}, "invalid_blocks"},
		{"section text 3000", []any{section(strings.Repeat("é", 3000))}, ""},
		{"section with nothing", []any{map[string]any{"type": "section"}}, "invalid_blocks"},
		{"11 fields", []any{fields(11, 1)}, "invalid_blocks"},
		{"10 fields", []any{fields(10, 1)}, ""},
		{"field 2001", []any{fields(1, 2001)}, "invalid_blocks"},
		{"header 151", []any{map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": strings.Repeat("h", 151)}}}, "invalid_blocks"},
		{"header in mrkdwn", []any{map[string]any{"type": "header", "text": map[string]any{"type": "mrkdwn", "text": "h"}}}, "invalid_blocks"},
		{"context 11", []any{map[string]any{"type": "context", "elements": many(11, ctxEl)}}, "invalid_blocks"},
		{"actions 26", []any{actions("a", many(26, func(i int) any { return button(strings.Repeat("b", i+1), nil) })...)}, "invalid_blocks"},
		{"actions 25", []any{actions("a", many(25, func(i int) any { return button(strings.Repeat("b", i+1), nil) })...)}, ""},
		{"duplicate action id", []any{actions("a", button("x", nil), button("x", nil))}, "invalid_blocks"},
		{"action id 256", []any{actions("a", button(strings.Repeat("x", 256), nil))}, "invalid_blocks"},
		{"button text 76", []any{actions("a", button("x", func(b map[string]any) {
			b["text"] = map[string]any{"type": "plain_text", "text": strings.Repeat("t", 76)}
		}))}, "invalid_blocks"},
		{"button text in mrkdwn", []any{actions("a", button("x", func(b map[string]any) { b["text"] = map[string]any{"type": "mrkdwn", "text": "t"} }))}, "invalid_blocks"},
		{"button value 2001", []any{actions("a", button("x", func(b map[string]any) { b["value"] = strings.Repeat("v", 2001) }))}, "invalid_blocks"},
		{"button url 3001", []any{actions("a", button("x", func(b map[string]any) { b["url"] = strings.Repeat("u", 3001) }))}, "invalid_blocks"},
		{"button style", []any{actions("a", button("x", func(b map[string]any) { b["style"] = "default" }))}, "invalid_blocks"},
		{"button style danger", []any{actions("a", button("x", func(b map[string]any) { b["style"] = "danger" }))}, ""},
		{"accessory button", []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "s"}, "accessory": button("x", func(b map[string]any) { b["style"] = "bold" })}}, "invalid_blocks"},
		{"block id 256", []any{actions(strings.Repeat("i", 256), button("x", nil))}, "invalid_blocks"},
		{"duplicate block id", []any{actions("a", button("x", nil)), actions("a", button("y", nil))}, "invalid_blocks"},
		{"12,000 characters", many(4, func(int) any { return section(strings.Repeat("x", 3000)) }), ""},
		{"12,001 characters", append(many(4, func(int) any { return section(strings.Repeat("x", 3000)) }), map[string]any{"type": "context", "elements": []any{ctxEl(0)}}), "msg_blocks_too_long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := json.Marshal(tt.blocks)
			if err != nil {
				t.Fatal(err)
			}
			if got := checkBlocks(string(raw), true); got != tt.want {
				t.Errorf("checkBlocks = %q, want %q", got, tt.want)
			}
		})
	}
	if got := checkBlocks("{", true); got != "invalid_blocks_format" {
		t.Errorf("bad JSON: %q", got)
	}
}
