"""Per-pod machinery: the pod worker (lifecycle), crash-loop backoff, probes, pod-to-container translation, status.

worker.PodWorker       one thread per pod UID: start, restart, replace, terminate (the kubelet's SyncPod)
backoff.Backoff        10s doubling to 300s, first restart immediate, reset after 10 minutes of running
probes.ProbeWorker     one thread per (container, probe): liveness / readiness / startup results
prober                 exec, httpGet, tcpSocket, grpc handlers (and preStop hooks)
translate              a pod's container -> runtime.CreateSpec (volumes, env, resources, security)
phase                  the v1 PodStatus from runtime records (phase, conditions, container states)
"""
