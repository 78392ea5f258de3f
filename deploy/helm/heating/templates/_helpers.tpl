{{/* The release's base name: the release name alone when it already says "heating". */}}
{{- define "heating.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* One service's object name: (dict "root" $ "name" "intake"). */}}
{{- define "heating.component" -}}
{{- printf "%s-%s" (include "heating.fullname" .root) .name -}}
{{- end -}}

{{- define "heating.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: heating
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "heating.selectorLabels" . }}
{{- end -}}

{{- define "heating.selectorLabels" -}}
app.kubernetes.io/name: heating
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .name }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/* The environment variables' prefix of a service: INTAKE_, DISPATCH_, FOLLOWUP_. */}}
{{- define "heating.prefix" -}}
{{- printf "%s_" (upper .) -}}
{{- end -}}

{{/* Where a browser reaches a service: (dict "root" $ "name" "followup"). */}}
{{- define "heating.publicUrl" -}}
{{- printf "%s://%s" .root.Values.ingress.scheme (index .root.Values.ingress.hosts .name) -}}
{{- end -}}

{{/* Where intake and follow-up fetch dispatch's public keys. */}}
{{- define "heating.jwksUrl" -}}
{{- if .Values.auth.jwksUrl -}}
{{- .Values.auth.jwksUrl -}}
{{- else -}}
{{- printf "http://%s:%v/.well-known/jwks.json" (include "heating.component" (dict "root" . "name" "dispatch")) .Values.services.dispatch.port -}}
{{- end -}}
{{- end -}}

{{/* An environment variable read from a Secret: (dict "name" "X" "secret" "s" "key" "k" "optional" false). */}}
{{- define "heating.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/* NetworkPolicy peers of a destination: ipBlocks for its CIDRs, and its pods by selector when one is given. An
empty namespaceSelector means the release's own namespace. */}}
{{- define "heating.peers" -}}
{{- $peers := list }}
{{- range .cidrs }}
{{- $peers = append $peers (dict "ipBlock" (dict "cidr" .)) }}
{{- end }}
{{- if or .podSelector .namespaceSelector }}
{{- $peer := dict "podSelector" (.podSelector | default dict) }}
{{- with .namespaceSelector }}
{{- $_ := set $peer "namespaceSelector" . }}
{{- end }}
{{- $peers = append $peers $peer }}
{{- end }}
{{- with $peers }}
{{- toYaml . }}
{{- end }}
{{- end -}}

{{- define "heating.ports" -}}
{{- $ports := list }}
{{- range . }}
{{- $ports = append $ports (dict "port" . "protocol" "TCP") }}
{{- end }}
{{- toYaml $ports }}
{{- end -}}

{{/* One route of alertmanager.yml (receiver, matchers, grouping and timings) in AlertmanagerConfig's names. */}}
{{- define "heating.amRoute" -}}
receiver: {{ .receiver }}
{{- with .matchers }}
matchers:
  {{- include "heating.amMatchers" . | trim | nindent 2 }}
{{- end }}
{{- range $from, $to := dict "group_by" "groupBy" "group_wait" "groupWait" "group_interval" "groupInterval" "repeat_interval" "repeatInterval" "continue" "continue" }}
{{- if hasKey $ $from }}
{{ $to }}: {{ toJson (get $ $from) }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Alertmanager's matchers ('severity="page"', 'alertname!="X"') as AlertmanagerConfig's {name, value, matchType}. */}}
{{- define "heating.amMatchers" -}}
{{- $pattern := "^\\s*([a-zA-Z_][a-zA-Z0-9_]*)\\s*(=~|!~|!=|=)\\s*\"(.*)\"\\s*$" }}
{{- range . }}
{{- if not (regexMatch $pattern .) }}
{{- fail (printf "files/alertmanager/alertmanager.yml: matcher %q is not name<op>\"value\"" .) }}
{{- end }}
- name: {{ regexReplaceAll $pattern . "${1}" }}
  value: {{ regexReplaceAll $pattern . "${3}" | quote }}
  matchType: {{ regexReplaceAll $pattern . "${2}" | quote }}
{{- end }}
{{- end -}}
