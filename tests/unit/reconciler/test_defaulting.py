"""The kubelet's static-pod defaulting and validation: names, UID, annotations, scheme defaults, rejections."""

from __future__ import annotations

import json

import pytest

from bootstrap.reconciler import defaulting, model
from bootstrap.reconciler.errors import InvalidManifestError

from .conftest import IMAGE, NODE, pod

BASE = f"""
apiVersion: v1
kind: Pod
metadata: {{name: web, labels: {{app: web}}}}
spec:
  containers:
  - name: c
    image: {IMAGE}
"""


def test_name_gets_the_lower_cased_node_suffix_and_namespace_defaults() -> None:
    p = pod(BASE)
    assert p.name == "web-node-1" and p.namespace == "default"
    assert p.manifest["spec"]["nodeName"] == NODE
    assert p.manifest["status"] == {"phase": "Pending"}


def test_uid_is_32_hex_deterministic_and_depends_on_content_node_and_file() -> None:
    a, b = pod(BASE), pod(BASE)
    assert a.uid == b.uid and len(a.uid) == 32 and int(a.uid, 16) >= 0
    assert pod(BASE, origin="/other/path.yaml").uid != a.uid
    assert pod(BASE.replace("app: web", "app: other")).uid != a.uid
    other_node = defaulting.static_pod_from_document(
        json.loads(json.dumps(_doc())), node_name="node-2", source="file", origin="/etc/kubernetes/manifests/p.yaml"
    )
    assert other_node.uid != a.uid
    assert a.annotations[defaulting.CONFIG_HASH] == a.uid
    assert a.annotations[defaulting.CONFIG_SOURCE] == "file"


def _doc() -> dict[str, object]:
    import yaml

    loaded: dict[str, object] = yaml.safe_load(BASE)
    return loaded


def test_url_pods_hash_only_the_url_and_get_no_toleration() -> None:
    a = pod(BASE, origin="http://x/pods", source="http")
    b = defaulting.static_pod_from_document(_doc(), node_name="elsewhere", source="http", origin="http://x/pods")
    assert a.uid == b.uid
    assert "tolerations" not in a.manifest["spec"]
    assert a.annotations[defaulting.CONFIG_SOURCE] == "http"


def test_a_uid_written_in_the_manifest_is_kept() -> None:
    p = pod(BASE.replace("metadata: {name: web,", "metadata: {name: web, uid: fixed-uid,"))
    assert p.uid == "fixed-uid" and p.annotations[defaulting.CONFIG_HASH] == "fixed-uid"


def test_file_pods_tolerate_every_no_execute_taint() -> None:
    assert pod(BASE).manifest["spec"]["tolerations"] == [{"operator": "Exists", "effect": "NoExecute"}]


def test_scheme_defaults_that_matter_for_running() -> None:
    p = pod(
        BASE
        + """    ports: [{containerPort: 80}]
    livenessProbe: {httpGet: {port: 80}}
    resources: {limits: {cpu: 500m, memory: 64Mi}}
  hostNetwork: true
"""
    )
    spec = p.manifest["spec"]
    c = spec["containers"][0]
    assert spec["restartPolicy"] == "Always" and spec["terminationGracePeriodSeconds"] == 30
    assert spec["dnsPolicy"] == "ClusterFirst" and spec["schedulerName"] == "default-scheduler"
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP", "hostPort": 80}]
    assert c["livenessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert c["resources"]["requests"] == {"cpu": "500m", "memory": "64Mi"}
    probe = p.spec.containers[0].liveness
    assert probe is not None and probe.period == 10 and probe.failure_threshold == 3


@pytest.mark.parametrize(
    ("image", "policy"),
    [("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"), ("r.io:5000/x", "Always"),
     ("r.io:5000/x:v1", "IfNotPresent"), ("x@sha256:abc", "IfNotPresent")],
)  # fmt: skip
def test_image_pull_policy_defaults_from_the_tag(image: str, policy: str) -> None:
    assert defaulting.default_pull_policy(image) == policy


def test_only_the_first_yaml_document_counts_and_json_works() -> None:
    text = BASE + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: second}\n"
    p = defaulting.pods_from_bytes(text.encode(), node_name=NODE, source="file", origin="/m/p.yaml")
    assert p.name == "web-node-1"
    as_json = defaulting.pods_from_bytes(json.dumps(_doc()).encode(), node_name=NODE, source="file", origin="/m/p.json")
    assert as_json.uid == pod(BASE, origin="/m/p.json").uid


