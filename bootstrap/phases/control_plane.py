"""The control-plane phase: kube-apiserver, kube-controller-manager and kube-scheduler manifests."""

from __future__ import annotations

from bootstrap.phases import manifests
from bootstrap.phases.context import InitData
from bootstrap.phases.workflow import Outcome


def run(data: InitData) -> Outcome:
    return manifests.write(data, "control-plane", manifests.control_plane_components())
