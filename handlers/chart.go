package handlers

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/unstuck/unstuck/handlers/chart"
	"github.com/unstuck/unstuck/handlers/mrkdwn"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

// chartColours name the chart's panel colours, in order, for its title.
var chartColours = []string{"blue", "orange", "green", "purple"}

// uploadChart uploads a chart of the report's series (the alarm's metric
// with the onset marked, and the culprit's telling series) into the thread,
// with files upload v2.
func (b *Bot) uploadChart(ctx context.Context, inv incident.Investigation, rep investigate.Report) {
	var buf bytes.Buffer
	if err := chart.Write(&buf, rep.Series, rep.Onset); err != nil {
		b.log.Info("no chart", "alarm", inv.Alarm.Name, "err", err)
		return
	}
	var legend []string
	for i, s := range rep.Series {
		if i == len(chartColours) {
			break
		}
		legend = append(legend, fmt.Sprintf("%s %s (%s)", s.Resource, s.Metric, chartColours[i]))
	}
	title := mrkdwn.PlainText(mrkdwn.Truncate(strings.Join(legend, " · ")+"; the red line is the onset", 250))
	_, err := b.api.UploadFileContext(ctx, slack.UploadFileParameters{
		Reader:          &buf,
		FileSize:        buf.Len(),
		Filename:        "unstuck-chart.png",
		Title:           title,
		AltTxt:          title,
		Channel:         inv.Channel,
		ThreadTimestamp: inv.ThreadTS,
	})
	if err != nil {
		b.log.Warn("chart upload", "err", err)
	}
}
