"""The few API calls a node makes, behind one interface: `NodeAPI`, with an HTTP implementation over httpx.

The reconciler talks to the API server as the kubelet does, with the node's own kubeconfig (kubelet.conf), so
the Node authorizer and NodeRestriction admission judge every call. Objects are plain dicts, exactly what the
API sends and takes. `HTTPNodeAPI` reads the kubeconfig with lightkube (the project's API client: TLS, client
certificates, exec plugins) and sends the requests itself, because the node needs what lightkube's Client does
not offer: DeleteOptions with a UID precondition, strategic-merge patches of subresources, a raw watch.

Errors: every failure is a bootstrap.errors.APIServerError. `status` is the HTTP status when the server answered
(403 forbidden, 404, 409 conflict, 422 invalid ...) and None when it could not be reached; `unreachable()` also
counts 429 and 5xx, the answers of a server that is starting or overloaded: wait and retry, never give up.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from bootstrap import __version__
from bootstrap.errors import APIServerError

Obj = dict[str, Any]
USER_AGENT = f"kbs-reconciler/{__version__}"
SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
WATCH_TIMEOUT = 300  # seconds the server keeps one watch open (it then ends it; we resume from the last version)


def unreachable(exc: APIServerError) -> bool:
    """True when the API server did not answer usefully (down, starting, overloaded): retry later."""
    return exc.status is None or exc.status == 429 or exc.status >= 500


def current_cluster(kubeconfig: Path) -> dict[str, Any]:
    """The `cluster` entry of the kubeconfig's current context (server, CA). Raises OSError, KeyError,
    StopIteration, TypeError or yaml.YAMLError for a missing or malformed file."""
    import yaml

    config = yaml.safe_load(kubeconfig.read_text())
    current = config.get("current-context")
    context = next(c["context"] for c in config["contexts"] if c["name"] == current)
    cluster: dict[str, Any] = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    return cluster


def server_accepts(kubeconfig: Path, timeout: float = 0.5) -> bool:
    """True when the API server the kubeconfig names accepts a TCP connection (it may not answer yet)."""
    import yaml

    try:
        url = urllib.parse.urlsplit(current_cluster(kubeconfig)["server"])
        with socket.create_connection((url.hostname or "", url.port or 443), timeout=timeout):
            return True
    except (OSError, ValueError, KeyError, TypeError, StopIteration, yaml.YAMLError):
        return False


class GoneError(APIServerError):
    """A watch's resourceVersion is too old (HTTP 410): list again."""


class NodeAPI(Protocol):
    """What the reconciler asks of the API server, as the node `system:node:<node>`."""

    def version(self) -> Obj: ...

    def get_node(self, name: str) -> Obj | None: ...

    def create_node(self, node: Obj) -> Obj: ...

    def patch_node(self, name: str, patch: Obj) -> Obj:
        """Strategic-merge patch of the Node's metadata (labels the node may set on itself)."""
        ...

    def patch_node_status(self, name: str, patch: Obj) -> Obj: ...

    def create_lease(self, lease: Obj) -> Obj: ...

    def patch_lease(self, namespace: str, name: str, patch: Obj) -> Obj: ...

    def list_pods(self, node: str) -> tuple[list[Obj], str]:
        """Every pod bound to `node` and the list's resourceVersion."""
        ...

    def watch_pods(self, node: str, resource_version: str, stop: threading.Event) -> Iterator[tuple[str, Obj]]:
        """(ADDED|MODIFIED|DELETED, pod) for pods bound to `node` until the server ends the watch; Gone if too old."""
        ...

    def create_pod(self, pod: Obj) -> Obj: ...

    def delete_pod(self, namespace: str, name: str, *, uid: str | None, grace_seconds: int = 0) -> None:
        """Delete with a grace period and, given `uid`, a UID precondition (409 when the pod is another one)."""
        ...

    def patch_pod_status(self, namespace: str, name: str, patch: Obj) -> Obj: ...

    def create_event(self, event: Obj) -> Obj: ...

    def patch_event(self, namespace: str, name: str, patch: Obj) -> Obj: ...

    def subject_access_review(self, review: Obj) -> Obj: ...

    def token_review(self, review: Obj) -> Obj: ...

    def close(self) -> None: ...


