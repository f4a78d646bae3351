"""The show-join-command phase: the `kubeadm join` line for workers and how to use the admin kubeconfig.

The token is the one the bootstrap-token phase stood by in this run, or (when this phase runs alone) the
newest valid kbs token in the cluster. The CA pin is the SHA-256 of ca.crt's SubjectPublicKeyInfo. With
--dry-run the token is printed as a placeholder: secrets never reach dry-run output.
"""

from __future__ import annotations

from bootstrap.errors import KbsError, PKIError
from bootstrap.kube import clusterinfo
from bootstrap.kube.token import BootstrapToken
from bootstrap.phases.bootstrap_token import existing_kbs_token
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome


def join_command(
    endpoint: str, token: str, ca_hash: str, certificate_key: str | None = None, *, control_plane: bool = False
) -> str:
    """kubeadm's join line; for a control plane with `--control-plane` (and the key, when certificates are uploaded)."""
    command = f"kubeadm join {endpoint} --token {token} \\\n    --discovery-token-ca-cert-hash {ca_hash}"
    if control_plane:
        command += " \\\n    --control-plane" + (f" --certificate-key {certificate_key}" if certificate_key else "")
    return command


def certificate_key(data: InitData) -> str | None:
    """The key of this run's upload (or given by flag or configuration); a placeholder with --dry-run."""
    if data.dry_run:
        return "<certificate-key>"
    from bootstrap.phases.upload_certs import SCRATCH_KEY

    known: str | None = data.scratch.get(SCRATCH_KEY) or data.options.certificate_key or data.cfg.init.certificate_key
    return known or "<certificate-key printed by `kbs init phase upload-certs --upload-certs`>"


def _control_plane_join(data: InitData, endpoint: str, token: str, ca_hash: str) -> None:
    """kubeadm's text for joining control planes, shown only with a controlPlaneEndpoint (as kubeadm does)."""
    out = data.out
    if data.options.upload_certs:
        out.detail("Join any number of control-plane nodes by running on each, as root:")
        out.detail("")
        out.detail("  " + join_command(endpoint, token, ca_hash, certificate_key(data), control_plane=True))
        out.detail("")
        out.detail("Please note that the certificate-key gives access to cluster sensitive data, keep it secret!")
        out.detail("As a safeguard, uploaded-certs will be deleted in two hours; If necessary, you can use")
        out.detail('"kbs init phase upload-certs --upload-certs" to reload certs afterward.')
    else:
        out.detail("Join any number of control-plane nodes by copying the certificate authorities")
        out.detail("and service account keys to each node, then running on each, as root:")
        out.detail("")
        out.detail("  " + join_command(endpoint, token, ca_hash, control_plane=True))
    out.detail("")


def run(data: InitData) -> Outcome:
    ca = data.cfg.cert_dir / "ca.crt"
    try:
        ca_hash = clusterinfo.ca_cert_hash(ca.read_bytes())
    except (OSError, ValueError) as exc:
        raise PKIError(f"cannot read the cluster CA {ca}: {exc}", hint="run `kbs init phase certs`") from exc
    token: BootstrapToken | None = data.scratch.get("token")
    if token is None and not data.dry_run:
        token = existing_kbs_token(data.api())
    if token is None and not data.dry_run:
        raise KbsError(
            "no valid bootstrap token made by kbs exists in the cluster",
            hint="create one with `kbs init phase bootstrap-token`",
        )
    value = "<token>" if data.dry_run or token is None else token.value
    real = data.real_cfg or data.cfg
    endpoint = real.api_server_url.removeprefix("https://")
    admin = real.kubeconfig("admin.conf")
    out = data.out
    out.detail("")
    out.detail("Your Kubernetes control plane is up." if not data.dry_run else "[dryrun] The join command would be:")
    out.detail("")
    out.detail("To use it as the cluster administrator:")
    out.detail(f"  export KUBECONFIG={admin}")
    out.detail("  kubectl get pods -n kube-system")
    out.detail("or, as a regular user:")
    out.detail("  mkdir -p $HOME/.kube")
    out.detail(f"  sudo cp -i {admin} $HOME/.kube/config && sudo chown $(id -u):$(id -g) $HOME/.kube/config")
    out.detail("")
    if real.control_plane_endpoint:
        _control_plane_join(data, endpoint, value, ca_hash)
    out.detail("Join worker nodes by running on each, as root:")
    out.detail("")
    out.detail("  " + join_command(endpoint, value, ca_hash))
    out.detail("")
    return Outcome("join command printed")
