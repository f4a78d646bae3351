"""The node API on a kbs node (issue 17): kubectl exec, cp, attach and port-forward to static pods, through the
real API server, served by kbs's reconciler on its port-10250 API (SPDY/3.1 from the API server).

One control plane for the module (tests/support/mirror_plane.py: test bed binaries and images, kbs certs +
render in a sandbox, the reconciler in this process). The extra static pod `na-shell` runs agnhost (which has
sh and tar) serving HTTP on a port inside its own network namespace. Everything is asserted through kubectl.
"""

from __future__ import annotations

import fcntl
import hashlib
import http.client
import json
import os
import pty
import select
import socket
import ssl
import struct
import subprocess
import tempfile
import termios
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.real.conftest import TestBed
from tests.support import metrics_server
from tests.support.mirror_plane import Plane, control_plane, output_with
from tests.support.wait import wait_until

NODE = "kbs-nodeapi-e2e"
READ_PORT = 22250
WEB_PORT = 18091
FILES_PORT = 18092
BIG = 50 * 1024 * 1024
METRICS_SERVER_PORT = 22443
# The API server reaches metrics-server at its endpoint (the host's IP): a kbs node has no kube-proxy for
# ClusterIPs (tests/support/metrics_server.py).
AGGREGATOR_ROUTING = "apiServer:\n  extraArgs:\n  - {name: enable-aggregator-routing, value: 'true'}\n"


