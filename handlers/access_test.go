package handlers

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/unstuck/unstuck/handlers/slacktest"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

func TestConfigChannel(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		id   string
		ok   bool
	}{
		{"no config allows all", Config{}, "C1", true},
		{"listed", Config{Channels: map[string]Channel{"C1": {}}}, "C1", true},
		{"not listed", Config{Channels: map[string]Channel{"C1": {}}}, "C2", false},
		{"wildcard", Config{Channels: map[string]Channel{"C1": {}, "*": {}}}, "C2", true},
	}
	for _, tt := range tests {
		if _, ok := tt.cfg.Channel(tt.id); ok != tt.ok {
			t.Errorf("%s: ok = %v, want %v", tt.name, ok, tt.ok)
		}
	}
}

func TestChannelRegion(t *testing.T) {
	tests := []struct {
		regions []string
		asked   string
		want    string
		ok      bool
	}{
		{nil, "", "", true},
		{nil, "eu-west-1", "eu-west-1", true},
		{[]string{"us-east-1", "eu-west-1"}, "", "us-east-1", true},
		{[]string{"us-east-1", "eu-west-1"}, "eu-west-1", "eu-west-1", true},
		{[]string{"us-east-1"}, "ap-south-1", "", false},
	}
	for _, tt := range tests {
		got, ok := Channel{Regions: tt.regions}.region(tt.asked)
		if got != tt.want || ok != tt.ok {
			t.Errorf("region(%v, %q) = %q, %v; want %q, %v", tt.regions, tt.asked, got, ok, tt.want, tt.ok)
		}
	}
}

func TestChannelWatches(t *testing.T) {
	chatbot := message{BotID: "B1", BotProfile: &botProfile{ID: "B1", AppID: "A1", Name: "AWS Chatbot"}}
	tests := []struct {
		name string
		ch   Channel
		m    message
		want bool
	}{
		{"off", Channel{AlarmSenders: []string{"*"}}, chatbot, false},
		// A name is resolved to ids once (resolveSenders); a message's
		// display name, which whoever posts sets, never matches.
		{"by display name", Channel{Alarms: AlarmsAuto, AlarmSenders: []string{"aws chatbot"}}, chatbot, false},
		{"spoofed username", Channel{Alarms: AlarmsAuto, AlarmSenders: []string{"AWS Chatbot"}}, message{BotID: "B9", Username: "AWS Chatbot"}, false},
		{"by bot id", Channel{Alarms: AlarmsButton, AlarmSenders: []string{"B1"}}, chatbot, true},
		{"by app id", Channel{Alarms: AlarmsAuto, AlarmSenders: []string{"A1"}}, chatbot, true},
		{"any bot", Channel{Alarms: AlarmsAuto, AlarmSenders: []string{"*"}}, message{BotID: "B9"}, true},
		{"another bot", Channel{Alarms: AlarmsAuto, AlarmSenders: []string{"B1"}}, message{BotID: "B9", Username: "deploys"}, false},
		{"no senders", Channel{Alarms: AlarmsAuto}, chatbot, false},
	}
	for _, tt := range tests {
		if got := tt.ch.watches(tt.m); got != tt.want {
			t.Errorf("%s: watches = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRelated(t *testing.T) {
	inv := incident.Investigation{
		Alarm:  investigate.Alarm{Name: "orders-api-5xx", Resource: "orders-api"},
		Joined: []string{"orders-fn-errors"},
		Report: &investigate.Report{Scope: investigate.Scope{Resources: []string{"orders-api", "orders-fn", "orders-table"}}},
	}
	tests := []struct {
		alarm investigate.Alarm
		want  bool
	}{
		{investigate.Alarm{Name: "orders-api-5xx"}, true},
		{investigate.Alarm{Name: "orders-fn-errors"}, true},
		{investigate.Alarm{Name: "orders-api-latency", Resource: "orders-api"}, true},
		{investigate.Alarm{Name: "orders-table-throttles", Resource: "orders-table"}, true},
		{investigate.Alarm{Name: "billing-5xx", Resource: "billing-alb"}, false},
		{investigate.Alarm{Name: "no-resource"}, false},
	}
	for _, tt := range tests {
		if got := related(inv, tt.alarm); got != tt.want {
			t.Errorf("related(%s) = %v, want %v", tt.alarm.Name, got, tt.want)
		}
	}
}

// Names of alarm senders are resolved once to the ids of the workspace's
// bot users of that name; a name no bot user has stops the bot with an
// error that says what to write instead.
func TestResolveSenders(t *testing.T) {
	srv := slacktest.NewServer()
	defer srv.Close()
	srv.AddBot("U0GRAF", "grafana", "Grafana", "B0GRAF", "A0GRAF")
	api := slack.New(slacktest.BotToken, slack.OptionAPIURL(srv.URL))
	cfg := Config{Channels: map[string]Channel{
		"C1": {Alarms: AlarmsAuto, AlarmSenders: []string{"AWS Chatbot", "B0HOOK"}},
		"C2": {Alarms: AlarmsButton, AlarmSenders: []string{"grafana", "*"}},
	}}
	b := New(api, nil, nil, cfg, Options{})
	if err := b.resolveSenders(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for id, ch := range b.cfg.Channels {
		got[id] = ch.AlarmSenders
	}
	want := map[string][]string{"C1": {"B0AWS", "A0AWSCHAT", "B0HOOK"}, "C2": {"B0GRAF", "A0GRAF", "*"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("senders = %v, want %v", got, want)
	}

	b = New(api, nil, nil, Config{Channels: map[string]Channel{"C1": {Alarms: AlarmsAuto, AlarmSenders: []string{"Nobody"}}}}, Options{})
	if err := b.resolveSenders(context.Background()); err == nil || !strings.Contains(err.Error(), `"Nobody" is no bot user`) {
		t.Errorf("an unknown sender name: %v", err)
	}
}
