// Package slacktest is a Slack-compatible server on loopback for tests: the
// socket-mode side (apps.connections.open, websockets that say hello; each
// envelope delivered to a random one of the app's open connections, as
// Slack spreads them over a scaled-out app's replicas; acknowledgements
// recorded; Events API envelopes optionally delivered twice and delivered
// again when their connection drops unacknowledged, while a slash command
// or a click that finds no connection, or is not acknowledged in time, is
// lost, as Slack loses them; pings; disconnect messages; at most ten
// connections) and the Web API methods the bot calls (auth.test,
// chat.postMessage, chat.update, chat.postEphemeral, files upload v2,
// users.list, usergroups.users.list), with Slack's Block Kit limits, rate
// limits on request and a model of the channels' messages to assert on.
// The real slack-go client talks to it through
// slack.OptionAPIURL(server.URL).
package slacktest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// Identities the server answers with.
const (
	AppToken  = "xapp-1-test"
	BotToken  = "xoxb-test"
	BotUserID = "UBOT0001"
	BotID     = "BBOT0001"
	TeamID    = "T0001"
	AppID     = "A0001"
)

// Message is a message in the server's model of the workspace.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string
	Text     string
	User     string
	BotID    string
	Blocks   json.RawMessage
	// Ephemeral messages are seen by User only.
	Ephemeral bool
	// Updates are the times of chat.update calls on it.
	Updates []time.Time
	Posted  time.Time
}

// Call is one Web API call.
type Call struct {
	Method string
	Args   map[string]string
	At     time.Time
	// TS is the ts of the message a chat.postMessage posted.
	TS string
	// RateLimited: the call was refused for the method's rate limit.
	RateLimited bool
}

// Ack is an envelope's acknowledgement.
type Ack struct {
	EnvelopeID string
	Payload    json.RawMessage
	At         time.Time
	// Latency is from the envelope's (last) delivery to its ack.
	Latency time.Duration
}

// File is an uploaded file.
type File struct {
	ID, Name, Title, Channel, ThreadTS string
	Data                               []byte
	Completed                          bool
}

type delivery struct {
	id       string
	typ      string
	payload  json.RawMessage
	attempts int
	sentAt   time.Time
	sentOn   *conn
	acked    bool
	// timer fails a slash command or an interactive envelope that is not
	// acknowledged in time.
	timer *time.Timer
	// failed: a slash command or an interactive envelope Slack gave up on
	// (no connection, or no acknowledgement in time): the user saw it fail.
	failed bool
	// duplicate: a second delivery of another envelope's payload.
	duplicate bool
}

// redelivered reports whether Slack delivers the envelope again when it is
// not acknowledged: Events API envelopes only. Slash commands and
// interactive payloads are not retried.
func (d *delivery) redelivered() bool { return d.typ == TypeEvents }

// Delivery is what became of one envelope.
type Delivery struct {
	EnvelopeID string
	Type       string
	// Connection is the number (1, 2, …, in order of opening) of the
	// connection it was last sent on; 0 when it was not sent yet.
	Connection int
	Attempts   int
	Acked      bool
	// Failed is a slash command or an interactive envelope that Slack gave
	// up on: sent while no connection was open, or not acknowledged within
	// AckTimeout (its connection closing first counts too). The user saw
	// it fail; an acknowledgement that comes later is recorded (Acked) but
	// changes nothing.
	Failed bool
	// Duplicate is a second delivery of the previous envelope's payload.
	Duplicate bool
}

type conn struct {
	ws *websocket.Conn
	wm sync.Mutex
	n  int
	// closed and refreshing are guarded by the server's mu.
	closed     bool
	refreshing bool
}

func (c *conn) write(v any) error {
	c.wm.Lock()
	defer c.wm.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteJSON(v)
}

// Options tune a Server. The zero value delivers every envelope once,
// limits no method's rate and behaves as Slack does otherwise.
type Options struct {
	// Duplicates is the share of Events API envelopes (0 to 1) that are
	// delivered a second time, as a new envelope with the same payload and
	// retry_attempt 1, to a random connection (the same or another): the
	// duplicates a bot must handle once. Slack retries nothing else.
	Duplicates float64
	// Seed seeds the random choices of connections and duplicates; zero
	// takes a random seed.
	Seed uint64
	// Scopes, when set, are the bot token's scopes, which Slack lists in
	// the X-OAuth-Scopes header of every Web API answer to that token.
	// The app token's answers list connections:write.
	Scopes []string
	// AckTimeout is how long a slash command or an interactive envelope
	// waits for its acknowledgement before Slack tells the user it failed
	// (default 3s, Slack's).
	AckTimeout time.Duration
	// PingInterval is how often the server pings each connection (default
	// 10s: Slack pings well within the 30s after which slack-go's client,
	// and Slack's own SDKs, give a silent connection up); negative sends
	// no pings.
	PingInterval time.Duration
	// MaxConnections is how many websockets the app may have open (default
	// 10, Slack's cap): one more is told too_many_websockets and closed.
	MaxConnections int
	// RateLimits limit Web API methods by name (Tiers has Slack's); nil
	// limits none. A call over its method's limit is answered HTTP 429
	// with Retry-After in whole seconds, as Slack answers.
	RateLimits map[string]Limit
	// RateLimitedInBody answers a call over its limit with HTTP 200 and
	// {"ok":false,"error":"ratelimited"}, without Retry-After, as Slack
	// answers some methods, instead of a 429.
	RateLimitedInBody bool
	// LenientTotalText turns off the check of the text across a message's
	// blocks (12,000 characters, msg_blocks_too_long), which Slack makes.
	LenientTotalText bool
}

