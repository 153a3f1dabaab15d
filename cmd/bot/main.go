// Command bot is unstuck: a Slack bot that investigates incidents on AWS, and
// the command line that runs the same investigations in a terminal.
//
// This is the only package that reads flags, environment and files; it wires
// the others together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/unstuck/unstuck/redact"
)

const usage = `unstuck investigates incidents on AWS.

Usage:
  bot investigate [--scenario NAME|FILE] [--format text|json] [--llm auto|offline|openai]
  bot investigate --alarm NAME [--region R] [--profile P] [--role ARN] [--at 10:32|"2024-12-03 10:32"|RFC3339] [--format text|json]
  bot eval [--json] [--min-top1 F] [--quiet D] [PATH ...]
  bot scenarios
  bot serve [--scenario NAME|FILE] [--channels FILE] [--store PATH|dynamodb://TABLE] [--workers N] [--deadline D] [--grace D]
  bot doctor [--region R] [--profile P] [--role ARN] [--store PATH|dynamodb://TABLE] [--llm MODE] [--format text|json]
  bot version                      (or bot --version)

Commands:
  investigate  investigate a simulated incident (an embedded scenario or a scenario file)
  eval         run scenarios and print top-1, top-3 and action accuracy, the
               trivial baseline beside them, and the confidence's calibration
  scenarios    list the embedded scenarios
  serve        run the Slack bot (socket mode; SLACK_APP_TOKEN, SLACK_BOT_TOKEN)
  doctor       check, read-only, what serve and investigate --alarm need: AWS
               credentials and each telemetry source, the Slack tokens and
               scopes, the model, the store; exit 1 when a check fails
  version      print the version, the commit it was built from and the Go toolchain

Run 'bot COMMAND -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// exitError carries a process exit code through the command functions.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// run executes one command line and returns the process exit code: 0 on
// success, 1 on failure, 2 on a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	setProcessSecrets(os.Getenv)
	var err error
	switch args[0] {
	case "investigate":
		err = cmdInvestigate(ctx, args[1:], stdout, stderr)
	case "eval":
		err = cmdEval(ctx, args[1:], stdout, stderr)
	case "scenarios":
		err = cmdScenarios(args[1:], stdout, stderr)
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case "doctor":
		err = cmdDoctor(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		err = cmdVersion(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "bot: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "bot %s: %v\n", args[0], err)
		return 2
	}
	// An error may quote what a service answered, and a service may quote
	// the credentials it was sent.
	fmt.Fprintf(stderr, "bot %s: %s\n", args[0], redact.Redact(err.Error()))
	return 1
}

// usageError is a command line the command cannot take.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// newFlags returns a flag set that reports errors to stderr and returns them
// instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bot "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses flags anywhere among the arguments, so that
// `bot eval DIR --json` works as well as `bot eval --json DIR`.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}

// textOrJSON refuses arguments after the flags of a command that takes
// none, and a --format other than text or json.
func textOrJSON(rest []string, format string) error {
	if len(rest) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", rest[0])}
	}
	if format != "text" && format != "json" {
		return usageError{fmt.Sprintf("--format %q: want text or json", format)}
	}
	return nil
}
