// Command load is the bot's load and fault driver. It builds bot, runs
// `bot serve` as a child process on a simulated incident with AWS-like
// latency against the Slack-compatible test server (handlers/slacktest),
// sends N concurrent /investigate commands and alarm messages, and prints
// the ack latency, the time to the first message and to the report, the
// lost and duplicated answers and the bot's peak memory, beside the ack
// latency of a minimal slack-go app measured in the same run against the
// same server.
//
//	go run ./bench/load -n 500
//	go run ./bench/load -n 500 -faults
//
// With -faults, sources are throttled, denied or slow at random
// (--sim-fault-rate), the model is down, slow or answers garbage (a
// scripted OpenAI-compatible server), the websockets are dropped and
// refreshed mid-run, and the bot is killed (SIGKILL) and restarted with the
// same store mid-run, while the alarm messages, spread over the first 12s,
// are still arriving. Nobody presses Re-run: the restarted bot resumes
// what the kill cut off by itself, and the run counts what it resumed.
//
// It exits 1 when the run fails: a command not answered or answered twice,
// a panic in the bot's stderr, or a bot that does not stop cleanly on
// SIGTERM within its grace period.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/unstuck/unstuck/handlers/slacktest"
	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm/llmtest"
	"github.com/unstuck/unstuck/scenario"
	"github.com/unstuck/unstuck/scenarios"
)

const (
	cmdChannel   = "C0INCIDENT"
	alarmChannel = "C0ALARMS"
	baseChannel  = "C0BASELINE"
	alarmSender  = "AWS Chatbot"
)

type config struct {
	n, alarms    int
	scenario     string
	faults       bool
	faultRate    float64
	seed         int64
	workers      int
	grace        time.Duration
	timeout      time.Duration
	simLatency   time.Duration
	logsLatency  time.Duration
	noBaseline   bool
	keep         bool
	botBin       string
	verbose      bool
	ackThreshold time.Duration
}

func main() {
	var c config
	baseline := flag.Bool("baseline", false, "internal: run as the minimal slack-go app (acknowledge, post one message)")
	flag.IntVar(&c.n, "n", 500, "concurrent /investigate commands")
	flag.IntVar(&c.alarms, "alarms", -1, "alarm messages sent with them (default n/10)")
	flag.StringVar(&c.scenario, "scenario", "dynamodb-policy-change", "embedded scenario to serve")
	flag.BoolVar(&c.faults, "faults", false, "inject faults: sources, model, websocket, process kill")
	flag.Float64Var(&c.faultRate, "fault-rate", 0.1, "with -faults: share of source calls throttled, denied or slow")
	flag.Int64Var(&c.seed, "seed", 1, "seed of the faults")
	flag.IntVar(&c.workers, "workers", 64, "bot serve --workers")
	flag.DurationVar(&c.grace, "grace", 30*time.Second, "bot serve --grace; the bot must stop within it on SIGTERM")
	flag.DurationVar(&c.timeout, "timeout", 10*time.Minute, "longest the run may wait for every answer")
	flag.DurationVar(&c.simLatency, "sim-latency", 150*time.Millisecond, "bot serve --sim-latency")
	flag.DurationVar(&c.logsLatency, "sim-logs-latency", 2*time.Second, "bot serve --sim-logs-latency")
	flag.BoolVar(&c.noBaseline, "no-baseline", false, "skip the baseline app")
	flag.BoolVar(&c.keep, "keep", false, "keep the temporary directory (bot binary, store, stderr)")
	flag.StringVar(&c.botBin, "bot", "", "use this bot binary instead of building ./cmd/bot")
	flag.BoolVar(&c.verbose, "v", false, "copy the bot's stderr to ours")
	flag.Parse()
	c.ackThreshold = 3 * time.Second
	if *baseline {
		if err := runBaseline(); err != nil {
			fmt.Fprintln(os.Stderr, "baseline:", err)
			os.Exit(1)
		}
		return
	}
	if c.alarms < 0 {
		c.alarms = c.n / 10
	}
	ok, err := run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	if !ok {
		fmt.Println("FAIL")
		os.Exit(1)
	}
	fmt.Println("PASS")
}

