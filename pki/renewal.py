"""`kbs certs renew`: re-issue leaves and kubeconfig client certificates with a new validity period.

Like kubeadm, the existing certificate is the template (same subject, usages and SANs, even if the configuration
changed since), the key is replaced by a new one of the same type, and the current CA signs. CAs are never
renewed, kubelet.conf is left to the kubelet's own rotation, and certificates under an external CA cannot be
renewed by kbs (`all` skips them and says so). Nothing is written unless every named item can be renewed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cryptography import x509

from bootstrap import constants
from bootstrap.errors import PKIError
from pki import kubeconfig, store
from pki.context import PKIContext
from pki.issue import Identity, Signer, identity_of, issue, now
from pki.keys import PrivateKey, algorithm_of, private_key_pem
from pki.plan import Work, execute, kept, raise_problems
from pki.results import Action, Result
from pki.table import (
    CERTS_BY_NAME,
    KUBECONFIGS_BY_NAME,
    SA_NAME,
    CertSpec,
    Facts,
    KubeconfigSpec,
    canonical_name,
    certs_for,
    facts,
)
from pki.verify import Problem, public_key

ALL = "all"


def renewable(ctx: PKIContext) -> list[str]:
    """What `renew all` covers, in kubeadm's (alphabetical) order."""
    names = [s.name for s in certs_for(ctx) if not s.is_ca]
    names += [k.name for k in KUBECONFIGS_BY_NAME.values() if k.renewable]
    return sorted(names)


def renew(ctx: PKIContext, name: str, *, at: datetime | None = None) -> list[Result]:
    """Renew the certificate `name` (kubeadm's names, or `all`); returns one RENEWED or SKIPPED result each."""
    renewal = _Renewal(facts(ctx), ctx, at or now(), explicit=name != ALL)
    for target in renewable(ctx) if name == ALL else [_checked(ctx, name)]:
        if target in CERTS_BY_NAME:
            renewal.cert(CERTS_BY_NAME[target])
        else:
            renewal.kubeconfig(KUBECONFIGS_BY_NAME[target])
    raise_problems(renewal.problems)
    return execute(renewal.works, store.check_writable)


def renew_node_kubeconfig(ctx: PKIContext, *, at: datetime | None = None) -> list[Result]:
    """Renew kubelet.conf's embedded client certificate: only for a node whose "kubelet" is kbs's bundled
    reconciler, which cannot rotate it through a CertificateSigningRequest as a kubelet does."""
    renewal = _Renewal(facts(ctx), ctx, at or now(), explicit=True)
    renewal.kubeconfig(KUBECONFIGS_BY_NAME[constants.KUBELET_KUBECONFIG])
    raise_problems(renewal.problems)
    return execute(renewal.works, store.check_writable)


def _checked(ctx: PKIContext, name: str) -> str:
    target = canonical_name(name)
    spec = CERTS_BY_NAME.get(target)
    if spec is not None and spec.is_ca:
        raise PKIError(
            f"{target} is a CA; kbs never renews CAs",
            hint="CA rotation is a manual procedure (see kubeadm's 'Manual rotation of CA certificates')",
        )
    if spec is not None and spec.etcd and not ctx.local_etcd:
        raise PKIError(f"{target} is not used with external etcd", hint=f"renew one of: {', '.join(renewable(ctx))}")
    if target == SA_NAME:
        raise PKIError("sa is a key pair without a certificate; it does not expire", hint="nothing to renew")
    kspec = KUBECONFIGS_BY_NAME.get(target)
    if kspec is not None and not kspec.renewable:
        raise PKIError(
            f"{target} is not renewed by kbs: the kubelet rotates its own client certificate",
            hint=f"to re-issue it, remove {kspec.path(ctx.kubernetes_dir)} and run `kbs certs generate {target}`",
        )
    return target