// Limit is a Web API method's rate limit: at most N calls in any Window,
// per channel when PerChannel (Slack counts per method, app and
// workspace; chat.postMessage per channel too).
type Limit struct {
	N          int
	Window     time.Duration // default a minute
	PerChannel bool
}

// Tiers returns Slack's rate limits for the methods the server answers,
// each tier at the low end of its range (Slack tolerates some bursts above
// it; the server does not): https://docs.slack.dev/apis/web-api/rate-limits
// for the tiers, each method's reference page (and the Java SDK's
// MethodsRateLimits table) for its tier.
func Tiers() map[string]Limit {
	const tier1, tier2, tier3, tier4 = 1, 20, 50, 100
	return map[string]Limit{
		"apps.connections.open":        {N: tier1},
		"users.list":                   {N: tier2},
		"usergroups.users.list":        {N: tier2},
		"chat.update":                  {N: tier3},
		"chat.postEphemeral":           {N: tier4},
		"files.getUploadURLExternal":   {N: tier4},
		"files.completeUploadExternal": {N: tier4},
		// Special: one message a second in each channel.
		"chat.postMessage": {N: 1, Window: time.Second, PerChannel: true},
	}
}

// Server is the fake Slack.
type Server struct {
	// URL is the Web API base for slack.OptionAPIURL ("http://127.0.0.1:port/api/").
	URL string

	srv      *httptest.Server
	upgrader websocket.Upgrader
	ping     time.Duration
	opts     Options

	mu          sync.Mutex
	rng         *rand.Rand
	changed     chan struct{}
	conns       []*conn // open, in order of opening
	connections int
	deliveries  []*delivery
	byID        map[string]*delivery
	acks        []Ack
	calls       []Call
	msgs        []*Message
	files       map[string]*File
	seq         int64
	envSeq      int
	userGroups  map[string][]string
	// bots are the workspace's bot users, as users.list lists them.
	bots      []map[string]any
	outside   map[string]bool // channels the bot is not a member of
	responses []Response
	closed    bool
	// paused refuses new websockets (Pause).
	paused bool
	// members are the channels' members, for the channels that have them
	// set (SetMembers); anyone is a member of the other channels.
	members map[string]map[string]bool
	// limited are the times of the calls each rate limit counted, by
	// method (and channel).
	limited map[string][]time.Time
	pings   int
}

// Response is a message sent to a slash command's response_url.
type Response struct {
	Path         string
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

// NewServer starts a server on loopback that delivers every envelope once;
// Close stops it.
func NewServer() *Server { return NewServerWith(Options{}) }

// NewServerWith starts a server on loopback with options; Close stops it.
func NewServerWith(o Options) *Server {
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Server{
		opts:       o,
		rng:        rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		ping:       cmp.Or(o.PingInterval, 10*time.Second),
		changed:    make(chan struct{}),
		byID:       map[string]*delivery{},
		files:      map[string]*File{},
		userGroups: map[string][]string{},
		bots:       []map[string]any{botUser("U0AWSBOT", "aws", "AWS Chatbot", "B0AWS", "A0AWSCHAT")},
		outside:    map[string]bool{},
		members:    map[string]map[string]bool{},
		limited:    map[string][]time.Time{},
		seq:        1733234400_000100,
	}
	s.opts.AckTimeout = cmp.Or(s.opts.AckTimeout, 3*time.Second)
	s.opts.MaxConnections = cmp.Or(s.opts.MaxConnections, 10)
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.api)
	mux.HandleFunc("/ws", s.socket)
	mux.HandleFunc("/upload/", s.upload)
	mux.HandleFunc("/response/", s.response)
	// The client sends Slack's own origin.
	s.upgrader.CheckOrigin = func(*http.Request) bool { return true }
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL + "/api/"
	return s
}

