package handlers_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/slack-go/slack"

	"github.com/unstuck/unstuck/handlers/blockkit"
	"github.com/unstuck/unstuck/handlers/slacktest"
	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm"
	"github.com/unstuck/unstuck/scenario"
	"github.com/unstuck/unstuck/scenarios"
	"github.com/unstuck/unstuck/sim"
)

// TestEveryReportPosts renders the report of every embedded scenario, and
// of the real incidents beside the repository when they are there
// (PetShop, CC-BY-4.0, read from ../../shared/realdata), first screen and
// details, and posts each message to the fake Slack: none is refused, none
// is over the text budget.
func TestEveryReportPosts(t *testing.T) {
	files, err := scenario.LoadAll(scenarios.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	if real, err := filepath.Glob("../../shared/realdata/petshop/*.yaml"); err == nil {
		for _, p := range real {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			f, err := scenario.Parse(filepath.Base(p), b, os.DirFS(filepath.Dir(p)))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			files = append(files, f)
		}
	}
	srv := slacktest.NewServer()
	defer srv.Close()
	api := slack.New(slacktest.BotToken, slack.OptionAPIURL(srv.URL))
	var first, total []int
	for _, f := range files {
		backend := sim.New(f.Scenario, sim.Options{})
		eng := investigate.New(backend.Sources(), investigate.Options{Reasoner: llm.NewOffline(), Lookback: backend.Now().Sub(f.Scenario.Start()), Clock: backend.Now})
		rep, err := eng.Run(context.Background(), investigate.Request{Alarm: f.Scenario.Alarm.Name}, nil)
		if err != nil {
			t.Fatalf("%s: %v", f.Scenario.Name, err)
		}
		msgs, fallback := blockkit.Report(rep, blockkit.ReportView{ThreadTS: "1.1", Details: true})
		sum := 0
		for i, blocks := range msgs {
			n := blockkit.MessageText(blocks)
			sum += n
			if i == 0 {
				first = append(first, n)
			}
			if n > blockkit.MaxMessageText || len(blocks) > blockkit.MaxBlocks {
				t.Errorf("%s: message %d has %d characters in %d blocks", f.Scenario.Name, i, n, len(blocks))
			}
			if _, _, err := api.PostMessage("C0INCIDENT", slack.MsgOptionBlocks(blocks...), slack.MsgOptionText(blockkit.PartFallback(fallback, i), false)); err != nil {
				t.Errorf("%s: message %d refused: %v", f.Scenario.Name, i, err)
			}
		}
		total = append(total, sum)
	}
	sort.Ints(first)
	sort.Ints(total)
	t.Logf("%d reports: first screen median %d characters, largest %d; whole report median %d, largest %d",
		len(files), first[len(first)/2], slices.Max(first), total[len(total)/2], slices.Max(total))
}
