{{/* The chart's name, and the name of everything it makes. */}}
{{- define "inject-mesher-webhook.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "inject-mesher-webhook.fullname" -}}
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

{{- define "inject-mesher-webhook.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "inject-mesher-webhook.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: inject-mesher
{{- end }}

{{/*
The webhook's Pods: the objectSelector keeps them from their own webhook
(a replica must start while none answers) by app.kubernetes.io/name.
*/}}
{{- define "inject-mesher-webhook.selectorLabels" -}}
app.kubernetes.io/name: {{ include "inject-mesher-webhook.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "inject-mesher-webhook.tlsSecret" -}}
{{- default (printf "%s-tls" (include "inject-mesher-webhook.fullname" .)) .Values.certificates.secretName }}
{{- end }}

{{- define "inject-mesher-webhook.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default (printf "v%s" .Chart.AppVersion) .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The function's config file, as the webhook reads it (--config). */}}
{{- define "inject-mesher-webhook.config" -}}
apiVersion: fn.mesher.io/v1alpha1
kind: MesherInjection
metadata:
  name: {{ include "inject-mesher-webhook.fullname" . }}
{{- with .Values.config }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Checks the values cannot express in values.schema.json. */}}
{{- define "inject-mesher-webhook.validate" -}}
{{- if and (eq .Values.certificates.mode "secret") (not .Values.certificates.caBundle) }}
{{- fail "certificates.caBundle: required with certificates.mode=secret: the CA that signed the Secret's certificate (PEM, base64-encoded), which the API server trusts for this webhook" }}
{{- end }}
{{- if .Values.url }}
{{- $host := (urlParse .Values.url).host | splitList ":" | first | trimAll "[]" }}
{{- if eq .Values.certificates.mode "cert-manager" }}
{{- fail "url: set with certificates.mode=cert-manager: cert-manager's certificate names the Service, not the url's host; use certificates.mode=secret or self-managed" }}
{{- else if and (eq .Values.certificates.mode "self-managed") (not (has $host .Values.certificates.selfManaged.extraHosts)) }}
{{- fail (printf "url: its host %s must be in certificates.selfManaged.extraHosts, so that the self-managed certificate names it" $host) }}
{{- end }}
{{- end }}
{{- end }}
