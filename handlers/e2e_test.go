package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/unstuck/unstuck/handlers"
	"github.com/unstuck/unstuck/handlers/blockkit"
	"github.com/unstuck/unstuck/handlers/slacktest"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm"
	"github.com/unstuck/unstuck/scenario"
	"github.com/unstuck/unstuck/scenarios"
	"github.com/unstuck/unstuck/sim"
)

const (
	channel  = "C0INCIDENT"
	alarmsCh = "C0ALARMS"
	user     = "U0ALICE"
)

// harness is the bot, served by the real slack-go socket-mode client,
// against the fake Slack, with a scenario's simulated AWS behind it.
type harness struct {
	t      testing.TB
	srv    *slacktest.Server
	bot    *handlers.Bot
	store  incident.Store
	sc     *scenario.Scenario
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

type setup struct {
	scenario string
	cfg      handlers.Config
	opts     handlers.Options
	sim      sim.Options
	// store is the bot's store; a new Memory when nil.
	store incident.Store
	// investigator replaces the engine when not nil.
	investigator handlers.Investigator
	// sources, when not nil, wraps the simulated sources.
	sources func(investigate.Sources) investigate.Sources
	// server tunes the fake Slack.
	server slacktest.Options
	// socket are options of the socket-mode client.
	socket []socketmode.Option
	// refuse, when not nil, answers a Web API call in Slack's place with
	// the error it returns; "" lets the call through to the fake.
	refuse func(method string, form url.Values) string
}

// refusingAPI stands in front of the fake Slack's Web API and answers the
// calls refuse refuses with {"ok": false, "error": …}, as Slack does.
func refusingAPI(t testing.TB, target string, refuse func(method string, form url.Values) string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	// The whole fake sits behind: the socket's address comes from the
	// host the connection was opened through.
	u.Path = ""
	proxy := httputil.NewSingleHostReverseProxy(u)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if e := refuse(path.Base(r.URL.Path), form); e != "" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"ok":false,"error":%q}`, e)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return front.URL + "/api/"
}

func newHarness(t testing.TB, s setup) *harness {
	t.Helper()
	if s.scenario == "" {
		s.scenario = "dynamodb-policy-change"
	}
	f, err := scenario.Load(scenarios.FS, s.scenario+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	backend := sim.New(f.Scenario, s.sim)
	src := backend.Sources()
	if s.sources != nil {
		src = s.sources(src)
	}
	be := handlers.SourcesBackend(src, investigate.Options{
		Reasoner: llm.NewOffline(),
		Lookback: backend.Now().Sub(f.Scenario.Start()),
		Clock:    backend.Now,
	}, []string{f.Scenario.Alarm.Name})
	if s.investigator != nil {
		be.Investigator = s.investigator
	}

	srv := slacktest.NewServerWith(s.server)
	apiURL := srv.URL
	if s.refuse != nil {
		apiURL = refusingAPI(t, srv.URL, s.refuse)
	}
	api := slack.New(slacktest.BotToken, slack.OptionAPIURL(apiURL), slack.OptionAppLevelToken(slacktest.AppToken))
	var store incident.Store = incident.NewMemory(0)
	if s.store != nil {
		store = s.store
	}
	opts := s.opts
	opts.Clock = backend.Now
	if opts.UpdateInterval == 0 {
		opts.UpdateInterval = 20 * time.Millisecond
	}
	if opts.APIRates == nil {
		// No rate of the bot's own (Slack's would have the tests wait on
		// it); the fake's rate limits, when a test sets them, still apply.
		opts.APIRates = map[string]handlers.APIRate{}
	}
	if opts.Grace == 0 {
		opts.Grace = 10 * time.Second
	}
	opts.Charts = true
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter(), nil))
	}
	bot := handlers.New(api, store, handlers.OneBackend(be), s.cfg, opts)
	sm := bot.SocketMode(api, nil, false, s.socket...)

	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, srv: srv, bot: bot, store: store, sc: f.Scenario, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- bot.Serve(ctx, sm) }()
	t.Cleanup(func() {
		h.stop()
		srv.Close()
	})
	if !srv.WaitFor(5*time.Second, srv.Connected) {
		t.Fatal("the bot did not connect")
	}
	return h
}

// stop ends Serve and waits for it.
func (h *harness) stop() {
	h.once.Do(func() {
		h.cancel()
		select {
		case <-h.done:
		case <-time.After(30 * time.Second):
			h.t.Error("Serve did not return")
		}
	})
}

// settle waits until the bot has acknowledged the envelopes envs and has
// no work in flight (Bot.InFlight): whatever they, and everything before
// them, asked for is done, so that what has not happened by now will not.
// Then a test may assert that something did not happen.
func (h *harness) settle(envs ...string) {
	h.t.Helper()
	settle(h.t, h.srv, envs, h.bot)
}

func settle(t testing.TB, srv *slacktest.Server, envs []string, bots ...*handlers.Bot) {
	t.Helper()
	for _, env := range envs {
		if _, ok := srv.WaitAck(env, 5*time.Second); !ok {
			t.Fatalf("envelope %s not acknowledged", env)
		}
	}
	idle := func() bool {
		for _, b := range bots {
			if b.InFlight() != 0 {
				return false
			}
		}
		return true
	}
	if !srv.WaitFor(30*time.Second, idle) {
		t.Fatal("the bot did not finish its work")
	}
}

// report waits for the report in a thread and returns its message.
func (h *harness) report(ch, thread string, timeout time.Duration) (slacktest.Message, bool) {
	var rep slacktest.Message
	ok := h.srv.WaitFor(timeout, func() bool {
		for _, m := range h.srv.Thread(ch, thread) {
			if m.User == slacktest.BotUserID && strings.Contains(m.BlocksText(), "ask me in this thread") {
				rep = m
				return true
			}
		}
		return false
	})
	return rep, ok
}

// A report Slack refuses is posted shortened, and the channel message
// says so instead of "The report is in the thread"; when Slack refuses the
// shortened one too, the channel message says the report is not there.
func TestRefusedReportIsShortened(t *testing.T) {
	for _, tt := range []struct {
		name       string
		refuseAll  bool
		wantThread bool
		wantStatus string
	}{
		{"shortened", false, true, "a shortened one is in the thread"},
		{"refused", true, false, "it is not in the thread"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, setup{refuse: func(method string, form url.Values) string {
				if method != "chat.postMessage" {
					return ""
				}
				blocks := form.Get("blocks")
				if strings.Contains(blocks, "ask me in this thread") || tt.refuseAll && strings.Contains(blocks, "shortened") {
					return "msg_blocks_too_long"
				}
				return ""
			}})
			thread := h.investigate("orders-api-5xx")
			var status string
			if !h.srv.WaitFor(10*time.Second, func() bool {
				m, _ := h.srv.Message(channel, thread)
				status = m.BlocksText()
				return strings.Contains(status, "Investigated")
			}) {
				t.Fatalf("no outcome in the channel message: %s", status)
			}
			if !strings.Contains(status, tt.wantStatus) || strings.Contains(status, "The report is in the thread") {
				t.Errorf("channel message %q: want %q", status, tt.wantStatus)
			}
			short := false
			for _, m := range h.srv.Thread(channel, thread) {
				if m.User == slacktest.BotUserID && strings.Contains(m.BlocksText(), "A change the team made to orders-table") && strings.Contains(m.BlocksText(), "shortened") {
					short = true
				}
			}
			if short != tt.wantThread {
				t.Errorf("shortened report in the thread: %v, want %v", short, tt.wantThread)
			}
		})
	}
}

// details presses a report's "Show details" and returns the text of the
// messages it posts under the report.
func (h *harness) details(thread string, rep slacktest.Message) string {
	h.t.Helper()
	if !h.srv.WaitFor(5*time.Second, func() bool {
		inv, err := h.store.Thread(context.Background(), channel, thread)
		return err == nil && inv.State == incident.StateDone && slices.Contains(inv.ReportTS, rep.TS)
	}) {
		h.t.Fatal("the report is not stored as posted")
	}
	before := len(h.srv.Thread(channel, thread))
	h.srv.Send(slacktest.TypeInteractive, slacktest.BlockAction(channel, user, rep.TS, thread, blockkit.ActionDetails, thread+"/-1"))
	var text string
	if !h.srv.WaitFor(5*time.Second, func() bool {
		msgs := h.srv.Thread(channel, thread)
		text = ""
		for _, m := range msgs[min(before, len(msgs)):] {
			if m.User == slacktest.BotUserID && strings.Contains(m.BlocksText(), "Details") {
				text += m.BlocksText()
			}
		}
		return text != ""
	}) {
		h.t.Fatal("no details after Show details")
	}
	return text
}

// investigate runs /investigate and returns the thread's ts.
func (h *harness) investigate(text string) string {
	h.t.Helper()
	env := h.srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, user, text))
	ack, ok := h.srv.WaitAck(env, 3*time.Second)
	if !ok {
		h.t.Fatalf("/investigate %s: no ack within 3 s", text)
	}
	if ack.Latency > 3*time.Second {
		h.t.Fatalf("ack after %s", ack.Latency)
	}
	var root string
	if !h.srv.WaitFor(5*time.Second, func() bool {
		for _, m := range h.srv.Messages(channel) {
			if m.User == slacktest.BotUserID && m.ThreadTS == "" && !m.Ephemeral && strings.Contains(m.Text, text) {
				root = m.TS
				return true
			}
		}
		return false
	}) {
		h.t.Fatal("no first message")
	}
	return root
}

// (1) /investigate on a scenario's alarm: acknowledged within 3 s, then a
// thread whose report names the culprit.
func TestE2ESlashCommand(t *testing.T) {
	h := newHarness(t, setup{})
	thread := h.investigate("orders-api-5xx")
	rep, ok := h.report(channel, thread, 10*time.Second)
	if !ok {
		t.Fatal("no report in the thread")
	}
	text := rep.BlocksText()
	for _, want := range []string{"Likely (95%): A change the team made to orders-table", "own-change", "*First action* (`rollback`)", "PutResourcePolicy", "What argues against"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	// The rest is behind "Show details": posted once, under the report,
	// and the button leaves the first screen.
	details := h.details(thread, rep)
	for _, want := range []string{"*Summary*", "1. A change the team made to orders-table", "*Evidence*", "To keep it from happening again"} {
		if !strings.Contains(details, want) {
			t.Errorf("details lack %q:\n%s", want, details)
		}
	}
	if !h.srv.WaitFor(5*time.Second, func() bool {
		m, _ := h.srv.Message(channel, rep.TS)
		return !strings.Contains(m.BlocksText(), "Show details")
	}) {
		t.Error("the first screen still offers Show details")
	}
	// The first message ends as a summary of the outcome.
	if !h.srv.WaitFor(5*time.Second, func() bool {
		m, _ := h.srv.Message(channel, thread)
		return strings.Contains(m.BlocksText(), "Investigated") && strings.Contains(m.BlocksText(), "orders-table")
	}) {
		m, _ := h.srv.Message(channel, thread)
		t.Errorf("first message not updated to the outcome: %s", m.BlocksText())
	}
	inv, err := h.store.Thread(context.Background(), channel, thread)
	if err != nil || inv.State != incident.StateDone || inv.Report == nil {
		t.Errorf("stored investigation = %+v, %v", inv.State, err)
	}
	// The chart of the alarm's metric is uploaded in the thread.
	if !h.srv.WaitFor(5*time.Second, func() bool {
		for _, f := range h.srv.Files() {
			if f.Completed && f.Channel == channel && f.ThreadTS == thread && len(f.Data) > 1000 && strings.Contains(f.Title, "onset") {
				return true
			}
		}
		return false
	}) {
		t.Errorf("no chart in the thread: %+v", h.srv.Files())
	}
}

// chatbotAlarm is an alarm as Amazon Q Developer in chat applications
// posts it: a bot message whose attachment carries the state, the name and
// the console link.
func chatbotAlarm(name string) []map[string]any {
	link := "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/" + name
	return []map[string]any{{
		"color":      "#E01E5A",
		"fallback":   "CloudWatch Alarm | " + name + " | us-east-1 | Account: 123456789012",
		"title":      "ALARM | " + name + " | us-east-1",
		"title_link": link,
		"text":       "Threshold Crossed: 1 out of the last 1 datapoints was greater than the threshold (25.0).",
		"fields":     []map[string]any{{"title": "Account", "value": "123456789012", "short": true}},
		"footer":     "Amazon Q",
		"ts":         "",
	}}
}

var watching = handlers.Config{Channels: map[string]handlers.Channel{
	channel:  {},
	alarmsCh: {Alarms: handlers.AlarmsAuto, AlarmSenders: []string{"AWS Chatbot"}, Account: "123456789012", Regions: []string{"us-east-1"}},
}}

// toldPrivately waits for an ephemeral message to user in the channel that
// contains text.
func (h *harness) toldPrivately(user, text string, timeout time.Duration) bool {
	return h.srv.WaitFor(timeout, func() bool {
		for _, m := range h.srv.Messages(channel) {
			if m.Ephemeral && m.User == user && strings.Contains(m.Text, text) {
				return true
			}
		}
		return false
	})
}

// postAlarm posts a chatbot alarm message in the alarms channel and
// delivers its event; it returns the message's ts.
func (h *harness) postAlarm(name, eventID string) string {
	ts := h.srv.Post(slacktest.Message{Channel: alarmsCh, BotID: "B0AWS", Text: ""})
	h.srv.Send(slacktest.TypeEvents, slacktest.EventCallback(eventID, slacktest.BotMessage(alarmsCh, "B0AWS", "AWS Chatbot", "", ts, chatbotAlarm(name), nil)))
	return ts
}

// (2) An alarm message in a watched channel: the investigation in its
// thread.
func TestE2EAlarmMessage(t *testing.T) {
	h := newHarness(t, setup{cfg: watching})
	ts := h.postAlarm("orders-api-5xx", "")
	rep, ok := h.report(alarmsCh, ts, 10*time.Second)
	if !ok {
		t.Fatalf("no report in the alarm's thread: %+v", h.srv.Thread(alarmsCh, ts))
	}
	if !strings.Contains(rep.BlocksText(), "orders-table") {
		t.Errorf("report does not name the culprit: %s", rep.BlocksText())
	}
	// A later OK is noted in the thread.
	okTS := h.srv.Post(slacktest.Message{Channel: alarmsCh, BotID: "B0AWS"})
	att := chatbotAlarm("orders-api-5xx")
	att[0]["title"] = "OK | orders-api-5xx | us-east-1"
	h.srv.Send(slacktest.TypeEvents, slacktest.EventCallback("", slacktest.BotMessage(alarmsCh, "B0AWS", "AWS Chatbot", "", okTS, att, nil)))
	if !h.srv.WaitFor(5*time.Second, func() bool {
		for _, m := range h.srv.Thread(alarmsCh, ts) {
			if strings.Contains(m.Text, "back to OK") {
				return true
			}
		}
		return false
	}) {
		t.Error("the OK was not noted in the thread")
	}
	// Bots the channel does not watch, and channels not watched, start
	// nothing.
	other := h.srv.Post(slacktest.Message{Channel: alarmsCh, BotID: "B0OTHER"})
	e1 := h.srv.Send(slacktest.TypeEvents, slacktest.EventCallback("", slacktest.BotMessage(alarmsCh, "B0OTHER", "random-bot", "", other, chatbotAlarm("orders-api-5xx"), nil)))
	other2 := h.srv.Post(slacktest.Message{Channel: channel, BotID: "B0AWS"})
	e2 := h.srv.Send(slacktest.TypeEvents, slacktest.EventCallback("", slacktest.BotMessage(channel, "B0AWS", "AWS Chatbot", "", other2, chatbotAlarm("orders-api-5xx"), nil)))
	// A webhook or app that calls itself "AWS Chatbot" is not the
	// AWS Chatbot the channel's sender name was resolved to.
	spoof := h.srv.Post(slacktest.Message{Channel: alarmsCh, BotID: "B0EVIL"})
	e3 := h.srv.Send(slacktest.TypeEvents, slacktest.EventCallback("", slacktest.BotMessage(alarmsCh, "B0EVIL", "AWS Chatbot", "", spoof, chatbotAlarm("orders-api-5xx"), nil)))
	h.settle(e1, e2, e3)
	if n := len(h.srv.Thread(alarmsCh, other)) + len(h.srv.Thread(channel, other2)) + len(h.srv.Thread(alarmsCh, spoof)); n != 3 {
		t.Errorf("unwatched alarm messages got replies: %d messages", n)
	}
}

// A channel in button mode offers an Investigate button; pressing it runs
// the investigation in the alarm's thread.
func TestE2EAlarmButton(t *testing.T) {
	cfg := handlers.Config{Channels: map[string]handlers.Channel{
		alarmsCh: {Alarms: handlers.AlarmsButton, AlarmSenders: []string{"B0AWS"}},
	}}
	h := newHarness(t, setup{cfg: cfg})
	ts := h.postAlarm("orders-api-5xx", "")
	var offer slacktest.Message
	if !h.srv.WaitFor(5*time.Second, func() bool {
		for _, m := range h.srv.Thread(alarmsCh, ts) {
			if strings.Contains(string(m.Blocks), blockkit.ActionInvestigate) {
				offer = m
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no offer: %+v", h.srv.Thread(alarmsCh, ts))
	}
	h.settle()
	if _, ok := h.report(alarmsCh, ts, 0); ok {
		t.Fatal("investigated before the button was pressed")
	}
	h.srv.Send(slacktest.TypeInteractive, slacktest.BlockAction(alarmsCh, user, offer.TS, ts, blockkit.ActionInvestigate, "us-east-1|orders-api-5xx"))
	if _, ok := h.report(alarmsCh, ts, 10*time.Second); !ok {
		t.Fatal("no report after the button")
	}
	if m, _ := h.srv.Message(alarmsCh, offer.TS); !strings.Contains(m.Text, "started by <@"+user+">") {
		t.Errorf("the offer was not updated: %q", m.Text)
	}
}

// Alarms that fire together and share resources join one investigation.
func TestE2EAlarmGrouping(t *testing.T) {
	h := newHarness(t, setup{cfg: watching})
	first := h.postAlarm("orders-api-5xx", "")
	if _, ok := h.report(alarmsCh, first, 10*time.Second); !ok {
		t.Fatal("no report for the first alarm")
	}
	second := h.postAlarm("orders-api-5xx", "")
	if !h.srv.WaitFor(5*time.Second, func() bool {
		for _, m := range h.srv.Thread(alarmsCh, second) {
			if strings.Contains(m.Text, "already investigating") {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("the second alarm did not join: %+v", h.srv.Thread(alarmsCh, second))
	}
	h.settle()
	if _, ok := h.report(alarmsCh, second, 0); ok {
		t.Error("the second alarm started its own investigation")
	}
}

// (3) A follow-up mention: an answer in the thread.
func TestE2EFollowUp(t *testing.T) {
	h := newHarness(t, setup{})
	thread := h.investigate("orders-api-5xx")
	if _, ok := h.report(channel, thread, 10*time.Second); !ok {
		t.Fatal("no report")
	}
	tests := []struct {
		question string
		want     []string
	}{
		{"what changed on orders-table?", []string{"PutResourcePolicy", "alice", "before the onset", "cloudtrailv2"}},
		{"what changed?", []string{"PutResourcePolicy", "UpdateFunctionCode"}},
		{"errors on orders", []string{"AccessDeniedException", "since the onset"}},
		{"check orders-table", []string{"UserErrors", ":warning:"}},
		{"traces orders-table", []string{"orders → orders-table", "failed"}},
		{"resources", []string{"orders-api", "payments-api"}},
		{"errors on nosuchthing", []string{"I don't know", "orders-table"}},
		{"waht is the root casue", []string{"Most likely cause", "orders-table", "likely (95%)"}},
		{"is it friday yet?", []string{"didn't understand", "what changed?", "errors on"}},
	}
	for _, tt := range tests {
		t.Run(tt.question, func(t *testing.T) {
			before := len(h.srv.Thread(channel, thread))
			ts := h.srv.Post(slacktest.Message{Channel: channel, User: user, ThreadTS: thread, Text: "<@" + slacktest.BotUserID + "> " + tt.question})
			h.srv.Send(slacktest.TypeEvents, slacktest.EventCallback("", slacktest.Mention(channel, user, "<@"+slacktest.BotUserID+"> "+tt.question, ts, thread)))
			var got string
			if !h.srv.WaitFor(5*time.Second, func() bool {
				msgs := h.srv.Thread(channel, thread)
				for _, m := range msgs[before:] {
					if m.User == slacktest.BotUserID {
						got = m.BlocksText()
						return true
					}
				}
				return false
			}) {
				t.Fatal("no answer in the thread")
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("answer lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

// Messages in the thread are kept as notes and count as evidence the next
// time the bot reasons.
func TestE2ENotesAndRerun(t *testing.T) {
	h := newHarness(t, setup{})
	thread := h.investigate("orders-api-5xx")
	first, ok := h.report(channel, thread, 10*time.Second)
	if !ok {
		t.Fatal("no report")
	}
	note := "payments looks fine from our side <!channel>"
	ts := h.srv.Post(slacktest.Message{Channel: channel, User: "U0BOB", ThreadTS: thread, Text: note})
	h.srv.Send(slacktest.TypeEvents, slacktest.EventCallback("", slacktest.UserMessage(channel, "U0BOB", note, ts, thread)))
	if !h.srv.WaitFor(5*time.Second, func() bool {
		inv, _ := h.store.Thread(context.Background(), channel, thread)
		return len(inv.Notes) == 1
	}) {
		t.Fatal("the message was not kept as a note")
	}
	// Re-run with a wider window, from the report's button.
	h.srv.Send(slacktest.TypeInteractive, slacktest.BlockAction(channel, user, first.TS, thread, blockkit.ActionRerun, thread+"/-1"))
	var second slacktest.Message
	if !h.srv.WaitFor(10*time.Second, func() bool {
		for _, m := range h.srv.Thread(channel, thread) {
			if m.TS != first.TS && m.User == slacktest.BotUserID && strings.Contains(m.BlocksText(), "ask me in this thread") {
				second = m
				return true
			}
		}
		return false
	}) {
		t.Fatal("no second report")
	}
	if !strings.Contains(second.BlocksText(), "1 note from the thread") {
		t.Errorf("the second report does not count the note:\n%s", second.BlocksText())
	}
	text := h.details(thread, second)
	if !strings.Contains(text, "Notes from the thread") || !strings.Contains(text, "payments looks fine") {
		t.Errorf("the second report does not show the note:\n%s", text)
	}
	if strings.Contains(text, "<!channel>") {
		t.Error("the note pings the channel")
	}
}

// (4) A button: the verdict recorded and the message updated.
func TestE2EButton(t *testing.T) {
	h := newHarness(t, setup{})
	thread := h.investigate("orders-api-5xx")
	rep, ok := h.report(channel, thread, 10*time.Second)
	if !ok {
		t.Fatal("no report")
	}
	value := thread + "/0"
	if !strings.Contains(string(rep.Blocks), `"value":"`+value+`"`) || !strings.Contains(string(rep.Blocks), blockkit.ActionAccept) {
		t.Fatalf("the report has no accept button for hypothesis 0: %s", rep.Blocks)
	}
	env := h.srv.Send(slacktest.TypeInteractive, slacktest.BlockAction(channel, "U0CAROL", rep.TS, thread, blockkit.ActionAccept, value))
	if _, ok := h.srv.WaitAck(env, 3*time.Second); !ok {
		t.Fatal("no ack")
	}
	if !h.srv.WaitFor(5*time.Second, func() bool {
		m, _ := h.srv.Message(channel, rep.TS)
		return len(m.Updates) > 0 && strings.Contains(m.BlocksText(), "Accepted by <@U0CAROL>")
	}) {
		m, _ := h.srv.Message(channel, rep.TS)
		t.Fatalf("the report was not updated: %s", m.BlocksText())
	}
	inv, err := h.store.Thread(context.Background(), channel, thread)
	if err != nil || len(inv.Feedback) != 1 {
		t.Fatalf("feedback = %+v, %v", inv.Feedback, err)
	}
	if f := inv.Feedback[0]; f.Verdict != incident.VerdictAccepted || f.User != "U0CAROL" || f.Cause != investigate.CauseOwnChange || f.Resource != "orders-table" {
		t.Errorf("feedback = %+v", f)
	}
	// "What changed?" answers in the thread.
	before := len(h.srv.Thread(channel, thread))
	h.srv.Send(slacktest.TypeInteractive, slacktest.BlockAction(channel, user, rep.TS, thread, blockkit.ActionChanges, thread+"/-1"))
	if !h.srv.WaitFor(5*time.Second, func() bool {
		msgs := h.srv.Thread(channel, thread)
		return len(msgs) > before && strings.Contains(msgs[len(msgs)-1].BlocksText(), "PutResourcePolicy")
	}) {
		t.Error("What changed? did not answer")
	}
}

// (5) An event delivered twice is handled once.
func TestE2EDuplicateDelivery(t *testing.T) {
	h := newHarness(t, setup{})
	thread := h.investigate("orders-api-5xx")
	if _, ok := h.report(channel, thread, 10*time.Second); !ok {
		t.Fatal("no report")
	}
	q := "<@" + slacktest.BotUserID + "> what changed?"
	ts := h.srv.Post(slacktest.Message{Channel: channel, User: user, ThreadTS: thread, Text: q})
	before := len(h.srv.Thread(channel, thread))
	ev := slacktest.EventCallback("Ev0DUPLICATE", slacktest.Mention(channel, user, q, ts, thread))
	e1 := h.srv.Send(slacktest.TypeEvents, ev)
	e2 := h.srv.Send(slacktest.TypeEvents, ev)
	for _, e := range []string{e1, e2} {
		if _, ok := h.srv.WaitAck(e, 3*time.Second); !ok {
			t.Fatal("a delivery was not acknowledged")
		}
	}
	h.settle(e1, e2)
	if got := len(h.srv.Thread(channel, thread)) - before; got != 1 {
		t.Errorf("answers = %d, want 1", got)
	}

	// The same slash command (same trigger) twice starts one investigation.
	cmd := slacktest.SlashCommand("/investigate", channel, user, "orders-table")
	roots := func() int {
		n := 0
		for _, m := range h.srv.Messages(channel) {
			if m.User == slacktest.BotUserID && m.ThreadTS == "" {
				n++
			}
		}
		return n
	}
	n0 := roots()
	c1 := h.srv.Send(slacktest.TypeSlash, cmd)
	c2 := h.srv.Send(slacktest.TypeSlash, cmd)
	h.settle(c1, c2)
	if got := roots() - n0; got != 1 {
		t.Errorf("investigations started = %d, want 1", got)
	}
}

// (6) The socket dropped mid-investigation: the report still arrives, and
// the bot reconnects and goes on taking work.
func TestE2ESocketDrop(t *testing.T) {
	h := newHarness(t, setup{sim: sim.Options{Latency: map[string]time.Duration{sim.KindMetrics: 150 * time.Millisecond, sim.KindLogs: 400 * time.Millisecond}}})
	thread := h.investigate("orders-api-5xx")
	h.srv.Drop()
	if _, ok := h.report(channel, thread, 15*time.Second); !ok {
		t.Fatal("no report after the socket dropped")
	}
	if !h.srv.WaitFor(10*time.Second, func() bool { return h.srv.Connections() >= 2 && h.srv.Connected() }) {
		t.Fatal("the bot did not reconnect")
	}
	// Slack asks for a refresh: the bot reconnects again.
	h.srv.Refresh()
	if !h.srv.WaitFor(10*time.Second, func() bool { return h.srv.Connections() >= 3 && h.srv.Connected() }) {
		t.Fatal("the bot did not reconnect on refresh")
	}
	thread2 := h.investigate("orders-api-5xx")
	if _, ok := h.report(channel, thread2, 15*time.Second); !ok {
		t.Fatal("no report after reconnecting")
	}
}

// While the socket is down, Slack keeps an event for the next connection,
// but a slash command fails at once: Slack tells the user, and the bot
// never sees it.
func TestE2EDeliveryWhileDown(t *testing.T) {
	h := newHarness(t, setup{})
	// Slack unreachable: the bot cannot reconnect before the command is
	// sent.
	h.srv.Pause()
	h.srv.Drop()
	cmd := h.srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, user, "help"))
	text := "<@" + slacktest.BotUserID + "> help"
	ts := h.srv.Post(slacktest.Message{Channel: channel, User: user, Text: text})
	ev := h.srv.Send(slacktest.TypeEvents, slacktest.EventCallback("", slacktest.Mention(channel, user, text, ts, "")))
	h.srv.Resume()
	if _, ok := h.srv.WaitAck(ev, 10*time.Second); !ok {
		t.Fatal("the event was not delivered after the reconnect")
	}
	h.settle(ev)
	if d, _ := h.srv.Delivery(cmd); !d.Failed || d.Attempts != 0 || d.Acked {
		t.Errorf("the command sent while the socket was down: %+v; want failed, never delivered", d)
	}
}

// Bad arguments get the usage within the acknowledgement; an unknown alarm
// gets the closest names.
func TestE2EUsageAndUnknownAlarm(t *testing.T) {
	h := newHarness(t, setup{})
	tests := []struct {
		text string
		want string
	}{
		{"", "Which alarm"},
		{"help", "/investigate ALARM"},
		{"orders-api-5xx --since forever", "--since"},
		{"orders-api-5xx --bogus 1", "--bogus"},
	}
	for _, tt := range tests {
		env := h.srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, user, tt.text))
		ack, ok := h.srv.WaitAck(env, 3*time.Second)
		if !ok {
			t.Fatalf("%q: no ack", tt.text)
		}
		var p struct{ ResponseType, Text string }
		_ = json.Unmarshal(ack.Payload, &p)
		var got map[string]string
		_ = json.Unmarshal(ack.Payload, &got)
		if got["response_type"] != "ephemeral" || !strings.Contains(got["text"], tt.want) {
			t.Errorf("%q: ack payload = %s, want ephemeral with %q", tt.text, ack.Payload, tt.want)
		}
	}

	h.srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, user, "orders-api-5xxx"))
	if !h.toldPrivately(user, "orders-api-5xx`", 5*time.Second) {
		t.Fatalf("no ephemeral with the closest names: %+v", h.srv.Messages(channel))
	}
	for _, m := range h.srv.Messages(channel) {
		if !m.Ephemeral {
			t.Errorf("an unknown alarm posted in the channel: %s", m.Text)
		}
	}

	// In a channel the bot is not a member of, the user is told through
	// the command's response URL.
	h.srv.Leave("C0OUTSIDE")
	cmd := slacktest.SlashCommand("/investigate", "C0OUTSIDE", user, "orders-api-5xx")
	cmd["response_url"] = h.srv.ResponseURL()
	h.srv.Send(slacktest.TypeSlash, cmd)
	if !h.srv.WaitFor(5*time.Second, func() bool {
		for _, r := range h.srv.Responses() {
			if r.ResponseType == "ephemeral" && strings.Contains(r.Text, "/invite") {
				return true
			}
		}
		return false
	}) {
		t.Errorf("no response for a channel the bot is not in: %+v", h.srv.Responses())
	}
}

