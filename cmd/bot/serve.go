package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
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
	logger.Info("starting", "version", version().String())
	if *channels == "" {
		logger.Warn("no --channels file: the bot answers /investigate and mentions in every channel it is invited to, " +
			"with its own AWS credentials and region, and watches no alarm messages; see slack/channels.example.yaml")
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
	// readiness checks besides Slack's and the store's.
	ready := map[string]metrics.Check{}
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
		base := awsOptions(awstelemetry.Options{Region: *region, Profile: *profile, SeenCredentials: seenCredentials})
		client, err := awsPreflight(ctx, base, cfg)
		if err != nil {
			return err
		}
		logger.Info("reading AWS", "region", client.Region())
		// The credentials as the SDK caches them: a probe of /readyz
		// reaches a credential source once a minute at most.
		ready["aws"] = briefCheck(logger, "aws", cached(time.Minute, nil, client.Credentials),
			func(err error) string { return "aws " + string(awstelemetry.Classify(err)) })
		backends = &awsBackends{base: base, engine: engineOpts, clients: map[string]*awstelemetry.Client{}}
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
	// Said once Slack has said hello on the socket, not before: a bot
	// that cannot connect never claims to serve.
	opts.OnReady = func() { fmt.Fprintln(stdout, "unstuck: serving Slack over socket mode; Ctrl-C to stop") }
	bot := handlers.New(api, db, backends, cfg, opts)
	sm := bot.SocketMode(api, stdLogger(logger, "socketmode: "), *debug)
	mets.WorkInFlight(bot.InFlight)
	if *httpAddr != "" {
		stopHTTP, err := serveHTTP(*httpAddr, mets, bot, logger, ready)
		if err != nil {
			return fmt.Errorf("--http-addr: %w", err)
		}
		defer stopHTTP()
	}
	if err := bot.Serve(ctx, sm); err != nil {
		var te *handlers.TokenError
		if errors.As(err, &te) {
			return slackTokenError(te)
		}
		return err
	}
	if err := closeDB(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	fmt.Fprintln(stdout, "unstuck: stopped")
	return nil
}

// slackAPIURL is SLACK_API_URL, the Web API base of a Slack other than
// Slack's own (a test's), ending in a slash as slack-go wants it; "" for
// Slack's.
func slackAPIURL() string {
	u := strings.TrimSpace(os.Getenv("SLACK_API_URL"))
	if u != "" && !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

// slackEnv reads the Slack tokens and the optional API base.
func slackEnv() (appToken, botToken, apiURL string, err error) {
	appToken = strings.TrimSpace(os.Getenv("SLACK_APP_TOKEN"))
	botToken = strings.TrimSpace(os.Getenv("SLACK_BOT_TOKEN"))
	apiURL = slackAPIURL()
	switch {
	case appToken == "" || botToken == "":
		return "", "", "", usageError{"set SLACK_APP_TOKEN (xapp-…, with connections:write) and SLACK_BOT_TOKEN (xoxb-…); see slack/README.md"}
	case !strings.HasPrefix(appToken, "xapp-"):
		return "", "", "", usageError{"SLACK_APP_TOKEN must be an app-level token (xapp-…)"}
	case !strings.HasPrefix(botToken, "xoxb-"):
		return "", "", "", usageError{"SLACK_BOT_TOKEN must be a bot token (xoxb-…)"}
	}
	return appToken, botToken, apiURL, nil
}

// slackTokenError says which token Slack refused and how to get a good
// one.
func slackTokenError(te *handlers.TokenError) error {
	if te.Token == "app" {
		return &tokenFixError{te: te, env: "SLACK_APP_TOKEN",
			fix: "generate an app-level token with the connections:write scope (Basic Information → App-Level Tokens) and set SLACK_APP_TOKEN to it; the app must have socket mode on (slack/README.md)"}
	}
	return &tokenFixError{te: te, env: "SLACK_BOT_TOKEN",
		fix: "copy the Bot User OAuth Token (xoxb-…) from the app's Install App page into SLACK_BOT_TOKEN; reinstall the app if it was revoked or its scopes changed (slack/README.md)"}
}

// tokenFixError is a token Slack refused, said with the variable that
// holds it and how to fix it.
type tokenFixError struct {
	te       *handlers.TokenError
	env, fix string
}

func (e *tokenFixError) Error() string {
	return "slack refused " + e.env + " (" + e.te.Code + " at " + e.te.Method + "): " + e.fix
}

func (e *tokenFixError) Unwrap() error { return e.te }

// awsOptions are opts with what tests set (awsTestOptions).
func awsOptions(opts awstelemetry.Options) awstelemetry.Options {
	if awsTestOptions != nil {
		awsTestOptions(&opts)
	}
	return opts
}

// awsPreflight builds the client bot serve reads AWS with where a channel
// names no role or region, and checks that a region and credentials can
// be found, so that a bot with no AWS configuration stops at start instead
// of failing every investigation. When no region is configured but every
// channel of the channel file names its regions, the first one is used.
func awsPreflight(ctx context.Context, opts awstelemetry.Options, cfg handlers.Config) (*awstelemetry.Client, error) {
	c, err := awstelemetry.New(ctx, opts)
	if errors.Is(err, awstelemetry.ErrNoRegion) {
		if r, ok := everyChannelsRegion(cfg); ok {
			opts.Region = r
			c, err = awstelemetry.New(ctx, opts)
		}
	}
	if errors.Is(err, awstelemetry.ErrNoRegion) {
		return nil, errors.New("no AWS region: set --region, AWS_REGION or a profile's region (AWS_PROFILE), or name --scenario to serve a simulated incident without AWS")
	}
	if err != nil {
		return nil, fmt.Errorf("aws: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Credentials(cctx); err != nil {
		return nil, fmt.Errorf("no AWS credentials: set AWS_PROFILE (and run aws sso login for SSO), give the instance or task a role, "+
			"or name --scenario to serve a simulated incident without AWS: %w", err)
	}
	return c, nil
}

// everyChannelsRegion is a region when the channel file lists channels and
// each names its regions: the first of the first channel, by id.
func everyChannelsRegion(cfg handlers.Config) (string, bool) {
	if len(cfg.Channels) == 0 {
		return "", false
	}
	for _, ch := range cfg.Channels {
		if len(ch.Regions) == 0 {
			return "", false
		}
	}
	ids := slices.Sorted(maps.Keys(cfg.Channels))
	return cfg.Channels[ids[0]].Regions[0], true
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
