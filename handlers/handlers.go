// Package handlers is unstuck's Slack side: it takes Slack's deliveries,
// runs what they ask for and writes the answers into threads. One file per
// concern:
//
//   - socket.go: the socket-mode transport (acknowledge at once, pools of
//     workers, reconnecting, shutdown with a grace period);
//   - route.go and payloads.go: what an envelope asks for, decided without
//     I/O; command.go parses /investigate;
//   - inbox.go, lease.go, recovery.go: the durable inbox (an event is kept
//     before it is acknowledged and forgotten once handled), the leases
//     that keep replicas off each other's work, and taking over what a
//     stopped replica left;
//   - run.go and progress.go: an investigation's life from the request to
//     the report, and its status message;
//   - alarms.go: alarm messages in watched channels; buttons.go: the
//     report's buttons; thread.go and intents.go: notes and follow-up
//     questions in a thread; access.go: what each channel may do;
//   - backend.go: the interfaces the bot consumes (the engine, the
//     follow-up querier, the alarm finder), which cmd/bot satisfies with the
//     engine over the simulator or AWS; post.go: the Slack Web API calls.
//
// What does no I/O is in packages of its own: alarmmsg recognises alarm
// notifications, mrkdwn escapes untrusted text, blockkit renders reports
// and status messages. The bot's own domain (investigations, the store's
// contract) is package incident.
package handlers

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

// SlackAPI is the part of the Slack Web API the bot calls; *slack.Client
// is one.
type SlackAPI interface {
	AuthTestContext(ctx context.Context) (*slack.AuthTestResponse, error)
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
	PostEphemeralContext(ctx context.Context, channelID, userID string, options ...slack.MsgOption) (string, error)
	UploadFileContext(ctx context.Context, params slack.UploadFileParameters) (*slack.FileSummary, error)
	GetUserGroupMembersContext(ctx context.Context, userGroup string, options ...slack.GetUserGroupMembersOption) ([]string, error)
	GetUsersContext(ctx context.Context, options ...slack.GetUsersOption) ([]slack.User, error)
}

// Options tune a Bot. Zero values take the defaults.
type Options struct {
	// Workers is how many investigations run at once (default 4).
	Workers int
	// Queue is how many pieces of work may wait (default 1000).
	Queue int
	// Deadline bounds one investigation (default 5m).
	Deadline time.Duration
	// OutcomeTimeout bounds the writing of an investigation's outcome
	// (store, status, report, chart), counted from the end of its run
	// (default 30s).
	OutcomeTimeout time.Duration
	// Grace is how long in-flight work may finish after the context of
	// Serve ends (default 30s).
	Grace time.Duration
	// UpdateInterval is the least time between two updates of one message
	// (default 1s, Slack's rate for chat.update).
	UpdateInterval time.Duration
	// GroupWindow is how close together alarms must fire to join one
	// investigation (default 15m).
	GroupWindow time.Duration
	// Clock is "now" in the world investigated: time.Now, or the
	// simulator's clock for scenarios.
	Clock func() time.Time
	// WallClock is this process's own time, which leases and the recovery
	// pass run on (default: the system's clock); see WallClock.
	WallClock WallClock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Answerer answers questions no intent understands; nil lists the
	// intents instead.
	Answerer Answerer
	// Summarizer drafts postmortems (the postmortem question and button);
	// nil says none is configured.
	Summarizer Summarizer
	// Redact, when set, removes the secrets from a report as soon as the
	// engine returns it, before it is stored or posted (cmd/bot gives
	// package llm's RedactReport with the redactor that knows the
	// process's own secrets). Slack's escaping redacts what it renders
	// too; this keeps them out of the store.
	Redact func(investigate.Report) investigate.Report
	// StoreFailure, when set, says in a few words what kind of failure a
	// store error is ("store throttled", "store access denied"), for the
	// user who could not start an investigation because of it; the error
	// itself, which may name an endpoint, a table or a file, goes to the
	// log only. cmd/bot gives store.Classify, as /readyz does.
	StoreFailure func(error) string
	// Charts uploads a chart of the alarm's metric with each report.
	Charts bool
	// ReplicaID names this process among replicas sharing a store; it
	// prefixes the owners of the leases it takes (default: host, pid and
	// a random part).
	ReplicaID string
	// LeaseTTL is how long an investigation's lease lasts unrenewed
	// (default 1m); it is renewed every third of that. A replica that
	// crashes leaves its investigations for others to take over once
	// their leases expire.
	LeaseTTL time.Duration
	// RecoverEvery is how often interrupted investigations are looked for,
	// besides at start (default 1m), by the WallClock.
	RecoverEvery time.Duration
	// Metrics receives the bot's measurements of itself (default: none).
	Metrics Metrics
	// OnReady, when set, is called once, when Slack first says hello on
	// the socket: the bot is connected and receives events from then on.
	OnReady func()
	// APIRates are how often the bot calls each Web API method it posts
	// with, at most, all its work together (default: SlackRates). A
	// method missing from the map has no rate of its own; when Slack
	// rate-limits a call anyway, every caller of the method waits as long
	// as Slack asks, whatever the map.
	APIRates map[string]APIRate
}

