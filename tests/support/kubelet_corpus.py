"""The corpus of static pods tests/real/test_kubelet_differential.py runs under the real kubelet and under kbs's
reconciler and compares field by field: control-plane shaped pods, hostNetwork and pod-network pods, init
containers, several containers, every probe kind, each restart policy, hostPath types, emptyDir, env, resources.

Every pod uses the test bed's agnhost image (present on both nodes: no pulls). hostNetwork pods listen on ports of
their own (two pods of one node share its network). Each pod settles: Running with every container ready, or
Succeeded/Failed for a pod whose containers end; `settled` says when.
"""

from __future__ import annotations

import json
from typing import Any

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"


def _pod(name: str, spec: str, *, meta: str = "", labels: str = "") -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: default
  labels: {{{labels or f"app: {name}"}}}
{meta}spec:
  terminationGracePeriodSeconds: 2
{spec}"""


def _c(name: str, *command: str, extra: str = "", image: str = AGNHOST) -> str:
    """One container item, indented for `containers:`; `extra` is YAML indented like its fields (4 spaces)."""
    return f"""\
  - name: {name}
    image: {image}
    command: {json.dumps(list(command))}
{extra}"""


def _netexec(port: int) -> tuple[str, ...]:
    return ("/agnhost", "netexec", f"--http-port={port}", f"--udp-port={port + 100}")


PAUSE = ("/agnhost", "pause")

CORPUS: dict[str, str] = {
    "kc-apiserver-like": _pod(
        "kc-apiserver-like",
        "  hostNetwork: true\n  priorityClassName: system-node-critical\n"
        "  securityContext: {seccompProfile: {type: RuntimeDefault}}\n  containers:\n"
        + _c(
            "kube-apiserver-like", *_netexec(18201),
            extra="""\
    resources: {requests: {cpu: 50m}}
    livenessProbe:
      httpGet: {host: 127.0.0.1, path: /healthz, port: 18201, scheme: HTTP}
      initialDelaySeconds: 1
      periodSeconds: 2
      timeoutSeconds: 5
      failureThreshold: 8
    readinessProbe:
      httpGet: {host: 127.0.0.1, path: /healthz, port: 18201}
      periodSeconds: 1
    startupProbe:
      httpGet: {host: 127.0.0.1, path: /healthz, port: 18201}
      periodSeconds: 1
      failureThreshold: 24
    volumeMounts:
    - {name: k8s-certs, mountPath: /etc/kubernetes/pki, readOnly: true}
    - {name: ca-certs, mountPath: /etc/ssl/certs, readOnly: true}
""",
        )
        + """\
  volumes:
  - {name: k8s-certs, hostPath: {path: /etc/kubernetes/pki, type: DirectoryOrCreate}}
  - {name: ca-certs, hostPath: {path: /etc/ssl/certs, type: DirectoryOrCreate}}
""",
        meta="  annotations: {kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint: '10.0.0.1:6443'}\n",
        labels="component: kube-apiserver-like, tier: control-plane",
    ),
    "kc-etcd-like": _pod(
        "kc-etcd-like",
        "  hostNetwork: true\n  priority: 2000001000\n  priorityClassName: system-node-critical\n  containers:\n"
        + _c(
            "etcd-like", *_netexec(18202),
            extra="""\
    resources: {requests: {cpu: 10m, memory: 20Mi}}
    livenessProbe:
      httpGet: {host: 127.0.0.1, path: /healthz, port: 18202}
      failureThreshold: 8
    volumeMounts:
    - {name: data, mountPath: /var/lib/etcd}
""",
        )
        + "  volumes:\n  - {name: data, hostPath: {path: /var/lib/kd-etcd-like, type: DirectoryOrCreate}}\n",
    ),
    "kc-podnet-http": _pod(
        "kc-podnet-http",
        "  containers:\n"
        + _c(
            "web", *_netexec(8080),
            extra="""\
    ports: [{name: http, containerPort: 8080, protocol: TCP}]
    readinessProbe:
      httpGet: {path: /healthz, port: http}
      periodSeconds: 1