// Close stops the server and drops the connections.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	conns := s.takeConns()
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.Close()
	}
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// takeConns marks every open connection closed and returns them; call with
// mu held.
func (s *Server) takeConns() []*conn {
	conns := s.conns
	s.conns = nil
	for _, c := range conns {
		s.markClosed(c)
	}
	s.notify()
	return conns
}

// markClosed marks a connection closed: a slash command or an interactive
// envelope sent on it and not acknowledged can no longer be, and has
// failed (Events API envelopes are delivered again); call with mu held.
func (s *Server) markClosed(c *conn) {
	c.closed = true
	for _, d := range s.deliveries {
		if d.sentOn == c && !d.acked && !d.redelivered() {
			s.fail(d)
		}
	}
}

// fail records that Slack gave up on a slash command or an interactive
// envelope; call with mu held.
func (s *Server) fail(d *delivery) {
	if d.failed {
		return
	}
	d.failed = true
	if d.timer != nil {
		d.timer.Stop()
	}
	s.notify()
}

// Leave makes the bot not a member of a channel: posting there fails with
// not_in_channel.
func (s *Server) Leave(channel string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outside[channel] = true
}

// ResponseURL is a slash command's response_url on this server.
func (s *Server) ResponseURL() string { return s.srv.URL + "/response/" + next("") }

// Responses returns what was sent to response URLs.
func (s *Server) Responses() []Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.responses)
}

func (s *Server) response(w http.ResponseWriter, r *http.Request) {
	var resp Response
	if err := json.NewDecoder(r.Body).Decode(&resp); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp.Path = r.URL.Path
	s.mu.Lock()
	s.responses = append(s.responses, resp)
	s.notify()
	s.mu.Unlock()
	reply(w, map[string]any{"ok": true})
}

// SetUserGroup sets a user group's members.
func (s *Server) SetUserGroup(id string, users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userGroups[id] = users
}

// notify wakes waiters; call with mu held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// WaitFor waits until cond (called without the server's lock) is true, or
// the timeout passes.
func (s *Server) WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			return cond()
		}
	}
}

// nextTS returns a new message ts; call with mu held.
func (s *Server) nextTS() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", s.seq/1_000_000, s.seq%1_000_000)
}

// Post adds a message to the model (a person's or another bot's) and
// returns its ts, for a test to then deliver its event.
func (s *Server) Post(m Message) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.TS = s.nextTS()
	m.Posted = time.Now()
	s.msgs = append(s.msgs, &m)
	s.notify()
	return m.TS
}

// Messages returns the messages of a channel (ephemeral ones included), in
// order of posting.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.msgs {
		if m.Channel == channel {
			out = append(out, copyMessage(m))
		}
	}
	return out
}

// Thread returns a thread: its root and the replies, ephemeral ones left
// out.
func (s *Server) Thread(channel, ts string) []Message {
	var out []Message
	for _, m := range s.Messages(channel) {
		if !m.Ephemeral && (m.TS == ts || m.ThreadTS == ts) {
			out = append(out, m)
		}
	}
	return out
}

// Message returns one message by ts.
func (s *Server) Message(channel, ts string) (Message, bool) {
	for _, m := range s.Messages(channel) {
		if m.TS == ts {
			return m, true
		}
	}
	return Message{}, false
}

func copyMessage(m *Message) Message {
	c := *m
	c.Updates = slices.Clone(m.Updates)
	return c
}

// Calls returns the Web API calls of a method ("" for all).
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Files returns the uploaded files.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []File
	for _, f := range s.files {
		out = append(out, *f)
	}
	return out
}

// Connections is how many websocket connections were opened.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connections
}

// Connected reports whether a websocket connection is open.
func (s *Server) Connected() bool { return s.Open() > 0 }

// Open is how many websocket connections are open.
func (s *Server) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Deliveries returns what became of each envelope, in order of sending.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, 0, len(s.deliveries))
	for _, d := range s.deliveries {
		dd := Delivery{EnvelopeID: d.id, Type: d.typ, Attempts: d.attempts, Acked: d.acked, Failed: d.failed, Duplicate: d.duplicate}
		if d.sentOn != nil {
			dd.Connection = d.sentOn.n
		}
		out = append(out, dd)
	}
	return out
}

// Delivery returns what became of one envelope.
func (s *Server) Delivery(envelopeID string) (Delivery, bool) {
	for _, d := range s.Deliveries() {
		if d.EnvelopeID == envelopeID {
			return d, true
		}
	}
	return Delivery{}, false
}

// Acks returns the acknowledgements received.
func (s *Server) Acks() []Ack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acks)
}

// Ack returns an envelope's acknowledgement.
func (s *Server) Ack(envelopeID string) (Ack, bool) {
	for _, a := range s.Acks() {
		if a.EnvelopeID == envelopeID {
			return a, true
		}
	}
	return Ack{}, false
}

