"""Certificates that renew themselves, on a real control plane with 4-minute leaf certificates.

One sandboxed control plane (tests/support/control_plane.py) whose ClusterConfiguration sets
certificateValidityPeriod: 4m and whose KbsConfiguration has the reconciler check every 5 s and renew 90 s before
expiry (renewBefore; the default rule is unit-tested); every leaf and kubeconfig falls due 2.5 minutes in; the
reconciler renews them, restarts etcd, kube-apiserver, kube-controller-manager and kube-scheduler one at a time,
and a client that keeps using the API meanwhile sees every request succeed once the original certificates have
expired. The CAs are never touched.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from cryptography import x509

from tests.real.conftest import TestBed
from tests.support.control_plane import NODE, Sandbox, exclusive_ports, sandbox
from tests.support.wait import wait_until

LIFETIME = "4m0s"
RENEW_BEFORE = "90s"  # restarts get 90 s before the expiry; the next round (at 5 min) stays clear of the checks


@pytest.fixture(scope="module")
def cp(testbed: TestBed, control_plane_lock: None) -> Iterator[Sandbox]:
    with exclusive_ports(), sandbox(testbed) as box:
        text = box.config.read_text().replace(
            "etcd:\n  local:", f"certificateValidityPeriod: {LIFETIME}\netcd:\n  local:", 1
        )
        box.config.write_text(text + f"certificateRenewal:\n  checkInterval: 5s\n  renewBefore: {RENEW_BEFORE}\n")
        box.kbs("init")
        yield box


def _cert(cp: Sandbox, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((cp.root / "etc/kubernetes/pki" / name).read_bytes())


class Client(threading.Thread):
    """`kubectl get --raw /readyz` every 0.5 s, each result with its time."""

    def __init__(self, cp: Sandbox) -> None:
        super().__init__(daemon=True)
        self.cp = cp
        self.results: list[tuple[float, bool, str]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            result = self.cp.kubectl("get", "--raw", "/readyz", check=False)
            self.results.append((time.time(), result.returncode == 0, result.stderr.strip()[-200:]))
            self.done.wait(0.5)


def test_leaves_are_renewed_before_they_expire_and_the_api_keeps_serving(cp: Sandbox) -> None:
    first = _cert(cp, "apiserver.crt")
    ca_before = (cp.root / "etc/kubernetes/pki/ca.crt").read_bytes()
    expiry = first.not_valid_after_utc.timestamp()
    text = cp.kbs("certs", "check-expiration").stdout
    assert "Next automatic renewal by the reconciler (renewBefore 0:01:30 before expiry)" in text

    client = Client(cp)
    client.start()
    try:
        status_file = cp.root / "var/lib/kbs/certificate-renewal.json"
        last = wait_until(
            "the reconciler's automatic renewal",
            lambda: json.loads(status_file.read_text()) if status_file.exists() else None,
            timeout=expiry - time.time() + 120,
        )
        assert last["ok"], last["detail"]
        assert last["restarted"] == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
        assert {"apiserver", "admin.conf", "controller-manager.conf", "etcd-server", "kubelet.conf"} <= set(
            last["renewed"]
        )
        renewed = _cert(cp, "apiserver.crt")
        assert renewed.not_valid_before_utc > first.not_valid_before_utc
        assert renewed.not_valid_after_utc.timestamp() > expiry
        wait_until("the original certificates expired", lambda: time.time() > expiry + 20, timeout=300)
    finally:
        client.done.set()
        client.join()
    after = [(t, ok, err) for t, ok, err in client.results if t > expiry]
    assert after and all(ok for _, ok, _ in after), [r for r in after if not r[1]][:3]
    assert (cp.root / "etc/kubernetes/pki/ca.crt").read_bytes() == ca_before
    status = cp.kbs("status")
    assert "renewed automatically at" in status.stdout, status.stdout
    assert all(c["healthy"] for c in cp.status()["components"])

    # the reconciler (this node's kubelet) still reports with its renewed kubelet.conf: its Lease is renewed
    def lease_renewed_after_expiry() -> bool:
        stamp = cp.kubectl("-n", "kube-node-lease", "get", "lease", NODE, "-o", "jsonpath={.spec.renewTime}").stdout
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() > expiry + 5

    wait_until("the node's Lease renewed after the original expiry", lease_renewed_after_expiry, timeout=60)
    assert datetime.now(UTC).timestamp() > expiry
