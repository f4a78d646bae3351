"""The bundled reconciler on the real Docker engine: pods from files, names, probes, restarts, edits, removal.

Each test runs its own in-process reconciler on its own manifest and state directories with a unique node
name; every container it creates carries `io.kbs.reconciler=<node>` and is removed at the end, so these tests
can share the engine with other agents' tests.
"""

from __future__ import annotations

import socket
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import docker
from click.testing import CliRunner

from bootstrap.cli.reconcile import logs, ps
from tests.real.conftest import TestBed
from tests.support.reconciler import Bed
from tests.support.wait import wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def web(name: str, image: str, *, port: int = 8080, extra: str = "", spec: str = "") -> str:
    return f"""apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
{spec}  containers:
  - name: web
    image: {image}
    args: ["netexec", "--http-port={port}"]
    ports: [{{name: http, containerPort: {port}}}]
{extra}"""


def test_pod_from_a_file_runs_with_docker_era_names_labels_and_shows_in_ps_and_logs(
    bed: Bed, testbed: TestBed, docker_client: docker.DockerClient
) -> None:
    bed.write(
        "web.yaml",
        web(
            "web",
            testbed.images["agnhost"],
            extra="    readinessProbe:\n      httpGet: {port: http}\n      periodSeconds: 1\n",
        ),
    )
    bed.start()
    status = bed.status_when("web", lambda s: s.ready, "web ready")
    uid = status.uid
    assert len(uid) == 32 and status.phase == "Running" and status.pod_ip
    names = {c.name for c in docker_client.containers.list(filters={"label": f"io.kbs.reconciler={bed.node}"})}
    assert names == {f"k8s_POD_web-{bed.node}_default_{uid}_0", f"k8s_web_web-{bed.node}_default_{uid}_0"}
    app = docker_client.containers.get(f"k8s_web_web-{bed.node}_default_{uid}_0")
    labels = app.labels
    assert labels["io.kubernetes.pod.namespace"] == "default" and labels["io.kubernetes.container.name"] == "web"
    assert labels["annotation.io.kubernetes.container.restartCount"] == "0"
    assert app.attrs["HostConfig"]["RestartPolicy"]["Name"] == "no"
    sandbox = docker_client.containers.get(f"k8s_POD_web-{bed.node}_default_{uid}_0")
    assert sandbox.labels["annotation.kubernetes.io/config.source"] == "file"
    assert app.attrs["HostConfig"]["NetworkMode"] == f"container:{sandbox.id}"
    with urllib.request.urlopen(f"http://{status.pod_ip}:8080/hostname", timeout=5) as answer:
        assert answer.read().decode() == f"web-{bed.node}"  # the pod's hostname is its name

    runner = CliRunner()
    listing = runner.invoke(ps, ["--state-dir", str(bed.state)])
    assert listing.exit_code == 0, listing.output
    row = next(line for line in listing.output.splitlines() if f"web-{bed.node}" in line)
    assert "Running" in row and "true" in row and " web " in row
    log = runner.invoke(logs, [f"web-{bed.node}"])
    assert log.exit_code == 0 and "Started HTTP server on port 8080" in log.output