def test_dates_stay_strings() -> None:
    p = pod(BASE.replace("app: web", "since: 2024-01-01"))
    assert p.labels["since"] == "2024-01-01"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("apiVersion: v1\nkind: PodList\nitems: []\n", "expected apiVersion v1, kind Pod, found v1/PodList"),
        ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n", "found apps/v1/Deployment"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {}\nspec: {}\n", "name is needed for the pod"),
        ("{ not yaml", "not valid YAML or JSON"),
        ("- a\n- b\n", "not a mapping"),
        (BASE.replace(f"    image: {IMAGE}\n", ""), "spec.containers[0].image: required"),
        (BASE.replace("name: c", "name: C_bad"), "spec.containers[0].name: 'C_bad' must be a lower-case DNS label"),
        (BASE + "  restartPolicy: Sometimes\n", "spec.restartPolicy: must be Always, OnFailure or Never"),
        (BASE + "  serviceAccountName: default\n", "static pods may not reference serviceaccounts"),
        (BASE + "  volumes: [{name: s, secret: {secretName: x}}]\n", "static pods may not reference secrets"),
        (BASE + "    env: [{name: X, valueFrom: {configMapKeyRef: {name: a}}}]\n", "may not reference configmaps"),
        (BASE + "    livenessProbe: {exec: {command: [x]}, successThreshold: 2}\n", "must be 1 for livenessProbe"),
        (BASE + "    volumeMounts: [{name: nope, mountPath: /x}]\n", "no volume named 'nope'"),
        (BASE + "  volumes: [{name: h, hostPath: {path: /x, type: Odd}}]\n", "spec.volumes[0].hostPath.type: must be"),
        (BASE + "    resources: {requests: {cpu: 2}, limits: {cpu: 1}}\n", "cpu request must not exceed its limit"),
    ],
)  # fmt: skip
def test_invalid_manifests_are_rejected_with_the_field_and_reason(text: str, message: str) -> None:
    with pytest.raises(InvalidManifestError) as caught:
        defaulting.pods_from_bytes(text.encode(), node_name=NODE, source="file", origin="/m/x.yaml")
    assert message in caught.value.message


def test_semantic_equality_ignores_local_annotations() -> None:
    a, b = pod(BASE), pod(BASE)
    a.annotations[defaulting.CONFIG_SEEN] = "then"
    b.annotations[defaulting.CONFIG_SEEN] = "now"
    assert defaulting.semantically_equal(a, b)
    assert not defaulting.semantically_equal(a, pod(BASE.replace("app: web", "app: x")))


def test_seen_timestamp_has_nine_fraction_digits() -> None:
    from datetime import UTC, datetime

    stamp = defaulting.seen_timestamp(datetime(2021, 8, 29, 1, 50, 33, 334534, tzinfo=UTC))
    assert stamp == "2021-08-29T01:50:33.334534000Z"


def test_typed_spec_reads_volumes_env_and_security() -> None:
    p = pod(
        BASE
        + """    command: [agnhost]
    args: [netexec]
    env:
    - {name: A, value: x}
    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    securityContext: {runAsUser: 1000, privileged: true}
    volumeMounts: [{name: data, mountPath: /data, readOnly: true}, {name: scratch, mountPath: /tmp}]
  securityContext: {runAsGroup: 3000}
  volumes:
  - {name: data, hostPath: {path: /srv/data, type: DirectoryOrCreate}}
  - {name: scratch}
"""
    )
    c = p.spec.containers[0]
    assert c.command == ("agnhost",) and c.args == ("netexec",)
    assert c.env[1].field_path == "spec.nodeName"
    assert c.security.run_as_user == 1000 and c.security.run_as_group == 3000 and c.security.privileged
    assert p.spec.volume("data") == model.HostPathVolume("/srv/data", "DirectoryOrCreate")
    assert p.spec.volume("scratch") == model.EmptyDirVolume()
    assert c.volume_mounts[0].read_only
