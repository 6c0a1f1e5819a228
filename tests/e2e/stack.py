"""The whole live pipeline, started in order and stopped in reverse, pass or fail.

    etcd -> hub API server -> Crossplane core -> cloud provider CRDs ->
    provider-kubernetes -> OCI registry + function package -> the function (mTLS) ->
    Argo CD (Redis, repo server, application and ApplicationSet controllers) ->
    app repository + example ApplicationSets -> example XRDs and Compositions

Stand-in clusters (one API server each, for each "new cloud cluster") start on demand.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tests.e2e import argocd
from tests.e2e.apps import AppRepository
from tests.e2e.argocd import ArgoCD
from tests.e2e.cloud import TOKENS, Cloud, calls_file, write_auth_plugin
from tests.e2e.components import ROOT
from tests.e2e.crossplane import Crossplane
from tests.e2e.function_runtime import FUNCTION, FunctionRuntime, install
from tests.e2e.kube import condition, load_yaml
from tests.e2e.kubernetes import Etcd, KubeCluster
from tests.e2e.process import Process, running, stop_all, wait_until
from tests.e2e.provider_kubernetes import ProviderKubernetes
from tests.e2e.registry import Registry

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger("e2e")
TTL = "15s"
CLOUD_CRDS = ("provider-upjet-azure", "provider-upjet-gcp", "provider-upjet-aws")
EXAMPLES = ROOT / "examples"


@dataclass
class Stack:
    workdir: Path
    hub: KubeCluster
    cloud: Cloud
    apps: AppRepository
    started_in: float
    etcd: Etcd
    # The arguments Argo CD ran the stand-in argocd-k8s-auth with, one call per line.
    auth_calls: Path
    _exit: contextlib.ExitStack
    timings: dict[str, float] = field(default_factory=dict)
    _standins: list[KubeCluster] = field(default_factory=list)

    @classmethod
    def up(cls, workdir: Path, crds: Path) -> Stack:
        """Start everything; `crds` holds the upstream CRDs as ../shared/crds lays them out."""
        begin = time.monotonic()
        with contextlib.ExitStack() as exit_stack:
            exit_stack.callback(stop_all)  # whatever a failed start left behind

            def started(component: object, what: str) -> object:
                exit_stack.callback(component.stop)  # type: ignore[attr-defined]
                log.info("started %s (%.1fs)", what, time.monotonic() - begin)
                return component

            etcd = started(Etcd.start(workdir / "etcd"), "etcd")
            hub = started(KubeCluster.start("hub", etcd, workdir / "hub"), "the hub API server")
            xp = started(Crossplane.start(hub, workdir / "crossplane"), "Crossplane core")
            hub.kube.apply_crds([d for f in CLOUD_CRDS for d in load_yaml(crds / f)])
            started(
                ProviderKubernetes.start(hub, workdir / "provider-kubernetes"),
                "provider-kubernetes",
            )
            registry = started(Registry.start(workdir / "registry"), "the OCI registry")
            package = registry.push_function(workdir / "registry")
            runtime = started(
                FunctionRuntime.start(xp.root_ca, workdir / "function"), "the function"
            )
            install(hub, runtime, package)
            log.info("installed Function %s (%.1fs)", package, time.monotonic() - begin)
            plugins = write_auth_plugin(workdir / "argocd" / "bin")
            started(ArgoCD.start(hub, workdir / "argocd", plugins), "Argo CD")
            apps = AppRepository.create(workdir / "git")
            hub.kube.apply_all(apps.applicationsets())
            _install_examples(hub)
            stack = cls(
                workdir=workdir,
                hub=hub,
                cloud=Cloud(hub.kube),
                apps=apps,
                started_in=time.monotonic() - begin,
                etcd=etcd,
                auth_calls=calls_file(plugins),
                _exit=exit_stack.pop_all(),
            )
        log.info("stack up in %.1fs; logs in %s", stack.started_in, workdir)
        return stack

    def standin(self, name: str) -> KubeCluster:
        """A new, empty cluster for the cloud to hand out; stopped with the stack."""
        number = len(self._standins) + 1
        cluster = KubeCluster.start(
            f"{name}-{number}", self.etcd, self.workdir / f"standin-{number}", TOKENS
        )
        self._standins.append(cluster)
        self._exit.callback(cluster.stop)
        return cluster

    def processes(self) -> list[Process]:
        """Every process the stack runs now, stand-in clusters included."""
        return running()

    def resident_mib(self) -> tuple[dict[str, float], dict[str, float]]:
        """Resident memory (MiB) of the stack by component, and of each stand-in cluster."""
        clusters = dict.fromkeys((c.name for c in self._standins), 0.0)
        core: dict[str, float] = {}
        for process in self.processes():
            out = subprocess.run(
                ["ps", "-o", "rss=", "-g", str(process.pid)],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            mib = sum(int(x) for x in out.split()) / 1024
            owner = next((n for n in clusters if process.name.startswith(f"{n}-")), None)
            if owner:
                clusters[owner] += mib
            else:
                core[process.name] = mib
        return core, clusters

    def down(self) -> None:
        try:
            self._exit.close()
        finally:
            stop_all()


def _install_examples(hub: KubeCluster) -> None:
    """Every example XRD and Composition, as a platform team installs them."""
    definitions = [d for f in sorted(EXAMPLES.glob("*/definition.yaml")) for d in load_yaml(f)]
    hub.kube.apply_all(definitions)
    for xrd in definitions:
        wait_until(
            lambda xrd=xrd: (
                condition(
                    hub.kube.get(xrd["apiVersion"], xrd["kind"], xrd["metadata"]["name"]),
                    "Established",
                ).get("status")
                == "True"
            ),
            f"XRD {xrd['metadata']['name']} to be established",
        )
    compositions = [d for f in sorted(EXAMPLES.glob("*/composition.yaml")) for d in load_yaml(f)]
    for composition in compositions:
        for step in composition["spec"]["pipeline"]:
            if step["functionRef"]["name"] == FUNCTION:
                # Crossplane calls again after meta.ttl: how soon a rotated or vanished
                # connection Secret is noticed (default 60s; README, "Watch it live").
                step["input"]["ttl"] = TTL
    hub.kube.apply_all(compositions)
    for project in ("team-a", "team-b", "team-c", "payments", "platform"):
        argocd.project(hub, project)
