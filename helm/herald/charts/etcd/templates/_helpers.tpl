{{- define "etcd.fullname" -}}
{{- .Values.fullnameOverride | default (printf "%s-etcd" .Release.Name) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "etcd.selectorLabels" -}}
app.kubernetes.io/name: {{ .Values.nameOverride | default .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "etcd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "etcd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: rules-store
{{- end -}}

{{/* The DNS name of member $i: <name>-<i>.<name>-headless.<ns>.svc.<domain>. */}}
{{- define "etcd.memberHost" -}}
{{- $name := include "etcd.fullname" .root -}}
{{- printf "%s-%d.%s-headless.%s.svc.%s" $name (int .i) $name .root.Release.Namespace .root.Values.clusterDomain -}}
{{- end -}}

{{/* --initial-cluster: every member from the replica count. */}}
{{- define "etcd.initialCluster" -}}
{{- $name := include "etcd.fullname" . -}}
{{- $members := list -}}
{{- range $i := until (int .Values.replicas) -}}
{{- $members = append $members (printf "%s-%d=%s://%s:%d" $name $i (include "etcd.peerScheme" $) (include "etcd.memberHost" (dict "root" $ "i" $i)) (int $.Values.peerPort)) -}}
{{- end -}}
{{- join "," $members -}}
{{- end -}}

{{/* The schemes of the client and peer URLs. */}}
{{- define "etcd.clientScheme" -}}
{{- if .Values.tls.enabled }}https{{ else }}http{{ end -}}
{{- end -}}
{{- define "etcd.peerScheme" -}}
{{- if and .Values.tls.enabled .Values.tls.peer }}https{{ else }}http{{ end -}}
{{- end -}}
