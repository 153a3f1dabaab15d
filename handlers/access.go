package handlers

import (
	"context"
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
