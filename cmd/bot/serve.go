package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"gopkg.in/yaml.v3"

	"github.com/unstuck/unstuck/awstelemetry"
	"github.com/unstuck/unstuck/handlers"
	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm"
	"github.com/unstuck/unstuck/metrics"
	"github.com/unstuck/unstuck/sim"
	"github.com/unstuck/unstuck/store"
)

// cmdServe runs the Slack bot over socket mode until ctx ends (SIGINT or
// SIGTERM), then finishes in-flight work within the grace period.
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	scen := fs.String("scenario", "", "serve a simulated incident: an embedded scenario's name, or a scenario file (default: AWS)")
	channels := fs.String("channels", "", "channel allow-list and access settings (YAML; see slack/channels.example.yaml)")
	workers := fs.Int("workers", 4, "investigations that run at once")
	queue := fs.Int("queue", 1000, "work that may wait for a worker")
	deadline := fs.Duration("deadline", 5*time.Minute, "longest one investigation may run")
	grace := fs.Duration("grace", 30*time.Second, "on SIGTERM or SIGINT, how long in-flight work may finish")
	mode := fs.String("llm", "auto", "reasoner: auto, offline or openai")
	region := fs.String("region", "", "AWS region when a channel names none (default: AWS_REGION or the profile's)")
	profile := fs.String("profile", "", "AWS shared-config profile (default: AWS_PROFILE)")
	charts := fs.Bool("charts", true, "upload a chart of the alarm's metric with each report")
	debug := fs.Bool("debug", false, "log every socket-mode message (payloads included)")
	storeSpec := fs.String("store", "", "where the bot keeps investigations, threads, notes, feedback, event de-duplication and leases:\n"+
		"PATH: a file (bbolt), created on first run; one bot process per file\n"+
		"dynamodb://TABLE: a DynamoDB table, with the standard AWS configuration (AWS_REGION, AWS_PROFILE,\n"+
		"AWS_ENDPOINT_URL_DYNAMODB ...); for several replicas; key schema in docs/store.md\n"+
		"(default: the file "+store.DefaultPath+" in the working directory)")
	storeCreate := fs.Bool("store-create", false, "with --store dynamodb://TABLE: create the table (on-demand, TTL on \"expires\") if it does not exist")
	storeMoveDamaged := fs.Bool("store-move-damaged", false, "with --store PATH: if the file is damaged, move it aside (PATH.damaged-TIME) and start with an EMPTY store\n"+
		"instead of stopping; what the file held is lost to the bot (see docs/store.md)")
	var st simSettings
	fs.DurationVar(&st.latency, "sim-latency", 0, "with --scenario: simulated latency of each API call")
	fs.DurationVar(&st.logsLatency, "sim-logs-latency", 0, "with --scenario: simulated latency of each logs query")
	faults := simFaultFlags(fs)
	logFormat := fs.String("log-format", "text", "log format: text or json (log/slog; tokens and secrets are redacted from every line)")
	logLevel := fs.String("log-level", "info", "least level logged: debug, info, warn or error")
	httpAddr := fs.String("http-addr", "", "serve Prometheus /metrics, /healthz and /readyz on this address, e.g. :9090 (default: off)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", rest[0])}
	}
	if *workers < 1 || *queue < 1 || *deadline <= 0 || *grace <= 0 {
		return usageError{"--workers and --queue must be at least 1, --deadline and --grace positive"}
	}
	if _, err := store.ParseSpec(*storeSpec); err != nil {
		return usageError{"--store: " + err.Error()}
	}
	appToken, botToken, apiURL, err := slackEnv()
	if err != nil {
		return err
	}
	cfg, err := loadChannels(*channels)
	if err != nil {
		return err
	}
	model, err := modelFor(*mode)
	if err != nil {
		return err
	}

	logger, err := serveLogger(stderr, *logFormat, *logLevel, model, appToken, botToken)
	if err != nil {
		return err
	}
	mets := metrics.New()
	model.OnUsage(func(u llm.Usage) { mets.ModelTokens(u.Prompt, u.Completion) })
	opts := handlers.Options{
		Workers:  *workers,
		Queue:    *queue,
		Deadline: *deadline,
		Grace:    *grace,
		Logger:   logger,
		Charts:   *charts,
		// Postmortem drafts are written offline when no model is set.
		Summarizer:   assistant{model},
		Metrics:      mets,
		Redact:       func(rep investigate.Report) investigate.Report { return llm.RedactReport(model.Redactor(), rep) },
		StoreFailure: func(err error) string { return string(store.Classify(err)) },
	}
	if model != nil {
		opts.Answerer = assistant{model}
	}
	engineOpts := investigate.Options{Reasoner: model.Reasoner()}
	var backends handlers.Backends
	if *scen != "" {
		f, err := loadScenario(*scen)
		if err != nil {
			return err
		}
		s := f.Scenario
		backend := sim.New(s, faults.apply(st.options()))
		// The scenario's clock is the investigation's "now", so that
		// --since and --at read the simulated telemetry.
		engineOpts.Clock = backend.Now
		engineOpts.Lookback = backend.Now().Sub(s.Start())
		opts.Clock = backend.Now
		backends = handlers.OneBackend(handlers.SourcesBackend(backend.Sources(), engineOpts, []string{s.Alarm.Name}))
		logger.Info("serving a simulated incident", "scenario", s.Name, "alarm", s.Alarm.Name, "now", backend.Now())
	} else {
		backends = &awsBackends{base: awstelemetry.Options{Region: *region, Profile: *profile, SeenCredentials: seenCredentials}, engine: engineOpts, clients: map[string]*awstelemetry.Client{}}
	}

	apiOpts := []slack.Option{slack.OptionAppLevelToken(appToken)}
	if apiURL != "" {
		apiOpts = append(apiOpts, slack.OptionAPIURL(apiURL))
	}
	api := slack.New(botToken, apiOpts...)
	db, err := store.Open(ctx, *storeSpec, store.Options{CreateTable: *storeCreate, MoveAsideDamaged: *storeMoveDamaged, Logger: logger})
	if err != nil {
		return err
	}
	closeDB := sync.OnceValue(db.Close)
	defer closeDB()
	logger.Info("store opened", "store", cmp.Or(*storeSpec, store.DefaultPath))
	bot := handlers.New(api, db, backends, cfg, opts)
	sm := bot.SocketMode(api, stdLogger(logger, "socketmode: "), *debug)
	mets.WorkInFlight(bot.InFlight)
	if *httpAddr != "" {
		stopHTTP, err := serveHTTP(*httpAddr, mets, bot, logger)
		if err != nil {
			return fmt.Errorf("--http-addr: %w", err)
		}
		defer stopHTTP()
	}
	fmt.Fprintln(stdout, "unstuck: serving Slack over socket mode; Ctrl-C to stop")
	if err := bot.Serve(ctx, sm); err != nil {
		return err
	}
	if err := closeDB(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	fmt.Fprintln(stdout, "unstuck: stopped")
	return nil
}

