"""Per-pod machinery: the pod worker (lifecycle), crash-loop backoff, probes, pod-to-container translation, status.

worker.PodWorker       one thread per pod UID: executes the actions, replaces, terminates (the kubelet's SyncPod)
actions                compute_pod_actions: the pure decision of one sync (kill, sandbox, start, backoff)
start                  create a sandbox, start a container (image pull, volumes, events, waiting reasons)
kill                   preStop + stop with the grace period; which dead containers to remove
images                 imagePullPolicy and the image-pull backoff
backoff.Backoff        10s doubling to 300s, first restart immediate, reset after 10 minutes of running
probes.ProbeWorker     one thread per (container, probe): liveness / readiness / startup results
prober                 exec, httpGet, tcpSocket, grpc handlers (and preStop hooks); grpc_health speaks gRPC
translate              a pod's container -> runtime.CreateSpec (volumes, env, resources, security)
phase                  the v1 PodStatus from runtime records (phase, conditions, container states)
"""
