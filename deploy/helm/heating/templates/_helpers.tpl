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

{{/* The image every workload of the chart runs (Dockerfile: `python -m services.<name> serve|migrate`). */}}
{{- define "heating.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* A service's environment, the same for its Deployment and its migration Job: (dict "root" $ "name" "intake"
"svc" $svc). `migrate` builds the service's settings too, so it needs (and production checks) all of them. */}}
{{- define "heating.env" -}}
{{- $ := .root }}
{{- $name := .name }}
{{- $svc := .svc }}
{{- $prefix := include "heating.prefix" $name -}}
- name: {{ $prefix }}ENVIRONMENT
  value: {{ $.Values.environment | quote }}
- name: {{ $prefix }}LOG_LEVEL
  value: {{ $.Values.logLevel | quote }}
- name: {{ $prefix }}HTTP_HOST
  value: "0.0.0.0"
- name: {{ $prefix }}HTTP_PORT
  value: {{ $svc.port | quote }}
- name: {{ $prefix }}KAFKA_BOOTSTRAP
  value: {{ $.Values.kafka.bootstrap | quote }}
- name: {{ $prefix }}KAFKA_TOPIC_PREFIX
  value: {{ $.Values.kafka.topicPrefix | quote }}
- name: {{ $prefix }}KAFKA_REPLICATION_FACTOR
  value: {{ $.Values.kafka.replicationFactor | default 1 | quote }}
{{- with $.Values.kafka.minInsyncReplicas }}
- name: {{ $prefix }}KAFKA_MIN_INSYNC_REPLICAS
  value: {{ . | quote }}
{{- end }}
{{- include "heating.secretEnv" (dict "name" (printf "%sDATABASE_URL" $prefix) "secret" $svc.database.existingSecret "key" $svc.database.urlKey) | nindent 0 }}
{{- include "heating.secretEnv" (dict "name" (printf "%sADMIN_TOKEN" $prefix) "secret" $.Values.auth.existingSecret "key" $.Values.auth.adminTokenKey) | nindent 0 }}
- name: {{ $prefix }}PHOTOS__ENDPOINT_URL
  value: {{ $.Values.photos.endpointUrl | quote }}
{{- with $.Values.photos.publicEndpointUrl }}
- name: {{ $prefix }}PHOTOS__PUBLIC_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
- name: {{ $prefix }}PHOTOS__BUCKET
  value: {{ $.Values.photos.bucket | quote }}
- name: {{ $prefix }}PHOTOS__REGION
  value: {{ $.Values.photos.region | quote }}
{{- include "heating.secretEnv" (dict "name" (printf "%sPHOTOS__ACCESS_KEY_ID" $prefix) "secret" $.Values.photos.existingSecret "key" $.Values.photos.accessKeyIdKey) | nindent 0 }}
{{- include "heating.secretEnv" (dict "name" (printf "%sPHOTOS__SECRET_ACCESS_KEY" $prefix) "secret" $.Values.photos.existingSecret "key" $.Values.photos.secretAccessKeyKey) | nindent 0 }}
{{- if eq $name "dispatch" }}
{{- include "heating.secretEnv" (dict "name" "DISPATCH_AUTH_PRIVATE_KEY" "secret" $.Values.auth.existingSecret "key" $.Values.auth.privateKeyKey) | nindent 0 }}
{{- include "heating.secretEnv" (dict "name" "DISPATCH_NOTIFY__ALERT_TOKEN" "secret" $.Values.notify.existingSecret "key" $.Values.notify.alertTokenKey) | nindent 0 }}
{{- with $.Values.notify.smsKey }}
{{- include "heating.secretEnv" (dict "name" "DISPATCH_NOTIFY__SMS" "secret" $.Values.notify.existingSecret "key" . "optional" true) | nindent 0 }}
{{- end }}
- name: DISPATCH_CONSOLE_INTAKE_URL
  value: {{ include "heating.publicUrl" (dict "root" $ "name" "intake") | quote }}
- name: DISPATCH_CONSOLE_FOLLOWUP_URL
  value: {{ include "heating.publicUrl" (dict "root" $ "name" "followup") | quote }}
{{- else }}
- name: {{ $prefix }}AUTH_JWKS_URL
  value: {{ include "heating.jwksUrl" $ | quote }}
- name: {{ $prefix }}CORS_ORIGINS  # the console and the field app, served by dispatch
  value: {{ list (include "heating.publicUrl" (dict "root" $ "name" "dispatch")) | toJson | quote }}
{{- end }}
{{- with $.Values.auth.oidc }}
{{- if .issuer }}
- name: {{ $prefix }}AUTH_OIDC_ISSUER
  value: {{ .issuer | quote }}
- name: {{ $prefix }}AUTH_OIDC_JWKS_URL
  value: {{ .jwksUrl | quote }}
- name: {{ $prefix }}AUTH_OIDC_AUDIENCE
  value: {{ .audience | quote }}
{{- end }}
{{- end }}
{{- if and (eq $name "intake") $svc.integrations.existingSecret }}
{{- range $var, $key := dict "HOTLINE_INTEGRATIONS" $svc.integrations.hotlineIntegrationsKey "OPEN311_API_KEYS" $svc.integrations.open311ApiKeysKey "SENSOR_GATEWAY_KEYS" $svc.integrations.sensorGatewayKeysKey }}
{{- if $key }}
{{- include "heating.secretEnv" (dict "name" (printf "INTAKE_%s" $var) "secret" $svc.integrations.existingSecret "key" $key "optional" true) | nindent 0 }}
{{- end }}
{{- end }}
{{- end }}
{{- range $key, $value := $svc.env }}
- name: {{ $prefix }}{{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* What a service's pods share, whether they serve (Deployment) or migrate (Job): no API token, no service links,
the pull secrets, the locked-down pod security context, the placement and a writable /tmp: (dict "root" $ "name"
"intake" "svc" $svc). */}}
{{- define "heating.podSpec" -}}
{{- $ := .root -}}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with $.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $.Values.podSecurityContext | nindent 2 }}
{{- with .svc.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .svc.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .svc.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 256Mi
{{- end -}}

{{/* What a service's containers share: image, environment, resources, security context, /tmp. */}}
{{- define "heating.container" -}}
{{- $ := .root -}}
image: {{ include "heating.image" $ | quote }}
imagePullPolicy: {{ $.Values.image.pullPolicy }}
env:
  {{- include "heating.env" . | nindent 2 }}
resources:
  {{- toYaml .svc.resources | nindent 2 }}
securityContext:
  {{- toYaml $.Values.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp  # the root filesystem is read-only; uploads, image work and bytecode may spill to /tmp
    mountPath: /tmp
{{- end -}}

{{/* The topics a service consumes, without kafka.topicPrefix (services/<name>/consumers.py; dispatch reads its own
cases topic for its notifier unless its env turns NOTIFY__ENABLED off, as pydantic reads a false), as JSON: (dict "name" "dispatch" "svc" $svc). */}}
{{- define "heating.consumedTopics" -}}
{{- $complaints := "heating.intake.complaints" }}
{{- $cases := "heating.dispatch.cases" }}
{{- $verdicts := "heating.followup.verdicts" }}
{{- $notify := not (and (hasKey .svc.env "NOTIFY__ENABLED") (has (index .svc.env "NOTIFY__ENABLED" | toString | lower) (list "false" "0" "no" "off" "f" "n"))) }}
{{- $topics := dict "intake" (list $cases $verdicts) "followup" (list $cases $complaints) }}
{{- $_ := set $topics "dispatch" (ternary (list $complaints $cases $verdicts) (list $complaints $verdicts) $notify) }}
{{- index $topics .name | toJson -}}
{{- end -}}

{{/* A service's consumer group for a topic, as ServiceSettings.consumer_group forms it:
(dict "root" $ "name" "dispatch" "topic" "heating.intake.complaints"). */}}
{{- define "heating.consumerGroup" -}}
{{- printf "%s%s.%s" .root.Values.kafka.topicPrefix .name .topic -}}
{{- end -}}

{{/* How few replicas a service may run: its autoscaler's minimum, or its fixed count. */}}
{{- define "heating.leastReplicas" -}}
{{- if .keda.enabled }}{{ .keda.minReplicaCount }}{{ else if .autoscaling.enabled }}{{ .autoscaling.minReplicas }}{{ else }}{{ .replicas }}{{ end -}}
{{- end -}}

{{/* Refuses scaling that cannot work: two autoscalers on one Deployment, bounds upside down, CPU targets without a
CPU request, or more consumers than partitions: (dict "root" $ "name" "intake" "svc" $svc). */}}
{{- define "heating.checkScaling" -}}
{{- $at := printf "services.%s" .name }}
{{- $hpa := .svc.autoscaling }}
{{- $keda := .svc.keda }}
{{- if and $hpa.enabled $keda.enabled }}
{{- fail (printf "%s: autoscaling and keda are both enabled; KEDA's ScaledObject makes its own HorizontalPodAutoscaler (with a CPU trigger), and two would fight over one Deployment: enable one" $at) }}
{{- end }}
{{- if and $hpa.enabled (gt (int $hpa.minReplicas) (int $hpa.maxReplicas)) }}
{{- fail (printf "%s.autoscaling: minReplicas %v exceeds maxReplicas %v" $at $hpa.minReplicas $hpa.maxReplicas) }}
{{- end }}
{{- if $keda.enabled }}
{{- if gt (int $keda.minReplicaCount) (int $keda.maxReplicaCount) }}
{{- fail (printf "%s.keda: minReplicaCount %v exceeds maxReplicaCount %v" $at $keda.minReplicaCount $keda.maxReplicaCount) }}
{{- end }}
{{- if gt (int $keda.maxReplicaCount) (int .root.Values.kafka.partitions) }}
{{- fail (printf "%s.keda: maxReplicaCount %v exceeds kafka.partitions %v; a consumer group gives each partition to one member, so the replicas beyond would sit idle" $at $keda.maxReplicaCount .root.Values.kafka.partitions) }}
{{- end }}
{{- end }}
{{- if and (or $hpa.enabled $keda.enabled) (not (and .svc.resources.requests .svc.resources.requests.cpu)) }}
{{- fail (printf "%s: autoscaling on CPU needs resources.requests.cpu (utilisation is measured against it)" $at) }}
{{- end }}
{{- end -}}

{{/* How an autoscaler moves (the HPA's and KEDA's alike): up at once, down one pod a minute after five calm minutes,
since every pod that leaves rebalances the consumer groups it was in. */}}
{{- define "heating.scaleBehavior" -}}
scaleUp:
  stabilizationWindowSeconds: 0
  policies:
    - {type: Pods, value: 2, periodSeconds: 60}
scaleDown:
  stabilizationWindowSeconds: 300
  policies:
    - {type: Pods, value: 1, periodSeconds: 60}
{{- end -}}