// WaitAck waits for an envelope's acknowledgement.
func (s *Server) WaitAck(envelopeID string, timeout time.Duration) (Ack, bool) {
	var a Ack
	ok := s.WaitFor(timeout, func() bool {
		var found bool
		a, found = s.Ack(envelopeID)
		return found
	})
	return a, ok
}

// Send delivers an envelope of a type (slash_commands, events_api,
// interactive) with a payload to a random open connection. With none open,
// an Events API envelope waits for the next, while a slash command or an
// interactive envelope fails at once (Delivery.Failed), as Slack tells the
// user. With Options.Duplicates, an Events API envelope is sometimes
// delivered a second time. It returns the envelope id.
func (s *Server) Send(typ string, payload any) string {
	raw, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	d := s.newDelivery(typ, raw)
	var dup *delivery
	if d.redelivered() && s.opts.Duplicates > 0 && s.rng.Float64() < s.opts.Duplicates {
		dup = s.newDelivery(typ, raw)
		dup.duplicate = true
	}
	s.mu.Unlock()
	s.deliver(d)
	if dup != nil {
		s.deliver(dup)
	}
	return d.id
}

// newDelivery records a new envelope; call with mu held.
func (s *Server) newDelivery(typ string, raw json.RawMessage) *delivery {
	s.envSeq++
	d := &delivery{id: fmt.Sprintf("env-%06d", s.envSeq), typ: typ, payload: raw}
	s.deliveries = append(s.deliveries, d)
	s.byID[d.id] = d
	return d
}

// deliver writes an envelope on a random open connection, unless it is
// acknowledged, failed or on its way on an open connection already. With
// none open, an Events API envelope waits for the next and any other
// fails. A slash command or an interactive envelope not acknowledged
// within AckTimeout fails.
func (s *Server) deliver(d *delivery) {
	s.mu.Lock()
	if d.acked || d.failed || (d.sentOn != nil && !d.sentOn.closed) {
		s.mu.Unlock()
		return
	}
	conns := s.sendable()
	if len(conns) == 0 {
		if !d.redelivered() {
			s.fail(d)
		}
		s.mu.Unlock()
		return
	}
	c := conns[s.rng.IntN(len(conns))]
	d.attempts++
	d.sentOn = c
	d.sentAt = time.Now()
	if !d.redelivered() {
		d.timer = time.AfterFunc(s.opts.AckTimeout, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if !d.acked {
				s.fail(d)
			}
		})
	}
	env := map[string]any{
		"envelope_id":              d.id,
		"type":                     d.typ,
		"payload":                  d.payload,
		"accepts_response_payload": acceptsResponsePayload(d.typ, d.payload),
	}
	if retry := d.attempts - 1; retry > 0 || d.duplicate {
		env["retry_attempt"] = max(retry, 1)
		env["retry_reason"] = "timeout"
	}
	s.notify()
	s.mu.Unlock()
	_ = c.write(env)
}

// sendable are the open connections an envelope may go to: those Slack did
// not ask to refresh, or all when every one was; call with mu held.
func (s *Server) sendable() []*conn {
	var out []*conn
	for _, c := range s.conns {
		if !c.refreshing {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return s.conns
	}
	return out
}

// acceptsResponsePayload is the envelope's accepts_response_payload: true
// for what may be answered in the acknowledgement (slash commands, view
// submissions, options requests), false for events and block actions.
func acceptsResponsePayload(typ string, payload json.RawMessage) bool {
	switch typ {
	case TypeSlash:
		return true
	case TypeInteractive:
		var p struct{ Type string }
		_ = json.Unmarshal(payload, &p)
		return p.Type == "view_submission" || p.Type == "block_suggestion"
	}
	return false
}

// redeliver sends the Events API envelopes that were not acknowledged and
// whose connection closed (or that never went out).
func (s *Server) redeliver() {
	s.mu.Lock()
	var pending []*delivery
	for _, d := range s.deliveries {
		if d.redelivered() && !d.acked && (d.sentOn == nil || d.sentOn.closed) {
			pending = append(pending, d)
		}
	}
	s.mu.Unlock()
	for _, d := range pending {
		s.deliver(d)
	}
}

// Pause refuses new websockets (Slack unreachable) until Resume; the open
// ones stay up until Drop.
func (s *Server) Pause() {
	s.mu.Lock()
	s.paused = true
	s.mu.Unlock()
}

// Resume accepts websockets again.
func (s *Server) Resume() {
	s.mu.Lock()
	s.paused = false
	s.mu.Unlock()
}

// Drop closes the websockets abruptly, as a network failure would.
func (s *Server) Drop() {
	s.mu.Lock()
	conns := s.takeConns()
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.UnderlyingConn().Close()
	}
}