func run(c config) (bool, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f, err := scenario.Load(scenarios.FS, c.scenario+".yaml")
	if err != nil {
		return false, err
	}
	alarm := f.Scenario.Alarm.Name

	dir, err := os.MkdirTemp("", "unstuck-load-")
	if err != nil {
		return false, err
	}
	if c.keep {
		fmt.Println("temporary directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := c.botBin
	if bin == "" {
		bin = filepath.Join(dir, "bot")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/unstuck/unstuck/cmd/bot")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return false, fmt.Errorf("building bot: %w", err)
		}
	}
	channels := filepath.Join(dir, "channels.yaml")
	if err := os.WriteFile(channels, []byte(fmt.Sprintf(`channels:
  %s: {}
  %s:
    alarms: auto
    alarm_senders: [%q]
    account: "123456789012"
    regions: [us-east-1]
`, cmdChannel, alarmChannel, alarmSender)), 0o600); err != nil {
		return false, err
	}

	srv := slacktest.NewServerWith(slacktest.Options{Seed: uint64(c.seed)})
	defer srv.Close()
	env := append(os.Environ(),
		"SLACK_APP_TOKEN="+slacktest.AppToken,
		"SLACK_BOT_TOKEN="+slacktest.BotToken,
		"SLACK_API_URL="+srv.URL,
		"OPENAI_API_KEY=", "OPENAI_BASE_URL=",
	)

	// The baseline: a minimal slack-go app, this binary with -baseline.
	var base *phase
	if !c.noBaseline {
		self, err := os.Executable()
		if err != nil {
			return false, err
		}
		p, err := startProc(ctx, self, []string{"-baseline"}, env, filepath.Join(dir, "baseline.stderr"), false)
		if err != nil {
			return false, err
		}
		if !srv.WaitFor(30*time.Second, srv.Connected) {
			p.kill()
			return false, errors.New("the baseline app did not connect")
		}
		base = sendCommands(srv, baseChannel, "U1", c.n, alarm)
		poll(c.timeout, func() bool { return len(base.acked(srv)) == c.n && baselineAnswered(srv) >= c.n })
		base.collectAcks(srv)
		p.term(10 * time.Second)
		srv.WaitFor(10*time.Second, func() bool { return srv.Open() == 0 })
	}

	// The model, with -faults: down, slow or answering garbage.
	var model *llmtest.Server
	if c.faults {
		var mu sync.Mutex
		rng := rand.New(rand.NewPCG(uint64(c.seed), 99))
		model = llmtest.New(func(llmtest.Request) llmtest.Reply {
			mu.Lock()
			k := rng.IntN(3)
			mu.Unlock()
			switch k {
			case 0:
				return llmtest.Reply{Status: 503, Error: "the model is down"}
			case 1:
				return llmtest.Reply{Delay: 20 * time.Second, Content: "too late"}
			default:
				return llmtest.Reply{Content: "}{ not json \x00 at all ```"}
			}
		})
		defer model.Close()
		env = append(env, "OPENAI_API_KEY=sk-load", "OPENAI_BASE_URL="+model.BaseURL())
	}

	storePath := filepath.Join(dir, "store.db")
	httpAddr, err := freeAddr()
	if err != nil {
		return false, err
	}
	args := []string{"serve", "--scenario", c.scenario, "--store", storePath, "--channels", channels, "--http-addr", httpAddr,
		"--workers", fmt.Sprint(c.workers), "--grace", c.grace.String(),
		"--sim-latency", c.simLatency.String(), "--sim-logs-latency", c.logsLatency.String()}
	if c.faults {
		args = append(args, "--sim-fault-rate", fmt.Sprint(c.faultRate), "--sim-fault-seed", fmt.Sprint(c.seed))
	}
	stderrPath := filepath.Join(dir, "bot.stderr")
	bot, err := startProc(ctx, bin, args, env, stderrPath, c.verbose)
	if err != nil {
		return false, err
	}
	procs := []*proc{bot}
	conns := srv.Connections()
	if !srv.WaitFor(30*time.Second, func() bool { return srv.Connections() > conns && srv.Connected() }) {
		bot.kill()
		return false, errors.New("the bot did not connect")
	}

	// The bot's own goroutines when idle, from its /metrics.
	time.Sleep(time.Second)
	idle, err := goroutines(httpAddr)
	if err != nil {
		bot.kill()
		return false, fmt.Errorf("reading the bot's goroutines: %w", err)
	}

	start := time.Now()
	ph := sendCommands(srv, cmdChannel, "U", c.n, alarm)
	// Alarm messages: all at once; with -faults, spread over the first 12s
	// so that some arrive around the kill at 10s.
	var spread time.Duration
	if c.faults {
		spread = 12 * time.Second
	}
	alarmsSent := make(chan []string, 1)
	go func() { alarmsSent <- sendAlarms(srv, c.alarms, alarm, spread) }()

	var events []string
	if c.faults {
		// Drop the websockets, ask for a refresh, kill the bot and restart
		// it with the same store, while the work is in flight.
		time.Sleep(2 * time.Second)
		srv.Drop()
		events = append(events, fmt.Sprintf("%5.1fs websockets dropped", time.Since(start).Seconds()))
		time.Sleep(3 * time.Second)
		srv.Refresh()
		events = append(events, fmt.Sprintf("%5.1fs refresh requested", time.Since(start).Seconds()))
		time.Sleep(5 * time.Second)
		bot.kill()
		events = append(events, fmt.Sprintf("%5.1fs bot killed (SIGKILL)", time.Since(start).Seconds()))
		bot, err = startProc(ctx, bin, args, env, stderrPath, c.verbose)
		if err != nil {
			return false, err
		}
		procs = append(procs, bot)
		events = append(events, fmt.Sprintf("%5.1fs bot restarted", time.Since(start).Seconds()))
	}

	alarmTS := <-alarmsSent

	// Wait for every answer: a report for each command and alarm. Nobody
	// presses Re-run: what the kill cut off, the restarted bot resumes by
	// itself.
	done := poll(c.timeout-time.Since(start), func() bool {
		if ctx.Err() != nil {
			return true
		}
		r := ph.results(srv)
		a := alarmAnswers(srv, alarmTS)
		if c.faults {
			return r.final == c.n && a.answered() == len(alarmTS)
		}
		return r.reports == c.n && a.answered() == len(alarmTS)
	})
	elapsed := time.Since(start)
	// Let late duplicates show up.
	time.Sleep(2 * time.Second)
	ph.collectAcks(srv)
	res := ph.results(srv)
	al := alarmAnswers(srv, alarmTS)
	cmdResumed, cmdPoison := resumes(srv, cmdChannel)
	alarmResumed, alarmPoison := resumes(srv, alarmChannel)

	// Nothing left behind: once the work is done the goroutines come back
	// to about the idle count (a few idle HTTP connections aside).
	const slack = 10
	var end int
	goroutinesOK := poll(15*time.Second, func() bool {
		n, err := goroutines(httpAddr)
		end = n
		return err == nil && n <= idle+slack
	})

	stopped, stopTook := bot.term(c.grace + 5*time.Second)
	for _, p := range procs {
		p.wait()
	}
	panics, err := countPanics(stderrPath)
	if err != nil {
		return false, err
	}

	// Report.
	fmt.Printf("\nunstuck load: %d /investigate %s + %d alarm messages, scenario %s, --sim-latency %s --sim-logs-latency %s, --workers %d\n",
		c.n, alarm, len(alarmTS), c.scenario, c.simLatency, c.logsLatency, c.workers)
	if c.faults {
		fmt.Printf("faults: sources %.0f%% throttled/denied/slow (seed %d), model down/slow/garbage\n", c.faultRate*100, c.seed)
		for _, e := range events {
			fmt.Println("  " + e)
		}
	}
	if !done {
		fmt.Printf("timed out after %s\n", elapsed.Round(time.Second))
	} else {
		fmt.Printf("all answered in %s\n", elapsed.Round(100*time.Millisecond))
	}
	fmt.Printf("ack latency      p50 %s  p99 %s  max %s  (over %s: %d, not acked: %d)\n",
		ms(q(ph.ackLat, .5)), ms(q(ph.ackLat, .99)), ms(q(ph.ackLat, 1)), c.ackThreshold, countOver(ph.ackLat, c.ackThreshold), c.n-len(ph.ackLat))
	if base != nil {
		bp99, p99 := q(base.ackLat, .99), q(ph.ackLat, .99)
		ratio := 0.0
		if bp99 > 0 {
			ratio = float64(p99) / float64(bp99)
		}
		fmt.Printf("baseline ack     p50 %s  p99 %s  max %s  (minimal slack-go app, same server, same N)\n",
			ms(q(base.ackLat, .5)), ms(bp99), ms(q(base.ackLat, 1)))
		fmt.Printf("ack p99 ratio    %.2fx the baseline (aim ≤ 1.5x)\n", ratio)
	}
	fmt.Printf("first message    p50 %s  p99 %s\n", ms(q(res.first, .5)), ms(q(res.first, .99)))
	fmt.Printf("report           p50 %s  p99 %s\n", ms(q(res.report, .5)), ms(q(res.report, .99)))
	fmt.Printf("commands         %d answered, %d lost, %d duplicated; %d reports, %d told why they could not be investigated (%d naming the AWS error), %d refused or answered privately\n",
		res.answered, res.lost, res.duplicated, res.reports, res.failed, res.failedSaid, res.ephemeral)
	fmt.Printf("alarm messages   %d of %d answered: %d reported, %d joined the investigation of the same alarm under way, %d told why not; %d duplicated\n",
		al.answered(), len(alarmTS), al.reported, al.joined, al.failed, al.duplicated)
	if c.faults {
		fmt.Printf("restarts         %d investigations resumed by the bot after the kill (%d commands, %d alarms), %d failed as possible poison; Re-run never pressed (the driver sends no clicks)\n",
			cmdResumed+alarmResumed, cmdResumed, alarmResumed, cmdPoison+alarmPoison)
		fmt.Printf("unavailable      %d of %d reports say what could not be read\n", res.unavailable, res.reports)
	}
	fmt.Printf("panics           %d in the bot's stderr\n", panics)
	var peak int64
	for _, p := range procs {
		peak = max(peak, p.peakKB())
	}
	fmt.Printf("peak memory      %.1f MiB (bot VmHWM / maxrss, %d process(es))\n", float64(peak)/1024, len(procs))
	fmt.Printf("goroutines       %d idle before the load, %d after it (go_goroutines on /metrics; allowed %d more)\n", idle, end, slack)
	if stopped {
		fmt.Printf("shutdown         clean exit on SIGTERM in %s (grace %s)\n", stopTook.Round(10*time.Millisecond), c.grace)
	} else {
		fmt.Printf("shutdown         did NOT exit cleanly on SIGTERM within %s\n", c.grace+5*time.Second)
	}

	ok := done && res.lost == 0 && res.duplicated == 0 && al.answered() == len(alarmTS) && al.duplicated == 0 &&
		panics == 0 && stopped && len(ph.ackLat) == c.n && goroutinesOK
	if c.faults {
		if res.unavailable == 0 {
			fmt.Println("no report says what could not be read")
			ok = false
		}
	} else if res.reports != c.n || res.failed > 0 || countOver(ph.ackLat, c.ackThreshold) > 0 {
		ok = false
	}
	if c.faults && cmdPoison+alarmPoison > 0 {
		// One kill cuts an investigation off once: none is cut off twice.
		fmt.Println("investigations failed as possible poison after a single kill")
		ok = false
	}
	if c.faults && len(res.unfinished) > 0 {
		fmt.Println("commands answered without an outcome (the bot's messages in their threads):")
		for _, ts := range res.unfinished {
			fmt.Printf("  %s: %q\n", ts, botSaid(srv, cmdChannel, ts))
		}
	}
	if lost := unansweredAlarms(srv, alarmTS); len(lost) > 0 {
		fmt.Println("alarm messages without an answer (the bot's messages in their threads):")
		for _, l := range lost {
			fmt.Println("  " + l)
		}
	}
	if !ok && !c.keep {
		fmt.Println("bot stderr (last lines):")
		tail(stderrPath, 20)
	}
	return ok, nil
}

// phase is one burst of commands, each from its own user so that its
// answer can be told apart.
type phase struct {
	channel   string
	users     []string
	sent      map[string]time.Time // by user
	responses map[string]string    // requester by response_url path
	mu        sync.Mutex
	envs      []string
	ackLat    []time.Duration
}

func sendCommands(srv *slacktest.Server, channel, prefix string, n int, text string) *phase {
	p := &phase{channel: channel, sent: map[string]time.Time{}, responses: map[string]string{}}
	for i := range n {
		p.users = append(p.users, fmt.Sprintf("%s%06d", prefix, i+1))
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, u := range p.users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			payload := slacktest.SlashCommand("/investigate", channel, u, text)
			url := srv.ResponseURL()
			payload["response_url"] = url
			id := srv.Send(slacktest.TypeSlash, payload)
			mu.Lock()
			p.sent[u] = t
			p.responses[strings.TrimPrefix(url, srv.URL[:len(srv.URL)-len("/api/")])] = u
			p.envs = append(p.envs, id)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return p
}

func (p *phase) acked(srv *slacktest.Server) []string {
	var out []string
	for _, id := range p.envs {
		if _, ok := srv.Ack(id); ok {
			out = append(out, id)
		}
	}
	return out
}

func (p *phase) collectAcks(srv *slacktest.Server) {
	p.ackLat = p.ackLat[:0]
	for _, id := range p.envs {
		if a, ok := srv.Ack(id); ok {
			p.ackLat = append(p.ackLat, a.Latency)
		}
	}
	slices.Sort(p.ackLat)
}

type results struct {
	answered, lost, duplicated, reports, unavailable int
	ephemeral, failed, failedSaid, final             int
	first, report                                    []time.Duration
	// unfinished are the threads answered without an outcome yet.
	unfinished []string
}

// results reads the channel: each user's top-level bot messages (its
// answers) and the report in each one's thread.
func (p *phase) results(srv *slacktest.Server) results {
	var r results
	p.mu.Lock()
	defer p.mu.Unlock()
	// The first message of each answer mentions its requester when it is
	// posted (its later updates may not): read the chat.postMessage calls.
	roots := map[string][]slacktest.Message{}
	for _, c := range srv.Calls("chat.postMessage") {
		if c.Args["channel"] != p.channel || c.Args["thread_ts"] != "" || c.TS == "" {
			continue
		}
		m, ok := srv.Message(p.channel, c.TS)
		if !ok || m.User != slacktest.BotUserID {
			continue
		}
		m.Posted = c.At
		for _, u := range mentions(c.Args["text"] + "\n" + slacktest.Message{Blocks: json.RawMessage(c.Args["blocks"])}.BlocksText()) {
			if _, ok := p.sent[u]; ok {
				roots[u] = append(roots[u], m)
			}
		}
	}
	// Answers that are not a thread: ephemeral messages and response_url
	// replies to the requester.
	private := map[string]int{}
	privateNamed := map[string]bool{}
	for _, m := range srv.Messages(p.channel) {
		if m.Ephemeral {
			if _, ok := p.sent[m.User]; ok {
				private[m.User]++
				privateNamed[m.User] = privateNamed[m.User] || namesCause(m.Text)
			}
		}
	}
	for _, resp := range srv.Responses() {
		if u, ok := p.responses[resp.Path]; ok {
			private[u]++
		}
	}
	for _, u := range p.users {
		ms := roots[u]
		if len(ms) == 0 {
			if private[u] == 0 {
				r.lost++
				continue
			}
			// Refused or failed before a thread, and told so.
			r.answered++
			r.final++
			r.ephemeral++
			continue
		}
		r.duplicated += len(ms) - 1
		r.answered++
		root := ms[0]
		r.first = append(r.first, root.Posted.Sub(p.sent[u]))
		n, failures, named := 0, 0, privateNamed[u]
		if t := root.BlocksText(); strings.Contains(t, "Could not investigate") {
			failures++
			named = named || namesCause(t)
		}
		for _, m := range srv.Thread(p.channel, root.TS) {
			if m.User != slacktest.BotUserID || m.TS == root.TS {
				continue
			}
			t := m.BlocksText()
			if strings.Contains(t, "Could not investigate") {
				failures++
				named = named || namesCause(t)
			}
			if strings.Contains(t, "ask me in this thread") {
				if n++; n > 1 {
					r.duplicated++
					continue
				}
				r.reports++
				r.report = append(r.report, m.Posted.Sub(p.sent[u]))
				if t := strings.ToLower(t); strings.Contains(t, "could not read") || strings.Contains(t, "unavailable") {
					r.unavailable++
				}
			}
		}
		switch {
		case n > 0:
			r.final++
		case failures > 0:
			// Failed, and said why.
			r.final++
			r.failed++
			if named {
				r.failedSaid++
			}
		default:
			r.unfinished = append(r.unfinished, root.TS)
		}
	}
	slices.Sort(r.first)
	slices.Sort(r.report)
	return r
}

// namesCause reports whether a failure says which AWS call failed and how.
func namesCause(text string) bool {
	return strings.Contains(text, "Exception") || strings.Contains(text, "not authorized")
}

// mentions are the users a text mentions.
func mentions(text string) []string {
	var out []string
	for {
		i := strings.Index(text, "<@")
		if i < 0 {
			return out
		}
		text = text[i+2:]
		j := strings.IndexByte(text, '>')
		if j < 0 {
			return out
		}
		u := text[:j]
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
		text = text[j:]
	}
}

// sendAlarms posts n alarm messages as Amazon Q Developer in chat
// applications posts them, and delivers their events, one after another
// over spread.
func sendAlarms(srv *slacktest.Server, n int, name string, spread time.Duration) []string {
	var tss []string
	for i := range n {
		if spread > 0 && i > 0 {
			time.Sleep(spread / time.Duration(n))
		}
		ts := srv.Post(slacktest.Message{Channel: alarmChannel, BotID: "B0AWS", Text: ""})
		link := "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/" + name
		att := []map[string]any{{
			"color":      "#E01E5A",
			"fallback":   "CloudWatch Alarm | " + name + " | us-east-1 | Account: 123456789012",
			"title":      "ALARM | " + name + " | us-east-1",
			"title_link": link,
			"text":       "Threshold Crossed: 1 out of the last 1 datapoints was greater than the threshold.",
			"fields":     []map[string]any{{"title": "Account", "value": "123456789012", "short": true}},
			"footer":     "Amazon Q",
		}}
		srv.Send(slacktest.TypeEvents, slacktest.EventCallback("", slacktest.BotMessage(alarmChannel, "B0AWS", alarmSender, "", ts, att, nil)))
		tss = append(tss, ts)
	}
	return tss
}

type alarmResults struct{ reported, joined, failed, duplicated int }

func (a alarmResults) answered() int { return a.reported + a.joined + a.failed }

// alarmAnswers counts the alarm messages answered: with a report in the
// thread, joined to the investigation of the same alarm already under way
// ("I follow it there"), or told why it could not be investigated; and
// the reports and joins beyond one.
func alarmAnswers(srv *slacktest.Server, tss []string) alarmResults {
	var a alarmResults
	for _, ts := range tss {
		n, failures := 0, 0
		for _, m := range srv.Thread(alarmChannel, ts) {
			if m.User != slacktest.BotUserID {
				continue
			}
			switch t := m.BlocksText(); {
			case strings.Contains(t, "ask me in this thread"), strings.Contains(t, "I follow it there"):
				if n == 0 {
					if strings.Contains(t, "ask me in this thread") {
						a.reported++
					} else {
						a.joined++
					}
				}
				n++
			case toldWhyNot(t):
				failures++
			}
		}
		if n == 0 && failures > 0 {
			a.failed++
		}
		a.duplicated += max(n-1, 0)
	}
	return a
}

// toldWhyNot reports whether a bot message in an alarm's thread says why
// the alarm could not be investigated.
func toldWhyNot(text string) bool {
	for _, why := range []string{
		"Could not investigate", // the status message, failed
		"I could not look up",   // the alarm read failed
		"I can't find an alarm",
		"I can't read this channel's AWS account",
		"I'm too busy",
		"cut off twice",
		"after I had already resumed it once", // cut off again after a resume
		"I can't reach my store",
	} {
		if strings.Contains(text, why) {
			return true
		}
	}
	return false
}

// unansweredAlarms are the alarm messages without an answer, each with the
// bot's messages in its thread.
func unansweredAlarms(srv *slacktest.Server, tss []string) []string {
	var out []string
	for _, ts := range tss {
		if alarmAnswers(srv, []string{ts}).answered() > 0 {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %q", ts, botSaid(srv, alarmChannel, ts)))
	}
	return out
}

// botSaid is the start of each of the bot's messages in a thread.
func botSaid(srv *slacktest.Server, channel, thread string) []string {
	var said []string
	for _, m := range srv.Thread(channel, thread) {
		if m.User == slacktest.BotUserID {
			said = append(said, strings.ReplaceAll(investigate.Truncate(m.BlocksText(), 100), "\n", " "))
		}
	}
	return said
}

// resumes counts a channel's threads the bot told it resumed an
// investigation a restart cut off, and those it told it would not resume
// one cut off again (a possible poison request).
func resumes(srv *slacktest.Server, channel string) (resumed, poison int) {
	r, p := map[string]bool{}, map[string]bool{}
	for _, m := range srv.Messages(channel) {
		if m.User != slacktest.BotUserID || m.ThreadTS == "" {
			continue
		}
		switch t := m.BlocksText(); {
		case strings.Contains(t, "so I'm resuming it"):
			r[m.ThreadTS] = true
		case strings.Contains(t, "after I had already resumed it once"):
			p[m.ThreadTS] = true
		}
	}
	return len(r), len(p)
}

func baselineAnswered(srv *slacktest.Server) int {
	n := 0
	for _, m := range srv.Messages(baseChannel) {
		if m.User == slacktest.BotUserID {
			n++
		}
	}
	return n
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// goroutines reads go_goroutines from the bot's /metrics.
func goroutines(addr string) (int, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			var n float64
			if _, err := fmt.Sscan(rest, &n); err != nil {
				return 0, err
			}
			return int(n), nil
		}
	}
	return 0, errors.New("no go_goroutines in /metrics")
}

// proc is a child process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	peak int64 // KiB, from /proc while it runs
	mu   sync.Mutex
}

func startProc(ctx context.Context, bin string, args, env []string, stderrPath string, verbose bool) (*proc, error) {
	f, err := os.OpenFile(stderrPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = io.Discard
	cmd.Stderr = f
	if verbose {
		cmd.Stderr = io.MultiWriter(f, os.Stderr)
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-ctx.Done():
				p.kill()
				return
			case <-t.C:
				if kb := vmHWM(cmd.Process.Pid); kb > 0 {
					p.mu.Lock()
					p.peak = max(p.peak, kb)
					p.mu.Unlock()
				}
			}
		}
	}()
	return p, nil
}

