"""The bootstrap-token phase: what a stock `kubeadm join` needs to discover, trust and join this control plane.

    Secret kube-system/bootstrap-token-<id>          the token (kubeadm's data keys; `kubeadm token list` reads it)
    ClusterRoleBindings for the bootstrap group     node-bootstrapper, CSR auto-approval, get nodes
    ClusterRoleBinding kubeadm:apiserver-kubelet-client   lets the API server use the kubelet API (`kubectl logs`)
    ConfigMap kube-public/cluster-info               server + CA, with the token's detached JWS
    Role/RoleBinding for system:anonymous            read cluster-info (discovery happens before authentication)

Convergence: a token given in the configuration is used as is; otherwise kbs reuses the token an earlier
`kbs init` made while it has more than an hour left, and makes a new one only when there is none. So a second
run changes nothing, and an expired token is replaced by the next run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bootstrap import constants
from bootstrap.errors import PKIError
from bootstrap.kube import clusterinfo
from bootstrap.kube import token as tokens
from bootstrap.kube.api import KubeAPI, Obj
from bootstrap.phases.apply import cluster_role, cluster_role_binding, ensure_all, group, role, role_binding, user
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome

REUSE_MARGIN = timedelta(hours=1)
NODES_GROUP = "system:nodes"


def existing_kbs_token(api: KubeAPI, now: datetime | None = None) -> tokens.BootstrapToken | None:
    """The newest still-valid token an earlier `kbs init` created, if any."""
    now = now or datetime.now(UTC)
    found = []
    for secret in api.list("v1", "Secret", namespace=constants.KUBE_SYSTEM):
        token = tokens.from_secret(secret)
        if token and token.description == tokens.KBS_DESCRIPTION and not token.expired(now, REUSE_MARGIN):
            found.append(token)
    never = datetime.max.replace(tzinfo=UTC)
    return max(found, key=lambda t: t.expiration or never, default=None)


def choose_token(data: InitData) -> tokens.BootstrapToken:
    """The token this run stands by: configured > reusable from an earlier run > a new one."""
    configured = data.cfg.init.bootstrap_tokens or []
    ttl = data.options.token_ttl
    if configured:
        first = configured[0]
        ttl = ttl if ttl is not None else first.ttl if first.ttl is not None else tokens.DEFAULT_TTL
        if first.token:
            token = tokens.parse(first.token, ttl=ttl)
            existing = data.api().get("v1", "Secret", token.secret_name, constants.KUBE_SYSTEM)
            kept = tokens.from_secret(existing) if existing else None
            if kept and kept.secret == token.secret:
                return kept  # keep its expiration: re-running must not extend or rewrite it
            return _with(token, first.description, first.usages, first.groups)
    reusable = existing_kbs_token(data.api())
    if reusable is not None:
        return reusable
    return tokens.generate(ttl if ttl is not None else tokens.DEFAULT_TTL)


def _with(
    token: tokens.BootstrapToken, description: str | None, usages: list[str] | None, groups: list[str] | None
) -> tokens.BootstrapToken:
    return tokens.BootstrapToken(
        token.token_id,
        token.secret,
        description=description or tokens.KBS_DESCRIPTION,
        expiration=token.expiration,
        usages=tuple(usages or tokens.DEFAULT_USAGES),
        groups=tuple(groups or (tokens.DEFAULT_GROUP,)),
    )


def rbac_objects() -> list[Obj]:
    bootstrappers = [group(tokens.DEFAULT_GROUP)]
    return [
        cluster_role_binding("kubeadm:kubelet-bootstrap", "system:node-bootstrapper", bootstrappers),
        cluster_role_binding(
            "kubeadm:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            bootstrappers,
        ),
        cluster_role_binding(
            "kubeadm:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            [group(NODES_GROUP)],
        ),
        cluster_role("kubeadm:get-nodes", [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]),
        cluster_role_binding("kubeadm:get-nodes", "kubeadm:get-nodes", bootstrappers),
        # Since v1.36 kubeadm's apiserver-kubelet-client certificate carries no group, so the API server's calls to
        # a node's read API (logs, exec) are authorized through this binding, as kubeadm's tlsbootstrap phase does.
        cluster_role_binding(
            "kubeadm:apiserver-kubelet-client",
            "system:kubelet-api-admin",
            [user(constants.APISERVER_KUBELET_CLIENT_CN)],
        ),
    ]


def cluster_info_objects(data: InitData, token: tokens.BootstrapToken) -> list[Obj]:
    ca = data.cfg.cert_dir / "ca.crt"
    try:
        ca_pem = ca.read_bytes()
    except OSError as exc:
        raise PKIError(f"cannot read the cluster CA {ca}: {exc.strerror}", hint="run `kbs init phase certs`") from exc
    server = (data.real_cfg or data.cfg).api_server_url
    name = "kubeadm:bootstrap-signer-clusterinfo"
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [clusterinfo.NAME], "verbs": ["get"]}]
    return [
        clusterinfo.configmap(server, ca_pem, [token]),
        role(name, clusterinfo.NAMESPACE, rules),
        role_binding(name, clusterinfo.NAMESPACE, name, [user("system:anonymous")]),
    ]


def run(data: InitData) -> Outcome:
    token = choose_token(data)
    data.scratch["token"] = token
    objects = [tokens.secret_object(token), *rbac_objects(), *cluster_info_objects(data, token)]
    outcome = ensure_all(data, "bootstrap-token", objects)
    expiry = f"expires {token.expiration:%Y-%m-%d %H:%M} UTC" if token.expiration else "never expires"
    return Outcome(f"token {token.token_id} ({expiry}); {outcome.summary}", changed=outcome.changed)
