"""Every path, file name, port, identity, label and timeout kbs uses, written once.

Grouped by the layer that owns the fact; other layers import from here instead of repeating a literal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

# --- node paths (kubeadm's defaults) ------------------------------------------------------------------------
KUBERNETES_DIR: Final = Path("/etc/kubernetes")
CERTIFICATES_DIR: Final = KUBERNETES_DIR / "pki"
MANIFESTS_DIR: Final = KUBERNETES_DIR / "manifests"
ETCD_DATA_DIR: Final = Path("/var/lib/etcd")
KBS_RUN_DIR: Final = Path("/var/run/kbs")
KBS_LOG_DIR: Final = Path("/var/log/kbs")
KBS_STATE_DIR: Final = Path("/var/lib/kbs")
ETCD_SNAPSHOT_DIR_NAME: Final = "etcd-snapshots"  # under the reconciler's stateDir (default /var/lib/kbs)
ETCD_RESTORE_DIR_NAME: Final = "etcd-restore"  # under the stateDir: the restore journal and the parked manifest
ETCD_SNAPSHOT_SCHEDULE: Final = "0 */12 * * *"  # k3s's --etcd-snapshot-schedule-cron default
ETCD_SNAPSHOT_RETENTION: Final = 5  # k3s's --etcd-snapshot-retention default

# --- file modes -----------------------------------------------------------------------------------------------
KEY_MODE: Final = 0o600
CERT_MODE: Final = 0o644
KUBECONFIG_MODE: Final = 0o600
MANIFEST_MODE: Final = 0o600
MANIFESTS_DIR_MODE: Final = 0o700

# --- control-plane components -------------------------------------------------------------------------------
ETCD: Final = "etcd"
KUBE_APISERVER: Final = "kube-apiserver"
KUBE_CONTROLLER_MANAGER: Final = "kube-controller-manager"
KUBE_SCHEDULER: Final = "kube-scheduler"
CONTROL_PLANE_COMPONENTS: Final = (KUBE_APISERVER, KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER)
ALL_COMPONENTS: Final = (ETCD, *CONTROL_PLANE_COMPONENTS)
KUBE_SYSTEM: Final = "kube-system"

# --- ports ----------------------------------------------------------------------------------------------------
APISERVER_PORT: Final = 6443
ETCD_CLIENT_PORT: Final = 2379
ETCD_PEER_PORT: Final = 2380
ETCD_METRICS_PORT: Final = 2381
KUBE_CONTROLLER_MANAGER_PORT: Final = 10257
KUBE_SCHEDULER_PORT: Final = 10259
KUBELET_PORT: Final = 10250
KUBELET_HEALTHZ_PORT: Final = 10248

# --- images ---------------------------------------------------------------------------------------------------
DEFAULT_IMAGE_REPOSITORY: Final = "registry.k8s.io"

# --- kubeconfig files and their identities (kubeadm's) --------------------------------------------------------
ADMIN_KUBECONFIG: Final = "admin.conf"
SUPER_ADMIN_KUBECONFIG: Final = "super-admin.conf"
CONTROLLER_MANAGER_KUBECONFIG: Final = "controller-manager.conf"
SCHEDULER_KUBECONFIG: Final = "scheduler.conf"
KUBELET_KUBECONFIG: Final = "kubelet.conf"
APISERVER_KUBELET_CLIENT_CN: Final = "kube-apiserver-kubelet-client"  # the API server's identity towards nodes

# --- cluster defaults (kubeadm's) ------------------------------------------------------------------------------
DEFAULT_CLUSTER_NAME: Final = "kubernetes"
DEFAULT_SERVICE_SUBNET: Final = "10.96.0.0/12"
DEFAULT_DNS_DOMAIN: Final = "cluster.local"

# --- static pods ----------------------------------------------------------------------------------------------
CONTROL_PLANE_LABEL: Final = "node-role.kubernetes.io/control-plane"

# --- reconciler (the bundled kubelet-like static-pod runner; the kubelet's own constants) --------------------
RECONCILER_STATE_DIR: Final = KBS_STATE_DIR / "reconciler"  # status JSON per pod, emptyDir volumes
RECONCILER_UNIT: Final = "kbs-reconciler.service"
RECONCILER_UNIT_PATH: Final = Path("/etc/systemd/system") / RECONCILER_UNIT
FILE_CHECK_FREQUENCY: Final = 20.0  # seconds, kubelet fileCheckFrequency
HTTP_CHECK_FREQUENCY: Final = 20.0  # seconds, kubelet httpCheckFrequency
MAX_MANIFEST_BYTES: Final = 10 * 1024 * 1024  # kubelet maxConfigLength
HTTP_SOURCE_TIMEOUT: Final = 10.0  # seconds, the kubelet's http.Client timeout for --manifest-url
CRASH_LOOP_BACKOFF_INITIAL: Final = 10.0  # seconds, initialCrashLoopBackOff
CRASH_LOOP_BACKOFF_MAX: Final = 300.0  # seconds, MaxContainerBackOff
CRASH_LOOP_BACKOFF_RESET: Final = 600.0  # seconds a container must run for its backoff to reset
TERMINATION_LOG_LINES: Final = 80  # FallbackToLogsOnError: the log lines read, MaxContainerTerminationMessageLogLines
TERMINATION_LOG_BYTES: Final = 2048  # ... and at most this many bytes of them, MaxContainerTerminationMessageLogLength
DEFAULT_TERMINATION_GRACE_SECONDS: Final = 30
MIN_CONTAINER_GRACE_SECONDS: Final = 2  # minimumGracePeriodInSeconds
POD_WORKER_ERROR_BACKOFF: Final = 10.0  # seconds (+ up to 50% jitter) before a failed sync is retried
POD_RESYNC_PERIOD: Final = 60.0  # seconds (+ up to 50% jitter), the kubelet's syncFrequency
RUNTIME_RELIST_PERIOD: Final = 10.0  # seconds between safety relists (Docker events wake pods at once)
CONTAINER_GC_PERIOD: Final = 60.0  # seconds, ContainerGCPeriod
HOUSEKEEPING_PERIOD: Final = 2.0  # seconds, the kubelet's housekeepingPeriod
CONTAINER_LOG_MAX_SIZE: Final = "10m"  # containerLogMaxSize
CONTAINER_LOG_MAX_FILES: Final = "5"  # containerLogMaxFiles
STATIC_POD_OOM_SCORE_ADJ: Final = -997  # static pods are critical: the guaranteed QoS score
SANDBOX_OOM_SCORE_ADJ: Final = -998
RECONCILER_LABEL: Final = "io.kbs.reconciler"  # on every container: which reconciler instance owns it

# --- reconciler, API-server side (bootstrap/reconciler/apiserver: node, lease, mirror pods, events, read API) -----
NODE_LEASE_NAMESPACE: Final = "kube-node-lease"
NODE_LEASE_DURATION_SECONDS: Final = 40  # the kubelet's nodeLeaseDurationSeconds
NODE_LEASE_RENEW_INTERVAL: Final = 10.0  # seconds: a quarter of the lease duration, as the kubelet renews
NODE_STATUS_UPDATE_FREQUENCY: Final = 10.0  # seconds between node status computations (nodeStatusUpdateFrequency)
NODE_STATUS_REPORT_FREQUENCY: Final = 300.0  # seconds: an unchanged node status is still posted this often
API_SERVER_POLL_INTERVAL: Final = 0.1  # seconds, the kubelet's fastStaticPodsRegistration poll
PUBLISHER_FILE_POLL: Final = 0.1  # seconds: how often a reconciler started before kubelet.conf looks for it
API_SERVER_RETRY_MAX: Final = 1.0  # seconds: longest wait between attempts while the API server is down
MIRROR_STATUS_BATCH_DELAY: Final = 0.1  # seconds: status changes this close together go out as one patch
MIRROR_RETRY_PERIOD: Final = 60.0  # seconds before a mirror pod the API server rejected is tried again
RECONCILER_SERVING_DIR: Final = RECONCILER_STATE_DIR / "pki"  # the read API's certificate (like /var/lib/kubelet/pki)
RECONCILER_SERVING_CERT: Final = "serving.crt"
RECONCILER_SERVING_KEY: Final = "serving.key"
NODE_MAX_PODS: Final = 110  # the kubelet's default maxPods, advertised as the Node's pod capacity
STATIC_PODS_ONLY_LABEL: Final = "kbs.dev/static-pods-only"  # on the Node: pods from the API server do not run here
# ... and as a NoSchedule taint the reconciler registers its Node with (the kubelet's --register-with-taints), so
# workloads that tolerate the control-plane taint (CoreDNS) are not bound to a node that will never run them.
STATIC_PODS_ONLY_TAINT: Final = {"key": STATIC_PODS_ONLY_LABEL, "value": "true", "effect": "NoSchedule"}
# DaemonSets tolerate every taint; the ones kbs creates (kube-proxy, flannel) skip such nodes by this affinity.
NOT_STATIC_PODS_ONLY_AFFINITY: Final = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": STATIC_PODS_ONLY_LABEL, "operator": "DoesNotExist"}]}]
        }
    }
}

# --- addons (kubeadm's `addon` phase: cmd/kubeadm/app/phases/addons and its constants) ------------------------
COREDNS: Final = "coredns"  # Deployment, ConfigMap, ServiceAccount and image name
COREDNS_REPLICAS: Final = 2  # kubeadm's initial replicas (a re-run keeps whatever the Deployment has)
COREDNS_CLUSTER_ROLE: Final = "system:coredns"
KUBE_DNS_SERVICE: Final = "kube-dns"
KUBE_DNS_APP_LABEL: Final = "kube-dns"  # the k8s-app label of CoreDNS's pods, Deployment and Service
KUBE_DNS_SERVICE_INDEX: Final = 10  # the Service's ClusterIP: this address of the first service range
KUBE_PROXY: Final = "kube-proxy"  # DaemonSet, ConfigMap, ServiceAccount, Role, RoleBinding and image name
KUBE_PROXY_CONFIG_KEY: Final = "config.conf"
KUBE_PROXY_KUBECONFIG_KEY: Final = "kubeconfig.conf"
KUBE_PROXY_DIR: Final = "/var/lib/kube-proxy"  # where the DaemonSet mounts its ConfigMap
KUBE_PROXY_CLUSTER_ROLE_BINDING: Final = "kubeadm:node-proxier"
KUBE_PROXY_CLUSTER_ROLE: Final = "system:node-proxier"
COMPONENT_CONFIG_HASH_ANNOTATION: Final = "kubeadm.kubernetes.io/component-config.hash"
NODE_BOOTSTRAP_TOKEN_GROUP: Final = "system:bootstrappers:kubeadm:default-node-token"
SERVICE_ACCOUNT_DIR: Final = "/var/run/secrets/kubernetes.io/serviceaccount"
FIELD_MANAGER: Final = "kbs"  # server-side apply's field manager for every object kbs writes