// A resource instead of an alarm finds the alarm around it.
func TestE2EResourceTarget(t *testing.T) {
	h := newHarness(t, setup{})
	env := h.srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, user, "arn:aws:dynamodb:us-east-1:123456789012:table/orders-table --since 2h"))
	if _, ok := h.srv.WaitAck(env, 3*time.Second); !ok {
		t.Fatal("no ack")
	}
	var root string
	if !h.srv.WaitFor(5*time.Second, func() bool {
		for _, m := range h.srv.Messages(channel) {
			if m.User == slacktest.BotUserID && m.ThreadTS == "" && strings.Contains(m.Text, "orders-api-5xx") {
				root = m.TS
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no investigation of the table's alarm: %+v", h.srv.Messages(channel))
	}
	rep, ok := h.report(channel, root, 10*time.Second)
	if !ok || !strings.Contains(rep.BlocksText(), "telemetry 12:04") {
		t.Errorf("the report does not read the 2h window: %s", rep.BlocksText())
	}
}

// Access: channels not allowed and users outside the channel's group are
// refused; the bot's own messages are ignored.
func TestE2EAccess(t *testing.T) {
	cfg := handlers.Config{Channels: map[string]handlers.Channel{channel: {UserGroup: "S0ONCALL"}}}
	h := newHarness(t, setup{cfg: cfg})
	h.srv.SetUserGroup("S0ONCALL", user)

	env := h.srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", "C0ELSEWHERE", user, "orders-api-5xx"))
	ack, _ := h.srv.WaitAck(env, 3*time.Second)
	if !strings.Contains(string(ack.Payload), "not enabled in this channel") {
		t.Errorf("other channel: ack = %s", ack.Payload)
	}
	h.srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, "U0MALLORY", "orders-api-5xx"))
	if !h.toldPrivately("U0MALLORY", "user group", 5*time.Second) {
		t.Error("a user outside the group was not refused")
	}
	thread := h.investigate("orders-api-5xx")
	if _, ok := h.report(channel, thread, 10*time.Second); !ok {
		t.Fatal("a member could not investigate")
	}
	// The bot's own message in the thread is not a note.
	ts := h.srv.Post(slacktest.Message{Channel: channel, User: slacktest.BotUserID, ThreadTS: thread, Text: "hello"})
	ev := slacktest.UserMessage(channel, slacktest.BotUserID, "hello", ts, thread)
	ev["bot_id"] = slacktest.BotID
	h.settle(h.srv.Send(slacktest.TypeEvents, slacktest.EventCallback("", ev)))
	if inv, _ := h.store.Thread(context.Background(), channel, thread); len(inv.Notes) != 0 {
		t.Errorf("notes = %+v", inv.Notes)
	}
}

