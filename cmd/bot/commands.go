package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/unstuck/unstuck/awstelemetry"
	"github.com/unstuck/unstuck/eval"
	"github.com/unstuck/unstuck/handlers/chart"
	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm"
	"github.com/unstuck/unstuck/scenario"
)

func cmdInvestigate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("investigate", stderr)
	scen := fs.String("scenario", defaultScenario, "an embedded scenario's name, or a scenario file")
	alarm := fs.String("alarm", "", "investigate this real CloudWatch alarm with the standard AWS credential chain (instead of a scenario)")
	region := fs.String("region", "", "with --alarm: the AWS region (default: AWS_REGION or the profile's)")
	profile := fs.String("profile", "", "with --alarm: the shared-config profile (default: AWS_PROFILE)")
	role := fs.String("role", "", "with --alarm: a role ARN to assume for reading (cross-account)")
	at := fs.String("at", "", "with --alarm: investigate as of this instant (an incident that is over), instead of now:\n"+
		"10:32 (UTC, the last 10:32 that has passed), \"2024-12-03 10:32\" (UTC) or RFC 3339 (2024-12-03T10:32:00Z)")
	format := fs.String("format", "text", "output format: text or json")
	mode := fs.String("llm", "auto", "reasoner: auto, offline or openai")
	chartPath := fs.String("chart", "", "also write a PNG chart of the alarm's metric and the culprit's telling series, with the onset marked, to this file")
	var st simSettings
	fs.DurationVar(&st.latency, "sim-latency", 0, "simulated latency of each API call (e.g. 150ms)")
	fs.DurationVar(&st.logsLatency, "sim-logs-latency", 0, "simulated latency of each logs query (e.g. 2s)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := textOrJSON(rest, *format); err != nil {
		return err
	}
	model, err := modelFor(*mode)
	if err != nil {
		return err
	}
	reasoner := model.Reasoner()
	var rep investigate.Report
	if *alarm != "" {
		var now time.Time
		if *at != "" {
			if now, err = investigate.ParseAt(*at, time.Now()); err != nil {
				return usageError{err.Error()}
			}
		}
		rep, err = investigateAlarm(ctx, *alarm, now, awstelemetry.Options{Region: *region, Profile: *profile, RoleARN: *role}, investigate.Options{Reasoner: reasoner})
		var nf *investigate.NotFoundError
		if errors.As(err, &nf) && len(nf.Candidates) > 0 {
			err = fmt.Errorf("%w; the closest: %s", err, strings.Join(nf.Candidates, ", "))
		}
	} else {
		if *region != "" || *profile != "" || *role != "" || *at != "" {
			return usageError{"--region, --profile, --role and --at go with --alarm"}
		}
		var f *scenario.File
		if f, err = loadScenario(*scen); err == nil {
			rep, err = investigateScenario(ctx, f.Scenario, st, reasoner)
		}
	}
	if err != nil {
		return err
	}
	if *chartPath != "" {
		if err := writeChart(*chartPath, rep); err != nil {
			return err
		}
	}
	// The report is pasted into tickets: its texts leave the process
	// redacted, as in Slack.
	rep = llm.RedactReport(model.Redactor(), rep)
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writeText(stdout, rep)
}

// awsTestOptions, when set, adjusts the AWS client options of
// `investigate --alarm`. Only tests set it: the moto tests switch
// CloudWatch to a protocol moto speaks (awstelemetry.Options.CloudWatchJSON).
// No flag, variable or file reaches it, so it is nil in the bot.
var awsTestOptions func(*awstelemetry.Options)

// investigateAlarm investigates a real CloudWatch alarm, reading AWS with
// the standard credential chain, as of now (zero: the present).
func investigateAlarm(ctx context.Context, name string, now time.Time, opts awstelemetry.Options, engineOpts investigate.Options) (investigate.Report, error) {
	opts = awsOptions(opts)
	if !now.IsZero() && opts.Now == nil {
		opts.Now = func() time.Time { return now }
	}
	opts.SeenCredentials = seenCredentials
	client, err := awstelemetry.New(ctx, opts)
	if err != nil {
		return investigate.Report{}, fmt.Errorf("aws: %w", err)
	}
	return investigate.New(client.NewSession().Sources(), engineOpts).Run(ctx, investigate.Request{Alarm: name, Now: now}, nil)
}

