{{/*
Names. Every object the chart makes is <fullname>-<part>, so two releases can share a namespace.
<fullname> is the release name when it contains "nativejobs" (release `nativejobs` ->
nativejobs-config, nativejobs-controller, ...: the names the CLI looks up by default), else
<release>-nativejobs; the CLI's `--release` computes the same (nativejobs/k8s/config.py
chart_fullname). Truncated so that <fullname>-controller fits a 63-character name.
*/}}
{{- define "nativejobs.name" -}}{{ .Chart.Name }}{{- end }}

{{- define "nativejobs.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 42 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 42 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The ConfigMap the controller reads (cluster.yaml, store_uri). */}}
{{- define "nativejobs.configMapName" -}}{{ include "nativejobs.fullname" . }}-config{{- end }}

{{/* The controller's Role and RoleBinding. */}}
{{- define "nativejobs.controllerRoleName" -}}{{ include "nativejobs.fullname" . }}-controller{{- end }}

{{- define "nativejobs.controllerServiceAccount" -}}
{{- .Values.serviceAccounts.controller.name | default (printf "%s-controller" (include "nativejobs.fullname" .)) }}
{{- end }}

{{- define "nativejobs.stepServiceAccount" -}}
{{- .Values.serviceAccounts.step.name | default (printf "%s-step" (include "nativejobs.fullname" .)) }}
{{- end }}

{{- define "nativejobs.minioName" -}}{{ include "nativejobs.fullname" . }}-minio{{- end }}

{{- define "nativejobs.doctorName" -}}{{ include "nativejobs.fullname" . }}-doctor{{- end }}

{{/* Labels on every object the chart makes (not on step Jobs: those carry managed-by=nativejobs). */}}
{{- define "nativejobs.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "nativejobs.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The bucket of store.uri (s3://BUCKET/prefix). */}}
{{- define "nativejobs.bucket" -}}
{{- $uri := .Values.store.uri -}}
{{- if not (hasPrefix "s3://" $uri) -}}
{{- fail (printf "store.uri: got %q; a cluster run needs an s3:// store, e.g. s3://nativejobs/runs" $uri) -}}
{{- end -}}
{{- index (splitList "/" (trimPrefix "s3://" $uri)) 0 -}}
{{- end }}

{{/* One image reference: images.<role>, else <imageRegistry>/nativejobs-<image>:<imageTag>, where
<image> is `controller` for the controller role and `worker` for translate, train and eval (one
worker image, images/Dockerfile). Call with (list $ "role"). */}}
{{- define "nativejobs.image" -}}
{{- $root := index . 0 -}}
{{- $role := index . 1 -}}
{{- $given := index $root.Values.images $role -}}
{{- if $given -}}
{{- $given -}}
{{- else -}}
{{- $image := ternary "controller" "worker" (eq $role "controller") -}}
{{- with $root.Values.imageRegistry }}{{ trimSuffix "/" . }}/{{ end }}nativejobs-{{ $image }}:{{ $root.Values.imageTag | default $root.Chart.AppVersion }}
{{- end -}}
{{- end }}

{{/* store.endpoint_url: the value, else the dev MinIO's Service when it is enabled. */}}
{{- define "nativejobs.storeEndpoint" -}}
{{- if .Values.store.endpointUrl -}}
{{- .Values.store.endpointUrl -}}
{{- else if .Values.minio.enabled -}}
http://{{ include "nativejobs.minioName" . }}.{{ .Release.Namespace }}.svc:9000
{{- end -}}
{{- end }}

{{/* store.credentials_secret: the value, else the dev MinIO's Secret when it is enabled. */}}
{{- define "nativejobs.storeSecret" -}}
{{- if .Values.store.credentialsSecret -}}
{{- .Values.store.credentialsSecret -}}
{{- else if .Values.minio.enabled -}}
{{- include "nativejobs.minioName" . -}}
{{- end -}}
{{- end }}

{{/*
The ClusterConfig document (nativejobs/k8s/config.py), built as a dict so that toYaml does
the quoting. Unset optional fields are left out: the config's own default (None) applies.
*/}}
{{- define "nativejobs.clusterConfig" -}}
{{- $v := .Values -}}
{{- $images := dict -}}
{{- range $role := list "translate" "train" "eval" "controller" -}}
{{- $_ := set $images $role (include "nativejobs.image" (list $ $role)) -}}
{{- end -}}
{{- $store := dict "access_key_id_key" $v.store.accessKeyIdKey "secret_access_key_key" $v.store.secretAccessKeyKey -}}
{{- with include "nativejobs.storeEndpoint" . }}{{ $_ := set $store "endpoint_url" . }}{{ end -}}
{{- with $v.store.region }}{{ $_ := set $store "region" . }}{{ end -}}
{{- with include "nativejobs.storeSecret" . }}{{ $_ := set $store "credentials_secret" . }}{{ end -}}
{{- $cfg := dict
  "namespace" .Release.Namespace
  "images" $images
  "image_pull_policy" $v.imagePullPolicy
  "image_pull_secrets" $v.imagePullSecrets
  "store" $store
  "secret_env" $v.secretEnv
  "gpu_resource" $v.gpuResource
  "node_selector" $v.nodeSelector
  "tolerations" $v.tolerations
  "gpu_node_selector" $v.gpuNodeSelector
  "gpu_tolerations" $v.gpuTolerations
  "ttl_seconds_after_finished" $v.ttlSecondsAfterFinished
  "shm_size" $v.shmSize
  "run_as_user" $v.runAsUser
  "run_as_group" $v.runAsGroup
  "fs_group" $v.fsGroup
  "controller_service_account" (include "nativejobs.controllerServiceAccount" .)
  "step_service_account" (include "nativejobs.stepServiceAccount" .)
  "pod_annotations" $v.podAnnotations
  "extra_labels" $v.extraLabels
-}}
{{- if $v.hfToken.name }}{{ $_ := set $cfg "hf_token" (dict "name" $v.hfToken.name "key" $v.hfToken.key) }}{{ end -}}
{{- with $v.priorityClassName }}{{ $_ := set $cfg "priority_class" . }}{{ end -}}
{{- with $v.kueueQueue }}{{ $_ := set $cfg "kueue_queue" . }}{{ end -}}
{{- with $v.cachePvc }}{{ $_ := set $cfg "cache_pvc" . }}{{ end -}}
{{- toYaml $cfg -}}
{{- end }}

{{/* The pod- and container-level security contexts of the chart's own pods. */}}
{{- define "nativejobs.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsGroup }}
fsGroup: {{ .Values.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "nativejobs.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}

{{/* AWS_* variables that point the S3 client at the store: endpoint, region, key pair by Secret. */}}
{{- define "nativejobs.storeEnv" -}}
{{- with include "nativejobs.storeEndpoint" . }}
- name: AWS_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.store.region }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- with include "nativejobs.storeSecret" . }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ . | quote }}, key: {{ $.Values.store.accessKeyIdKey | quote }}}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ . | quote }}, key: {{ $.Values.store.secretAccessKeyKey | quote }}}
{{- end }}
{{- end }}
