"""A privileged static pod runs under the bundled reconciler wherever the kubelet with containerd would run it.

containerd grants privileged from the capabilities its own process holds; Docker's privileged mode asks for every
capability the kernel knows, which fails where the engine's root lacks some (CAP_SYS_RESOURCE on this machine).
The reconciler grants the engine's own set instead, so the container runs with exactly that bounding set, all host
devices and a writable /sys.
"""

from __future__ import annotations

from pathlib import Path

import docker

from bootstrap.reconciler.runtime import privileged
from tests.real.conftest import TestBed
from tests.support.reconciler import Bed

PRIVILEGED = """apiVersion: v1
kind: Pod
metadata:
  name: priv
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: {image}
    command: ["sh", "-c", "touch /sys/kernel/kbs-probe 2>/dev/null; grep -E '^Cap(Bnd|Eff)' /proc/self/status; \
grep ' /sys ' /proc/self/mountinfo; ls /dev | wc -l; exec sleep 3600"]
    securityContext:
      privileged: true
"""


def _capabilities(text: str, field: str) -> int:
    return next(int(line.split()[1], 16) for line in text.splitlines() if line.startswith(f"{field}:"))


def test_privileged_pod_runs_with_the_engines_capabilities_all_devices_and_a_writable_sys(
    bed: Bed,
    testbed: TestBed,
    docker_client: docker.DockerClient,
) -> None:
    bed.write("priv.yaml", PRIVILEGED.format(image=testbed.images["agnhost"]))
    bed.start()
    status = bed.status_when("priv", lambda s: s.phase == "Running", "privileged pod running")
    assert status.phase == "Running"
    [record] = bed.running("priv", "main")
    container = docker_client.containers.get(record.id)
    mode = privileged.detect(None)
    pid = int(container.attrs["State"]["Pid"])
    status_text = Path(f"/proc/{pid}/status").read_text()
    assert bed.reconciler is not None
    unknown = bed.reconciler.runtime.unknown_capabilities  # type: ignore[attr-defined]
    granted = [c for c in mode.capabilities if c not in unknown]
    bits = sum(1 << privileged.CAPABILITIES.index(c) for c in granted)
    expected = privileged.kernel_bitmap() if mode.native else bits
    assert _capabilities(status_text, "CapBnd") == expected, mode.describe()
    assert _capabilities(status_text, "CapEff") == expected
    assert not mode.native or not unknown
    mounts = Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
    sys_mount = next(line for line in mounts if line.split()[4] == "/sys")
    assert sys_mount.split()[5].split(",")[0] == "rw", sys_mount
    host_config = container.attrs["HostConfig"]
    seccomp = [o for o in host_config.get("SecurityOpt") or [] if o.startswith("seccomp")]
    assert host_config["Privileged"] or (seccomp == ["seccomp=unconfined"] and host_config["DeviceCgroupRules"])
    assert host_config["Privileged"] or host_config["MaskedPaths"] == []
    listing = container.exec_run(["sh", "-c", "ls /dev"]).output
    assert isinstance(listing, bytes)
    top_level = {Path(d).name for d in privileged.host_devices() if Path(d).parent == Path("/dev")}
    assert top_level <= set(listing.decode().split())
    assert bed.running("priv", "main") == [record] and status.phase == "Running", "it must run, not fail in a loop"