// Disconnect reasons Slack sends.
const (
	// ReasonWarning: the connection closes in about ten seconds.
	ReasonWarning = "warning"
	// ReasonRefresh: Slack wants a new connection, as it does every few
	// hours.
	ReasonRefresh = "refresh_requested"
	// ReasonTooMany: the app has more connections open than Slack allows
	// (10); the connection is closed.
	ReasonTooMany = "too_many_websockets"
	// ReasonLinkDisabled: Socket Mode was turned off for the app; the
	// connection is closed.
	ReasonLinkDisabled = "link_disabled"
)

// Refresh asks the clients to reconnect, as Slack does every few hours.
func (s *Server) Refresh() { s.Disconnect(ReasonRefresh) }

// Disconnect sends every open connection a disconnect message with the
// reason. After a warning or a refresh request the connection stays until
// the client opens a new one, which closes it (and no envelope goes to it
// meanwhile while another is open); after any other reason it is closed
// at once.
func (s *Server) Disconnect(reason string) {
	s.mu.Lock()
	conns := slices.Clone(s.conns)
	keep := reason == ReasonWarning || reason == ReasonRefresh
	for _, c := range conns {
		c.refreshing = true
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.write(disconnect(reason))
	}
	if keep {
		return
	}
	s.mu.Lock()
	for _, c := range conns {
		s.markClosed(c)
	}
	s.conns = slices.DeleteFunc(s.conns, func(o *conn) bool { return o.closed })
	s.notify()
	s.mu.Unlock()
	for _, c := range conns {
		c.closeSoon()
	}
}

func disconnect(reason string) map[string]any {
	return map[string]any{"type": "disconnect", "reason": reason, "debug_info": map[string]any{"host": "slacktest"}}
}

// closeSoon closes the websocket a moment after a disconnect message, so
// that the client reads the message before the close (slack-go drops a
// message still queued when its connection ends).
func (c *conn) closeSoon() {
	time.AfterFunc(100*time.Millisecond, c.close)
}

// close closes the websocket with a close frame, as Slack closes it.
func (c *conn) close() {
	c.wm.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wm.Unlock()
	_ = c.ws.Close()
}

// Pings is how many pings the server sent (or was sending).
func (s *Server) Pings() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pings
}

func (s *Server) socket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	paused := s.paused
	s.mu.Unlock()
	if paused {
		http.Error(w, "unreachable", http.StatusServiceUnavailable)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &conn{ws: ws}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	if open := len(s.sendable()); open >= s.opts.MaxConnections {
		// Refreshing connections close when this one is up, and do not
		// count.
		s.connections++
		s.notify()
		s.mu.Unlock()
		_ = c.write(disconnect(ReasonTooMany))
		c.closeSoon()
		return
	}
	// Slack closes a connection it asked to refresh once a new one is up.
	var refreshed []*conn
	s.conns = slices.DeleteFunc(s.conns, func(o *conn) bool {
		if o.refreshing {
			s.markClosed(o)
			refreshed = append(refreshed, o)
			return true
		}
		return false
	})
	s.connections++
	c.n = s.connections
	s.conns = append(s.conns, c)
	n := len(s.conns)
	s.notify()
	s.mu.Unlock()
	if len(refreshed) > 0 {
		go func() {
			time.Sleep(100 * time.Millisecond)
			for _, o := range refreshed {
				_ = o.ws.Close()
			}
		}()
	}
	_ = c.write(map[string]any{
		"type":            "hello",
		"num_connections": n,
		"debug_info":      map[string]any{"host": "slacktest", "build_number": 1, "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": AppID},
	})
	// Deliver what waited, and redeliver what was not acknowledged.
	s.redeliver()

	done := make(chan struct{})
	if s.ping > 0 {
		go func() {
			t := time.NewTicker(s.ping)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					s.mu.Lock()
					s.pings++
					s.notify()
					s.mu.Unlock()
					c.wm.Lock()
					err := ws.WriteControl(websocket.PingMessage, []byte(fmt.Sprint(c.n)), time.Now().Add(time.Second))
					c.wm.Unlock()
					if err != nil {
						return
					}
				}
			}
		}()
	}
	defer close(done)
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			s.mu.Lock()
			s.markClosed(c)
			s.conns = slices.DeleteFunc(s.conns, func(o *conn) bool { return o == c })
			s.notify()
			s.mu.Unlock()
			// What it did not acknowledge goes to another connection.
			s.redeliver()
			return
		}
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(data, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		now := time.Now()
		s.mu.Lock()
		a := Ack{EnvelopeID: ack.EnvelopeID, Payload: ack.Payload, At: now}
		if d, ok := s.byID[ack.EnvelopeID]; ok {
			d.acked = true
			if d.timer != nil {
				d.timer.Stop()
			}
			a.Latency = now.Sub(d.sentAt)
		}
		s.acks = append(s.acks, a)
		s.notify()
		s.mu.Unlock()
	}
}

