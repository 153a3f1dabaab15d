{{/* The chart's name. */}}
{{- define "unstuck.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name, within Kubernetes' 63 characters. */}}
{{- define "unstuck.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "unstuck.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "unstuck.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "unstuck.selectorLabels" -}}
app.kubernetes.io/name: {{ include "unstuck.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "unstuck.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "unstuck.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret with SLACK_APP_TOKEN, SLACK_BOT_TOKEN and OPENAI_API_KEY. */}}
{{- define "unstuck.secretName" -}}
{{- default (include "unstuck.fullname" .) .Values.slack.existingSecret }}
{{- end }}

{{- define "unstuck.channelsConfigMap" -}}
{{- default (include "unstuck.fullname" .) .Values.existingChannelsConfigMap }}
{{- end }}

{{- define "unstuck.hasChannels" -}}
{{- if or .Values.channels .Values.existingChannelsConfigMap }}true{{ end }}
{{- end }}

{{- define "unstuck.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Values the bot could not run with fail the install, saying why. */}}
{{- define "unstuck.validate" -}}
{{- if not .Values.image.repository }}
{{- fail "image.repository is required: where you pushed the image built by scripts/image.sh (docs/deploying.md)" }}
{{- end }}
{{- if not .Values.slack.existingSecret }}
{{- if or (not .Values.slack.appToken) (not .Values.slack.botToken) }}
{{- fail "set slack.existingSecret (a Secret with SLACK_APP_TOKEN and SLACK_BOT_TOKEN), or slack.appToken and slack.botToken" }}
{{- end }}
{{- if not (hasPrefix "xapp-" .Values.slack.appToken) }}
{{- fail "slack.appToken must be an app-level token (xapp-...)" }}
{{- end }}
{{- if not (hasPrefix "xoxb-" .Values.slack.botToken) }}
{{- fail "slack.botToken must be a bot token (xoxb-...)" }}
{{- end }}
{{- else if .Values.openai.apiKey }}
{{- fail "with slack.existingSecret, put OPENAI_API_KEY in that Secret, not openai.apiKey" }}
{{- end }}
{{- if lt (int .Values.replicaCount) 1 }}
{{- fail "replicaCount must be at least 1" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not (hasPrefix "dynamodb://" .Values.store)) }}
{{- fail "replicaCount above 1 needs store: dynamodb://TABLE (a file store belongs to one process; docs/store.md)" }}
{{- end }}
{{- if gt (int .Values.replicaCount) 9 }}
{{- fail "replicaCount above 9: Slack allows at most 10 socket-mode connections per app, and a rolling update opens one more" }}
{{- end }}
{{- if and .Values.persistence.enabled (hasPrefix "dynamodb://" .Values.store) }}
{{- fail "persistence is for the file store; with store: dynamodb://TABLE it holds nothing" }}
{{- end }}
{{- end }}
