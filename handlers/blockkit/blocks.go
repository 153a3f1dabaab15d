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

// MaxMessageText is the most text the renderer puts in one message, over
// all its blocks. Slack refuses a message whose blocks together carry more
// than about 12,000 characters (msg_blocks_too_long; seen refused from
// 11,341), a limit it does not publish: this keeps well under it.
const MaxMessageText = 10000

// TextLen is the text a block carries, in characters, as Slack counts it
// against a message's total: section text and fields, headers, context
// elements, button labels.
func TextLen(b slack.Block) int {
	n := func(t *slack.TextBlockObject) int {
		if t == nil {
			return 0
		}
		return utf8.RuneCountInString(t.Text)
	}
	switch b := b.(type) {
	case *slack.SectionBlock:
		total := n(b.Text)
		for _, f := range b.Fields {
			total += n(f)
		}
		return total
	case *slack.HeaderBlock:
		return n(b.Text)
	case *slack.ContextBlock:
		total := 0
		for _, e := range b.ContextElements.Elements {
			if t, ok := e.(*slack.TextBlockObject); ok {
				total += n(t)
			}
		}
		return total
	case *slack.ActionBlock:
		total := 0
		for _, e := range b.Elements.ElementSet {
			if btn, ok := e.(*slack.ButtonBlockElement); ok {
				total += n(btn.Text)
			}
		}
		return total
	}
	return 0
}

// MessageText is the text of a message's blocks, as TextLen counts it.
func MessageText(blocks []slack.Block) int {
	total := 0
	for _, b := range blocks {
		total += TextLen(b)
	}
	return total
}

// pack puts groups of blocks into messages of at most MaxBlocks blocks and
// MaxMessageText characters, keeping a group whole where it fits.
func pack(groups [][]slack.Block) [][]slack.Block {
	var msgs [][]slack.Block
	var cur []slack.Block
	text := 0
	flush := func() {
		if len(cur) > 0 {
			msgs = append(msgs, cur)
			cur, text = nil, 0
		}
	}
	fits := func(blocks, chars int) bool {
		return len(cur)+blocks <= MaxBlocks && text+chars <= MaxMessageText
	}
	for _, g := range groups {
		gt := MessageText(g)
		if !fits(len(g), gt) {
			flush()
		}
		if fits(len(g), gt) {
			cur, text = append(cur, g...), text+gt
			continue
		}
		// A group over a whole message: block by block.
		for _, b := range g {
			if !fits(1, TextLen(b)) {
				flush()
			}
			cur, text = append(cur, b), text+TextLen(b)
		}
	}
	flush()
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