// Progress: the first message is updated as checks finish, at most once
// per update interval as Slack receives the updates. The bot counts the
// interval from the answer to its previous call, which Slack sent after it
// received that call, so the gaps the fake Slack sees are never under the
// interval, however slow the machine: no tolerance. The investigation's
// log reads wait until the fake Slack has received a progress update, so
// that there is progress to see before the outcome on any machine, instead
// of hoping that simulated latencies outlast the first interval.
func TestE2EProgressRate(t *testing.T) {
	interval := 200 * time.Millisecond
	progressed := make(chan struct{})
	var reads atomic.Int64
	h := newHarness(t, setup{
		opts: handlers.Options{UpdateInterval: interval},
		sources: func(src investigate.Sources) investigate.Sources {
			src.Logs = gatedLogs{LogSource: src.Logs, gate: progressed, reads: &reads}
			return src
		},
	})
	thread := h.investigate("orders-api-5xx")
	if !h.srv.WaitFor(15*time.Second, func() bool {
		m, _ := h.srv.Message(channel, thread)
		return len(m.Updates) > 0
	}) {
		t.Fatal("no progress update while the logs were being read")
	}
	close(progressed)
	if _, ok := h.report(channel, thread, 15*time.Second); !ok {
		t.Fatal("no report")
	}
	if !h.srv.WaitFor(15*time.Second, func() bool {
		m, _ := h.srv.Message(channel, thread)
		return strings.Contains(m.Text, "Investigated")
	}) {
		m, _ := h.srv.Message(channel, thread)
		t.Fatalf("the status message never said the outcome: %q", m.Text)
	}
	m, _ := h.srv.Message(channel, thread)
	if len(m.Updates) < 2 || reads.Load() == 0 {
		t.Errorf("updates = %d after %d log reads, want progress and the outcome", len(m.Updates), reads.Load())
	}
	prev := m.Posted
	for _, u := range m.Updates {
		if gap := u.Sub(prev); gap < interval {
			t.Errorf("two updates %s apart, under the %s interval", gap, interval)
		}
		prev = u
	}
}