""",
        ),
    ),
    "kc-podnet-tcp": _pod(
        "kc-podnet-tcp",
        "  containers:\n"
        + _c("web", *_netexec(8080), extra="    livenessProbe: {tcpSocket: {port: 8080}, periodSeconds: 2}\n"
             "    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}\n"),
    ),
    "kc-grpc": _pod(
        "kc-grpc",
        "  containers:\n"
        + _c("grpc", "/agnhost", "grpc-health-checking", "--port=5000", "--http-port=8080",
             extra="    readinessProbe: {grpc: {port: 5000}, periodSeconds: 1}\n"
             "    livenessProbe: {grpc: {port: 5000}, periodSeconds: 3}\n"),
    ),
    "kc-exec": _pod(
        "kc-exec",
        "  hostNetwork: true\n  containers:\n"
        + _c("c", *PAUSE, extra="    readinessProbe: {exec: {command: [sh, -c, 'exit 0']}, periodSeconds: 1}\n"
             "    livenessProbe: {exec: {command: ['true']}, periodSeconds: 3}\n"),
    ),
    "kc-init": _pod(
        "kc-init",
        "  initContainers:\n"
        + _c("init-1", "sh", "-c", "echo one > /work/one")
        + "    volumeMounts: [{name: work, mountPath: /work}]\n"
        + _c("init-2", "sh", "-c", "test -f /work/one")
        + "    volumeMounts: [{name: work, mountPath: /work}]\n"
        + "  containers:\n"
        + _c("app", *PAUSE)
        + "    volumeMounts: [{name: work, mountPath: /work}]\n"
        + "  volumes: [{name: work, emptyDir: {}}]\n",
    ),
    "kc-multi": _pod(
        "kc-multi",
        "  containers:\n" + _c("a", *PAUSE) + _c("b", *PAUSE) + _c("c", *_netexec(8080)),
    ),
    "kc-onfailure-done": _pod(
        "kc-onfailure-done", "  restartPolicy: OnFailure\n  containers:\n" + _c("c", "sh", "-c", "exit 0")
    ),
    "kc-never-failed": _pod(
        "kc-never-failed", "  restartPolicy: Never\n  containers:\n" + _c("c", "sh", "-c", "exit 1")
    ),
    "kc-never-done": _pod(
        "kc-never-done",
        "  restartPolicy: Never\n  containers:\n"
        + _c("c", "sh", "-c", "echo finished-well > /dev/termination-log"),
    ),
    "kc-fallback-logs": _pod(
        "kc-fallback-logs",
        "  restartPolicy: Never\n  containers:\n"
        + _c("c", "sh", "-c", "echo last words; exit 4", extra="    terminationMessagePolicy: FallbackToLogsOnError\n"),
    ),
    "kc-hostpath": _pod(
        "kc-hostpath",
        "  hostNetwork: true\n  containers:\n"
        + _c("c", *PAUSE, extra="""\
    volumeMounts:
    - {name: dir, mountPath: /h/dir}
    - {name: file, mountPath: /h/file, readOnly: true}
    - {name: made-dir, mountPath: /h/made-dir}
    - {name: made-file, mountPath: /h/made-file}
    - {name: char, mountPath: /h/null}
    - {name: untyped, mountPath: /h/untyped}
""")
        + """\
  volumes:
  - {name: dir, hostPath: {path: /tmp, type: Directory}}
  - {name: file, hostPath: {path: /etc/hostname, type: File}}
  - {name: made-dir, hostPath: {path: /tmp/kc-made-dir, type: DirectoryOrCreate}}
  - {name: made-file, hostPath: {path: /tmp/kc-made-file, type: FileOrCreate}}
  - {name: char, hostPath: {path: /dev/null, type: CharDevice}}
  - {name: untyped, hostPath: {path: /tmp/kc-untyped}}
""",
    ),
    "kc-emptydir": _pod(
        "kc-emptydir",
        "  containers:\n"
        + _c("c", *PAUSE, extra="    volumeMounts:\n    - {name: scratch, mountPath: /scratch}\n"
             "    - {name: mem, mountPath: /mem}\n")
        + "  volumes:\n  - {name: scratch, emptyDir: {}}\n"
        "  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 16Mi}}\n",
    ),
    "kc-env": _pod(
        "kc-env",
        "  containers:\n"
        + _c("c", *PAUSE, extra="""\
    env:
    - {name: PLAIN, value: plain}
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: MEM_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory}}}
    - {name: COMBINED, value: "$(PLAIN)-x"}
"""),
    ),
    "kc-guaranteed": _pod(
        "kc-guaranteed",
        "  containers:\n"
        + _c("c", *PAUSE, extra="    resources:\n      requests: {cpu: 100m, memory: 32Mi}\n"
             "      limits: {cpu: 100m, memory: 32Mi}\n"),
    ),
    "kc-burstable": _pod(
        "kc-burstable",
        "  containers:\n"
        + _c("c", *PAUSE, extra="    resources: {requests: {cpu: 10m}, limits: {memory: 64Mi}}\n")
        + _c("d", *PAUSE),
    ),
    "kc-security": _pod(
        "kc-security",
        "  securityContext: {runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000]}\n  containers:\n"
        + _c("c", *PAUSE, extra="    securityContext:\n"
             "      readOnlyRootFilesystem: true\n      allowPrivilegeEscalation: false\n"),
    ),
    "kc-workdir-args": _pod(
        "kc-workdir-args",
        "  containers:\n"
        + _c("c", "sh", extra="    args: [-c, 'exec /agnhost pause']\n    workingDir: /tmp\n"
             "    imagePullPolicy: Never\n"),
    ),
    "kc-dns-hostnet": _pod(
        "kc-dns-hostnet",
        "  hostNetwork: true\n  dnsPolicy: ClusterFirstWithHostNet\n  containers:\n"
        + _c("c", *PAUSE, extra="    imagePullPolicy: IfNotPresent\n"),
    ),
    "kc-named-port-hostnet": _pod(
        "kc-named-port-hostnet",
        "  hostNetwork: true\n  containers:\n"
        + _c("web", *_netexec(18203), extra="""\
    ports: [{name: web, containerPort: 18203, hostPort: 18203}]
    readinessProbe: {httpGet: {path: /healthz, port: web}, periodSeconds: 1}
    livenessProbe: {tcpSocket: {port: web}, periodSeconds: 2}
"""),
    ),
}  # fmt: skip


def settled(pod: dict[str, Any]) -> bool:
    """Running with every container ready, or a finished pod (Succeeded, Failed)."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return all("terminated" in (c.get("state") or {}) for c in status.get("containerStatuses") or [])
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    return status.get("phase") == "Running" and bool(ready) and ready[0].get("status") == "True"
