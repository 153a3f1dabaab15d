package handlers

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/unstuck/unstuck/handlers/alarmmsg"
	"github.com/unstuck/unstuck/handlers/mrkdwn"
	"github.com/unstuck/unstuck/investigate"
)

// Command is a parsed /investigate (or "@unstuck investigate …").
type Command struct {
	// Help asks for the usage text.
	Help bool
	// Target is an alarm name, or a resource: an ARN, instance id, function,
	// table or load balancer name.
	Target string
	// Region comes from --region or from a pasted console link.
	Region string
	// Since widens or narrows the telemetry read before the end.
	Since time.Duration
	// At moves the investigation's "now" (the end of the window).
	At time.Time
}

// UsageError is a command the bot cannot take; its message is for the user.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usage is the help text for /investigate.
const Usage = "*/investigate* finds why a CloudWatch alarm fired and writes what it found in a thread.\n" +
	"• `/investigate ALARM` — an alarm's name (quote it if it has spaces)\n" +
	"• `/investigate RESOURCE` — an ARN, instance id, function, table or load balancer name\n" +
	"• `--since 2h` — how much telemetry to read before the end (5m to 7d)\n" +
	"• `--at 10:32` — investigate as of 10:32 UTC, the last that has passed (or `\"2024-12-03 10:32\"`, `2024-12-03T10:32Z`)\n" +
	"• `--region eu-west-1` — the alarm's region, where the channel may read several\n" +
	"• `/investigate help` — this text\n" +
	"In an investigation's thread, mention me with a question: `what changed?`, `errors on i-0abc`, `check orders-table`."

const (
	minSince = 5 * time.Minute
	maxSince = 7 * 24 * time.Hour
)

// ParseCommand parses the text after /investigate at now (for --at).
func ParseCommand(text string, now time.Time) (Command, error) {
	args, err := splitArgs(mrkdwn.Unescape(text))
	if err != nil {
		return Command{}, err
	}
	if len(args) == 0 {
		return Command{}, &UsageError{"Which alarm should I investigate? Give its name, or a resource."}
	}
	if len(args) == 1 && strings.EqualFold(strings.TrimLeft(args[0], "-"), "help") {
		return Command{Help: true}, nil
	}
	var c Command
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		if !strings.HasPrefix(name, "--") {
			if c.Target != "" {
				return Command{}, &UsageError{fmt.Sprintf("One alarm at a time: I got %q and %q (quote a name with spaces).", c.Target, a)}
			}
			c.Target = a
			continue
		}
		if name != "--since" && name != "--at" && name != "--region" {
			return Command{}, &UsageError{fmt.Sprintf("I don't know %s; I take --since, --at and --region.", name)}
		}
		if !hasVal {
			if i+1 >= len(args) {
				return Command{}, &UsageError{fmt.Sprintf("%s needs a value.", name)}
			}
			i++
			val = args[i]
		}
		switch name {
		case "--since":
			d, err := parseSince(val)
			if err != nil {
				return Command{}, err
			}
			c.Since = d
		case "--at":
			t, err := investigate.ParseAt(val, now)
			if err != nil {
				return Command{}, &UsageError{err.Error()}
			}
			c.At = t
		case "--region":
			if !investigate.ValidRegion(val) {
				return Command{}, &UsageError{fmt.Sprintf("%q is not a region (like eu-west-1).", val)}
			}
			c.Region = val
		}
	}
	if c.Target == "" {
		return Command{}, &UsageError{"Which alarm should I investigate? Give its name, or a resource."}
	}
	if name, region, ok := alarmmsg.ConsoleURL(c.Target); ok {
		c.Target = name
		if c.Region == "" && investigate.ValidRegion(region) {
			c.Region = region
		}
	}
	if !alarmmsg.ValidName(c.Target) {
		return Command{}, &UsageError{"That does not look like an alarm name or a resource."}
	}
	return c, nil
}

// splitArgs splits on spaces, keeping quoted strings together.
func splitArgs(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	quote := rune(0)
	inArg := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inArg = r, true
		case unicode.IsSpace(r):
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(r)
			inArg = true
		}
	}
	if quote != 0 {
		return nil, &UsageError{"A quote is not closed."}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}

func parseSince(v string) (time.Duration, error) {
	bad := &UsageError{fmt.Sprintf("--since %q: give a duration like 30m, 2h or 1d, from 5m to 7d.", v)}
	var d time.Duration
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, bad
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, bad
		}
	}
	if d < minSince || d > maxSince {
		return 0, bad
	}
	return d, nil
}

// usageText is the ephemeral answer to a bad command.
func usageText(err error) string {
	var ue *UsageError
	if errors.As(err, &ue) {
		return mrkdwn.Escape(ue.Msg) + "\n\n" + Usage
	}
	return Usage
}
