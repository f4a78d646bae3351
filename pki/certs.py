"""Planning the certificate tree: the CAs, the leaves they sign and the service-account key pair.

`Planner` walks rows of pki.table, reads what exists and decides per item: keep it (it passes every check),
create it (missing; a key already on disk is reused), or report a problem (never overwrite). CA keys are never
replaced; a CA certificate without its key is an external CA, under which kbs signs nothing and requires the
leaves to be present and valid. pki.kubeconfig plans the kubeconfig files with the same Planner.
"""

from __future__ import annotations

from datetime import datetime

from pki import store
from pki.context import PKIContext
from pki.issue import Identity, issue
from pki.keys import PrivateKey, keys_match
from pki.plan import Authority, Work, kept
from pki.results import Action, Result
from pki.table import CERTS_BY_NAME, SA_KEY, SA_NAME, SA_PUB, CertSpec, Facts, certs_for
from pki.verify import Problem, check_ca, check_leaf, expiry_warning


class Planner:
    """Collects the Work and the Problems of one operation over one certificates dir."""

    def __init__(self, ctx: PKIContext, facts: Facts, start: datetime) -> None:
        self.ctx, self.facts, self.start = ctx, facts, start
        self.cert_dir = ctx.cert_dir
        self.authorities: dict[str, Authority] = {}
        self.works: list[Work] = []
        self.problems: list[Problem] = []

    def plan(self, only: str | None = None) -> None:
        """Every certificate of the tree plus sa (only=None), or one of them by name."""
        for spec in certs_for(self.ctx):
            if only in (None, spec.name):
                self.authority(spec.name, report=True) if spec.is_ca else self.leaf(spec)
        if only in (None, SA_NAME):
            self.service_account()

    # --- CAs ----------------------------------------------------------------------------------------------------
    def authority(self, name: str, *, report: bool = False) -> Authority:
        """The CA called `name`, loaded once; planned for creation if absent. `report`: list it even if kept."""
        if name in self.authorities:
            return self.authorities[name]
        spec = CERTS_BY_NAME[name]
        cert_path, key_path = spec.cert_path(self.cert_dir), spec.key_path(self.cert_dir)
        auth = Authority(spec, cert_path, key_path)
        self.authorities[name] = auth
        cert, key = store.read_cert(cert_path), store.read_key(key_path)
        files = (cert_path, key_path)
        if cert is not None:
            auth.cert, auth.key = cert, key
            problem = check_ca(cert, cert_path, key, key_path)
            if problem:
                self.problems.append(problem)
            elif report:
                detail = f"external CA: {key_path.name} absent, kbs signs nothing with it" if key is None else ""
                warning = expiry_warning(cert, cert_path, self.start, "CA rotation is a manual procedure")
                self.works.append(kept(Result(name, Action.KEPT, files, detail, _opt(warning))))
            return auth

        identity = Identity(spec.common_name(self.facts.node_name), (), (), self.facts.alt_names(spec), True)
        if key is not None:
            # A CA key already on disk (a crash right after writing it, or one the operator placed) gets its
            # certificate now, so that the leaves it signed before can be checked against it while planning.
            own = store.read_key(key_path, validate=True)  # it signs: run the full key check
            assert own is not None
            auth.cert = issue(identity, own.public_key(), None, own, start=self.start, validity=self.facts.ca_validity)
            auth.key, auth.key_checked = own, True
            ca_cert = auth.cert

            def write_cert(_key: PrivateKey | None) -> Result:
                store.write_cert(cert_path, ca_cert)
                return Result(name, Action.CREATED, files, "for the existing key")

            self.works.append(Work(name, write_cert, None, writes=(cert_path,)))
            return auth

        def finish(new_key: PrivateKey | None) -> Result:
            assert new_key is not None
            auth.cert = issue(
                identity, new_key.public_key(), None, new_key, start=self.start, validity=self.facts.ca_validity
            )
            auth.key, auth.key_checked = new_key, True
            store.write_key(key_path, new_key)
            store.write_cert(cert_path, auth.cert)
            return Result(name, Action.CREATED, files)

        self.works.append(Work(name, finish, self.facts.algorithm, writes=files))
        return auth

    # --- leaves -------------------------------------------------------------------------------------------------
    def leaf(self, spec: CertSpec) -> None:
        assert spec.ca is not None
        ca = self.authority(spec.ca)
        cert_path, key_path = spec.cert_path(self.cert_dir), spec.key_path(self.cert_dir)
        cert, key = store.read_cert(cert_path), store.read_key(key_path)
        files = (cert_path, key_path)
        identity = self.identity(spec)
        fix = f"remove {cert_path} and {key_path}, then run `kbs certs generate {spec.name}`"
        if cert is not None:
            if key is None:
                hint = f"restore {key_path}, or remove {cert_path} to issue a new certificate and key"
                self.problems.append(Problem(key_path, f"is missing ({cert_path.name} exists)", hint))
            elif ca.cert is None:
                what = f"exists but its CA {ca.cert_path} does not"
                hint = f"restore {ca.cert_path} and {ca.key_path}, or remove {cert_path} and {key_path}"
                self.problems.append(Problem(cert_path, what, hint))
            elif problem := check_leaf(
                cert, cert_path, key, key_path, ca=ca.cert, ca_path=ca.cert_path, expected=identity, fix=fix
            ):
                self.problems.append(problem)
            else:
                warning = expiry_warning(cert, cert_path, self.start, f"run `kbs certs renew {spec.name}`")
                self.works.append(kept(Result(spec.name, Action.KEPT, files, warnings=_opt(warning))))
            return
        if ca.external:
            what = f"is missing, and CA {ca.spec.name} is external ({ca.key_path.name} absent) so kbs cannot sign it"
            self.problems.append(
                Problem(cert_path, what, f"provide {cert_path} and {key_path} signed by {ca.cert_path}")
            )
            return

        def finish(new_key: PrivateKey | None) -> Result:
            own = key or new_key
            assert own is not None
            signer = ca.signer()
            cert = issue(identity, own.public_key(), signer, start=self.start, validity=self.facts.cert_validity)
            if key is None:
                store.write_key(key_path, own)
            store.write_cert(cert_path, cert)
            details = ["for the existing key"] if key else []
            if identity.alt_names:
                details.append(f"signed for {identity.alt_names.describe()}")
            warning = None
            if cert.not_valid_after_utc > signer.cert.not_valid_after_utc:
                warning = (
                    f"{cert_path} expires after its CA {ca.cert_path} ({signer.cert.not_valid_after_utc:%Y-%m-%d})"
                )
            return Result(spec.name, Action.CREATED, files, "; ".join(details), _opt(warning))

        self.works.append(Work(spec.name, finish, None if key else self.facts.algorithm, writes=files))

    def identity(self, spec: CertSpec) -> Identity:
        return Identity(spec.common_name(self.facts.node_name), spec.orgs, spec.usages, self.facts.alt_names(spec))

    # --- service-account key pair -------------------------------------------------------------------------------
    def service_account(self) -> None:
        key_path, pub_path = self.cert_dir / SA_KEY, self.cert_dir / SA_PUB
        key, pub = store.read_key(key_path), store.read_public_key(pub_path)
        files = (key_path, pub_path)
        if key is not None and pub is not None:
            if keys_match(key, pub):
                self.works.append(kept(Result(SA_NAME, Action.KEPT, files)))
            else:
                hint = f"remove {pub_path}: kbs derives it from {key_path}"
                self.problems.append(Problem(pub_path, f"does not match {key_path}", hint))
            return
        if key is None and pub is not None:
            hint = (
                f"restore {key_path}, or remove {pub_path} for a new pair (tokens signed by the old key stop working)"
            )
            self.problems.append(Problem(pub_path, f"exists but {key_path} is missing", hint))
            return

        def finish(new_key: PrivateKey | None) -> Result:
            own = key or new_key
            assert own is not None
            if key is None:
                store.write_key(key_path, own)
            store.write_public_key(pub_path, own)
            return Result(SA_NAME, Action.CREATED, files, f"{SA_PUB} from the existing {SA_KEY}" if key else "")

        writes = (pub_path,) if key else files
        self.works.append(Work(SA_NAME, finish, None if key else self.facts.algorithm, writes=writes))


def _opt(warning: str | None) -> tuple[str, ...]:
    return (warning,) if warning else ()
