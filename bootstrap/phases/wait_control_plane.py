"""The wait-control-plane phase: poll the four health endpoints until all answer 200, or diagnose why not.

Each component is probed on its own thread every 200 ms (kubeadm: 500 ms) until it answers once, for up to
reconciler.waitTimeout (4m by default, or --timeout). On a terminal the state of each component is a live table;
otherwise one line per component when it turns healthy. On timeout kbs does not print advice to go and look: it
looks, and prints for each unhealthy component its last probe answer, its container's state and restart count, and
the last lines of its log.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bootstrap import constants
from bootstrap.errors import WaitTimeoutError
from bootstrap.phases import health
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome

POLL_INTERVAL = 0.2  # kubeadm polls every 500 ms; probes are cheap and every 100 ms of slack shows in init time
LOG_LINES = 12


@dataclass
class WaitState:
    start: float
    components: list[str] = field(default_factory=list)
    last: dict[str, health.Probe] = field(default_factory=dict)
    healthy_after: dict[str, float] = field(default_factory=dict)

    def all_healthy(self) -> bool:
        return bool(self.components) and all(c in self.healthy_after for c in self.components)


def poll(
    data: InitData,
    timeout: float,
    *,
    on_round: Callable[[WaitState], None] = lambda _: None,
    probe: Callable[[health.Endpoint], health.Probe] = health.probe,
    interval: float = POLL_INTERVAL,
    clock: Callable[[], float] = time.monotonic,
) -> WaitState:
    """Probe every component on its own thread until it answers 200 once (kubeadm waits for each the same way),
    so a slow or hanging endpoint delays only its own verdict. `on_round` sees the state every `interval` and
    at each change; returns when all are healthy or `timeout` passed."""
    targets = health.endpoints(data.cfg)
    state = WaitState(start=clock(), components=[t.component for t in targets])
    changed = threading.Condition()
    done = threading.Event()

    def watch(endpoint: health.Endpoint) -> None:
        while not done.is_set():
            result = probe(endpoint)
            with changed:
                state.last[endpoint.component] = result
                if result.healthy:
                    state.healthy_after[endpoint.component] = clock() - state.start
                changed.notify_all()
            if result.healthy:
                return
            done.wait(interval)

    for target in targets:
        threading.Thread(target=watch, args=(target,), name=f"wait-{target.component}", daemon=True).start()
    try:
        with changed:
            while True:
                on_round(state)
                if state.all_healthy() or clock() - state.start >= timeout:
                    return state
                changed.wait(interval)
    finally:
        done.set()


def _table(state: WaitState, elapsed: float) -> object:
    from rich.table import Table

    table = Table(box=None, show_header=False, pad_edge=False)
    for component, probe in state.last.items():
        mark = "[green]healthy[/]" if probe.healthy else f"[yellow]waiting[/] {probe.detail}"
        after = state.healthy_after.get(component)
        table.add_row(f"  {component}", mark, f"{after:.1f}s" if after is not None else f"{elapsed:.0f}s")
    return table


def _check_reconciler(data: InitData, state: WaitState) -> None:
    """Fail fast when the bundled reconciler died: nothing will ever become healthy then."""
    from bootstrap.phases import supervise

    if state.all_healthy() or data.cfg.kbs.reconciler.mode != "bundled":
        return
    current = supervise.state(data.cfg)
    if current.running:
        return
    for line in supervise.log_tail(data.cfg):
        data.out.detail(f"  {line}")
    where = f"journalctl -u {supervise.UNIT}" if current.how == "systemd" else str(supervise.logfile(data.cfg))
    raise WaitTimeoutError(
        f"the bundled reconciler is not running ({current.detail}); its last log lines are above",
        hint=f"see {where}; `kbs init` starts it again",
    )


def diagnose(data: InitData, state: WaitState) -> list[str]:
    """Lines explaining each unhealthy component: probe answer, container state and restarts, log tail."""
    from bootstrap.phases import containers as ctr

    lines: list[str] = []
    mode = data.cfg.kbs.reconciler.mode
    for component, probe in state.last.items():
        if probe.healthy:
            continue
        lines.append(f"{component}: not healthy — {probe.url} answered: {probe.detail}")
        if mode != "bundled":
            lines.append(f"  (the {mode} runtime runs it; inspect it there, e.g. `crictl ps -a --name {component}`)")
            continue
        try:
            found = ctr.list_pod_containers(data.cfg, constants.KUBE_SYSTEM, f"{component}-{data.cfg.node_name}")
        except Exception as exc:  # the diagnosis reports what it could not learn
            lines.append(f"  cannot list its containers: {exc}")
            continue
        latest = ctr.current(found, component)
        if latest is None:
            lines.append("  no container was ever started for it (is the reconciler running? `kbs status`)")
            continue
        exit_text = f", exit code {latest.exit_code}" if latest.exit_code is not None else ""
        lines.append(f"  container {latest.name}: {latest.state}{exit_text}, restarts {latest.restart_count}")
        tail = ctr.logs(data.cfg, latest.id, LOG_LINES)
        if tail:
            lines.append(f"  last {len(tail)} log lines:")
            lines += [f"    {line}" for line in tail]
    return lines


def run(data: InitData) -> Outcome:
    if data.dry_run:
        for component in data.scratch.get("manifests", []):
            data.out.detail(f"[dryrun] would wait for {component} to become healthy")
        return Outcome("dry run: not waiting")
    if data.cfg.kbs.reconciler.mode == "none":
        return Outcome(f"--reconciler none: the manifests are in {data.cfg.manifests_dir}; not waiting", stop=True)
    timeout = (data.options.wait_timeout or data.cfg.kbs.reconciler.wait_timeout).total_seconds()
    data.out.line(
        "wait-control-plane", f"waiting up to {timeout:.0f}s for etcd, kube-apiserver, controller-manager, scheduler"
    )
    if data.options.interactive:
        state = _poll_live(data, timeout)
    else:
        reported: set[str] = set()

        def report(state: WaitState) -> None:
            _check_reconciler(data, state)
            for component, after in state.healthy_after.items():
                if component not in reported:
                    reported.add(component)
                    data.out.detail(f"{component} healthy after {after:.1f}s")

        state = poll(data, timeout, on_round=report)
    if not state.all_healthy():
        unhealthy = [c for c, p in state.last.items() if not p.healthy]
        for line in diagnose(data, state):
            data.out.detail(line)
        raise WaitTimeoutError(
            f"the control plane is not healthy after {timeout:.0f}s: {', '.join(unhealthy)}",
            hint="the diagnosis above shows each component's container and log; fix the cause and run `kbs init` again",
        )
    slowest = max(state.healthy_after.values(), default=0.0)
    through = _wait_endpoint(data, timeout)
    return Outcome(f"all {len(state.last)} components healthy after {slowest:.1f}s{through}")


ENDPOINT_SUCCESSES = 2  # answers in a row through the endpoint before the API calls of the next phases go there


def _wait_endpoint(data: InitData, timeout: float) -> str:
    """With a controlPlaneEndpoint (a load balancer), wait until the API server answers through it too: the next
    phases talk to the cluster there (admin.conf), and a load balancer admits a backend only after its own health
    checks. Returns the text added to the outcome."""
    cfg = data.cfg
    if not cfg.control_plane_endpoint:
        return ""
    endpoint = health.Endpoint("controlPlaneEndpoint", f"{cfg.api_server_url}/readyz", cfg.cert_dir / "ca.crt")
    start = time.monotonic()
    deadline = start + timeout
    ok, last = 0, None
    while ok < ENDPOINT_SUCCESSES:
        last = health.probe(endpoint)
        ok = ok + 1 if last.healthy else 0
        if ok < ENDPOINT_SUCCESSES:
            if time.monotonic() >= deadline:
                raise WaitTimeoutError(
                    f"the API server does not answer through the controlPlaneEndpoint {cfg.control_plane_endpoint} "
                    f"after {timeout:.0f}s: {last.detail}",
                    hint="check the load balancer in front of the API servers (its backends, its health checks on "
                    "/readyz); this node's own API server is healthy",
                )
            time.sleep(POLL_INTERVAL)
    return f"; the endpoint {cfg.control_plane_endpoint} answers after {time.monotonic() - start:.1f}s more"


def _poll_live(data: InitData, timeout: float) -> WaitState:
    from rich.console import Console
    from rich.live import Live

    console = Console(stderr=False)
    start = time.monotonic()
    with Live(console=console, refresh_per_second=4, transient=True) as live:

        def update(state: WaitState) -> None:
            _check_reconciler(data, state)
            live.update(_table(state, time.monotonic() - start))  # type: ignore[arg-type]

        state = poll(data, timeout, on_round=update)
    for component, after in state.healthy_after.items():
        data.out.detail(f"{component} healthy after {after:.1f}s")
    return state
