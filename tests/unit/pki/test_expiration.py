"""check-expiration: kubeadm's rows, columns, residual times and structured output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import pki
from pki.expiration import as_document, render_text, short_duration
from tests.unit.pki.conftest import MakeContext

T0 = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_text_output_matches_kubeadms_layout(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    pki.generate(ctx, at=T0)
    (ctx.kubernetes_dir / "super-admin.conf").unlink()
    (ctx.cert_dir / "front-proxy-ca.key").unlink()
    text = render_text(pki.check_expiration(ctx), at=T0 + timedelta(hours=1))
    assert text == (
        "CERTIFICATE                  EXPIRES                  RESIDUAL TIME   "
        "CERTIFICATE AUTHORITY   EXTERNALLY MANAGED\n"
        "admin.conf                   Jan 02, 2031 03:04 UTC   364d            ca                      no\n"
        "apiserver                    Jan 02, 2031 03:04 UTC   364d            ca                      no\n"
        "apiserver-etcd-client        Jan 02, 2031 03:04 UTC   364d            etcd-ca                 no\n"
        "apiserver-kubelet-client     Jan 02, 2031 03:04 UTC   364d            ca                      no\n"
        "controller-manager.conf      Jan 02, 2031 03:04 UTC   364d            ca                      no\n"
        "etcd-healthcheck-client      Jan 02, 2031 03:04 UTC   364d            etcd-ca                 no\n"
        "etcd-peer                    Jan 02, 2031 03:04 UTC   364d            etcd-ca                 no\n"
        "etcd-server                  Jan 02, 2031 03:04 UTC   364d            etcd-ca                 no\n"
        "front-proxy-client           Jan 02, 2031 03:04 UTC   364d            front-proxy-ca          yes\n"
        "scheduler.conf               Jan 02, 2031 03:04 UTC   364d            ca                      no\n"
        "!MISSING! super-admin.conf\n"
        "\n"
        "CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED\n"
        "ca                      Dec 31, 2039 03:04 UTC   9y              no\n"
        "etcd-ca                 Dec 31, 2039 03:04 UTC   9y              no\n"
        "front-proxy-ca          Dec 31, 2039 03:04 UTC   9y              yes\n"
    )


def test_structured_output_follows_kubeadms_document(make_ctx: MakeContext) -> None:
    ctx = make_ctx(local_etcd=False)
    pki.generate(ctx, at=T0)
    doc = as_document(pki.check_expiration(ctx), at=T0)
    assert (doc["kind"], doc["apiVersion"]) == ("CertificateExpirationInfo", "output.kubeadm.k8s.io/v1alpha3")
    assert [c["name"] for c in doc["certificates"]] == [
        "admin.conf", "apiserver", "apiserver-kubelet-client", "controller-manager.conf", "front-proxy-client",
        "scheduler.conf", "super-admin.conf",
    ]  # fmt: skip
    assert doc["certificates"][1] == {
        "name": "apiserver",
        "caName": "ca",
        "expirationDate": "2031-01-02T03:04:05Z",
        "residualTime": 365 * 86400,
        "externallyManaged": False,
        "missing": False,
    }
    assert [c["name"] for c in doc["certificateAuthorities"]] == ["ca", "front-proxy-ca"]


def test_missing_tree_lists_everything_as_missing(make_ctx: MakeContext) -> None:
    infos = pki.check_expiration(make_ctx())
    assert all(i.missing and i.expires is None for i in infos)
    assert len(infos) == 14


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=-5), "<invalid>"),
        (timedelta(seconds=-1), "0s"),
        (timedelta(seconds=59), "59s"),
        (timedelta(minutes=59, seconds=59), "59m"),
        (timedelta(hours=23), "23h"),
        (timedelta(days=364, hours=23), "364d"),
        (timedelta(days=365), "1y"),
        (timedelta(days=3649), "9y"),
    ],
)
def test_residual_time_is_kubernetes_short_human_duration(delta: timedelta, text: str) -> None:
    assert short_duration(delta) == text