// writeChart writes the report's chart as a PNG file.
func writeChart(path string, rep investigate.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if err := chart.Write(f, rep.Series, rep.Onset); err != nil {
		f.Close()
		return fmt.Errorf("chart %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	return nil
}

func cmdEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", stderr)
	asJSON := fs.Bool("json", false, "print the results as JSON")
	mode := fs.String("llm", "auto", "reasoner: auto, offline or openai")
	minTop1 := fs.Float64("min-top1", -1, "pass when top-1 is at least this share (0 to 1) instead of requiring every scenario right")
	quiet := fs.Duration("quiet", 0, "investigate each scenario this long before its incident instead, when nothing is wrong, and fail on any claim a report would make")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *quiet < 0 {
		return usageError{fmt.Sprintf("--quiet %v: want a positive duration", *quiet)}
	}
	if *minTop1 > 1 {
		return usageError{fmt.Sprintf("--min-top1 %v: want a share from 0 to 1", *minTop1)}
	}
	reasoner, err := reasonerFor(*mode)
	if err != nil {
		return err
	}
	files, err := loadPaths(paths)
	if err != nil {
		return err
	}
	inv := func(ctx context.Context, s *scenario.Scenario) (investigate.Report, error) {
		return investigateScenario(ctx, s, simSettings{}, reasoner)
	}
	if *quiet > 0 {
		return evalQuiet(eval.Quiet(ctx, files, inv, *quiet), *asJSON, stdout, stderr)
	}
	results, totals := eval.Compare(ctx, files, inv, baselineScenario)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Results []eval.Result `json:"results"`
			Totals  eval.Totals   `json:"totals"`
		}{results, totals}); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SCENARIO\tEXPECTED\tGOT (TOP-1)\tCONF\tRANK\tACTION\tONSET\tBASELINE")
		for _, r := range results {
			rank, action, onset := "-", "miss", "miss"
			if r.Rank > 0 {
				rank = fmt.Sprint(r.Rank)
			}
			if r.Action {
				action = "ok"
			}
			if r.OnsetOK {
				onset = "ok"
			}
			if r.OnsetError != 0 {
				onset += " (" + eval.Seconds(r.OnsetError) + ")"
			}
			got := r.Got
			if r.Error != "" {
				got = "error: " + r.Error
			}
			base := "-"
			if r.BaselineRank > 0 {
				base = fmt.Sprint(r.BaselineRank)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\n", r.Name, r.Expected, got, r.Confidence, rank, action, onset, base)
		}
		tw.Flush()
		fmt.Fprintf(stdout, "\n%d scenarios: top-1 %.0f%%, top-3 %.0f%%, action %.0f%%, onset %.0f%%\n",
			totals.Scenarios, 100*totals.Top1, 100*totals.Top3, 100*totals.Action, 100*totals.Onset)
		printComparison(stdout, totals)
	}
	passed := totals.Passed()
	if *minTop1 >= 0 {
		passed = totals.Scenarios > 0 && totals.Errors == 0 && totals.Top1 >= *minTop1
		if !passed {
			fmt.Fprintf(stderr, "bot eval: top-1 %.1f%% is under the floor of %.1f%%\n", 100*totals.Top1, 100**minTop1)
		}
	}
	if !passed {
		return exitError{1}
	}
	return nil
}

// evalQuiet prints what the investigations claimed before their incidents
// and fails when any claim reaches the line above which a report names a
// cause: each is a confident answer where there was nothing to find.
func evalQuiet(results []eval.QuietResult, asJSON bool, stdout, stderr io.Writer) error {
	var ran, claims int
	for _, r := range results {
		if r.Skipped == "" {
			ran++
		}
		if r.Error != "" || r.Confidence >= investigate.ClearCause {
			claims++
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Results []eval.QuietResult `json:"results"`
		}{results}); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SCENARIO (BEFORE ITS INCIDENT)\tGOT (TOP-1)\tCONF")
		for _, r := range results {
			got := r.Got
			switch {
			case r.Skipped != "":
				got = "skipped: " + r.Skipped
			case r.Error != "":
				got = "error: " + r.Error
			}
			fmt.Fprintf(tw, "%s\t%s\t%.2f\n", r.Name, got, r.Confidence)
		}
		tw.Flush()
		fmt.Fprintf(stdout, "\n%d quiet windows: %d claimed a cause at %.2f or more (a false alarm each), %d skipped\n",
			ran, claims, investigate.ClearCause, len(results)-ran)
	}
	if claims > 0 || ran == 0 {
		fmt.Fprintf(stderr, "bot eval: %d false alarms in %d quiet windows\n", claims, ran)
		return exitError{1}
	}
	return nil
}

// printComparison prints the engine beside the trivial baseline and the
// reliability of the first hypothesis's confidence.
func printComparison(w io.Writer, t eval.Totals) {
	fmt.Fprintf(w, "culprit named first, any cause: engine %.0f%%; trivial baseline (robust shift of latency or failures at the onset) %.0f%%, top-3 %.0f%%\n",
		100*t.ResourceTop1, 100*t.BaselineTop1, 100*t.BaselineTop3)
	fmt.Fprintf(w, "calibration of the first hypothesis: Brier %.3f; below %.2f the report says nothing stands out\n", t.Brier, investigate.ClearCause)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  CONFIDENCE\tN\tMEAN\tRIGHT")
	for _, b := range t.Reliability {
		right := "-"
		if b.Count > 0 {
			right = fmt.Sprintf("%.0f%% (%d)", 100*float64(b.Right)/float64(b.Count), b.Right)
		}
		fmt.Fprintf(tw, "  %.2f–%.2f\t%d\t%.2f\t%s\n", b.From, b.To, b.Count, b.Mean, right)
	}
	tw.Flush()
}

func cmdScenarios(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("scenarios", stderr)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	files, err := loadPaths(nil)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tALARM\tTITLE")
	for _, f := range files {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Scenario.Name, f.Scenario.Alarm.Name, f.Scenario.Title)
	}
	return tw.Flush()
}