// gatedLogs reads logs once gate is closed, counting the reads.
type gatedLogs struct {
	investigate.LogSource
	gate  <-chan struct{}
	reads *atomic.Int64
}

func (g gatedLogs) Logs(ctx context.Context, q investigate.LogQuery) (investigate.LogStats, error) {
	g.reads.Add(1)
	select {
	case <-g.gate:
	case <-ctx.Done():
		return investigate.LogStats{}, ctx.Err()
	}
	return g.LogSource.Logs(ctx, q)
}

// A deadline cuts a slow investigation short: the report has what was read
// by then and says what was not.
func TestE2EDeadline(t *testing.T) {
	h := newHarness(t, setup{
		opts: handlers.Options{Deadline: 300 * time.Millisecond},
		sim:  sim.Options{Latency: map[string]time.Duration{sim.KindTopology: 2 * time.Second}},
	})
	thread := h.investigate("orders-api-5xx")
	rep, ok := h.report(channel, thread, 5*time.Second)
	if !ok {
		t.Fatal("no report")
	}
	if !strings.Contains(rep.BlocksText(), "deadline") {
		t.Errorf("the report does not say the deadline cut it short:\n%s", rep.BlocksText())
	}
	if !h.srv.WaitFor(5*time.Second, func() bool {
		m, _ := h.srv.Message(channel, thread)
		return strings.Contains(m.BlocksText(), "cut it short")
	}) {
		m, _ := h.srv.Message(channel, thread)
		t.Errorf("status = %s", m.BlocksText())
	}
}