// Bot is the Slack bot. Create it with New and run it with Serve.
type Bot struct {
	api      SlackAPI
	store    incident.Store
	backends Backends
	cfg      Config
	opts     Options
	log      *slog.Logger

	botUserID string
	botID     string
	replica   string

	seq  atomic.Int64
	work *workers // set by Serve
	// budget shares Slack's rate limits among the bot's calls.
	budget *budget
	wall   WallClock
	// inflight counts the work taken and not finished (InFlight).
	inflight atomic.Int64

	metrics   Metrics
	socket    socketState
	readyOnce sync.Once

	// resuming holds a slot for each interrupted investigation this
	// replica resumed and is still running (at most Workers); backlog is
	// set when a recovery pass left one for lack of a slot, and kick asks
	// for a pass before the next RecoverEvery once a slot frees.
	resuming chan struct{}
	backlog  atomic.Bool
	kick     chan struct{}

	groupsMu sync.Mutex
	groups   map[string]groupMembers
}

// New returns a bot that talks to Slack through api, keeps its state in
// store, reads telemetry through backends and obeys cfg.
func New(api SlackAPI, store incident.Store, backends Backends, cfg Config, opts Options) *Bot {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Queue <= 0 {
		opts.Queue = 1000
	}
	if opts.Deadline <= 0 {
		opts.Deadline = 5 * time.Minute
	}
	if opts.OutcomeTimeout <= 0 {
		opts.OutcomeTimeout = 30 * time.Second
	}
	if opts.Grace <= 0 {
		opts.Grace = 30 * time.Second
	}
	if opts.UpdateInterval <= 0 {
		opts.UpdateInterval = time.Second
	}
	if opts.GroupWindow <= 0 {
		opts.GroupWindow = 15 * time.Minute
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ReplicaID == "" {
		opts.ReplicaID = defaultReplicaID()
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = time.Minute
	}
	if opts.RecoverEvery <= 0 {
		opts.RecoverEvery = time.Minute
	}
	if opts.Metrics == nil {
		opts.Metrics = NopMetrics{}
	}
	if opts.WallClock == nil {
		opts.WallClock = systemClock{}
	}
	if opts.APIRates == nil {
		opts.APIRates = SlackRates()
	}
	return &Bot{budget: newBudget(opts.APIRates), api: api, store: store, backends: backends, cfg: cfg, opts: opts, log: opts.Logger, replica: opts.ReplicaID, groups: map[string]groupMembers{}, metrics: opts.Metrics, wall: opts.WallClock,
		resuming: make(chan struct{}, opts.Workers), kick: make(chan struct{}, 1)}
}

// WallClock is the bot's own time, as opposed to Options.Clock (the time
// of the world it investigates, which a simulated scenario sets in the
// past). By it the bot renews its leases (every third of LeaseTTL) and
// judges whether one it holds has run out, runs its recovery pass (every
// RecoverEvery) and stamps the events it keeps (incident.Event.Received),
// which that pass compares with its own now. A store judges leases by a
// clock of its own (incident.Leases: the clock of whoever asks), which
// must be this one: in production both are the system's clock; a test
// gives the bot and its store one clock that it advances, instead of
// sleeping through a lease's life.
//
// What bounds a real wait stays on the system's clock: the timeouts of
// calls to Slack and the store, Deadline, OutcomeTimeout, Grace, the
// waits for a lease another run holds, and UpdateInterval.
type WallClock interface {
	Now() time.Time
	// Tick is time.NewTicker on this clock: c receives the time every d,
	// dropping ticks a slow receiver misses, until stop is called.
	Tick(d time.Duration) (c <-chan time.Time, stop func())
}

// systemClock is the system's clock.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Tick(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// InFlight is how much work the bot has taken and not finished: envelopes
// being kept and acknowledged, and the jobs waiting or running in its
// pools (answers, buttons, investigations). It is zero when the bot is
// idle: everything it was asked to do is done, which is also when a test
// may assert that something did not happen.
func (b *Bot) InFlight() int { return int(b.inflight.Load()) }
