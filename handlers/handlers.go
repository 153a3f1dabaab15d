// Package handlers is unstuck's Slack side: the socket-mode loop, the
// /investigate command, alarm messages in watched channels, the
// investigation's thread (progress, the report in Block Kit, buttons),
// follow-up questions and notes, access per channel, and the escaping that
// keeps untrusted text harmless.
//
// It depends on package investigate and on the small interfaces below,
// which cmd/bot satisfies with the engine over the simulator or AWS.
package handlers

import (
	"context"
	"errors"
	"github.com/unstuck/unstuck/incident"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/unstuck/unstuck/investigate"
)

// Investigator runs one investigation; *investigate.Engine is one.
type Investigator interface {
	Run(ctx context.Context, req investigate.Request, progress func(investigate.Event)) (investigate.Report, error)
}

// Querier answers follow-up questions from the same sources the engine
// reads; *investigate.Querier is one. It is investigate.FollowUpQuerier,
// which a model's tools read through too, under the name a Backend uses.
type Querier = investigate.FollowUpQuerier

// AlarmFinder finds the alarm an /investigate argument names: an alarm's
// name, or a resource an alarm watches. An unknown name is an error
// wrapping *investigate.NotFoundError, with the closest names.
type AlarmFinder interface {
	FindAlarm(ctx context.Context, ref string) (investigate.Alarm, error)
}

// Backend is what investigations in one channel read: one account, role and
// region.
type Backend struct {
	Investigator Investigator
	Querier      Querier
	Alarms       AlarmFinder
}

// Backends gives the backend for a channel's access settings and a region
// ("" for the channel's default).
type Backends interface {
	Backend(ctx context.Context, ch Channel, region string) (Backend, error)
}

// Answerer answers a free-form question about an investigation that no
// built-in intent understood (a model adapter implements it), reading
// telemetry through the channel's querier. Its answer is untrusted text.
type Answerer interface {
	Answer(ctx context.Context, question string, q Querier, inv incident.Investigation) (string, error)
}

// Summarizer drafts a postmortem of an investigation — timeline, impact,
// root cause, actions taken, prevention — from its report, the accepted
// hypotheses and the thread's notes. Its draft is untrusted text.
type Summarizer interface {
	Postmortem(ctx context.Context, inv incident.Investigation) (string, error)
}

// SlackAPI is the part of the Slack Web API the bot calls; *slack.Client
// is one.
type SlackAPI interface {
	AuthTestContext(ctx context.Context) (*slack.AuthTestResponse, error)
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
	PostEphemeralContext(ctx context.Context, channelID, userID string, options ...slack.MsgOption) (string, error)
	UploadFileContext(ctx context.Context, params slack.UploadFileParameters) (*slack.FileSummary, error)
	GetUserGroupMembersContext(ctx context.Context, userGroup string, options ...slack.GetUserGroupMembersOption) ([]string, error)
}

// Alarm modes of a channel: what an ALARM message posted there starts.
const (
	AlarmsOff    = "off"    // ignore alarm messages (the default)
	AlarmsAuto   = "auto"   // investigate at once, in the alarm's thread
	AlarmsButton = "button" // offer an Investigate button in the thread
)

// Channel is what one channel may do and read.
type Channel struct {
	// Alarms is AlarmsOff, AlarmsAuto or AlarmsButton.
	Alarms string `yaml:"alarms" json:"alarms"`
	// AlarmSenders are the bots whose alarm messages count here: bot ids
	// (B…), app ids (A…) or bot names ("AWS Chatbot"); "*" is any bot.
	AlarmSenders []string `yaml:"alarm_senders" json:"alarm_senders"`
	// Account, RoleARN, ExternalID and Regions say what the channel's
	// investigations read; empty means the bot's own credentials and region.
	Account    string   `yaml:"account" json:"account"`
	RoleARN    string   `yaml:"role_arn" json:"role_arn"`
	ExternalID string   `yaml:"external_id" json:"external_id"`
	Regions    []string `yaml:"regions" json:"regions"`
	// UserGroup, when set, is the user group (S…) whose members may use the
	// bot here.
	UserGroup string `yaml:"user_group" json:"user_group"`
}

// Config is the channel allow-list. With no channels every channel may use
// /investigate and mentions, and no alarm messages are watched; "*" is the
// entry for channels not listed.
type Config struct {
	Channels map[string]Channel `yaml:"channels" json:"channels"`
}

