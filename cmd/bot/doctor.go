package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/unstuck/unstuck/awstelemetry"
	"github.com/unstuck/unstuck/handlers"
	"github.com/unstuck/unstuck/llm"
	"github.com/unstuck/unstuck/redact"
	"github.com/unstuck/unstuck/store"
)

// Statuses of a doctor check. Only a failure makes bot doctor exit 1: a
// warning is something that works less well (AWS Health without a
// support plan), a skip something not configured that only some uses need
// (the Slack tokens, for bot investigate).
const (
	statusOK   = "ok"
	statusWarn = "warn"
	statusFail = "fail"
	statusSkip = "skip"
)

// check is one line of bot doctor: what was checked, how it went, and what
// was found or what to do.
type check struct {
	Group  string `json:"group"` // aws, slack, model, store
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// manifestScopes are the bot scopes slack/manifest.yaml asks for
// (TestManifestScopes keeps the two the same): what bot doctor expects the
// bot token to have been granted.
var manifestScopes = []string{
	"commands", "chat:write", "app_mentions:read", "channels:history", "groups:history",
	"files:write", "usergroups:read", "users:read",
}

func cmdDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("doctor", stderr)
	region := fs.String("region", "", "the AWS region (default: AWS_REGION or the profile's)")
	profile := fs.String("profile", "", "the AWS shared-config profile (default: AWS_PROFILE)")
	role := fs.String("role", "", "a role ARN to assume for reading, as a channel's role_arn (cross-account)")
	storeSpec := fs.String("store", "", "the store bot serve uses: PATH or dynamodb://TABLE (default: the file "+store.DefaultPath+")")
	mode := fs.String("llm", "auto", "reasoner: auto, offline or openai")
	format := fs.String("format", "text", "output format: text or json")
	timeout := fs.Duration("timeout", 10*time.Second, "how long each group of checks (AWS, Slack, model, store) may take")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := textOrJSON(rest, *format); err != nil {
		return err
	}
	if *timeout <= 0 {
		return usageError{"--timeout must be positive"}
	}
	if _, err := store.ParseSpec(*storeSpec); err != nil {
		return usageError{"--store: " + err.Error()}
	}
	switch *mode {
	case llm.ModeAuto, llm.ModeOffline, llm.ModeOpenAI:
	default:
		return usageError{fmt.Sprintf("--llm %q: want auto, offline or openai", *mode)}
	}

	groups := []func(context.Context) []check{
		func(ctx context.Context) []check {
			return awsChecks(ctx, awstelemetry.Options{Region: *region, Profile: *profile, RoleARN: *role})
		},
		slackChecks,
		func(ctx context.Context) []check { return modelChecks(ctx, *mode) },
		func(ctx context.Context) []check { return storeChecks(ctx, *storeSpec) },
	}
	found := make([][]check, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Go(func() {
			gctx, cancel := context.WithTimeout(ctx, *timeout)
			defer cancel()
			found[i] = g(gctx)
		})
	}
	wg.Wait()
	var checks []check
	for _, f := range found {
		checks = append(checks, f...)
	}
	// What leaves the process is redacted: an error may quote a token or
	// a key (a gateway's "Incorrect API key provided: …").
	for i := range checks {
		checks[i].Detail = redact.Redact(checks[i].Detail)
	}
	var failed []string
	for _, c := range checks {
		if c.Status == statusFail {
			failed = append(failed, c.Group+" "+c.Name)
		}
	}

	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Version string  `json:"version"`
			OK      bool    `json:"ok"`
			Checks  []check `json:"checks"`
		}{version().String(), len(failed) == 0, checks}); err != nil {
			return err
		}
	} else {
		writeChecks(stdout, checks, failed)
	}
	if len(failed) > 0 {
		return exitError{1}
	}
	return nil
}

// groupTitles are the headings of the text output.
var groupTitles = map[string]string{"aws": "AWS", "slack": "Slack", "model": "Model", "store": "Store"}

func writeChecks(w io.Writer, checks []check, failed []string) {
	fmt.Fprintf(w, "bot doctor: %s\n", version())
	width := 0
	for _, c := range checks {
		width = max(width, len(c.Name))
	}
	group := ""
	for _, c := range checks {
		if c.Group != group {
			group = c.Group
			fmt.Fprintln(w, groupTitles[group])
		}
		status := c.Status
		switch status {
		case statusFail:
			status = "FAIL"
		case statusSkip:
			status = "--"
		}
		fmt.Fprintf(w, "  %-4s  %-*s  %s\n", status, width, c.Name, c.Detail)
	}
	if len(failed) == 0 {
		fmt.Fprintln(w, "\nno check failed")
		return
	}
	fmt.Fprintf(w, "\n%d failed (%s): each says what to do; docs/troubleshooting.md has more\n", len(failed), strings.Join(failed, ", "))
}

