"""More kubelet behaviours on the real engine: restart policies, image pull errors, volumes, init containers,
exec and tcpSocket probes."""

from __future__ import annotations

from pathlib import Path

from tests.real.conftest import TestBed
from tests.support.reconciler import Bed
from tests.support.wait import wait_until

MISSING = "registry.invalid/kbs-missing:1"


BED_PREFIX = "kbs-rt"  # the node name of this module's beds (the `bed` fixture, tests/real/conftest.py)


def one(name: str, image: str, args: str, *, spec: str = "", extra: str = "") -> str:
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  terminationGracePeriodSeconds: 2\n{spec}"
        f"  containers:\n  - name: c\n    image: {image}\n    args: [{args}]\n{extra}"
    )


def test_restart_policies_on_failure_and_never(bed: Bed, testbed: TestBed) -> None:
    image = testbed.images["agnhost"]
    bed.write("done.yaml", one("done", image, "entrypoint-tester", spec="  restartPolicy: OnFailure\n"))
    bed.write("fails.yaml", one("fails", image, "no-such-subcommand", spec="  restartPolicy: Never\n"))
    bed.start()
    done = bed.status_when("done", lambda s: s.phase == "Succeeded", "OnFailure pod succeeded")
    failed = bed.status_when("fails", lambda s: s.phase == "Failed", "Never pod failed")
    assert done.container_statuses[0].state.reason == "Completed" and done.container_statuses[0].restart_count == 0
    assert failed.container_statuses[0].exit_code == 1 and failed.container_statuses[0].restart_count == 0
    assert not [r for r in bed.containers() if r.running]  # finished pods keep no sandbox running
    assert len([r for r in bed.containers("fails") if not r.is_sandbox]) == 1  # never restarted


def test_image_pull_errors_and_the_never_policy(bed: Bed, testbed: TestBed) -> None:
    bed.write("pull.yaml", one("pull", MISSING, "x"))
    bed.write("never.yaml", one("never", MISSING, "x", extra="    imagePullPolicy: Never\n"))
    reconciler = bed.start()
    seen: set[str] = set()

    def both() -> bool:
        status = bed.status("pull")
        if status is not None:
            seen.add(str(status.container_statuses[0].reason))
        return {"ErrImagePull", "ImagePullBackOff"} <= seen

    wait_until("ErrImagePull then ImagePullBackOff", both, timeout=60, interval=0.1)
    pull = bed.status("pull")
    assert pull is not None and pull.phase == "Pending"
    never = bed.status_when("never", lambda s: s.container_statuses[0].reason == "ErrImageNeverPull", "never")
    assert "is not present with pull policy of Never" in str(never.container_statuses[0].state.message)
    events = {(e.reason, e.pod.name) for e in reconciler.recorder.recent()}
    assert ("Pulling", bed.pod_name("pull")) in events and ("Failed", bed.pod_name("pull")) in events
    assert ("Pulling", bed.pod_name("never")) not in events


def test_init_container_fills_an_empty_dir_and_host_path_file_is_created(
    bed: Bed, testbed: TestBed, tmp_path: Path
) -> None:
    image = testbed.images["agnhost"]
    config = tmp_path / "etc" / "app.conf"  # FileOrCreate: the reconciler creates it (and its directory)
    bed.write(
        "init.yaml",
        f"""apiVersion: v1
kind: Pod
metadata: {{name: init}}
spec:
  initContainers:
  - name: fill
    image: {image}
    args: ["mounttest", "--new-file-0644=/cache/ready"]
    volumeMounts: [{{name: cache, mountPath: /cache}}]
  containers:
  - name: app
    image: {image}
    args: ["pause"]
    volumeMounts:
    - {{name: cache, mountPath: /cache, readOnly: true}}
    - {{name: conf, mountPath: /etc/app.conf}}
  volumes:
  - {{name: cache, emptyDir: {{}}}}
  - {{name: conf, hostPath: {{path: {config}, type: FileOrCreate}}}}
""",
    )
    bed.start()
    status = bed.status_when("init", lambda s: s.phase == "Running", "app running after init")
    assert status.init_container_statuses[0].state.reason == "Completed"
    assert status.condition("Initialized").status == "True"  # type: ignore[union-attr]
    cache = bed.state / "pods" / status.uid / "volumes" / "kubernetes.io~empty-dir" / "cache"
    assert (cache / "ready").is_file()  # written by the init container into the pod's emptyDir
    assert config.is_file()


def test_exec_and_tcp_socket_probes(bed: Bed, testbed: TestBed) -> None:
    image = testbed.images["agnhost"]
    bed.write(
        "probes.yaml",
        one(
            "probes",
            image,
            '"netexec", "--http-port=8080"',
            extra="""    readinessProbe:
      exec: {command: [/agnhost, connect, "127.0.0.1:8080", --timeout=1s]}
      periodSeconds: 1
    livenessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
    startupProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
""",
        ),
    )
    bed.write(
        "closed.yaml",
        one(
            "closed",
            image,
            '"pause"',
            extra="    readinessProbe:\n      tcpSocket: {port: 9}\n      periodSeconds: 1\n",
        ),
    )
    reconciler = bed.start()
    ready = bed.status_when("probes", lambda s: s.ready, "exec + tcp probes succeed")
    assert ready.container_statuses[0].started
    bed.status_when("closed", lambda s: s.phase == "Running", "closed running")
    wait_until(
        "tcp readiness failure reported",
        lambda: any(
            e.reason == "Unhealthy" and e.pod.name == bed.pod_name("closed") for e in reconciler.recorder.recent()
        ),
        timeout=30,
        interval=0.1,
    )
    closed = bed.status("closed")
    assert closed is not None and not closed.ready and closed.container_statuses[0].restart_count == 0
