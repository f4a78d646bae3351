"""Reading the machine: who listens on a port (/proc), and where an installed kubelet reads static pods."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bootstrap.errors import ConfigError
from bootstrap.phases import kubelet, ports


def _fake_proc(root: Path, pid: int, argv: list[str], port: int | None = None, inode: str = "4242") -> Path:
    proc = root / "proc"
    (proc / str(pid) / "fd").mkdir(parents=True, exist_ok=True)
    (proc / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (proc / "net").mkdir(exist_ok=True)
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    rows = ""
    if port is not None:
        os.symlink(f"socket:[{inode}]", proc / str(pid) / "fd" / "3")
        rows = f"   0: 00000000:{port:04X} 00000000:0000 0A 0:0 00:00000000 00000000     0        0 {inode}\n"
    (proc / "net" / "tcp").write_text(header + rows)
    (proc / "net" / "tcp6").write_text(header)
    return proc


def test_listener_names_the_process_holding_the_port(tmp_path: Path) -> None:
    proc = _fake_proc(tmp_path, 812, ["/usr/local/bin/kube-apiserver", "--secure-port=6443"], port=6443)
    found = ports.listener(6443, proc)
    assert found is not None and (found.pid, found.command) == (812, "kube-apiserver")
    assert ports.listener(6444, proc) is None


def test_kubelet_pod_manifest_path_flag_wins_over_its_config(tmp_path: Path) -> None:
    proc = _fake_proc(
        tmp_path, 5, ["/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml", "--pod-manifest-path", "/srv/pods"]
    )
    found = kubelet.detect(None, proc=proc, root=tmp_path)
    assert found.path == Path("/srv/pods") and "--pod-manifest-path" in found.source


def test_kubelet_config_file_static_pod_path_is_read(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "kubelet" / "kubelet-config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("kind: KubeletConfiguration\nstaticPodPath: /etc/kubernetes/manifests\n")
    proc = _fake_proc(tmp_path, 5, ["/usr/bin/kubelet", "--config", "/etc/kubelet/kubelet-config.yaml"])
    found = kubelet.detect(None, proc=proc, root=tmp_path)
    assert found.path == Path("/etc/kubernetes/manifests") and "/etc/kubelet/kubelet-config.yaml" in found.source


def test_k3s_agent_directory_is_recognised(tmp_path: Path) -> None:
    proc = _fake_proc(tmp_path, 7, ["/usr/local/bin/k3s", "agent"])
    assert kubelet.detect(None, proc=proc, root=tmp_path).path == kubelet.K3S_MANIFESTS


def test_an_explicit_setting_wins(tmp_path: Path) -> None:
    proc = _fake_proc(tmp_path, 5, ["/usr/bin/kubelet", "--pod-manifest-path=/srv/pods"])
    found = kubelet.detect(Path("/mine"), proc=proc, root=tmp_path)
    assert found.path == Path("/mine") and "explicit" in found.source


def test_no_kubelet_is_an_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        kubelet.detect(None, proc=_fake_proc(tmp_path, 1, ["/sbin/init"]), root=tmp_path)
    assert err.value.hint and "--static-pod-path" in err.value.hint