// args reads a Web API call's arguments: a form, a multipart form or JSON.
func args(r *http.Request) map[string]string {
	out := map[string]string{}
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/json"):
		var m map[string]any
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &m) == nil {
			for k, v := range m {
				if s, ok := v.(string); ok {
					out[k] = s
				} else {
					b, _ := json.Marshal(v)
					out[k] = string(b)
				}
			}
		}
	case strings.HasPrefix(ct, "multipart/"):
		_ = r.ParseMultipartForm(32 << 20)
		for k, v := range r.MultipartForm.Value {
			out[k] = v[0]
		}
	default:
		_ = r.ParseForm()
		for k, v := range r.Form {
			out[k] = v[0]
		}
	}
	return out
}

func token(r *http.Request, a map[string]string) string {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return t
	}
	return a["token"]
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, e string) { reply(w, map[string]any{"ok": false, "error": e}) }

func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	a := args(r)
	tok := token(r, a)
	delete(a, "token")
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: method, Args: a, At: time.Now()})
	call := len(s.calls) - 1
	retry, ok := s.allow(method, a["channel"])
	if !ok {
		s.calls[call].RateLimited = true
	}
	s.notify()
	s.mu.Unlock()
	if !ok {
		if s.opts.RateLimitedInBody {
			fail(w, "ratelimited")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		w.WriteHeader(http.StatusTooManyRequests)
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "ratelimited"})
		return
	}

	if method == "apps.connections.open" {
		if tok != AppToken {
			fail(w, "invalid_auth")
			return
		}
		w.Header().Set("X-OAuth-Scopes", "connections:write")
		reply(w, map[string]any{"ok": true, "url": "ws://" + r.Host + "/ws"})
		return
	}
	if tok != BotToken {
		fail(w, "invalid_auth")
		return
	}
	if s.opts.Scopes != nil {
		w.Header().Set("X-OAuth-Scopes", strings.Join(s.opts.Scopes, ","))
	}
	switch method {
	case "auth.test":
		reply(w, map[string]any{"ok": true, "url": "https://slacktest.slack.com/", "team": "test", "user": "unstuck", "team_id": TeamID, "user_id": BotUserID, "bot_id": BotID})
	case "chat.postMessage":
		s.postMessage(w, a, false, call)
	case "chat.postEphemeral":
		s.postMessage(w, a, true, call)
	case "chat.update":
		s.updateMessage(w, a)
	case "files.getUploadURLExternal":
		s.mu.Lock()
		id := fmt.Sprintf("F%06d", len(s.files)+1)
		s.files[id] = &File{ID: id, Name: a["filename"]}
		s.mu.Unlock()
		reply(w, map[string]any{"ok": true, "upload_url": "http://" + r.Host + "/upload/" + id, "file_id": id})
	case "files.completeUploadExternal":
		var files []struct{ ID, Title string }
		_ = json.Unmarshal([]byte(a["files"]), &files)
		s.mu.Lock()
		var out []map[string]string
		for _, f := range files {
			if sf, ok := s.files[f.ID]; ok && len(sf.Data) > 0 {
				sf.Title, sf.Channel, sf.ThreadTS, sf.Completed = f.Title, a["channel_id"], a["thread_ts"], true
				out = append(out, map[string]string{"id": f.ID, "title": f.Title})
			}
		}
		s.notify()
		s.mu.Unlock()
		if len(out) == 0 {
			fail(w, "file_not_found")
			return
		}
		reply(w, map[string]any{"ok": true, "files": out})
	case "users.list":
		// One page: the workspace's bot users (and no people, whom the bot
		// does not look up).
		s.mu.Lock()
		members := slices.Clone(s.bots)
		s.mu.Unlock()
		reply(w, map[string]any{"ok": true, "members": members, "response_metadata": map[string]any{"next_cursor": ""}})
	case "usergroups.users.list":
		s.mu.Lock()
		users, ok := s.userGroups[a["usergroup"]]
		s.mu.Unlock()
		if !ok {
			fail(w, "no_such_subteam")
			return
		}
		reply(w, map[string]any{"ok": true, "users": users})
	default:
		fail(w, "unknown_method")
	}
}

// allow counts a call against its method's rate limit: false, with the
// whole seconds to wait, when it is over; call with mu held.
func (s *Server) allow(method, channel string) (retryAfter int, ok bool) {
	l, limited := s.opts.RateLimits[method]
	if !limited || l.N <= 0 {
		return 0, true
	}
	window := cmp.Or(l.Window, time.Minute)
	key := method
	if l.PerChannel {
		key += " " + channel
	}
	now := time.Now()
	calls := slices.DeleteFunc(s.limited[key], func(t time.Time) bool { return !t.After(now.Add(-window)) })
	s.limited[key] = calls
	if len(calls) >= l.N {
		wait := calls[0].Add(window).Sub(now)
		return max(1, int(math.Ceil(wait.Seconds()))), false
	}
	s.limited[key] = append(calls, now)
	return 0, true
}

