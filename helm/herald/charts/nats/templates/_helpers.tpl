{{- define "nats.fullname" -}}
{{- .Values.fullnameOverride | default (printf "%s-nats" .Release.Name) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nats.selectorLabels" -}}
app.kubernetes.io/name: {{ .Values.nameOverride | default .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nats.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "nats.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: bus
{{- end -}}

{{/* The cluster routes with the route user and its password ($(NATS_ROUTE_PASSWORD_RAW),
expanded by Kubernetes in the container's arguments), comma-separated for --routes. */}}
{{- define "nats.authenticatedRoutes" -}}
{{- $name := include "nats.fullname" . -}}
{{- $routes := list -}}
{{- range $i := until (int .Values.replicas) -}}
{{- $routes = append $routes (printf "nats://route:$(NATS_ROUTE_PASSWORD_RAW)@%s-%d.%s-headless.%s.svc.%s:%d" $name $i $name $.Release.Namespace $.Values.clusterDomain (int $.Values.clusterPort)) -}}
{{- end -}}
{{- join "," $routes -}}
{{- end -}}