def test_host_network_pod_with_host_path_volumes_and_an_https_probe_on_a_named_port(
    bed: Bed, testbed: TestBed, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    _self_signed(certs)
    data = tmp_path / "host" / "data"  # DirectoryOrCreate: created by the reconciler
    port = free_port()
    bed.write(
        "api.yaml",
        f"""apiVersion: v1
kind: Pod
metadata: {{name: api, namespace: kube-system}}
spec:
  hostNetwork: true
  containers:
  - name: api
    image: {testbed.images["agnhost"]}
    args: ["netexec", "--http-port={port}", "--udp-port=-1",
           "--tls-cert-file=/certs/tls.crt", "--tls-private-key-file=/certs/tls.key"]
    ports: [{{name: https, containerPort: {port}}}]
    readinessProbe:
      httpGet: {{host: 127.0.0.1, port: https, scheme: HTTPS, path: /hostname}}
      periodSeconds: 1
    livenessProbe:
      httpGet: {{host: 127.0.0.1, port: https, scheme: HTTPS, path: /hostname}}
    volumeMounts:
    - {{name: certs, mountPath: /certs, readOnly: true}}
    - {{name: data, mountPath: /data}}
  volumes:
  - {{name: certs, hostPath: {{path: {certs}, type: Directory}}}}
  - {{name: data, hostPath: {{path: {data}, type: DirectoryOrCreate}}}}
""",
    )
    bed.start()
    status = bed.status_when("api", lambda s: s.ready, "api ready", namespace="kube-system")
    assert status.pod_ip == "127.0.0.1"  # hostNetwork: the node's IP
    assert data.is_dir()
    app = docker_client.containers.get(str(status.container_statuses[0].container_id).removeprefix("docker://"))
    assert app.attrs["HostConfig"]["NetworkMode"] == "host"
    mounts = {m["Destination"]: m for m in app.attrs["Mounts"]}
    assert mounts["/certs"]["Source"] == str(certs) and mounts["/certs"]["RW"] is False
    assert mounts["/data"]["Source"] == str(data) and mounts["/data"]["RW"] is True


def test_crashing_container_restarts_at_once_then_after_10s_then_20s(bed: Bed, testbed: TestBed) -> None:
    bed.write(
        "crash.yaml",
        f"""apiVersion: v1
kind: Pod
metadata: {{name: crash}}
spec:
  containers:
  - name: crash
    image: {testbed.images["agnhost"]}
    args: ["no-such-subcommand"]
""",
    )
    began = datetime.now(UTC)
    bed.start()
    # attempt -> (startedAt, finishedAt). Dead instances are removed once a newer one has died (the kubelet keeps one),
    # so attempt 0, which lives well under a second, may be gone before a poll sees it exit: the checks below only
    # need the exits of attempts 1 and 2, which stay for the 10 s and 20 s of backoff.
    seen: dict[int, tuple[datetime, datetime | None]] = {}

    def observe() -> bool:
        for c in bed.containers("crash"):
            if not c.is_sandbox and c.started_at is not None and (c.attempt not in seen or not c.running):
                seen[c.attempt] = (c.started_at, None if c.running else c.finished_at)
        return 3 in seen and all(seen.get(n, (None, None))[1] is not None for n in (1, 2))

    wait_until("three restarts", observe, timeout=120, interval=0.2)
    # restart n starts no earlier than the previous run's exit + backoff (jitter only ever adds time)
    first = (seen[1][0] - began).total_seconds()  # two starts and a crash, no backoff between them
    gaps = [(seen[n + 1][0] - seen[n][1]).total_seconds() for n in (1, 2)]  # type: ignore[operator]
    assert first < 9, f"the first restart must not wait for the 10s backoff, came {first:.1f}s after the pod"
    assert gaps[0] >= 9.9, f"second restart after 10s backoff, was {gaps[0]:.1f}s"
    assert gaps[1] >= 19.9, f"third restart after 20s backoff, was {gaps[1]:.1f}s"
    # the status file follows Docker by a moment: wait for the one written after the third restart crashed too
    # (`terminated` through the back-off, as under the kubelet: its next sync comes at the back-off's end)
    status = bed.status_when(
        "crash",
        lambda s: s.container_statuses[0].restart_count >= 3 and not s.container_statuses[0].running,
        "backoff after the third restart",
    )
    container = status.container_statuses[0]
    crashed = container.state if container.state.kind == "terminated" else container.last_state
    assert container.restart_count >= 3 and crashed is not None
    assert crashed.exit_code == 1 and crashed.reason == "Error"
    assert len([c for c in bed.containers("crash") if not c.is_sandbox]) <= 2  # older dead instances are removed


def test_liveness_failure_kills_and_restarts_while_readiness_only_flips_ready(bed: Bed, testbed: TestBed) -> None:
    # agnhost liveness answers /healthz with 200 for 10 s, then 500.
    probe = "      httpGet: {port: 8080, path: /healthz}\n      periodSeconds: 1\n      failureThreshold: 1\n"
    bed.write(
        "live.yaml",
        f"""apiVersion: v1
kind: Pod
metadata: {{name: live}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: live
    image: {testbed.images["agnhost"]}
    args: ["liveness"]
    livenessProbe:
{probe}""",
    )
    bed.write(
        "ready.yaml",
        f"""apiVersion: v1
kind: Pod
metadata: {{name: ready}}
spec:
  containers:
  - name: ready
    image: {testbed.images["agnhost"]}
    args: ["liveness"]
    readinessProbe:
{probe}""",
    )
    reconciler = bed.start()
    bed.status_when("ready", lambda s: s.ready, "ready pod ready")
    not_ready = bed.status_when(
        "ready", lambda s: not s.ready and s.phase == "Running", "ready pod unready", timeout=30
    )
    assert not_ready.container_statuses[0].restart_count == 0  # readiness never restarts
    assert not_ready.condition("ContainersReady").status == "False"  # type: ignore[union-attr]
    live = bed.status_when("live", lambda s: s.container_statuses[0].restart_count >= 1, "liveness restart", timeout=40)
    assert live.container_statuses[0].last_state is not None
    assert live.container_statuses[0].last_state.exit_code in (2, 137, 143)
    reasons = {(e.reason, e.pod.name) for e in reconciler.recorder.recent()}
    assert ("Killing", f"live-{bed.node}") in reasons and ("Unhealthy", f"live-{bed.node}") in reasons
    assert ("Killing", f"ready-{bed.node}") not in reasons


def test_edited_manifest_replaces_the_pod_after_the_old_one_stopped(bed: Bed, testbed: TestBed) -> None:
    bed.write("web.yaml", web("web", testbed.images["agnhost"], spec="  terminationGracePeriodSeconds: 3\n"))
    bed.start()
    old = bed.status_when("web", lambda s: s.phase == "Running", "old pod running")
    bed.write("web.yaml", web("web", testbed.images["agnhost"], port=8081, spec="  terminationGracePeriodSeconds: 3\n"))
    new = bed.status_when("web", lambda s: s.uid != old.uid and s.phase == "Running", "new pod running")
    assert new.container_statuses[0].restart_count == 0
    records = bed.containers("web")
    old_app = next(r for r in records if r.pod_uid == old.uid and r.container_name == "web")
    new_app = next(r for r in records if r.pod_uid == new.uid and r.container_name == "web")
    assert not old_app.running and old_app.finished_at is not None and new_app.started_at is not None
    assert old_app.finished_at <= new_app.started_at  # the new pod started only after the old one stopped
    assert not [r for r in records if r.pod_uid == old.uid and r.is_sandbox]


def test_removed_manifest_stops_the_pod_and_keeps_the_last_container_for_logs(bed: Bed, testbed: TestBed) -> None:
    path = bed.write("web.yaml", web("web", testbed.images["agnhost"], spec="  terminationGracePeriodSeconds: 2\n"))
    bed.start()
    bed.status_when("web", lambda s: s.phase == "Running", "running")
    path.unlink()
    wait_until("status removed", lambda: bed.status("web") is None, timeout=30, interval=0.1)
    records = bed.containers("web")
    assert [r.container_name for r in records] == ["web"] and not records[0].running
    log = CliRunner().invoke(logs, [f"web-{bed.node}"])
    assert log.exit_code == 0 and "Started HTTP server" in log.output


def test_hidden_and_swap_files_are_ignored(bed: Bed, testbed: TestBed) -> None:
    reconciler = bed.start()
    bed.write("visible.yaml", web("visible", testbed.images["agnhost"]))
    (bed.manifests / ".hidden.yaml").write_text(web("hidden", testbed.images["agnhost"]))
    (bed.manifests / ".visible.yaml.swp").write_text(web("swap", testbed.images["agnhost"]))
    bed.status_when("visible", lambda s: s.phase == "Running", "visible pod")
    assert reconciler.wait_synced(30)
    assert {r.pod_name for r in bed.containers()} == {f"visible-{bed.node}"}
    assert bed.status("hidden") is None and bed.status("swap") is None


def test_invalid_file_is_reported_and_other_pods_are_untouched(bed: Bed, testbed: TestBed) -> None:
    bed.write("good.yaml", web("good", testbed.images["agnhost"]))
    reconciler = bed.start()
    before = bed.status_when("good", lambda s: s.phase == "Running", "good pod")
    bed.write("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers:\n  - name: x\n")
    bed.write("worse.yaml", "{ this is not yaml")
    wait_until(
        "both files reported",
        lambda: (
            {e.origin for e in reconciler.recorder.recent() if e.reason == "FailedValidation"}
            >= {str(bed.manifests / "bad.yaml"), str(bed.manifests / "worse.yaml")}
        ),
        timeout=30,
        interval=0.1,
    )
    messages = [e.message for e in reconciler.recorder.recent() if e.reason == "FailedValidation"]
    assert any("spec.containers[0].image: required" in m for m in messages)
    assert reconciler.healthy()
    after = bed.status("good")
    assert after is not None and after.uid == before.uid
    assert after.container_statuses[0].container_id == before.container_statuses[0].container_id
    assert after.container_statuses[0].restart_count == 0


def _self_signed(directory: Path) -> None:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (directory / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "tls.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def test_removal_runs_pre_stop_then_sigterm_then_sigkill_after_the_grace_period(bed: Bed, testbed: TestBed) -> None:
    # netexec --delay-shutdown ignores SIGTERM for 60 s: only SIGKILL after the 3 s grace period ends it.
    path = bed.write(
        "slow.yaml",
        f"""apiVersion: v1
kind: Pod
metadata: {{name: slow}}
spec:
  terminationGracePeriodSeconds: 3
  containers:
  - name: slow
    image: {testbed.images["agnhost"]}
    args: ["netexec", "--http-port=8080", "--delay-shutdown=60"]
    readinessProbe: {{httpGet: {{port: 8080}}, periodSeconds: 1}}
    lifecycle:
      preStop: {{httpGet: {{port: 8080, path: "/echo?msg=prestop-ran"}}}}
""",
    )
    bed.start()
    # Ready, not merely Running: the hook needs netexec to listen already (the kubelet has the same race).
    bed.status_when("slow", lambda s: s.ready, "ready")
    removed_at = datetime.now(UTC)
    path.unlink()
    wait_until("pod gone", lambda: bed.status("slow") is None, timeout=60, interval=0.1)
    last = next(r for r in bed.containers("slow") if r.container_name == "slow")
    assert last.exit_code == 137  # killed, not a clean exit on SIGTERM
    assert last.finished_at is not None and (last.finished_at - removed_at).total_seconds() >= 2.5
    log = CliRunner().invoke(logs, [f"slow-{bed.node}"])
    assert "prestop-ran" in log.output
