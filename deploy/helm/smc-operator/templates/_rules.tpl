{{/*
The RBAC rules shared by the ClusterRole (all namespaces) and the Roles (a namespace list):
rbac.yaml includes them; each rule says why it is needed.
*/}}
{{- define "smc-operator.rules.replicationjobs" }}
# ReplicationJobs: kopf lists and watches them, and merge-patches their metadata (its progress
# annotations, prefix progress.smcoperator.io, while a start waits for a retry; the finalizer
# smcoperator.io/delete-job on objects with deletionPolicy: Delete).
- apiGroups: ["smcoperator.io"]
  resources: ["replicationjobs"]
  verbs: ["list", "watch", "patch"]
# Their status subresource: the operator's write-ahead intent before every SMC call, the outcome
# (conditions, attempts), the job progress (status.job) and kopf's status.kopf.
- apiGroups: ["smcoperator.io"]
  resources: ["replicationjobs/status"]
  verbs: ["patch"]
# Events: one per SMC outcome, for `kubectl describe rj` (kopf only ever creates them).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}
{{- define "smc-operator.rules.secrets" }}
{{- if .enabled }}
# Secrets named by a ReplicationJob's spec.credentialsSecretRef, in the job's own namespace: one
# GET by name when SMC is called for it; never list or watch.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
  {{- with .names }}
  resourceNames:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}
{{- define "smc-operator.rules.peering" }}
# kopf peering: watch the peering objects to see other operators' keep-alives ...
- apiGroups: ["kopf.dev"]
  resources: [{{ .resource | quote }}]
  verbs: ["list", "watch"]
# ... patch our own peering object with this pod's keep-alive (status.<pod>), and read it:
# the job refresher polls SMC only while no other operator has priority (smc_operator.peers).
- apiGroups: ["kopf.dev"]
  resources: [{{ .resource | quote }}]
  verbs: ["get", "patch"]
  resourceNames: [{{ .name | quote }}]
{{- end }}