class HTTPNodeAPI:
    """`NodeAPI` over HTTPS with the credentials of a kubeconfig file (normally kubelet.conf)."""

    def __init__(self, kubeconfig: Path, *, timeout: float = 10.0) -> None:
        self.kubeconfig = kubeconfig
        self._timeout = timeout
        self._client = self._make_client(timeout, timeout)
        self._loaded = self._stamp()
        self._watch_lock = threading.Lock()
        self._watch_responses: list[Any] = []

    def _make_client(self, timeout: float, read_timeout: float) -> Any:
        import httpx2
        import lightkube
        from lightkube.config.client_adapter import Client, ConnectionParams

        try:
            config = lightkube.KubeConfig.from_file(self.kubeconfig).get()
            if config is None:
                raise lightkube.ConfigError("no current context")
            params = ConnectionParams(timeout=httpx2.Timeout(timeout, read=read_timeout), trust_env=False)
            client = Client(config, params)
        except (OSError, ValueError, KeyError, lightkube.ConfigError) as exc:
            raise APIServerError(
                f"cannot use kubeconfig {self.kubeconfig}: {exc}",
                hint="the reconciler needs the node's kubeconfig (kubelet.conf); run `kbs init phase kubeconfig`",
                status=0,
            ) from exc
        client.headers["User-Agent"] = USER_AGENT
        return client

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.kubeconfig.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_ino

    def _reload_if_renewed(self) -> None:
        """A kubeconfig rewritten since it was read (its client certificate renewed: kbs's automatic renewal
        replaces the file atomically) is read again, as the kubelet picks up its rotated client certificate."""
        stamp = self._stamp()
        if stamp is None or stamp == self._loaded:
            return
        try:
            fresh = self._make_client(self._timeout, self._timeout)
        except APIServerError:
            return  # keep the working client; try again at the next request
        old, self._client, self._loaded = self._client, fresh, stamp
        old.close()

    @property
    def server(self) -> str:
        return str(self._client.base_url)

    # --- transport --------------------------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        body: Obj | None = None,
        content_type: str = "application/json",
        params: Mapping[str, str] | None = None,
        missing_ok: bool = False,
    ) -> Obj | None:
        import httpx2

        headers = {"Accept": "application/json"}
        content = None
        if body is not None:
            content = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        self._reload_if_renewed()
        try:
            response = self._client.request(method, path, content=content, headers=headers, params=params)
        except httpx2.HTTPError as exc:
            raise APIServerError(
                f"cannot reach the API server at {self.server} to {what}: {exc}",
                hint="the reconciler keeps trying; check kube-apiserver (`kbs status`)",
            ) from exc
        if missing_ok and response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise _error(response, what, self.kubeconfig)
        if not response.content:
            return {}
        data: Obj = response.json()
        return data

    def _must(self, method: str, path: str, what: str, **kwargs: Any) -> Obj:
        result = self._request(method, path, what, **kwargs)
        assert result is not None
        return result

    # --- NodeAPI ----------------------------------------------------------------------------------------------
    def version(self) -> Obj:
        return self._must("GET", "/version", "read the API server version")

    def get_node(self, name: str) -> Obj | None:
        return self._request("GET", f"/api/v1/nodes/{name}", f"read Node {name}", missing_ok=True)

    def create_node(self, node: Obj) -> Obj:
        return self._must("POST", "/api/v1/nodes", f"register Node {node['metadata']['name']}", body=node)

    def patch_node(self, name: str, patch: Obj) -> Obj:
        return self._must("PATCH", f"/api/v1/nodes/{name}", f"update Node {name}", body=patch, content_type=SMP)

    def patch_node_status(self, name: str, patch: Obj) -> Obj:
        return self._must(
            "PATCH", f"/api/v1/nodes/{name}/status", f"update the status of Node {name}", body=patch, content_type=SMP
        )

    def create_lease(self, lease: Obj) -> Obj:
        meta = lease["metadata"]
        path = f"/apis/coordination.k8s.io/v1/namespaces/{meta['namespace']}/leases"
        return self._must("POST", path, f"create Lease {meta['namespace']}/{meta['name']}", body=lease)

    def patch_lease(self, namespace: str, name: str, patch: Obj) -> Obj:
        path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        return self._must("PATCH", path, f"renew Lease {namespace}/{name}", body=patch, content_type=MERGE)

    def list_pods(self, node: str) -> tuple[list[Obj], str]:
        data = self._must(
            "GET", "/api/v1/pods", f"list the pods of Node {node}", params={"fieldSelector": f"spec.nodeName={node}"}
        )
        return list(data.get("items") or []), str(data.get("metadata", {}).get("resourceVersion", ""))

    def watch_pods(self, node: str, resource_version: str, stop: threading.Event) -> Iterator[tuple[str, Obj]]:
        import httpx2

        params = {
            "watch": "true",
            "fieldSelector": f"spec.nodeName={node}",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_TIMEOUT),
        }
        # Its own connection: a watch blocks for minutes. The server ends it after WATCH_TIMEOUT; a read that
        # waits much longer means the connection is dead (a vanished host sends no FIN), so give up then.
        client = self._make_client(self._timeout, WATCH_TIMEOUT + 30.0)
        with self._watch_lock:
            self._watch_responses.append(client)
        try:
            with client.stream("GET", "/api/v1/pods", params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error(response, f"watch the pods of Node {node}", self.kubeconfig)
                for line in response.iter_lines():
                    if stop.is_set():
                        return
                    if not line.strip():
                        continue
                    item = json.loads(line)
                    kind, obj = str(item.get("type", "")), item.get("object") or {}
                    if kind == "ERROR":
                        code = int(obj.get("code") or 0)
                        message = str(obj.get("message", "watch error"))
                        if code == 410:
                            raise GoneError(f"watch of the pods of Node {node} expired: {message}", status=410)
                        raise APIServerError(f"watch of the pods of Node {node} failed: {message}", status=code or None)
                    yield kind, obj
        except httpx2.HTTPError as exc:
            if stop.is_set():
                return
            raise APIServerError(f"lost the watch of the pods of Node {node}: {exc}") from exc
        finally:
            with self._watch_lock:
                if client in self._watch_responses:
                    self._watch_responses.remove(client)
            client.close()

    def create_pod(self, pod: Obj) -> Obj:
        meta = pod["metadata"]
        path = f"/api/v1/namespaces/{meta['namespace']}/pods"
        return self._must("POST", path, f"create mirror pod {meta['namespace']}/{meta['name']}", body=pod)

    def delete_pod(self, namespace: str, name: str, *, uid: str | None, grace_seconds: int = 0) -> None:
        options: Obj = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": grace_seconds}
        if uid:
            options["preconditions"] = {"uid": uid}
        self._request(
            "DELETE",
            f"/api/v1/namespaces/{namespace}/pods/{name}",
            f"delete mirror pod {namespace}/{name}",
            body=options,
        )

    def patch_pod_status(self, namespace: str, name: str, patch: Obj) -> Obj:
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/status"
        return self._must("PATCH", path, f"update the status of pod {namespace}/{name}", body=patch, content_type=SMP)

    def create_event(self, event: Obj) -> Obj:
        namespace = event["metadata"]["namespace"]
        return self._must("POST", f"/api/v1/namespaces/{namespace}/events", "record an event", body=event)

    def patch_event(self, namespace: str, name: str, patch: Obj) -> Obj:
        path = f"/api/v1/namespaces/{namespace}/events/{name}"
        return self._must("PATCH", path, "update an event", body=patch, content_type=MERGE)

    def subject_access_review(self, review: Obj) -> Obj:
        path = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
        return self._must("POST", path, "authorize a read-API request", body=review)

    def token_review(self, review: Obj) -> Obj:
        path = "/apis/authentication.k8s.io/v1/tokenreviews"
        return self._must("POST", path, "authenticate a bearer token", body=review)

    def close(self) -> None:
        with self._watch_lock:
            watches, self._watch_responses = list(self._watch_responses), []
        for client in watches:  # ends a blocked watch: its read fails and the generator returns
            with contextlib.suppress(Exception):  # may race the reader's thread; the watch ends either way
                client.close()
        self._client.close()


def _error(response: Any, what: str, kubeconfig: Path) -> APIServerError:
    message = response.text.strip()[:300]
    reason = ""
    try:
        body = response.json()
        message = str(body.get("message") or message)
        reason = str(body.get("reason") or "")
    except ValueError:
        pass
    code = int(response.status_code)
    if code == 401:
        hint = f"the API server does not accept the credentials in {kubeconfig} (a node's kubelet.conf is needed)"
    elif code == 403:
        hint = "the Node authorizer or NodeRestriction refused: the node may only act on its own objects"
    else:
        hint = "the reconciler retries; the pods keep running on this node"
    return APIServerError(
        f"the API server refused to {what}: {message} (HTTP {code})", hint=hint, status=code, reason=reason
    )
