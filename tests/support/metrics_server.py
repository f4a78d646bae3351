"""metrics-server on a kbs node, for `kubectl top` (issue 17; no tests here).

The objects are upstream's components.yaml (metrics-server v0.8.0: RBAC, Service, APIService, the container's
arguments, probes and securityContext), with the differences a node of static pods needs:

- it runs as a static pod on the host network: the kbs node has no kubelet to run a Deployment, and the API
  server on a kbs control plane reaches neither ClusterIPs nor pod IPs (no kube-proxy, no pod network there),
  so the API server must run with `--enable-aggregator-routing=true` and reach the pod at its (host) IP;
- a static pod cannot use a ServiceAccount, so metrics-server authenticates with a client certificate of the
  cluster CA in a kubeconfig file, and the RBAC subjects are that user instead of the ServiceAccount;
- it verifies the node API's serving certificate with the cluster CA instead of `--kubelet-insecure-tls`.

On a cluster with kubelet workers the same objects with upstream's Deployment run on a worker (the API server
still needs `--enable-aggregator-routing=true` or `hostNetwork: true` for the same reason).
"""

from __future__ import annotations

import base64

USER = "metrics-server"
CONFIG_DIR = "/etc/metrics-server"  # inside the container: kubeconfig and ca.crt


def static_pod(image: str, port: int, host_dir: str) -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: metrics-server
  namespace: kube-system
  labels: {{k8s-app: metrics-server}}
spec:
  hostNetwork: true
  containers:
  - name: metrics-server
    image: {image}
    args:
    - --cert-dir=/tmp
    - --secure-port={port}
    - --kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname
    - --kubelet-use-node-status-port
    - --metric-resolution=15s
    - --kubeconfig={CONFIG_DIR}/kubeconfig
    - --authentication-kubeconfig={CONFIG_DIR}/kubeconfig
    - --authorization-kubeconfig={CONFIG_DIR}/kubeconfig
    - --kubelet-certificate-authority={CONFIG_DIR}/ca.crt
    ports:
    - {{name: https, containerPort: {port}, protocol: TCP}}
    readinessProbe:
      httpGet: {{path: /readyz, port: https, scheme: HTTPS}}
      periodSeconds: 10
      failureThreshold: 3
      initialDelaySeconds: 20
    livenessProbe:
      httpGet: {{path: /livez, port: https, scheme: HTTPS}}
      periodSeconds: 10
      failureThreshold: 3
    securityContext:
      readOnlyRootFilesystem: true
      runAsNonRoot: true
      runAsUser: 1000
      allowPrivilegeEscalation: false
      capabilities: {{drop: [ALL]}}
    volumeMounts:
    - {{name: tmp-dir, mountPath: /tmp}}
    - {{name: config, mountPath: {CONFIG_DIR}, readOnly: true}}
  volumes:
  - {{name: tmp-dir, emptyDir: {{}}}}
  - {{name: config, hostPath: {{path: {host_dir}, type: Directory}}}}
"""


API_OBJECTS = f"""\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:metrics-server
  labels: {{k8s-app: metrics-server}}
rules:
- apiGroups: [""]
  resources: [nodes/metrics]
  verbs: [get]
- apiGroups: [""]
  resources: [pods, nodes]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: metrics-server-auth-reader
  namespace: kube-system
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: extension-apiserver-authentication-reader}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: {USER}}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: metrics-server:system:auth-delegator
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:auth-delegator}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: {USER}}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: system:metrics-server
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:metrics-server}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: {USER}}}]
---
apiVersion: v1
kind: Service
metadata:
  name: metrics-server
  namespace: kube-system
  labels: {{k8s-app: metrics-server}}
spec:
  ports:
  - {{name: https, port: 443, protocol: TCP, targetPort: https}}
  selector: {{k8s-app: metrics-server}}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta1.metrics.k8s.io
  labels: {{k8s-app: metrics-server}}
spec:
  group: metrics.k8s.io
  groupPriorityMinimum: 100
  insecureSkipTLSVerify: true
  service: {{name: metrics-server, namespace: kube-system}}
  version: v1beta1
  versionPriority: 100
"""


def kubeconfig(server: str, ca: bytes, cert: bytes, key: bytes) -> str:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"""\
apiVersion: v1
kind: Config
clusters:
- name: kbs
  cluster: {{server: "{server}", certificate-authority-data: {b64(ca)}}}
users:
- name: {USER}
  user: {{client-certificate-data: {b64(cert)}, client-key-data: {b64(key)}}}
contexts:
- name: {USER}
  context: {{cluster: kbs, user: {USER}}}
current-context: {USER}
"""
