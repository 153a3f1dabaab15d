package blockkit

import (
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/unstuck/unstuck/handlers/mrkdwn"
)

// Block Kit limits the renderer keeps to.
const (
	MaxBlocks        = 50
	maxSectionText   = 3000
	maxHeaderText    = 150
	maxContextElems  = 10
	maxButtonText    = 75
	maxFallbackText  = 3000
	maxHypotheses    = 5
	maxCitedFindings = 8
	maxOtherFindings = 10
	maxNotes         = 10
	maxExplanation   = 1200
)

// Mrkdwn is a mrkdwn text object, verbatim (Slack does not parse names or
// links in it); s must already be escaped.
func Mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

// plain is a plain_text object; s is untrusted.
func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, mrkdwn.Truncate(mrkdwn.PlainText(s), maxHeaderText), false, false)
}

// Button is a button with an action id, a label (untrusted, cut to
// Slack's limit) and a value.
func Button(actionID, label, value string, style slack.Style) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(actionID, value, plain(mrkdwn.Truncate(label, maxButtonText)))
	b.Style = style
	return b
}

// Sections renders mrkdwn text as one or more section blocks, cutting at
// line breaks so that none is over Slack's 3,000 characters.
func Sections(text string) []slack.Block {
	var out []slack.Block
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, slack.NewSectionBlock(Mrkdwn(cur.String()), nil, nil))
			cur.Reset()
		}
	}
	for _, line := range strings.Split(text, "\n") {
		line = mrkdwn.Truncate(line, maxSectionText)
		if utf8.RuneCountInString(cur.String())+utf8.RuneCountInString(line)+1 > maxSectionText {
			flush()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(line)
	}
	flush()
	return out
}

// context renders short mrkdwn texts as a context block (at most ten).
func Context(texts ...string) slack.Block {
	var els []slack.MixedElement
	for _, t := range texts {
		if t == "" || len(els) == maxContextElems {
			continue
		}
		els = append(els, Mrkdwn(mrkdwn.Truncate(t, maxSectionText)))
	}
	return slack.NewContextBlock("", els...)
}

// pack puts groups of blocks into messages of at most 50 blocks, keeping a
// group whole where it fits.
func pack(groups [][]slack.Block) [][]slack.Block {
	var msgs [][]slack.Block
	var cur []slack.Block
	for _, g := range groups {
		if len(cur)+len(g) > MaxBlocks && len(cur) > 0 {
			msgs = append(msgs, cur)
			cur = nil
		}
		for len(g) > MaxBlocks {
			msgs = append(msgs, g[:MaxBlocks])
			g = g[MaxBlocks:]
		}
		cur = append(cur, g...)
	}
	if len(cur) > 0 {
		msgs = append(msgs, cur)
	}
	return msgs
}

// Message renders mrkdwn text (already escaped) as a whole message: its
// blocks, sections cut at line breaks within Slack's 3,000 characters and
// at most MaxBlocks of them, and its notification text, the first line
// cut short. Every text the bot says in a sentence or two goes out
// through it, so none can grow past what Slack accepts (an unknown name
// of 255 characters with its closest names, say).
func Message(text string) ([]slack.Block, string) {
	blocks := Sections(text)
	if len(blocks) > MaxBlocks {
		blocks = blocks[:MaxBlocks]
	}
	first, _, _ := strings.Cut(text, "\n")
	return blocks, mrkdwn.Truncate(first, 300)
}
