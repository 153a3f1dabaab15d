package handlers

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

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
	// (B…), app ids (A…) or the names of the workspace's bot users ("AWS
	// Chatbot"), which Serve resolves once to their ids; "*" is any bot.
	// A message is matched by its ids only, never by the display name it
	// carries, which whoever posts sets.
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
	ids := []string{m.BotID, m.AppID}
	if m.BotProfile != nil {
		ids = append(ids, m.BotProfile.ID, m.BotProfile.AppID)
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

// groupMembers caches a user group's members.
type groupMembers struct {
	users []string
	at    time.Time
}

// allowed checks the channel's user-group restriction.
func (b *Bot) allowed(ctx context.Context, ch Channel, user string) bool {
	if ch.UserGroup == "" {
		return true
	}
	b.groupsMu.Lock()
	g, ok := b.groups[ch.UserGroup]
	b.groupsMu.Unlock()
	// Cached on the wall clock: the simulator's clock stands still.
	if !ok || time.Since(g.at) > 5*time.Minute {
		users, err := b.api.GetUserGroupMembersContext(ctx, ch.UserGroup)
		if err != nil {
			b.log.Warn("user group members", "group", ch.UserGroup, "err", err)
			return false
		}
		g = groupMembers{users: users, at: time.Now()}
		b.groupsMu.Lock()
		b.groups[ch.UserGroup] = g
		b.groupsMu.Unlock()
	}
	return slices.Contains(g.users, user)
}

// senderIDRe is the shape of a bot id (B…) or an app id (A…).
var senderIDRe = regexp.MustCompile(`^[AB][A-Z0-9]{2,}$`)

// resolveSenders turns the names in the channels' alarm senders into the
// bot and app ids of the workspace's bot users of that name (users.list,
// which needs the users:read scope), once, before any message is read. A
// name that no bot user has is an error that says what to write instead.
func (b *Bot) resolveSenders(ctx context.Context) error {
	var names []string
	for _, ch := range b.cfg.Channels {
		for _, s := range ch.AlarmSenders {
			if s != "*" && !senderIDRe.MatchString(s) && !slices.Contains(names, s) {
				names = append(names, s)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	users, err := b.api.GetUsersContext(ctx)
	if err != nil {
		return fmt.Errorf("alarm senders %q are names, found through users.list (scope users:read): %w", names, err)
	}
	byName := map[string][]string{}
	for _, u := range users {
		if u.Deleted || u.Profile.BotID == "" {
			continue
		}
		for _, n := range []string{u.Name, u.RealName, u.Profile.RealName, u.Profile.DisplayName} {
			if n == "" {
				continue
			}
			k := strings.ToLower(n)
			for _, id := range []string{u.Profile.BotID, u.Profile.ApiAppID} {
				if id != "" && !slices.Contains(byName[k], id) {
					byName[k] = append(byName[k], id)
				}
			}
		}
	}
	channels := make(map[string]Channel, len(b.cfg.Channels))
	for id, ch := range b.cfg.Channels {
		var senders []string
		for _, s := range ch.AlarmSenders {
			if s == "*" || senderIDRe.MatchString(s) {
				senders = append(senders, s)
				continue
			}
			ids := byName[strings.ToLower(s)]
			if len(ids) == 0 {
				return fmt.Errorf("channel %s: alarm sender %q is no bot user of this workspace; give its bot id (B…) or app id (A…), shown on the bot's profile", id, s)
			}
			b.log.Info("alarm sender resolved", "channel", id, "name", s, "ids", ids)
			senders = append(senders, ids...)
		}
		ch.AlarmSenders = senders
		channels[id] = ch
	}
	b.cfg = Config{Channels: channels}
	return nil
}