// SetMembers sets a channel's members: chat.postEphemeral to anyone else
// fails with user_not_in_channel. Channels never set have everyone.
func (s *Server) SetMembers(channel string, users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]bool{}
	for _, u := range users {
		m[u] = true
	}
	s.members[channel] = m
}

func (s *Server) postMessage(w http.ResponseWriter, a map[string]string, eph bool, call int) {
	if a["channel"] == "" {
		fail(w, "channel_not_found")
		return
	}
	if a["text"] == "" && a["blocks"] == "" {
		fail(w, "no_text")
		return
	}
	if err := checkBlocks(a["blocks"], !s.opts.LenientTotalText); err != "" {
		fail(w, err)
		return
	}
	s.mu.Lock()
	if s.outside[a["channel"]] {
		s.mu.Unlock()
		fail(w, "not_in_channel")
		return
	}
	if m, ok := s.members[a["channel"]]; eph && ok && !m[a["user"]] {
		s.mu.Unlock()
		fail(w, "user_not_in_channel")
		return
	}
	m := &Message{Channel: a["channel"], TS: s.nextTS(), ThreadTS: a["thread_ts"], Text: a["text"], Blocks: json.RawMessage(a["blocks"]), Posted: time.Now()}
	if eph {
		m.Ephemeral, m.User = true, a["user"]
	} else {
		m.User, m.BotID = BotUserID, BotID
	}
	s.msgs = append(s.msgs, m)
	s.calls[call].TS = m.TS
	s.notify()
	s.mu.Unlock()
	if eph {
		reply(w, map[string]any{"ok": true, "message_ts": m.TS})
		return
	}
	reply(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "message": map[string]any{"type": "message", "text": m.Text, "ts": m.TS, "user": m.User, "bot_id": m.BotID}})
}

func (s *Server) updateMessage(w http.ResponseWriter, a map[string]string) {
	if err := checkBlocks(a["blocks"], !s.opts.LenientTotalText); err != "" {
		fail(w, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m.Channel == a["channel"] && m.TS == a["ts"] && !m.Ephemeral {
			if m.User != BotUserID {
				fail(w, "cant_update_message")
				return
			}
			m.Text = a["text"]
			if a["blocks"] != "" {
				m.Blocks = json.RawMessage(a["blocks"])
			}
			m.Updates = append(m.Updates, time.Now())
			s.notify()
			reply(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text})
			return
		}
	}
	fail(w, "message_not_found")
}

// Block Kit's limits, as Slack's reference states them
// (https://docs.slack.dev/reference/block-kit/blocks and .../block-elements).
const (
	maxBlocks          = 50
	maxBlockID         = 255
	maxSectionText     = 3000
	maxSectionFields   = 10
	maxFieldText       = 2000
	maxHeaderText      = 150
	maxContextElements = 10
	maxActionElements  = 25
	maxMarkdownText    = 12000
	maxButtonText      = 75
	maxButtonValue     = 2000
	maxActionID        = 255
	maxButtonURL       = 3000
	// maxMessageText bounds the text of all of a message's blocks
	// together: over it Slack answers msg_blocks_too_long (Slack's staff
	// in slackapi/bolt-js#2867).
	maxMessageText = 12000
)

// checkBlocks enforces the Block Kit limits Slack rejects a message for, and
// returns Slack's error: invalid_blocks_format (not a JSON array of
// blocks), invalid_blocks (a block or element over a limit) or
// msg_blocks_too_long (the text of all the blocks together over 12,000
// characters, when total).
func checkBlocks(raw string, total bool) string {
	if raw == "" {
		return ""
	}
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return "invalid_blocks_format"
	}
	if len(blocks) > maxBlocks {
		return "invalid_blocks"
	}
	blockIDs := map[string]bool{}
	for _, b := range blocks {
		if !checkBlock(b, blockIDs) {
			return "invalid_blocks"
		}
	}
	if total && textLen(blocks) > maxMessageText {
		return "msg_blocks_too_long"
	}
	return ""
}

