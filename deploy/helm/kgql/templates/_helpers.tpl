{{/* The release's objects are named <release>-kgql, or <release> when it already says kgql. */}}
{{- define "kgql.fullname" -}}
{{- if contains "kgql" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-kgql" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kgql.selectorLabels" -}}
app.kubernetes.io/name: kgql
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kgql.labels" -}}
{{ include "kgql.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kgql.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "kgql.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* Cluster-scoped objects carry the namespace too, so installs in several namespaces coexist. */}}
{{- define "kgql.clusterObjectName" -}}
{{- printf "%s-%s" (include "kgql.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* get, list and watch on a list of { apiGroup, resources } (kinds.yaml's shape). */}}
{{- define "kgql.readRules" -}}
{{- range . }}
- apiGroups: [{{ .apiGroup | quote }}]
  resources: [{{ join ", " .resources }}]
  verbs: [get, list, watch]
{{- end }}
{{- end -}}

{{/* The typed custom resources (<resource>.<group>) as read rules. */}}
{{- define "kgql.typedResourceRules" -}}
{{- range . }}
{{- $parts := splitn "." 2 . }}
{{- if not $parts._1 }}
{{- fail (printf "typedResources: %q is not <resource>.<group> (e.g. widgets.example.com)" .) }}
{{- end }}
- apiGroups: [{{ $parts._1 | quote }}]
  resources: [{{ $parts._0 }}]
  verbs: [get, list, watch]
{{- end }}
{{- end -}}

{{/* KGQL_CLUSTER: name=<mounted kubeconfig>[:context] for each listed cluster. */}}
{{- define "kgql.clusterFlag" -}}
{{- $out := list }}
{{- range .Values.clusters.list }}
{{- $entry := printf "%s=/etc/kgql/clusters/%s" .name (.key | default .name) }}
{{- if .context }}{{ $entry = printf "%s:%s" $entry .context }}{{ end }}
{{- $out = append $out $entry }}
{{- end }}
{{- join "," $out }}
{{- end -}}
