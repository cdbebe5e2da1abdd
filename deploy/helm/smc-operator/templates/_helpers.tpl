{{/*
Names, labels and the few decisions every template shares. Kept here so that each is made once.
*/}}

{{/* The chart's name (app.kubernetes.io/name). */}}
{{- define "smc-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name of the objects: the release name, plus the chart name unless it contains it. */}}
{{- define "smc-operator.fullname" -}}
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

{{/* helm.sh/chart: name-version. */}}
{{- define "smc-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels that select the operator's pods (never change them: selectors are immutable). */}}
{{- define "smc-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "smc-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The labels of every object. */}}
{{- define "smc-operator.labels" -}}
{{ include "smc-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: smc-operator
helm.sh/chart: {{ include "smc-operator.chart" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The ServiceAccount's name. */}}
{{- define "smc-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "smc-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: repository@digest, else repository:tag (default: appVersion). */}}
{{- define "smc-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* "true" when the operator watches only the listed namespaces. */}}
{{- define "smc-operator.namespaced" -}}
{{- if .Values.watch.namespaces }}true{{ end }}
{{- end }}

{{/*
Combinations that cannot work fail the rendering here, with the reason (included by the Deployment).
*/}}
{{- define "smc-operator.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.peering.enabled) }}
{{- fail "replicaCount > 1 requires peering.enabled=true: without kopf peering every replica is an active operator, each would call StartReplicationJob for the same ReplicationJob, and SMC has no idempotency token to make the second call harmless. Keep replicaCount: 1 (the Recreate strategy stops the old pod before the new one starts), or enable peering to run standbys." }}
{{- end }}
{{- if and .Values.credentials.existingSecret .Values.credentials.rrsa.enabled }}
{{- fail "credentials.existingSecret and credentials.rrsa.enabled are exclusive: the SDK would use the AccessKey from the Secret and ignore RRSA. Choose one." }}
{{- end }}
{{- if .Values.credentials.rrsa.enabled }}
{{- if eq .Values.credentials.rrsa.injection "chart" }}
{{- if not (and .Values.credentials.rrsa.roleArn .Values.credentials.rrsa.oidcProviderArn) }}
{{- fail "credentials.rrsa with injection \"chart\" needs credentials.rrsa.roleArn (acs:ram::<accountId>:role/<name>) and credentials.rrsa.oidcProviderArn (acs:ram::<accountId>:oidc-provider/ack-rrsa-<clusterId>)" }}
{{- end }}
{{- else if not .Values.credentials.rrsa.roleName }}
{{- fail "credentials.rrsa with injection \"webhook\" needs credentials.rrsa.roleName, the RAM role the ack-pod-identity-webhook lets the ServiceAccount assume" }}
{{- end }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (eq (toString .Values.podDisruptionBudget.minAvailable) "") (eq (toString .Values.podDisruptionBudget.maxUnavailable) "") }}
{{- fail "podDisruptionBudget.enabled needs podDisruptionBudget.minAvailable or podDisruptionBudget.maxUnavailable" }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (ne (toString .Values.podDisruptionBudget.minAvailable) "") (ne (toString .Values.podDisruptionBudget.maxUnavailable) "") }}
{{- fail "podDisruptionBudget: set minAvailable or maxUnavailable, not both (maxUnavailable defaults to 1: set it to \"\" to use minAvailable)" }}
{{- end }}
{{- if and .Values.config.caBundle.configMap .Values.config.caBundle.secret }}
{{- fail "config.caBundle: set configMap or secret, not both (the operator trusts one extra CA bundle)" }}
{{- end }}
{{- end }}