// awsChecks: the region, who the credentials are (sts:GetCallerIdentity),
// and one harmless read of each source an investigation reads, by the
// report's name for it.
func awsChecks(ctx context.Context, opts awstelemetry.Options) []check {
	ok := func(name, detail string) check { return check{"aws", name, statusOK, detail} }
	fail := func(name, detail string) check { return check{"aws", name, statusFail, detail} }
	skipRest := func(out []check, why string) []check {
		out = append(out, check{"aws", "sources", statusSkip, why})
		return out
	}
	where := "--region"
	switch {
	case opts.Region != "":
	case os.Getenv("AWS_REGION") != "":
		where = "AWS_REGION"
	case os.Getenv("AWS_DEFAULT_REGION") != "":
		where = "AWS_DEFAULT_REGION"
	default:
		where = "the profile's"
	}
	opts.MaxAttempts = 2
	opts = awsOptions(opts)
	c, err := awstelemetry.New(ctx, opts)
	if errors.Is(err, awstelemetry.ErrNoRegion) {
		return skipRest([]check{fail("region", "no region: set AWS_REGION, a profile's region (AWS_PROFILE) or --region")}, "skipped: no region")
	}
	if err != nil {
		return skipRest([]check{fail("config", fmt.Sprintf("the AWS configuration cannot be read: %v", err))}, "skipped: no configuration")
	}
	out := []check{ok("region", fmt.Sprintf("%s (%s)", c.Region(), where))}

	id, err := c.Identity(ctx)
	if err != nil {
		return skipRest(append(out, fail("identity", identityFix(err, opts.RoleARN))), "skipped: no identity")
	}
	out = append(out, ok("identity", fmt.Sprintf("account %s as %s", id.Account, id.ARN)))

	probes := c.Probes()
	found := make([]check, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Go(func() { found[i] = probeCheck(p, p.Run(ctx)) })
	}
	wg.Wait()
	return append(out, found...)
}

// identityFix says why the credentials could not say who they are, and
// what to do.
func identityFix(err error, role string) string {
	var ce *awstelemetry.CredentialsError
	switch awstelemetry.Classify(err) {
	case awstelemetry.RefusedCredentials:
		if errors.As(err, &ce) {
			return fmt.Sprintf("no credentials found: set AWS_PROFILE (and run aws sso login for SSO), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give the instance or task a role (%v)", err)
		}
		return fmt.Sprintf("AWS does not recognise these credentials: check the access key, or the profile in AWS_PROFILE (%v)", err)
	case awstelemetry.RefusedExpired:
		return fmt.Sprintf("the credentials have expired: run aws sso login, or refresh them (%v)", err)
	case awstelemetry.RefusedDenied:
		if role != "" {
			return fmt.Sprintf("could not assume %s: its trust policy must let these credentials assume it, with the external id if it asks for one (%v)", role, err)
		}
		return fmt.Sprintf("denied: %v", err)
	case awstelemetry.RefusedTimeout, awstelemetry.RefusedUnreachable:
		return fmt.Sprintf("no answer from STS: check the network, a proxy, or AWS_ENDPOINT_URL (%v)", err)
	}
	return err.Error()
}

// probeCheck is a probe's outcome as a line: ok, or what a failure means
// for the reports and what to do.
func probeCheck(p awstelemetry.Probe, err error) check {
	c := check{Group: "aws", Name: p.Source}
	switch awstelemetry.Classify(err) {
	case "":
		c.Status, c.Detail = statusOK, "can read ("+p.Action+")"
	case awstelemetry.RefusedSubscription:
		c.Status, c.Detail = statusWarn, "AWS Health needs a Business, Enterprise On-Ramp or Enterprise Support plan; reports will list health as unavailable"
	case awstelemetry.RefusedDenied:
		c.Status, c.Detail = statusFail, fmt.Sprintf("denied %s: attach docs/iam-policy.json to the identity above; until then reports list %s as unavailable", p.Action, p.Source)
	case awstelemetry.RefusedThrottled:
		c.Status, c.Detail = statusWarn, fmt.Sprintf("throttled (%s): AWS refused for the rate, not the permission; run bot doctor again", p.Operation)
	case awstelemetry.RefusedExpired, awstelemetry.RefusedCredentials:
		c.Status, c.Detail = statusFail, fmt.Sprintf("the credentials were refused: %v", err)
	case awstelemetry.RefusedTimeout, awstelemetry.RefusedUnreachable:
		c.Status, c.Detail = statusFail, fmt.Sprintf("no answer (%s): check the network, a proxy, or AWS_ENDPOINT_URL (%v)", p.Operation, err)
	default:
		c.Status, c.Detail = statusFail, err.Error()
	}
	return c
}