class _Renewal:
    def __init__(self, facts: Facts, ctx: PKIContext, start: datetime, *, explicit: bool) -> None:
        self.facts, self.ctx, self.start, self.explicit = facts, ctx, start, explicit
        self.works: list[Work] = []
        self.problems: list[Problem] = []
        self._cas: dict[str, tuple[Path, x509.Certificate | None, PrivateKey | None]] = {}

    def cert(self, spec: CertSpec) -> None:
        cert_path, key_path = spec.cert_path(self.ctx.cert_dir), spec.key_path(self.ctx.cert_dir)
        cert = store.read_cert(cert_path)
        if cert is None:
            self._unavailable(spec.name, cert_path, "is missing; there is nothing to renew", "missing",
                              f"run `kbs certs generate {spec.name}`")  # fmt: skip
            return
        assert spec.ca is not None
        signer = self._signer(spec.name, spec.ca, cert_path)
        if signer is None:
            return
        template = identity_of(cert)
        files = (cert_path, key_path)

        def finish(new_key: PrivateKey | None) -> Result:
            assert new_key is not None
            renewed = self._issue(template, new_key, signer)
            store.write_key(key_path, new_key)
            store.write_cert(cert_path, renewed)
            return Result(spec.name, Action.RENEWED, files, f"{spec.description} renewed", restarts=spec.restarts)

        algorithm = algorithm_of(public_key(cert, cert_path))
        self.works.append(Work(spec.name, finish, algorithm, writes=files))

    def kubeconfig(self, spec: KubeconfigSpec) -> None:
        path = spec.path(self.ctx.kubernetes_dir)
        config = kubeconfig.read(path)
        if config is None:
            self._unavailable(spec.name, path, "is missing; there is nothing to renew", "missing",
                              f"run `kbs certs generate {spec.name}`")  # fmt: skip
            return
        if config.cert is None or "client-certificate-data" not in config.user_entry:
            self._unavailable(spec.name, path, "has no embedded client certificate to renew", "no embedded certificate",
                              f"remove {path} and run `kbs certs generate {spec.name}`")  # fmt: skip
            return
        signer = self._signer(spec.name, spec.ca, path)
        if signer is None:
            return
        template = identity_of(config.cert)

        def finish(new_key: PrivateKey | None) -> Result:
            assert new_key is not None
            renewed = self._issue(template, new_key, signer)
            store.write_kubeconfig(path, config.embed(store.cert_pem(renewed), private_key_pem(new_key)))
            return Result(spec.name, Action.RENEWED, (path,), f"{spec.description} renewed", restarts=spec.restarts)

        algorithm = algorithm_of(public_key(config.cert, path))
        self.works.append(Work(spec.name, finish, algorithm, writes=(path,)))

    def _issue(self, template: Identity, key: PrivateKey, signer: Signer) -> x509.Certificate:
        return issue(template, key.public_key(), signer, start=self.start, validity=self.facts.cert_validity)

    def _signer(self, name: str, ca_name: str, path: Path) -> Signer | None:
        if ca_name not in self._cas:
            spec = CERTS_BY_NAME[ca_name]
            cert_path = spec.cert_path(self.ctx.cert_dir)
            self._cas[ca_name] = (
                cert_path,
                store.read_cert(cert_path),
                store.read_key(spec.key_path(self.ctx.cert_dir), validate=True),
            )
        ca_path, ca_cert, ca_key = self._cas[ca_name]
        if ca_cert is None:
            self.problems.append(Problem(path, f"cannot be renewed: its CA {ca_path} is missing", f"restore {ca_path}"))
            return None
        if ca_key is None:
            self._unavailable(name, path, f"is signed by an external CA ({ca_path} has no key); kbs cannot renew it",
                              "externally managed", "renew it with the external CA")  # fmt: skip
            return None
        return Signer(ca_cert, ca_key)

    def _unavailable(self, name: str, path: Path, what: str, short: str, hint: str) -> None:
        """An explicit request fails; `renew all` skips the item and says why."""
        if self.explicit:
            self.problems.append(Problem(path, what, hint))
        else:
            self.works.append(kept(Result(name, Action.SKIPPED, (path,), short)))