def shell_manifest(agnhost: str) -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata: {{name: na-shell, namespace: default}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: {agnhost}
    args: [netexec, --http-port={WEB_PORT}]
  - name: files
    image: {agnhost}
    args: [test-webserver, --port={FILES_PORT}]
  - name: ticker
    image: {agnhost}
    command: [sh, -c, 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.5; done']
  - name: echo
    image: {agnhost}
    stdin: true
    command: [sh, -c, 'while read -r line; do echo "echo: $line"; done; sleep 3600']
"""


@pytest.fixture(scope="module")
def plane(testbed: TestBed, control_plane_lock: None) -> Iterator[Plane]:
    extra = {"na-shell": shell_manifest(testbed.images["agnhost"])}
    with control_plane(testbed, node=NODE, port=READ_PORT, extra=extra, cluster_extra=AGGREGATOR_ROUTING) as p:
        pod = f"na-shell-{NODE}"

        def running() -> bool:
            out = p.kubectl("get", "pod", "-n", "default", pod, "-o", "json", check=False)
            if not out.lstrip().startswith("{"):
                return False
            statuses = json.loads(out).get("status", {}).get("containerStatuses") or []
            return len(statuses) == 4 and all("running" in s["state"] for s in statuses)

        wait_until("na-shell running in its mirror", lambda: running() or None, timeout=180)
        yield p


def _kubectl_command(plane: Plane, conf: str = "admin.conf") -> list[str]:
    return [plane.testbed.bin("kubectl"), "--kubeconfig", str(plane.kubernetes_dir / conf)]


def _kubectl(
    plane: Plane, *args: str, input: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    command = [*_kubectl_command(plane), *args]
    return subprocess.run(command, input=input, capture_output=True, timeout=timeout, check=False)


POD = f"na-shell-{NODE}"


def test_exec_prints_stdout_and_stderr_and_returns_success(plane: Plane) -> None:
    result = _kubectl(plane, "exec", "-n", "default", POD, "-c", "web", "--", "sh", "-c", "echo out; echo err >&2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"out\n"
    assert b"err\n" in result.stderr


def test_exec_returns_the_commands_exit_code(plane: Plane) -> None:
    result = _kubectl(plane, "exec", "-n", "default", POD, "-c", "web", "--", "sh", "-c", "exit 3")
    assert result.returncode == 3, result.stderr
    assert b"command terminated with exit code 3" in result.stderr


def test_exec_with_piped_stdin(plane: Plane) -> None:
    data = os.urandom(300_000)
    result = _kubectl(plane, "exec", "-i", "-n", "default", POD, "-c", "web", "--", "sha256sum", input=data)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()


def test_exec_with_a_tty_gets_a_terminal_of_the_clients_size(plane: Plane) -> None:
    # kubectl -it on a real terminal (a pty made here, 33 rows x 111 columns): the command runs on a TTY in the
    # container, and the first resize kubectl sends reaches it.
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    command = [
        *_kubectl_command(plane),
        "exec",
        "-it",
        "-n",
        "default",
        POD,
        "-c",
        "web",
        "--",
        "sh",
        "-c",
        "sleep 1; tty; stty size; exit 4",
    ]
    proc = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    output = b""
    try:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: kubectl exited and closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert proc.wait(timeout=60) == 4, output
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert b"/dev/pts/" in output, output
    assert b"33 111" in output, output


def test_exec_in_a_container_that_does_not_exist_is_refused(plane: Plane) -> None:
    result = _kubectl(plane, "exec", "-n", "default", POD, "-c", "nope", "--", "true")
    assert result.returncode != 0
    assert b"nope" in result.stderr


def test_etcdctl_member_list_in_the_etcd_pod(plane: Plane) -> None:
    pki = plane.kubernetes_dir / "pki" / "etcd"  # the sandbox's; mounted at the same path in the etcd pod
    result = _kubectl(
        plane,
        "exec",
        "-n",
        "kube-system",
        f"etcd-{NODE}",
        "--",
        "etcdctl",
        "--endpoints=https://127.0.0.1:2379",
        f"--cacert={pki}/ca.crt",
        f"--cert={pki}/healthcheck-client.crt",
        f"--key={pki}/healthcheck-client.key",
        "member",
        "list",
    )
    assert result.returncode == 0, result.stderr
    assert NODE.encode() in result.stdout, result.stdout


def test_kubectl_cp_both_ways(plane: Plane) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "up.bin")
        source.write_bytes(os.urandom(2_000_000))
        up = _kubectl(plane, "cp", "-c", "web", str(source), f"default/{POD}:/tmp/up.bin")
        assert up.returncode == 0, up.stderr
        back = Path(tmp, "back.bin")
        down = _kubectl(plane, "cp", "-c", "web", f"default/{POD}:/tmp/up.bin", str(back))
        assert down.returncode == 0, down.stderr
        assert back.read_bytes() == source.read_bytes()


def test_attach_shows_the_containers_output(plane: Plane) -> None:
    command = [
        *_kubectl_command(plane),
        "attach",
        "-n",
        "default",
        POD,
        "-c",
        "ticker",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        assert all(line.startswith(b"tick ") for line in lines), lines
    finally:
        proc.kill()
        proc.wait()


def test_attach_with_stdin_reaches_the_containers_stdin(plane: Plane) -> None:
    command = [*_kubectl_command(plane), "attach", "-i", "-n", "default", POD, "-c", "echo"]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        got: list[bytes] = []
        for word in (b"one", b"two"):
            # until the attach is established, a line may reach nobody: send again until it is echoed
            def echoed(word: bytes = word) -> bool | None:
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(word + b"\n")
                proc.stdin.flush()
                ready, _, _ = select.select([proc.stdout], [], [], 2)
                if not ready:
                    return None
                got.append(proc.stdout.readline())
                return got[-1] == b"echo: " + word + b"\n" or None

            wait_until(f"{word.decode()} echoed through kubectl attach -i", echoed, timeout=60)
    finally:
        proc.kill()
        proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_forward(plane: Plane, *ports: int) -> tuple[subprocess.Popen[bytes], list[int]]:
    locals_ = [_free_port() for _ in ports]
    command = [
        *_kubectl_command(plane),
        "port-forward",
        "-n",
        "default",
        f"pod/{POD}",
        *(f"{local}:{port}" for local, port in zip(locals_, ports, strict=True)),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert b"Forwarding from" in line, line + (proc.stderr.read() if proc.stderr else b"")
    return proc, locals_


def test_port_forward_carries_http_and_50_mib_both_ways(plane: Plane) -> None:
    proc, (web, files) = _port_forward(plane, WEB_PORT, FILES_PORT)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/echo?msg=through-the-tunnel", timeout=30) as response:
            assert response.read() == b"through-the-tunnel"
        # 50 MiB up: a multipart upload that netexec stores in a file of the pod
        payload = os.urandom(BIG)
        boundary = "kbsboundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + payload
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(
            f"http://127.0.0.1:{web}/upload",
            data=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        with urllib.request.urlopen(request, timeout=180) as response:
            path = json.loads(response.read())["output"]
        got = _kubectl(plane, "exec", "-n", "default", POD, "-c", "web", "--", "sha256sum", path)
        assert got.stdout.split()[0].decode() == hashlib.sha256(payload).hexdigest(), got
        # 50 MiB down: a file of the files container, served by agnhost test-webserver
        made = _kubectl(
            plane,
            "exec",
            "-n",
            "default",
            POD,
            "-c",
            "files",
            "--",
            "sh",
            "-c",
            f"head -c {BIG} /dev/urandom > /big.bin && sha256sum /big.bin",
        )
        assert made.returncode == 0, made.stderr
        digest = hashlib.sha256()
        size = 0
        with urllib.request.urlopen(f"http://127.0.0.1:{files}/big.bin", timeout=180) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        assert size == BIG
        assert digest.hexdigest() == made.stdout.split()[0].decode()
    finally:
        proc.kill()
        proc.wait()


# --- authentication and authorization on the node's port, like the kubelet's -------------------------------------


def _node_get(plane: Plane, path: str, *, cert: tuple[Path, Path] | None = None, token: str | None = None) -> int:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the API server does not verify the node's certificate either
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    conn = http.client.HTTPSConnection("127.0.0.1", READ_PORT, context=context, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _client_cert(tmp: Path, ca_dir: Path, user: str) -> tuple[Path, Path]:
    key, csr, crt = tmp / f"{user}.key", tmp / f"{user}.csr", tmp / f"{user}.crt"
    subprocess.run(
        [
            "openssl",
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(csr),
            "-subj",
            f"/CN={user}",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca_dir / "ca.crt"),
            "-CAkey",
            str(ca_dir / "ca.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            str(crt),
        ],
        check=True,
        capture_output=True,
    )
    return crt, key


def test_node_api_refuses_anonymous_other_cas_and_users_without_nodes_proxy(plane: Plane, tmp_path: Path) -> None:
    pki = plane.kubernetes_dir / "pki"
    apiserver_client = (pki / "apiserver-kubelet-client.crt", pki / "apiserver-kubelet-client.key")
    assert _node_get(plane, "/pods", cert=apiserver_client) == 200
    assert _node_get(plane, "/pods") == 401  # anonymous
    nobody = _client_cert(tmp_path, pki, "kbs-e2e-nobody")  # the cluster's CA, but no RBAC permission
    assert _node_get(plane, f"/exec/default/{POD}/web?command=true&output=1", cert=nobody) == 403
    assert _node_get(plane, "/pods", cert=nobody) == 403
    other_ca = tmp_path / "other"
    other_ca.mkdir()
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(other_ca / "ca.key"),
            "-out",
            str(other_ca / "ca.crt"),
            "-subj",
            "/CN=other-ca",
        ],
        check=True,
        capture_output=True,
    )
    stranger = _client_cert(tmp_path, other_ca, "kube-apiserver-kubelet-client")  # the right name, wrong CA
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _node_get(plane, "/pods", cert=stranger)


def test_node_api_accepts_service_account_tokens_through_token_review(plane: Plane) -> None:
    for name in ("kbs-e2e-reader", "kbs-e2e-nothing"):
        plane.kubectl("create", "serviceaccount", "-n", "default", name)
    plane.kubectl(
        "create",
        "clusterrolebinding",
        "kbs-e2e-reader",
        "--clusterrole=system:kubelet-api-admin",
        "--serviceaccount=default:kbs-e2e-reader",
    )
    try:
        reader = plane.kubectl("create", "token", "-n", "default", "kbs-e2e-reader").strip()
        nothing = plane.kubectl("create", "token", "-n", "default", "kbs-e2e-nothing").strip()
        assert _node_get(plane, "/pods", token=reader) == 200
        assert _node_get(plane, "/pods", token=nothing) == 403
        forged = reader[: reader.rindex(".") + 1] + "AAAA"  # a signature of no cluster
        assert _node_get(plane, "/pods", token=forged) == 401
    finally:
        plane.kubectl("delete", "clusterrolebinding", "kbs-e2e-reader", check=False)
        for name in ("kbs-e2e-reader", "kbs-e2e-nothing"):
            plane.kubectl("delete", "serviceaccount", "-n", "default", name, check=False)


def test_kubectl_exec_of_a_user_without_rbac_permission_is_forbidden(plane: Plane) -> None:
    result = _kubectl(plane, "--as=kbs-e2e-nobody", "exec", "-n", "default", POD, "-c", "web", "--", "true")
    assert result.returncode != 0 and b"forbidden" in result.stderr.lower(), result.stderr


# --- resources: streams and threads end with their client -------------------------------------------------------


def _streaming_threads() -> int:
    names = ("exec-", "attach-", "port-forward", "process_request_thread")
    return sum(1 for t in threading.enumerate() if any(n in t.name for n in names))


def _sleepers(plane: Plane, marker: str) -> int:
    container = plane.containers("na-shell", "web")[0]
    return sum(1 for p in container.top()["Processes"] if marker in " ".join(p))


def test_twenty_parallel_execs_cut_in_the_middle_leave_nothing_behind(plane: Plane) -> None:
    marker = "1234567"
    baseline = _streaming_threads()
    command = [*_kubectl_command(plane), "exec", "-i", "-n", "default", POD, "-c", "web", "--", "sleep", marker]
    procs = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(20)
    ]
    try:
        wait_until("20 execs running", lambda: _sleepers(plane, marker) == 20 or None, timeout=120)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    wait_until("every exec'd process gone", lambda: _sleepers(plane, marker) == 0 or None, timeout=60)
    wait_until("every streaming thread gone", lambda: _streaming_threads() <= baseline or None, timeout=60)


def test_an_interrupted_logs_follow_frees_its_thread_at_once(plane: Plane) -> None:
    baseline = _streaming_threads()
    command = [*_kubectl_command(plane), "logs", "-f", "-n", "default", POD, "-c", "web"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        wait_until("the follow request served", lambda: _streaming_threads() > baseline or None, timeout=60)
    finally:
        proc.kill()
        proc.wait()
    # the web container prints nothing more: before the fix its thread waited for a next line
    wait_until("the log thread gone", lambda: _streaming_threads() <= baseline or None, timeout=30)


# --- resource usage, as metrics-server reads it ----------------------------------------------------------------


def test_stats_summary_and_metrics_resource_through_the_api_servers_node_proxy(plane: Plane) -> None:
    base = f"/api/v1/nodes/{NODE}/proxy"
    summary = json.loads(plane.kubectl("get", "--raw", f"{base}/stats/summary"))
    assert summary["node"]["nodeName"] == NODE
    assert summary["node"]["memory"]["workingSetBytes"] > 0 and summary["node"]["cpu"]["usageCoreNanoSeconds"] > 0
    pods = {p["podRef"]["name"]: p for p in summary["pods"]}
    assert {f"etcd-{NODE}", f"kube-apiserver-{NODE}", POD} <= set(pods)
    etcd = pods[f"etcd-{NODE}"]["containers"][0]
    assert etcd["name"] == "etcd" and etcd["memory"]["workingSetBytes"] > 1_000_000
    assert etcd["cpu"]["usageCoreNanoSeconds"] > 0
    metrics = plane.kubectl("get", "--raw", f"{base}/metrics/resource")
    labels = f'{{container="kube-apiserver",namespace="kube-system",pod="kube-apiserver-{NODE}"}}'
    assert f"container_cpu_usage_seconds_total{labels} " in metrics
    assert f"container_memory_working_set_bytes{labels} " in metrics
    assert "node_cpu_usage_seconds_total " in metrics and "node_memory_working_set_bytes " in metrics


def test_metrics_and_metrics_probes_with_the_kubelets_names_behind_nodes_metrics(plane: Plane, tmp_path: Path) -> None:
    base = f"/api/v1/nodes/{NODE}/proxy"
    lines = plane.kubectl("get", "--raw", f"{base}/metrics").splitlines()
    assert f'kubelet_node_name{{node="{NODE}"}} 1' in lines
    running_pods = next(int(line.split()[1]) for line in lines if line.startswith("kubelet_running_pods "))
    assert running_pods >= 5  # etcd, the three control-plane components, na-shell
    assert any(line.startswith('kubelet_running_containers{container_state="running"} ') for line in lines)
    # etcd's liveness probe (kubeadm's manifest: 10 s period, after its startup probe) is counted as it runs
    etcd = f'container="etcd",pod="etcd-{NODE}",namespace="kube-system"'
    wanted = f'prober_probe_total{{probe_type="Liveness",result="successful",{etcd},pod_uid="'
    probes = output_with(
        "etcd's liveness runs in /metrics/probes",
        lambda: plane.kubectl("get", "--raw", f"{base}/metrics/probes"),
        wanted,
    )
    assert f'prober_probe_duration_seconds_count{{probe_type="Liveness",{etcd}}} ' in probes
    # the node's own authorization: nodes/metrics, not nodes/proxy
    pki = plane.kubernetes_dir / "pki"
    plane.kubectl("create", "clusterrole", "kbs-e2e-node-metrics", "--verb=get", "--resource=nodes/metrics")
    plane.kubectl(
        "create", "clusterrolebinding", "kbs-e2e-node-metrics", "--clusterrole=kbs-e2e-node-metrics", "--user=kbs-e2e-m"
    )
    try:
        reader = _client_cert(tmp_path, pki, "kbs-e2e-m")
        nobody = _client_cert(tmp_path, pki, "kbs-e2e-nobody")

        def metrics_allowed() -> bool | None:
            return _node_get(plane, "/metrics", cert=reader) == 200 or None

        wait_until("the RBAC grant seen by the API server", metrics_allowed, timeout=30)
        assert _node_get(plane, "/metrics/probes", cert=reader) == 200
        assert _node_get(plane, "/pods", cert=reader) == 403  # nodes/metrics only
        assert _node_get(plane, "/metrics", cert=nobody) == 403
    finally:
        plane.kubectl("delete", "clusterrolebinding", "kbs-e2e-node-metrics", check=False)
        plane.kubectl("delete", "clusterrole", "kbs-e2e-node-metrics", check=False)


# --- kubectl top: metrics-server on the kbs node ----------------------------------------------------------------


def test_kubectl_top_shows_the_node_and_its_static_pods_through_metrics_server(plane: Plane, tmp_path: Path) -> None:
    pki = plane.kubernetes_dir / "pki"
    config_dir = plane.root / "metrics-server"
    config_dir.mkdir(mode=0o755)
    crt, key = _client_cert(tmp_path, pki, metrics_server.USER)
    admin = yaml.safe_load((plane.kubernetes_dir / "admin.conf").read_text())
    server = admin["clusters"][0]["cluster"]["server"]
    (config_dir / "kubeconfig").write_text(
        metrics_server.kubeconfig(server, (pki / "ca.crt").read_bytes(), crt.read_bytes(), key.read_bytes())
    )
    (config_dir / "ca.crt").write_bytes((pki / "ca.crt").read_bytes())
    for name in ("kubeconfig", "ca.crt"):  # metrics-server runs as user 1000, as upstream's manifest says
        os.chown(config_dir / name, 1000, 1000)
        (config_dir / name).chmod(0o600)
    objects = tmp_path / "metrics-server.yaml"
    objects.write_text(metrics_server.API_OBJECTS)
    image = plane.testbed.images["metrics-server"]
    try:
        plane.kubectl("apply", "-f", str(objects))
        plane.write_manifest("metrics-server", metrics_server.static_pod(image, METRICS_SERVER_PORT, str(config_dir)))
        node_top = output_with(
            "kubectl top node", lambda: plane.kubectl("top", "node", check=False), NODE, "MEMORY", timeout=180
        )
        row = next(line.split() for line in node_top.splitlines() if line.startswith(NODE))
        assert row[1].endswith("m") and row[3].endswith("Mi"), node_top  # CPU(cores) in millicores, MEMORY in Mi
        pods = (f"etcd-{NODE}", f"kube-apiserver-{NODE}", f"kube-scheduler-{NODE}", f"metrics-server-{NODE}")
        top = output_with(
            "kubectl top pod -n kube-system",
            lambda: plane.kubectl("top", "pod", "-n", "kube-system", check=False),
            *pods,
            timeout=120,
        )
        etcd = next(line.split() for line in top.splitlines() if line.startswith(f"etcd-{NODE}"))
        assert etcd[1].endswith("m") and etcd[2].endswith("Mi") and int(etcd[2][:-2]) > 0, top
    finally:
        plane.kubectl("delete", "-f", str(objects), "--ignore-not-found", check=False)
        (plane.manifests / "metrics-server.yaml").unlink(missing_ok=True)
        wait_until("metrics-server gone", lambda: not plane.containers("metrics-server") or None, timeout=60)
