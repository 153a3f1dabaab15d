package main

import "github.com/unstuck/unstuck/redact"

// secretEnv names the environment variables that hold the process's own
// secrets: the Slack tokens, the model's key and AWS credentials.
var secretEnv = []string{
	"SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "OPENAI_API_KEY",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
}

// setProcessSecrets hands the process's own secrets to package redact, the
// boundary every text leaving the process passes (Slack, the store, the
// model's prompt, logs, the command line's reports, /readyz): each is then
// replaced literally wherever it appears. Only this package reads the
// environment, so it must say what is secret.
func setProcessSecrets(getenv func(string) string) {
	var secrets []string
	for _, name := range secretEnv {
		secrets = append(secrets, getenv(name))
	}
	redact.SetProcessSecrets(secrets...)
}

// seenCredentials adds AWS credentials that no environment variable held
// (a profile's, SSO's, an assumed role's, each as it is refreshed) to the
// process's secrets, before the first request signed with them.
func seenCredentials(secretAccessKey, sessionToken string) {
	redact.AddProcessSecrets(secretAccessKey, sessionToken)
}