// scopesTransport remembers the scopes Slack lists for the token in the
// X-OAuth-Scopes header of its answers.
type scopesTransport struct {
	next http.RoundTripper

	mu     sync.Mutex
	scopes map[string]string // method → header, "" when absent
}

func (t *scopesTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err == nil {
		t.mu.Lock()
		method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		t.scopes[method] = resp.Header.Get("X-OAuth-Scopes")
		t.mu.Unlock()
	}
	return resp, err
}

func (t *scopesTransport) of(method string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.scopes[method]
	return s, ok
}

// slackChecks: the bot token (auth.test), the scopes granted to it against
// the manifest's, and the app token (apps.connections.open, which hands
// out a websocket URL and opens nothing).
func slackChecks(ctx context.Context) []check {
	appToken := strings.TrimSpace(os.Getenv("SLACK_APP_TOKEN"))
	botToken := strings.TrimSpace(os.Getenv("SLACK_BOT_TOKEN"))
	apiURL := slackAPIURL()
	where := "Slack"
	if apiURL != "" {
		where = "Slack at " + apiURL + " (SLACK_API_URL)"
	}
	tr := &scopesTransport{next: http.DefaultTransport, scopes: map[string]string{}}
	opts := []slack.Option{slack.OptionHTTPClient(&http.Client{Transport: tr}), slack.OptionAppLevelToken(appToken)}
	if apiURL != "" {
		opts = append(opts, slack.OptionAPIURL(apiURL))
	}
	api := slack.New(botToken, opts...)
	var out []check
	add := func(name, status, detail string) { out = append(out, check{"slack", name, status, detail}) }

	switch {
	case botToken == "":
		add("bot token", statusSkip, "SLACK_BOT_TOKEN is not set: bot serve needs it (slack/README.md); bot investigate does not")
	case !strings.HasPrefix(botToken, "xoxb-"):
		add("bot token", statusFail, "SLACK_BOT_TOKEN must be a bot token (xoxb-…): the Bot User OAuth Token on the app's Install App page")
	default:
		auth, err := api.AuthTestContext(ctx)
		if te := handlers.RefusedToken("bot", "auth.test", err); te != nil {
			add("bot token", statusFail, slackTokenError(te).Error())
			break
		}
		if err != nil {
			add("bot token", statusFail, fmt.Sprintf("no answer from %s: check the network or a proxy (%v)", where, err))
			break
		}
		add("bot token", statusOK, fmt.Sprintf("%s (%s) in workspace %s (%s)", auth.User, auth.UserID, auth.Team, auth.TeamID))
		header, _ := tr.of("auth.test")
		add(scopesCheck(header))
	}

	switch {
	case appToken == "":
		add("app token", statusSkip, "SLACK_APP_TOKEN is not set: bot serve needs it (slack/README.md); bot investigate does not")
	case !strings.HasPrefix(appToken, "xapp-"):
		add("app token", statusFail, "SLACK_APP_TOKEN must be an app-level token (xapp-…) with connections:write (Basic Information → App-Level Tokens)")
	default:
		_, _, err := api.StartSocketModeContext(ctx)
		if te := handlers.RefusedToken("app", "apps.connections.open", err); te != nil {
			add("app token", statusFail, slackTokenError(te).Error())
			break
		}
		var se slack.SlackErrorResponse
		if errors.As(err, &se) {
			add("app token", statusFail, fmt.Sprintf("socket mode could not start (%s): turn socket mode on in the app's settings (slack/manifest.yaml has it on)", se.Err))
			break
		}
		if err != nil {
			add("app token", statusFail, fmt.Sprintf("no answer from %s: check the network or a proxy (%v)", where, err))
			break
		}
		add("app token", statusOK, "socket mode: apps.connections.open gave a websocket URL")
	}
	return out
}

