"""Privileged granted as containerd does when the engine lacks capabilities Docker's privileged mode asks for."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from bootstrap.reconciler.runtime import privileged

FULL = (1 << 41) - 1
NO_SYS_RESOURCE = FULL & ~(1 << 24)


def _proc(tmp_path: Path, *, engine_caps: int, own_caps: int = FULL, last_cap: int = 40) -> Path:
    proc = tmp_path / "proc"
    (proc / "sys/kernel").mkdir(parents=True)
    (proc / "sys/kernel/cap_last_cap").write_text(f"{last_cap}\n")
    (proc / "self").mkdir()
    (proc / "self/status").write_text(f"Name:\tpython\nCapEff:\t{own_caps:016x}\n")
    engine = proc / "4242"
    (engine / "fd").mkdir(parents=True)
    (engine / "status").write_text(f"Name:\tdockerd\nCapBnd:\t{FULL:016x}\nCapEff:\t{engine_caps:016x}\n")
    os.symlink("socket:[777]", engine / "fd" / "3")
    (proc / "net").mkdir()
    (proc / "net/unix").write_text(
        "Num       RefCount Protocol Flags    Type St Inode Path\n"
        "0000000000000000: 00000002 00000000 00010000 0001 01 777 /run/test-docker.sock\n"
    )
    return proc


def test_the_engines_own_capabilities_are_read_from_the_process_on_its_socket(tmp_path: Path) -> None:
    proc = _proc(tmp_path, engine_caps=NO_SYS_RESOURCE)
    how = privileged.detect("unix:///run/test-docker.sock", proc)
    assert not how.native and how.missing == ("SYS_RESOURCE",) and "pid 4242" in how.source
    assert "SYS_ADMIN" in how.capabilities and "SYS_RESOURCE" not in how.capabilities


def test_an_engine_holding_every_capability_uses_dockers_privileged_mode(tmp_path: Path) -> None:
    proc = _proc(tmp_path, engine_caps=FULL, own_caps=NO_SYS_RESOURCE)
    assert privileged.detect("unix:///run/test-docker.sock", proc).native
    assert privileged.detect("tcp://10.0.0.1:2375", proc).native  # remote: nothing to read


def test_without_the_engines_process_this_process_is_the_best_guess(tmp_path: Path) -> None:
    proc = _proc(tmp_path, engine_caps=FULL, own_caps=NO_SYS_RESOURCE)
    how = privileged.detect("unix:///run/elsewhere.sock", proc)
    assert not how.native and "this process" in how.source


def test_host_config_spells_privileged_out_and_leaves_out_what_the_engine_cannot_name() -> None:
    how = privileged.Privileged(native=False, capabilities=("CHOWN", "SYS_ADMIN", "BPF"), missing=("SYS_RESOURCE",))
    config = privileged.host_config(
        how,
        binds=["/a:/a:ro"],
        cap_add=["NET_ADMIN"],
        security_opt=["seccomp=unconfined", "no-new-privileges"],
        unknown={"BPF"},
    )
    assert config["privileged"] is False and config["cap_add"] == ["CAP_CHOWN", "CAP_SYS_ADMIN"]
    assert config["cap_drop"] == []  # capabilities.add/drop mean nothing for a privileged container
    assert config["binds"] == ["/a:/a:ro", "/sys:/sys:rw"]
    assert config["security_opt"] == ["no-new-privileges", "seccomp=unconfined", "apparmor=unconfined"]
    assert config["device_cgroup_rules"] == ["a *:* rwm"] and config["unmasked"]
    native = privileged.host_config(privileged.Privileged(native=True), binds=[], cap_add=[], security_opt=[])
    assert native["privileged"] is True and "devices" not in native


def test_unknown_capability_errors_name_the_capability() -> None:
    message = 'invalid CapAdd: unknown capability: "CAP_BPF"'
    assert privileged.unknown_capability(message) == "BPF"
    assert privileged.unknown_capability("invalid mount config") is None


def test_host_devices_are_character_and_block_devices_outside_the_skipped_dirs(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    (dev / "pts").mkdir(parents=True)
    (dev / "net").mkdir()
    (dev / "null").write_text("")  # a regular file: not a device
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(dev / "log"))
    assert list(privileged.host_devices(dev)) == []
    assert "/dev/null" in list(privileged.host_devices())
    assert not any(d.startswith("/dev/pts/") for d in privileged.host_devices())