// slackEnv reads the Slack tokens and the optional API base.
func slackEnv() (appToken, botToken, apiURL string, err error) {
	appToken = strings.TrimSpace(os.Getenv("SLACK_APP_TOKEN"))
	botToken = strings.TrimSpace(os.Getenv("SLACK_BOT_TOKEN"))
	apiURL = strings.TrimSpace(os.Getenv("SLACK_API_URL"))
	switch {
	case appToken == "" || botToken == "":
		return "", "", "", usageError{"set SLACK_APP_TOKEN (xapp-…, with connections:write) and SLACK_BOT_TOKEN (xoxb-…); see slack/README.md"}
	case !strings.HasPrefix(appToken, "xapp-"):
		return "", "", "", usageError{"SLACK_APP_TOKEN must be an app-level token (xapp-…)"}
	case !strings.HasPrefix(botToken, "xoxb-"):
		return "", "", "", usageError{"SLACK_BOT_TOKEN must be a bot token (xoxb-…)"}
	}
	if apiURL != "" && !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	return appToken, botToken, apiURL, nil
}

var (
	accountRe = regexp.MustCompile(`^\d{12}$`)
)

// loadChannels reads the channel allow-list; no file allows every channel
// and watches no alarm senders.
func loadChannels(path string) (handlers.Config, error) {
	var cfg handlers.Config
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("channels: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("channels %s: %w", path, err)
	}
	for id, ch := range cfg.Channels {
		switch ch.Alarms {
		case "", handlers.AlarmsOff, handlers.AlarmsAuto, handlers.AlarmsButton:
		default:
			return cfg, fmt.Errorf("channels %s: %s: alarms %q: want off, auto or button", path, id, ch.Alarms)
		}
		if (ch.Alarms == handlers.AlarmsAuto || ch.Alarms == handlers.AlarmsButton) && len(ch.AlarmSenders) == 0 {
			return cfg, fmt.Errorf("channels %s: %s: alarms %s needs alarm_senders (the bots that post alarms there)", path, id, ch.Alarms)
		}
		for _, r := range ch.Regions {
			if !investigate.ValidRegion(r) {
				return cfg, fmt.Errorf("channels %s: %s: %q is not a region", path, id, r)
			}
		}
		if ch.Account != "" && !accountRe.MatchString(ch.Account) {
			return cfg, fmt.Errorf("channels %s: %s: account %q is not a 12-digit account id", path, id, ch.Account)
		}
	}
	return cfg, nil
}

// awsBackends reads AWS: one client per role and region, shared by every
// channel that reads them; one session per investigation or question.
type awsBackends struct {
	base   awstelemetry.Options
	engine investigate.Options

	mu      sync.Mutex
	clients map[string]*awstelemetry.Client
}

func (a *awsBackends) Backend(ctx context.Context, ch handlers.Channel, region string) (handlers.Backend, error) {
	opts := a.base
	if region != "" {
		opts.Region = region
	}
	opts.RoleARN, opts.ExternalID = ch.RoleARN, ch.ExternalID
	key := opts.RoleARN + "|" + opts.ExternalID + "|" + opts.Region
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.clients[key]
	if !ok {
		var err error
		if c, err = awstelemetry.New(ctx, opts); err != nil {
			return handlers.Backend{}, err
		}
		a.clients[key] = c
	}
	// AWS has no list of the alarms to search for a resource's: the
	// session asks CloudWatch for the alarms on the resource's metrics.
	s := c.NewSession()
	b := handlers.SourcesBackend(s.Sources(), a.engine, nil)
	b.Alarms = handlers.KnownAlarms{Alarms: s, Querier: b.Querier, Resources: s}
	return b, nil
}