// scopesCheck compares the scopes Slack granted the bot token with the
// manifest's.
func scopesCheck(header string) (name, status, detail string) {
	if strings.TrimSpace(header) == "" {
		return "scopes", statusWarn, "Slack listed no scopes for the bot token (no X-OAuth-Scopes header); compare the app's OAuth & Permissions page with slack/manifest.yaml"
	}
	granted := map[string]bool{}
	for _, s := range strings.Split(header, ",") {
		granted[strings.TrimSpace(s)] = true
	}
	var missing []string
	for _, s := range manifestScopes {
		if !granted[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return "scopes", statusFail, fmt.Sprintf("the bot token lacks %s of slack/manifest.yaml: add them under OAuth & Permissions (or update the app from the manifest), reinstall the app, and set SLACK_BOT_TOKEN to the new token",
			strings.Join(missing, ", "))
	}
	var extra []string
	for s := range granted {
		if s != "" && !slices.Contains(manifestScopes, s) {
			extra = append(extra, s)
		}
	}
	detail = fmt.Sprintf("the %d scopes of slack/manifest.yaml are granted", len(manifestScopes))
	if len(extra) > 0 {
		slices.Sort(extra)
		detail += "; more are granted than the bot uses: " + strings.Join(extra, ", ")
	}
	return "scopes", statusOK, detail
}

// modelChecks: the reasoner --llm selects, and a one-token request to the
// model when there is one.
func modelChecks(ctx context.Context, mode string) []check {
	one := func(status, detail string) []check { return []check{{"model", "reasoner", status, detail}} }
	m, err := modelFor(mode)
	if err != nil {
		return one(statusFail, err.Error())
	}
	if m == nil {
		if mode == llm.ModeOffline {
			return one(statusOK, "offline reasoner (--llm offline): reports are worded without a model")
		}
		return one(statusOK, "offline reasoner: no OPENAI_API_KEY or OPENAI_BASE_URL, so reports are worded without a model")
	}
	base, name := m.Endpoint()
	err = m.Ping(ctx)
	if err == nil {
		return one(statusOK, fmt.Sprintf("model %s at %s answered a request for one token", name, base))
	}
	fallback := "; until then reports are worded offline and say the model failed"
	var pe *llm.PingError
	status := 0
	if errors.As(err, &pe) {
		status = pe.Status
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return one(statusFail, fmt.Sprintf("%s refused the key (HTTP %d): check OPENAI_API_KEY%s", base, status, fallback))
	case status == http.StatusNotFound:
		return one(statusFail, fmt.Sprintf("%s has no model %s, or no chat completions there (HTTP 404): check OPENAI_MODEL, and that OPENAI_BASE_URL ends in /v1%s", base, name, fallback))
	case status == http.StatusTooManyRequests:
		return one(statusFail, fmt.Sprintf("%s is rate-limiting or out of quota (HTTP 429): check the account's quota%s", base, fallback))
	case status == 0 && ctx.Err() != nil:
		return one(statusFail, fmt.Sprintf("no answer from %s in time: is the server up and the model loaded?%s", base, fallback))
	case status == 0:
		return one(statusFail, fmt.Sprintf("nothing answers at %s: start the server, or fix OPENAI_BASE_URL (%v)%s", base, err, fallback))
	}
	return one(statusFail, fmt.Sprintf("%s answered HTTP %d: %v%s", base, status, err, fallback))
}

// storeChecks: the store bot serve would open, read without writing.
func storeChecks(ctx context.Context, spec string) []check {
	one := func(status, detail string) []check { return []check{{"store", "store", status, detail}} }
	path := spec
	if path == "" {
		path = store.DefaultPath
	}
	got, err := store.Check(ctx, spec)
	var dmg *store.DamagedError
	switch {
	case err == nil:
		return one(statusOK, got)
	case errors.Is(err, store.ErrNoFile):
		return one(statusOK, path+" does not exist yet: bot serve creates it (run bot doctor where bot serve runs, with its --store)")
	case errors.Is(err, store.ErrInUse):
		return one(statusWarn, path+" is in use by a running bot (one bot per file), so it was not checked; stop the bot to check it")
	case errors.As(err, &dmg):
		return one(statusFail, err.Error())
	}
	return one(statusFail, fmt.Sprintf("%s: %v", store.Classify(err), err))
}