// checkBlock checks one block; blockIDs are the message's block ids so
// far.
func checkBlock(b map[string]any, blockIDs map[string]bool) bool {
	if id, ok := b["block_id"]; ok {
		s, isString := id.(string)
		if !isString || s == "" || runes(s) > maxBlockID || blockIDs[s] {
			return false
		}
		blockIDs[s] = true
	}
	switch b["type"] {
	case "header":
		t, ok := textObject(b["text"])
		return ok && t.plain && runes(t.text) <= maxHeaderText
	case "section":
		if v, ok := b["text"]; ok {
			t, ok := textObject(v)
			if !ok || runes(t.text) > maxSectionText {
				return false
			}
		}
		if v, ok := b["fields"]; ok {
			fields, ok := v.([]any)
			if !ok || len(fields) == 0 || len(fields) > maxSectionFields {
				return false
			}
			for _, f := range fields {
				t, ok := textObject(f)
				if !ok || runes(t.text) > maxFieldText {
					return false
				}
			}
		}
		if _, hasText := b["text"]; !hasText && b["fields"] == nil {
			return false
		}
		if acc, ok := b["accessory"].(map[string]any); ok {
			return checkElement(acc, map[string]bool{})
		}
		return true
	case "context":
		els, ok := b["elements"].([]any)
		return ok && len(els) > 0 && len(els) <= maxContextElements
	case "actions":
		els, ok := b["elements"].([]any)
		if !ok || len(els) == 0 || len(els) > maxActionElements {
			return false
		}
		actionIDs := map[string]bool{}
		for _, e := range els {
			el, ok := e.(map[string]any)
			if !ok || !checkElement(el, actionIDs) {
				return false
			}
		}
		return true
	case "markdown":
		text, ok := b["text"].(string)
		return ok && runes(text) <= maxMarkdownText
	}
	return true
}

// checkElement checks an interactive element; actionIDs are the action
// ids of its block so far, among which Slack wants each unique.
func checkElement(el map[string]any, actionIDs map[string]bool) bool {
	if id, ok := el["action_id"]; ok {
		s, isString := id.(string)
		if !isString || s == "" || runes(s) > maxActionID || actionIDs[s] {
			return false
		}
		actionIDs[s] = true
	}
	if el["type"] != "button" {
		return true
	}
	t, ok := textObject(el["text"])
	if !ok || !t.plain || runes(t.text) > maxButtonText {
		return false
	}
	if v, ok := el["value"]; ok {
		s, isString := v.(string)
		if !isString || runes(s) > maxButtonValue {
			return false
		}
	}
	if v, ok := el["url"]; ok {
		s, isString := v.(string)
		if !isString || runes(s) > maxButtonURL {
			return false
		}
	}
	switch el["style"] {
	case nil, "primary", "danger":
		return true
	}
	return false
}

type textObj struct {
	text  string
	plain bool
}

// textObject reads a text object: plain_text or mrkdwn, with a text.
func textObject(v any) (textObj, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return textObj{}, false
	}
	s, ok := m["text"].(string)
	if !ok {
		return textObj{}, false
	}
	switch m["type"] {
	case "plain_text":
		return textObj{s, true}, true
	case "mrkdwn":
		return textObj{s, false}, true
	}
	return textObj{}, false
}

// textLen is the length of every text in the blocks, added up.
func textLen(v any) int {
	n := 0
	switch x := v.(type) {
	case []map[string]any:
		for _, e := range x {
			n += textLen(e)
		}
	case []any:
		for _, e := range x {
			n += textLen(e)
		}
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "text" {
				n += runes(s)
			} else {
				n += textLen(e)
			}
		}
	}
	return n
}

func runes(s string) int { return utf8.RuneCountInString(s) }

func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/upload/")
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	data, _ := io.ReadAll(f)
	s.mu.Lock()
	sf, ok := s.files[id]
	if ok {
		sf.Data = data
	}
	s.notify()
	s.mu.Unlock()
	if !ok {
		http.Error(w, "no such upload", http.StatusNotFound)
		return
	}
	_, _ = w.Write([]byte("OK - " + fmt.Sprint(len(data))))
}

// BlocksText is every text in the message's blocks, joined by newlines, for
// assertions; the order of a block's fields is not kept.
func (m Message) BlocksText() string {
	var blocks any
	_ = json.Unmarshal(m.Blocks, &blocks)
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				b.WriteString(s)
				b.WriteString("\n")
			}
			for k, e := range x {
				if k != "text" {
					walk(e)
				}
			}
			if t, ok := x["text"].(map[string]any); ok {
				walk(t)
			}
		}
	}
	walk(blocks)
	return b.String()
}

// botUser is a bot user as users.list lists it: its bot and app ids are in
// its profile.
func botUser(id, name, realName, botID, appID string) map[string]any {
	return map[string]any{
		"id": id, "name": name, "real_name": realName, "is_bot": true, "deleted": false,
		"profile": map[string]any{"real_name": realName, "display_name": "", "bot_id": botID, "api_app_id": appID},
	}
}

// AddBot adds a bot user to the workspace users.list lists.
func (s *Server) AddBot(userID, name, realName, botID, appID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bots = append(s.bots, botUser(userID, name, realName, botID, appID))
}