func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// term sends SIGTERM and reports whether the process exited with status 0
// within timeout.
func (p *proc) term(timeout time.Duration) (bool, time.Duration) {
	t0 := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err == nil, time.Since(t0)
	case <-time.After(timeout):
		p.kill()
		return false, time.Since(t0)
	}
}

func (p *proc) wait() { <-p.done }

// peakKB is the process's peak resident memory: VmHWM as last read, or
// the rusage maxrss once it has exited, whichever is larger.
func (p *proc) peakKB() int64 {
	p.mu.Lock()
	peak := p.peak
	p.mu.Unlock()
	if st := p.cmd.ProcessState; st != nil {
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			peak = max(peak, ru.Maxrss)
		}
	}
	return peak
}

func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb
		}
	}
	return 0
}

func countPanics(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return bytes.Count(b, []byte("panic:")), nil
}

func tail(path string, n int) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	for _, l := range lines {
		fmt.Println("  " + l)
	}
}

// poll checks cond every half second until it holds or timeout passes
// (reading the results on every change of the server would cost the bot
// CPU time on a small machine).
func poll(timeout time.Duration, cond func() bool) bool {
	end := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func q(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))]
}

func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}

func countOver(ds []time.Duration, limit time.Duration) int {
	n := 0
	for _, d := range ds {
		if d > limit {
			n++
		}
	}
	return n
}

// runBaseline is the minimal slack-go socket-mode app: it acknowledges each
// slash command and posts one message, until SIGTERM.
func runBaseline() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	api := slack.New(os.Getenv("SLACK_BOT_TOKEN"), slack.OptionAppLevelToken(os.Getenv("SLACK_APP_TOKEN")), slack.OptionAPIURL(os.Getenv("SLACK_API_URL")))
	sm := socketmode.New(api)
	go func() {
		for evt := range sm.Events {
			if evt.Type != socketmode.EventTypeSlashCommand {
				continue
			}
			cmd, ok := evt.Data.(slack.SlashCommand)
			if !ok {
				continue
			}
			sm.Ack(*evt.Request)
			go func() {
				_, _, _ = api.PostMessageContext(ctx, cmd.ChannelID, slack.MsgOptionText("on it <@"+cmd.UserID+">", false))
			}()
		}
	}()
	err := sm.RunContext(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