// Channel returns a channel's settings and whether the bot may work there.
func (c Config) Channel(id string) (Channel, bool) {
	if len(c.Channels) == 0 {
		return Channel{}, true
	}
	if ch, ok := c.Channels[id]; ok {
		return ch, true
	}
	ch, ok := c.Channels["*"]
	return ch, ok
}

// region picks the region an investigation reads: the one asked for if the
// channel may read it, else the channel's first. ok is false when the
// channel may not read the region asked for.
func (ch Channel) region(asked string) (string, bool) {
	if asked == "" {
		if len(ch.Regions) > 0 {
			return ch.Regions[0], true
		}
		return "", true
	}
	if len(ch.Regions) == 0 || slices.Contains(ch.Regions, asked) {
		return asked, true
	}
	return "", false
}

// watches reports whether a bot's messages may be alarm messages here.
func (ch Channel) watches(m message) bool {
	if ch.Alarms != AlarmsAuto && ch.Alarms != AlarmsButton {
		return false
	}
	ids := []string{m.BotID, m.AppID, m.Username}
	if m.BotProfile != nil {
		ids = append(ids, m.BotProfile.ID, m.BotProfile.AppID, m.BotProfile.Name)
	}
	for _, s := range ch.AlarmSenders {
		if s == "*" {
			return true
		}
		for _, id := range ids {
			if id != "" && strings.EqualFold(s, id) {
				return true
			}
		}
	}
	return false
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
	// Clock is "now": time.Now, or the simulator's clock for scenarios.
	Clock func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Answerer answers questions no intent understands; nil lists the
	// intents instead.
	Answerer Answerer
	// Summarizer drafts postmortems (the postmortem question and button);
	// nil says none is configured.
	Summarizer Summarizer
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
	// besides at start (default 1m).
	RecoverEvery time.Duration
	// Metrics receives the bot's measurements of itself (default: none).
	Metrics Metrics
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

	metrics Metrics
	socket  socketState

	groupsMu sync.Mutex
	groups   map[string]groupMembers
}

// groupMembers caches a user group's members.
type groupMembers struct {
	users []string
	at    time.Time
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
	return &Bot{api: api, store: store, backends: backends, cfg: cfg, opts: opts, log: opts.Logger, replica: opts.ReplicaID, groups: map[string]groupMembers{}, metrics: opts.Metrics}
}

// OneBackend serves every channel from the same backend (the simulator, or
// one AWS account).
type OneBackend Backend

// Backend implements Backends.
func (o OneBackend) Backend(context.Context, Channel, string) (Backend, error) {
	return Backend(o), nil
}

// KnownAlarms finds alarms by name through Alarms, and a resource through
// the topology around each of Names (the alarms it knows of).
type KnownAlarms struct {
	Alarms  investigate.AlarmSource
	Querier Querier
	Names   []string
}

// FindAlarm implements AlarmFinder.
func (k KnownAlarms) FindAlarm(ctx context.Context, ref string) (investigate.Alarm, error) {
	if k.Alarms == nil {
		return investigate.Alarm{}, errors.New("no alarm source")
	}
	a, err := k.Alarms.Alarm(ctx, ref)
	if err == nil {
		return a, nil
	}
	var nf *investigate.NotFoundError
	if !errors.As(err, &nf) {
		return investigate.Alarm{}, err
	}
	var resources []string
	for _, name := range k.Names {
		al, aerr := k.Alarms.Alarm(ctx, name)
		if aerr != nil {
			continue
		}
		if strings.EqualFold(al.Resource, ref) {
			return al, nil
		}
		if k.Querier == nil {
			continue
		}
		topo, terr := k.Querier.Topology(ctx, al)
		if terr != nil {
			continue
		}
		if _, ok := topo.Find(ref); ok {
			return al, nil
		}
		for _, r := range topo.Resources {
			resources = append(resources, r.ID)
		}
	}
	out := &investigate.NotFoundError{Kind: "alarm or resource", Name: ref, Candidates: nf.Candidates}
	out.Candidates = append(out.Candidates, closest(ref, resources, 3)...)
	return investigate.Alarm{}, out
}

// SourcesBackend is a Backend over one set of sources: the engine with
// opts, a querier, and the alarms it knows of by name (to find the alarm
// of a resource).
func SourcesBackend(src investigate.Sources, opts investigate.Options, known []string) Backend {
	q := investigate.NewQuerier(src)
	return Backend{
		Investigator: investigate.New(src, opts),
		Querier:      q,
		Alarms:       KnownAlarms{Alarms: src.Alarms, Querier: q, Names: known},
	}
}