// Shutdown: in-flight work finishes within the grace period.
func TestE2EGracefulShutdown(t *testing.T) {
	h := newHarness(t, setup{sim: sim.Options{Latency: map[string]time.Duration{sim.KindLogs: 800 * time.Millisecond}}})
	thread := h.investigate("orders-api-5xx")
	h.stop()
	if _, ok := h.report(channel, thread, time.Second); !ok {
		t.Fatal("the in-flight investigation did not finish before Serve returned")
	}
}

// Past the grace period, in-flight work is cancelled and says so.
func TestE2EGraceExpires(t *testing.T) {
	h := newHarness(t, setup{
		opts: handlers.Options{Grace: 200 * time.Millisecond},
		sim:  sim.Options{Latency: map[string]time.Duration{sim.KindTopology: 5 * time.Second}},
	})
	thread := h.investigate("orders-api-5xx")
	start := time.Now()
	h.stop()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Serve took %s to return", d)
	}
	m, _ := h.srv.Message(channel, thread)
	if !strings.Contains(m.BlocksText(), "restarting") {
		t.Errorf("status = %s", m.BlocksText())
	}
}

// testWriter is where the bot logs in tests: nowhere, unless
// UNSTUCK_TEST_LOG is set.
func testWriter() io.Writer {
	if os.Getenv("UNSTUCK_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}

// Every envelope is acknowledged, also one whose payload slack-go's own
// types cannot read (the block action sample has an attachment ts of "").
func TestE2EAckUnparseablePayload(t *testing.T) {
	h := newHarness(t, setup{})
	raw, err := os.ReadFile("testdata/variant-block-action.json")
	if err != nil {
		t.Fatal(err)
	}
	env := h.srv.Send(slacktest.TypeInteractive, json.RawMessage(raw))
	if _, ok := h.srv.WaitAck(env, 3*time.Second); !ok {
		t.Fatal("not acknowledged")
	}
	// And it is handled: the thread is unknown, so the user is told.
	if !h.toldPrivately("U0CAROL", "no longer know", 5*time.Second) {
		t.Errorf("the click was not handled: %+v", h.srv.Messages(channel))
	}
}

// fakeSummarizer drafts a postmortem that names the accepted hypotheses, and
// tries to ping the channel: the draft is untrusted text.
type fakeSummarizer struct{}

func (fakeSummarizer) Postmortem(_ context.Context, inv incident.Investigation) (string, error) {
	var accepted []string
	for _, f := range inv.Feedback {
		if f.Verdict == incident.VerdictAccepted {
			accepted = append(accepted, string(f.Cause)+" "+f.Resource)
		}
	}
	return "Root cause: " + strings.Join(accepted, ", ") + " <!channel>", nil
}

// The postmortem button drafts a postmortem from the accepted hypotheses,
// in the thread, harmlessly.
func TestE2EPostmortem(t *testing.T) {
	h := newHarness(t, setup{opts: handlers.Options{Summarizer: fakeSummarizer{}}})
	thread := h.investigate("orders-api-5xx")
	rep, ok := h.report(channel, thread, 10*time.Second)
	if !ok {
		t.Fatal("no report")
	}
	if !strings.Contains(string(rep.Blocks), blockkit.ActionPostmortem) {
		t.Fatalf("the report has no postmortem button: %s", rep.Blocks)
	}
	h.srv.Send(slacktest.TypeInteractive, slacktest.BlockAction(channel, "U0CAROL", rep.TS, thread, blockkit.ActionAccept, thread+"/0"))
	if !h.srv.WaitFor(5*time.Second, func() bool {
		inv, err := h.store.Thread(context.Background(), channel, thread)
		return err == nil && len(inv.Feedback) == 1
	}) {
		t.Fatal("the verdict was not recorded")
	}
	before := len(h.srv.Thread(channel, thread))
	h.srv.Send(slacktest.TypeInteractive, slacktest.BlockAction(channel, user, rep.TS, thread, blockkit.ActionPostmortem, thread+"/-1"))
	var last string
	if !h.srv.WaitFor(5*time.Second, func() bool {
		msgs := h.srv.Thread(channel, thread)
		if len(msgs) <= before {
			return false
		}
		last = msgs[len(msgs)-1].BlocksText()
		return strings.Contains(last, "Postmortem draft")
	}) {
		t.Fatal("no postmortem draft in the thread")
	}
	if !strings.Contains(last, "own-change orders-table") || strings.Contains(last, "<!channel>") {
		t.Errorf("draft %q: want the accepted hypothesis, and no ping", last)
	}
}

// An investigation that runs longer than the time its outcome may take to
// be written still posts its report: that time counts from the end of the
// run (the load driver's fault run found reports lost after slow runs).
// The timeout is generous for writing the outcome on a loaded machine, and
// the run outlasts it whatever the machine's speed.
func TestE2ESlowRunStillReports(t *testing.T) {
	h := newHarness(t, setup{
		opts: handlers.Options{OutcomeTimeout: 2 * time.Second},
		sim:  sim.Options{Latency: map[string]time.Duration{sim.KindLogs: 2500 * time.Millisecond}},
	})
	thread := h.investigate("orders-api-5xx")
	if _, ok := h.report(channel, thread, 10*time.Second); !ok {
		t.Fatalf("no report after a run longer than the outcome's timeout: %+v", h.srv.Thread(channel, thread))
	}
}
