{{/* Names, labels and the herald.toml each role runs with. */}}

{{- define "herald.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "herald.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "herald.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every resource; call with (dict "root" $ "component" "edge") or the root. */}}
{{- define "herald.labels" -}}
{{- $root := .root | default . -}}
helm.sh/chart: {{ include "herald.chart" $root }}
{{ include "herald.selectorLabels" . }}
app.kubernetes.io/version: {{ $root.Values.image.tag | default $root.Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: herald
{{- with $root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "herald.selectorLabels" -}}
{{- $root := .root | default . -}}
app.kubernetes.io/name: {{ include "herald.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{- define "herald.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "herald.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "herald.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* Secrets: the chart's own, or the one named by existingSecret. */}}
{{- define "herald.tlsSecretName" -}}
{{- .Values.edge.tls.existingSecret | default (printf "%s-edge-tls" (include "herald.fullname" .)) -}}
{{- end -}}
{{- define "herald.tokensSecretName" -}}
{{- .Values.control.tokens.existingSecret | default (printf "%s-control-tokens" (include "herald.fullname" .)) -}}
{{- end -}}
{{- define "herald.nodeTokenSecretName" -}}
{{- .Values.nodeToken.existingSecret | default (printf "%s-node-token" (include "herald.fullname" .)) -}}
{{- end -}}
{{/* NodeService's TLS (nodeService.tls): whether it is on, and the Secret with tls.crt,
tls.key and ca.crt, given or made by the chart. */}}
{{- define "herald.nodeTls" -}}
{{- if .Values.nodeService.tls.enabled -}}true{{- end -}}
{{- end -}}
{{- define "herald.nodeTlsSecretName" -}}
{{- .Values.nodeService.tls.existingSecret | default (printf "%s-node-tls" (include "herald.fullname" .)) -}}
{{- end -}}
{{- define "herald.controlTlsSecretName" -}}
{{- .Values.control.tls.existingSecret | required "control.tls.enabled: set control.tls.existingSecret, a kubernetes.io/tls Secret (tls.crt, tls.key)" -}}
{{- end -}}
{{- define "herald.controlClientCaSecretName" -}}
{{- .Values.control.tls.clientCaSecret | required "control.tls.clientAuth: set control.tls.clientCaSecret, a Secret with the CA that signs admin client certificates (one of its own: every certificate it signs is an admin)" -}}
{{- end -}}
{{- define "herald.hasTokens" -}}
{{- if or .Values.control.tokens.existingSecret .Values.control.tokens.tokens }}true{{ end -}}
{{- end -}}
{{- define "herald.carrierSecretName" -}}
{{- .Values.connector.carrierPasswords.existingSecret | default (printf "%s-carrier-passwords" (include "herald.fullname" .)) -}}
{{- end -}}
{{- define "herald.hasCarrierPasswords" -}}
{{- if or .Values.connector.carrierPasswords.existingSecret .Values.connector.carrierPasswords.passwords }}true{{ end -}}
{{- end -}}

{{/* The bundled NATS and etcd: names as their subcharts make them. */}}
{{- define "herald.natsFullname" -}}
{{- .Values.nats.fullnameOverride | default (printf "%s-nats" .Release.Name) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "herald.etcdFullname" -}}
{{- .Values.etcd.fullnameOverride | default (printf "%s-etcd" .Release.Name) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* nats.urls as a JSON list. */}}
{{- define "herald.natsUrls" -}}
{{- if .Values.nats.enabled -}}
{{- if ne (.Values.nats.clusterDomain | default "cluster.local") .Values.clusterDomain -}}
{{- fail (printf "clusterDomain is %s but nats.clusterDomain (the bundled NATS's routes) is %s: set both" .Values.clusterDomain (.Values.nats.clusterDomain | default "cluster.local")) -}}
{{- end -}}
{{- $scheme := ternary "tls" "nats" (include "herald.natsTls" . | eq "true") -}}
{{- list (printf "%s://%s.%s.svc.%s:%d" $scheme (include "herald.natsFullname" .) .Release.Namespace .Values.clusterDomain (int (.Values.nats.clientPort | default 4222))) | toJson -}}
{{- else if .Values.externalNats.urls -}}
{{- .Values.externalNats.urls | toJson -}}
{{- else -}}
{{- fail "NATS: set nats.enabled=true (bundled) or externalNats.urls" -}}
{{- end -}}
{{- end -}}

{{/* nats.replicas: replicas of Herald's streams, at most the servers there are (and 3). */}}
{{- define "herald.natsStreamReplicas" -}}
{{- if .Values.nats.enabled -}}
{{- min 3 (int (.Values.nats.replicas | default 1)) -}}
{{- else -}}
{{- int .Values.externalNats.streamReplicas -}}
{{- end -}}
{{- end -}}

{{/* etcd.endpoints as a JSON list: every member of the bundled etcd, or the external ones. */}}
{{- define "herald.etcdEndpoints" -}}
{{- if .Values.etcd.enabled -}}
{{- if ne (.Values.etcd.clusterDomain | default "cluster.local") .Values.clusterDomain -}}
{{- fail (printf "clusterDomain is %s but etcd.clusterDomain (the bundled etcd's peer and client URLs) is %s: set both" .Values.clusterDomain (.Values.etcd.clusterDomain | default "cluster.local")) -}}
{{- end -}}
{{- $name := include "herald.etcdFullname" . -}}
{{- $endpoints := list -}}
{{- range $i := until (int (.Values.etcd.replicas | default 1)) -}}
{{- $endpoints = append $endpoints (printf "%s://%s-%d.%s-headless.%s.svc.%s:%d" (ternary "https" "http" (include "herald.bundledEtcdTls" $ | eq "true")) $name $i $name $.Release.Namespace $.Values.clusterDomain (int ($.Values.etcd.clientPort | default 2379))) -}}
{{- end -}}
{{- $endpoints | toJson -}}
{{- else if .Values.externalEtcd.endpoints -}}
{{- .Values.externalEtcd.endpoints | toJson -}}
{{- else -}}
{{- fail "etcd: set etcd.enabled=true (bundled) or externalEtcd.endpoints" -}}
{{- end -}}
{{- end -}}

{{/* Where the secrets are mounted and the files herald.toml names. */}}
{{- define "herald.tlsDir" -}}/etc/herald/tls{{- end -}}
{{- define "herald.tokensDir" -}}/etc/herald/control{{- end -}}
{{- define "herald.nodeTokenDir" -}}/etc/herald/node-token{{- end -}}
{{- define "herald.nodeTlsDir" -}}/etc/herald/node-tls{{- end -}}
{{- define "herald.controlTlsDir" -}}/etc/herald/control-tls{{- end -}}
{{- define "herald.controlClientCaDir" -}}/etc/herald/control-client-ca{{- end -}}
{{- define "herald.natsCredsDir" -}}/etc/herald/nats{{- end -}}
{{- define "herald.natsPasswordDir" -}}/etc/herald/nats-password{{- end -}}
{{- define "herald.natsTlsDir" -}}/etc/herald/nats-tls{{- end -}}
{{- define "herald.etcdTlsDir" -}}/etc/herald/etcd-tls{{- end -}}

{{/* Whether the bundled NATS has a user per role (nats.auth), and TLS (nats.tls). */}}
{{- define "herald.natsAuth" -}}
{{- if and .Values.nats.enabled .Values.nats.auth.enabled -}}true{{- end -}}
{{- end -}}
{{- define "herald.natsTls" -}}
{{- if and .Values.nats.enabled .Values.nats.tls.enabled -}}true{{- end -}}
{{- end -}}
{{/* The Secret with the role users' passwords: given, or made by the chart. */}}
{{- define "herald.natsPasswordsSecretName" -}}
{{- .Values.nats.auth.existingSecret | default (printf "%s-passwords" (include "herald.natsFullname" .)) -}}
{{- end -}}
{{/* The NATS users, one per role: the roles of files/nats-permissions.yaml, which must be the
users the NATS subchart takes passwords for (nats.auth.users). */}}
{{- define "herald.natsPermissions" -}}
{{- $perms := .Files.Get "files/nats-permissions.yaml" | fromYaml -}}
{{- if or (not $perms) (not $perms.roles) (not $perms.common) -}}
{{- fail "files/nats-permissions.yaml: no common and roles" -}}
{{- end -}}
{{- $roles := keys $perms.roles | sortAlpha -}}
{{- $users := .Values.nats.auth.users | default (list "edge" "router" "connector" "control") | sortAlpha -}}
{{- if ne (toJson $roles) (toJson $users) -}}
{{- fail (printf "files/nats-permissions.yaml has the roles %v but nats.auth.users is %v: they must be the same" $roles $users) -}}
{{- end -}}
{{- $count := include "herald.natsPartitions" . | int -}}
{{- $partitioned := $perms.partitioned | default dict -}}
{{- $expand := dict "buckets" ($partitioned.buckets | default list) "streams" ($partitioned.streams | default dict) "count" $count -}}
{{- $lists := dict "publish" (include "herald.partitionedSubjects" (merge (dict "list" ($perms.common.publish | default list)) $expand) | fromJsonArray) "subscribe" (include "herald.partitionedSubjects" (merge (dict "list" ($perms.common.subscribe | default list)) $expand) | fromJsonArray) -}}
{{- $out := dict "common" $lists "roles" dict -}}
{{- range $role := $roles -}}
{{- $own := index $perms.roles $role | default dict -}}
{{- $_ := set $out.roles $role (dict "publish" (include "herald.partitionedSubjects" (merge (dict "list" ($own.publish | default list)) $expand) | fromJsonArray) "subscribe" (include "herald.partitionedSubjects" (merge (dict "list" ($own.subscribe | default list)) $expand) | fromJsonArray)) -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}
{{/* How many partitions of each partitioned bucket the nodes declare (nats.partitions and
partitions_also_read, ADR 0021, in config or a role's config): the largest. */}}
{{- define "herald.natsPartitions" -}}
{{- $count := 1 -}}
{{- range $config := list .Values.config .Values.edge.config .Values.router.config .Values.connector.config .Values.control.config -}}
{{- $nats := (($config | default dict).nats) | default dict -}}
{{- $count = max $count (int ($nats.partitions | default 1)) (int ($nats.partitions_also_read | default 1)) -}}
{{- end -}}
{{- $count -}}
{{- end -}}
{{/* A permissions list with each subject that names a partitioned bucket or stream
followed by the same subject for each partition past the first: buckets `<bucket>_p<i>`,
streams `<STREAM>_P<i>`, their subjects `herald.<token>-p<i>.` (ADR 0021, 0022). Call with
(dict "list" ... "buckets" ... "streams" ... "count" ...). */}}
{{- define "herald.partitionedSubjects" -}}
{{- $out := list -}}
{{- range $subject := .list -}}
{{- $out = append $out $subject -}}
{{- range $i := untilStep 1 (int $.count) 1 -}}
{{- $marked := $subject -}}
{{- range $bucket := $.buckets -}}
{{- $marked = replace $bucket (printf "%s_p%d" $bucket $i) $marked -}}
{{- end -}}
{{- range $stream, $token := $.streams -}}
{{- $marked = replace $stream (printf "%s_P%d" $stream $i) $marked -}}
{{- $marked = replace (printf "herald.%s." $token) (printf "herald.%s-p%d." $token $i) $marked -}}
{{- end -}}
{{- if ne $marked $subject -}}
{{- $out = append $out $marked -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* Whether the bundled etcd serves TLS with client certificates (etcd.tls). */}}
{{- define "herald.bundledEtcdTls" -}}
{{- if and .Values.etcd.enabled .Values.etcd.tls.enabled -}}true{{- end -}}
{{- end -}}
{{/* Whether Herald reaches etcd over TLS: the bundled one with etcd.tls, or an external etcd
with a TLS Secret. */}}
{{- define "herald.etcdTls" -}}
{{- if or (include "herald.bundledEtcdTls" .) (and (not .Values.etcd.enabled) .Values.externalEtcd.tls.existingSecret) -}}true{{- end -}}
{{- end -}}
{{/* The Secret with the CA (ca.crt) and, with a client certificate, tls.crt and tls.key. */}}
{{- define "herald.etcdTlsSecretName" -}}
{{- if .Values.etcd.enabled -}}
{{- .Values.etcd.tls.clientSecret | default (printf "%s-etcd-client-tls" (include "herald.fullname" .)) -}}
{{- else -}}
{{- .Values.externalEtcd.tls.existingSecret -}}
{{- end -}}
{{- end -}}
{{/* Whether Herald presents a client certificate to etcd. */}}
{{- define "herald.etcdClientCert" -}}
{{- if or (include "herald.bundledEtcdTls" .) (and (not .Values.etcd.enabled) .Values.externalEtcd.tls.clientCert) -}}true{{- end -}}
{{- end -}}

{{/*
The configuration of one role as a dict: the chart's keys, then `config`, then the role's
`config` (later ones win). Call with (dict "root" $ "role" "edge").
*/}}
{{- define "herald.roleConfigYaml" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $role := .role -}}
{{- $nats := dict "urls" (include "herald.natsUrls" $root | fromJsonArray) "replicas" (include "herald.natsStreamReplicas" $root | int) -}}
{{- if and (not $v.nats.enabled) $v.externalNats.credentialsSecret -}}
{{- $_ := set $nats "credentials" (printf "%s/%s" (include "herald.natsCredsDir" $root) $v.externalNats.credentialsKey) -}}
{{- end -}}
{{- if include "herald.natsAuth" $root -}}
{{- $_ := set $nats "user" $role -}}
{{- $_ := set $nats "password" (dict "file" (printf "%s/password" (include "herald.natsPasswordDir" $root))) -}}
{{- end -}}
{{- if include "herald.natsTls" $root -}}
{{- $_ := set $nats "tls" (dict "ca" (printf "%s/ca.crt" (include "herald.natsTlsDir" $root))) -}}
{{- end -}}
{{- $c := dict
  "admin" (dict "listen" (printf "0.0.0.0:%d" (int $v.ports.admin)))
  "grpc" (dict "listen" (printf "0.0.0.0:%d" (int $v.ports.grpc)) "token_file" (printf "%s/%s" (include "herald.nodeTokenDir" $root) $v.nodeToken.key))
  "nats" $nats
  "etcd" (dict "endpoints" (include "herald.etcdEndpoints" $root | fromJsonArray))
-}}
{{- if include "herald.nodeTls" $root -}}
{{- $dir := include "herald.nodeTlsDir" $root -}}
{{- $_ := set (index $c "grpc") "tls" (dict "cert" (printf "%s/tls.crt" $dir) "key" (printf "%s/tls.key" $dir) "ca" (printf "%s/ca.crt" $dir) "server_name" $v.nodeService.tls.serverName) -}}
{{- end -}}
{{- if include "herald.etcdTls" $root -}}
{{- $dir := include "herald.etcdTlsDir" $root -}}
{{- $tls := dict "ca" (printf "%s/ca.crt" $dir) -}}
{{- if include "herald.etcdClientCert" $root -}}
{{- $_ := set $tls "cert" (printf "%s/tls.crt" $dir) -}}
{{- $_ := set $tls "key" (printf "%s/tls.key" $dir) -}}
{{- end -}}
{{- $_ := set (index $c "etcd") "tls" $tls -}}
{{- else if and (not $v.etcd.enabled) (contains "https://" (toJson $v.externalEtcd.endpoints)) -}}
{{- fail "externalEtcd: https:// endpoints need externalEtcd.tls.existingSecret (a Secret with ca.crt)" -}}
{{- end -}}
{{- if eq $role "edge" -}}
{{- $edge := dict "smpp_listen" (printf "0.0.0.0:%d" (int $v.edge.smppPort)) -}}
{{- if $v.edge.http.enabled -}}
{{- $_ := set $edge "http_listen" (printf "0.0.0.0:%d" (int $v.edge.http.port)) -}}
{{- end -}}
{{- if $v.edge.tls.enabled -}}
{{- $dir := include "herald.tlsDir" $root -}}
{{- $tls := dict "listen" (printf "0.0.0.0:%d" (int $v.edge.tls.port)) "cert" (printf "%s/tls.crt" $dir) "key" (printf "%s/tls.key" $dir) -}}
{{- if $v.edge.tls.httpsPort -}}
{{- $_ := set $tls "http_listen" (printf "0.0.0.0:%d" (int $v.edge.tls.httpsPort)) -}}
{{- end -}}
{{- $_ := set $edge "tls" $tls -}}
{{- end -}}
{{- $_ := set $c "edge" $edge -}}
{{- else if eq $role "connector" -}}
{{- $_ := set $c "connector" (dict "drain_timeout" (printf "%ds" (int $v.connector.drainTimeoutSeconds))) -}}
{{- else if eq $role "control" -}}
{{- $control := dict "listen" (printf "0.0.0.0:%d" (int $v.control.port)) -}}
{{- if include "herald.hasTokens" $root -}}
{{- $_ := set $control "tokens_file" (printf "%s/%s" (include "herald.tokensDir" $root) $v.control.tokens.key) -}}
{{- end -}}
{{- if $v.control.tls.enabled -}}
{{- $dir := include "herald.controlTlsDir" $root -}}
{{- $tls := dict "cert" (printf "%s/tls.crt" $dir) "key" (printf "%s/tls.key" $dir) -}}
{{- if $v.control.tls.clientAuth -}}
{{- $_ := set $tls "client_ca" (printf "%s/ca.crt" (include "herald.controlClientCaDir" $root)) -}}
{{- end -}}
{{- $_ := set $control "tls" $tls -}}
{{- end -}}
{{- $_ := set $c "control" $control -}}
{{- end -}}
{{- $merged := mustMergeOverwrite $c (deepCopy ($v.config | default dict)) (deepCopy ((index $v $role).config | default dict)) -}}
{{- toYaml $merged -}}
{{- end -}}

{{/* herald.toml of one role. Call with (dict "root" $ "role" "edge"). */}}
{{- define "herald.roleToml" -}}
# herald.toml of the {{ .role }} role, rendered by the Herald chart; keys: docs/configuration.md.
{{- include "herald.toml" (include "herald.roleConfigYaml" . | fromYaml) }}
{{- end -}}

{{/* A dict of sections (each a dict of keys, one level of sub-tables) as TOML. */}}
{{- define "herald.toml" -}}
{{- $root := . -}}
{{- range $section := keys . | sortAlpha }}
{{- $body := index $root $section }}
{{- if not (kindIs "map" $body) }}
{{- fail (printf "herald config: %q must be a section (a map of keys), got %v" $section $body) }}
{{- end }}

[{{ $section }}]
{{- range $key := keys $body | sortAlpha }}
{{- $value := index $body $key }}
{{- if not (or (kindIs "map" $value) (kindIs "invalid" $value)) }}
{{ $key }} = {{ include "herald.tomlValue" $value }}
{{- end }}
{{- end }}
{{- range $key := keys $body | sortAlpha }}
{{- $table := index $body $key }}
{{- if kindIs "map" $table }}

[{{ $section }}.{{ $key }}]
{{- range $k := keys $table | sortAlpha }}
{{- $value := index $table $k }}
{{- if kindIs "map" $value }}
{{- fail (printf "herald config: %s.%s.%s: tables nest at most two levels" $section $key $k) }}
{{- else if not (kindIs "invalid" $value) }}
{{ $k }} = {{ include "herald.tomlValue" $value }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* One TOML value: strings quoted, whole numbers as integers, lists inline. */}}
{{- define "herald.tomlValue" -}}
{{- if kindIs "string" . -}}
{{- toJson . -}}
{{- else if kindIs "bool" . -}}
{{- . -}}
{{- else if or (kindIs "float64" .) (kindIs "float32" .) -}}
{{- if eq (float64 (int64 .)) (float64 .) }}{{ int64 . }}{{ else }}{{ . }}{{ end -}}
{{- else if or (kindIs "int" .) (kindIs "int64" .) (kindIs "uint64" .) -}}
{{- . -}}
{{- else if kindIs "slice" . -}}
[{{ range $i, $e := . }}{{ if $i }}, {{ end }}{{ include "herald.tomlValue" $e }}{{ end }}]
{{- else -}}
{{- fail (printf "herald config: cannot write %v (%s) as TOML" . (kindOf .)) -}}
{{- end -}}
{{- end -}}

{{/*
terminationGracePeriodSeconds of a role: its value, or the preStop sleep plus the longest
drain the role does plus a margin. Call with (dict "root" $ "role" "edge").
*/}}
{{- define "herald.gracePeriod" -}}
{{- $v := .root.Values -}}
{{- $r := index $v .role -}}
{{- if not (kindIs "invalid" $r.terminationGracePeriodSeconds) -}}
{{- int $r.terminationGracePeriodSeconds -}}
{{- else -}}
{{- $sleep := int $v.lifecycle.preStopSleepSeconds -}}
{{- $drain := 10 -}}
{{- if eq .role "edge" }}{{ $drain = 20 }}{{ end -}}
{{- if eq .role "router" }}{{ $drain = 30 }}{{ end -}}
{{- if eq .role "connector" }}{{ $drain = mul 2 (int $v.connector.drainTimeoutSeconds) }}{{ end -}}
{{- add $sleep $drain 10 -}}
{{- end -}}
{{- end -}}

{{/* Values that would silently do nothing: refused. */}}
{{- define "herald.checkValues" -}}
{{- if and .Values.edge.tls.httpsPort (not .Values.edge.tls.enabled) -}}
{{- fail "edge.tls.httpsPort needs edge.tls.enabled (HTTPS uses the edge's TLS certificate)" -}}
{{- end -}}
{{- if and .Values.control.tls.clientAuth (not .Values.control.tls.enabled) -}}
{{- fail "control.tls.clientAuth needs control.tls.enabled (client certificates come over TLS)" -}}
{{- end -}}
{{- if and .Values.nats.tls.enabled (not .Values.nats.enabled) -}}
{{- fail "nats.tls.enabled is for the bundled NATS (nats.enabled); an external NATS's TLS is in its URLs" -}}
{{- end -}}
{{- if and (include "herald.natsTls" .) (not .Values.nats.tls.existingSecret) -}}
{{- fail "nats.tls.enabled: set nats.tls.existingSecret, a kubernetes.io/tls Secret (tls.crt, tls.key, ca.crt) for the NATS servers" -}}
{{- end -}}
{{- if and (include "herald.bundledEtcdTls" .) (ne (empty .Values.etcd.tls.serverSecret) (empty .Values.etcd.tls.clientSecret)) -}}
{{- fail "etcd.tls: give both serverSecret and clientSecret (certificates from one CA), or neither (the chart makes them)" -}}
{{- end -}}
{{- end -}}
