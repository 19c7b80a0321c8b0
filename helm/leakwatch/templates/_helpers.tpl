{{/*
Names and labels. Every template takes the chart context ($ or .Subcharts.leakwatch).
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "leakwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources: fullnameOverride, else "<release>-<name>", else the
release name when it already contains the chart name. 63 characters at most (DNS label).
*/}}
{{- define "leakwatch.fullname" -}}
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

{{/* "<chart>-<version>", the value of the helm.sh/chart label. */}}
{{- define "leakwatch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "leakwatch.labels" -}}
helm.sh/chart: {{ include "leakwatch.chart" . }}
{{ include "leakwatch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: leakwatch
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels that select the release's pods; never change them (Deployment selectors are immutable). */}}
{{- define "leakwatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "leakwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of the pods that run the leakwatch container: targetPodLabels, else the demo pods.
With neither, the Service, PodMonitor and NetworkPolicy would select no pod at all: fail and say
what to set, rather than install something that silently does nothing.
*/}}
{{- define "leakwatch.targetPodLabels" -}}
{{- if .Values.targetPodLabels }}
{{- toYaml .Values.targetPodLabels }}
{{- else if .Values.demo.enabled }}
{{- include "leakwatch.selectorLabels" . }}
{{- else }}
{{- $what := list }}
{{- $off := list }}
{{- if .Values.service.enabled }}{{ $what = append $what "the Service" }}{{ $off = append $off "service.enabled=false" }}{{ end }}
{{- if .Values.podMonitor.enabled }}{{ $what = append $what "the PodMonitor" }}{{ $off = append $off "podMonitor.enabled=false" }}{{ end }}
{{- if .Values.networkPolicy.enabled }}{{ $what = append $what "the NetworkPolicy" }}{{ $off = append $off "networkPolicy.enabled=false" }}{{ end }}
{{- fail (printf "leakwatch: %s would select no pods: this release deploys none (demo.enabled=false) and targetPodLabels is empty. Set targetPodLabels to the labels of your pods that carry the leakwatch sidecar (added with the leakwatch.sidecarContainer template, `leakwatch inject` or the kustomize Component), or demo.enabled=true to try the demo, or set %s (e.g. a release with only the PrometheusRule or the dashboard)" (join " and " $what) (join " and " $off)) }}
{{- end }}
{{- end }}

{{/* Name of the ServiceAccount the demo pods use. */}}
{{- define "leakwatch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "leakwatch.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Name of the Secret holding the API token: existingSecret, else the one this chart creates. */}}
{{- define "leakwatch.apiTokenSecretName" -}}
{{- default (printf "%s-api-token" (include "leakwatch.fullname" .)) .Values.apiToken.existingSecret }}
{{- end }}

{{/*
The image reference: repository:tag, or repository:tag@digest. An empty tag means leakwatch's
appVersion, known only when the context is the leakwatch chart's own.
*/}}
{{- define "leakwatch.image" -}}
{{- $tag := .Values.image.tag }}
{{- if not $tag }}
{{- if ne .Chart.Name "leakwatch" }}
{{- fail (printf "leakwatch: set image.tag: the chart context passed in is %q, not leakwatch, so leakwatch's appVersion is unknown" .Chart.Name) }}
{{- end }}
{{- $tag = .Chart.AppVersion }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
leakwatch.sidecarContainer: the leakwatch container, as ONE list item ("- name: leakwatch ..."),
to put under a pod spec's initContainers (native sidecar) or containers (classic).

Parameters (a dict):
  root          required. A leakwatch chart context: $ inside this chart, .Subcharts.leakwatch in a
                chart that depends on leakwatch. Gives .Values, .Chart and .Release.
  values        optional. leakwatch values to use instead of root.Values (same shape as this
                chart's values.yaml), e.g. when _helpers.tpl is copied into another chart.
  targets       optional. A list of "[NAME=]HOST:PORT" (or one comma-separated string);
                default values.leakwatch.targets.
  appContainer  optional. Name of the app container whose limits.memory becomes
                LEAKWATCH_MEMORY_LIMIT (downward API); "" leaves it out;
                default values.leakwatch.appContainerName.
  native        optional. true: adds restartPolicy: Always (put it under initContainers);
                false: a classic container (under containers); default values.sidecar.native.

Example (a chart with leakwatch as a dependency):
  initContainers:
    {{- include "leakwatch.sidecarContainer" (dict "root" .Subcharts.leakwatch "targets" (list "api=127.0.0.1:9229") "appContainer" "api" "native" true) | nindent 4 }}
*/}}
{{- define "leakwatch.sidecarContainer" -}}
{{- $root := required "leakwatch.sidecarContainer: pass the chart context as \"root\" ($, or .Subcharts.leakwatch)" .root }}
{{- $values := .values | default $root.Values }}
{{- $ctx := dict "Values" $values "Chart" $root.Chart "Release" $root.Release }}
{{- $lw := $values.leakwatch }}
{{- $targets := hasKey . "targets" | ternary .targets $lw.targets }}
{{- if kindIs "string" $targets }}{{ $targets = splitList "," $targets }}{{ end }}
{{- if not $targets }}
{{- fail "leakwatch.sidecarContainer: no targets (pass \"targets\" or set leakwatch.targets)" }}
{{- end }}
{{- $appContainer := hasKey . "appContainer" | ternary .appContainer $lw.appContainerName }}
{{- $native := hasKey . "native" | ternary .native $values.sidecar.native }}
{{- if and $native $root.Capabilities (semverCompare "<1.29.0-0" $root.Capabilities.KubeVersion.Version) }}
{{- fail (printf "leakwatch: native sidecars need Kubernetes >= 1.29 (this is %s); set sidecar.native=false" $root.Capabilities.KubeVersion.Version) }}
{{- end -}}
- name: leakwatch
  image: {{ include "leakwatch.image" $ctx | quote }}
  imagePullPolicy: {{ $values.image.pullPolicy }}
  {{- if $native }}
  restartPolicy: Always
  {{- end }}
  ports:
    - name: metrics
      containerPort: {{ $lw.port }}
      protocol: TCP
  env:
    - name: LEAKWATCH_TARGETS
      value: {{ join "," $targets | quote }}
    - name: LEAKWATCH_LISTEN
      value: {{ printf "0.0.0.0:%v" $lw.port | quote }}
    - name: LEAKWATCH_INTERVAL
      value: {{ $lw.interval | quote }}
    - name: LEAKWATCH_ATTRIBUTION
      value: {{ $lw.attribution | quote }}
    - name: LEAKWATCH_LOG_LEVEL
      value: {{ $lw.logLevel | quote }}
    - name: K8S_POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: K8S_POD_UID
      valueFrom:
        fieldRef:
          fieldPath: metadata.uid
    - name: K8S_NAMESPACE_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace
    - name: K8S_NODE_NAME
      valueFrom:
        fieldRef:
          fieldPath: spec.nodeName
    {{- if $appContainer }}
    - name: LEAKWATCH_MEMORY_LIMIT
      valueFrom:
        resourceFieldRef:
          containerName: {{ $appContainer }}
          resource: limits.memory
          divisor: "1"
    {{- end }}
    {{- with $values.otlp.endpoint }}
    - name: OTEL_EXPORTER_OTLP_ENDPOINT
      value: {{ . | quote }}
    {{- end }}
    {{- if $values.apiToken.enabled }}
    - name: LEAKWATCH_API_TOKEN
      valueFrom:
        secretKeyRef:
          name: {{ include "leakwatch.apiTokenSecretName" $ctx }}
          key: {{ $values.apiToken.secretKey }}
    {{- end }}
    {{- with $lw.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: metrics
    {{- toYaml $values.sidecar.livenessProbe | nindent 4 }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: metrics
    {{- toYaml $values.sidecar.readinessProbe | nindent 4 }}
  resources:
    {{- toYaml $values.sidecar.resources | nindent 4 }}
  securityContext:
    {{- toYaml $values.securityContext | nindent 4 }}
{{- end }}
