"""Argo CD v3.2.11 on the hub: Redis, the repo server, the application controller and
the ApplicationSet controller, with the configuration its install manifests create.

argocd-server is not run: it only serves the UI and API, and creates the `default`
AppProject, which is applied here instead. Every component listens on 127.0.0.1.
"""

from __future__ import annotations

import base64
import os
import secrets
import socket
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tests.e2e.components import argocd_manifests, program
from tests.e2e.kube import load_yaml
from tests.e2e.process import Process, start, wait_until
from tests.net import free_port

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.kubernetes import KubeCluster

NAMESPACE = "argocd"
APP_PROJECT = "argoproj.io/v1alpha1"


@dataclass
class ArgoCD:
    """The three Argo CD processes and the Redis they share."""

    processes: list[Process] = field(default_factory=list)

    @classmethod
    def start(cls, hub: KubeCluster, workdir: Path, path_prepend: Path) -> ArgoCD:
        """Start on `hub`; `path_prepend` holds commands the application controller may exec."""
        install(hub)
        argocd = cls()
        try:
            argocd._start(hub, workdir, path_prepend)
        except BaseException:
            argocd.stop()
            raise
        return argocd

    def _start(self, hub: KubeCluster, workdir: Path, path_prepend: Path) -> None:
        redis = f"127.0.0.1:{free_port()}"
        self._run(
            "redis",
            [
                program("redis-server"),
                "--bind",
                "127.0.0.1",
                "--port",
                redis.split(":")[1],
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            workdir,
        )
        wait_until(lambda: _connects(redis), "Redis", process=self.processes[-1])

        repo_port, repo_metrics = free_port(), free_port()
        repo_server = f"127.0.0.1:{repo_port}"
        self._run(
            "argocd-repo-server",
            [
                "--address=127.0.0.1",
                f"--port={repo_port}",
                "--disable-tls",
                f"--redis={redis}",
                f"--metrics-port={repo_metrics}",
            ],
            workdir,
            env={"ARGOCD_GPG_ENABLED": "false"},
        )
        wait_until(lambda: _connects(repo_server), "the repo server", process=self.processes[-1])

        controller_metrics = free_port()
        self._run(
            "argocd-application-controller",
            [
                f"--kubeconfig={hub.admin_kubeconfig}",
                f"--namespace={NAMESPACE}",
                f"--repo-server={repo_server}",
                "--repo-server-plaintext",
                f"--redis={redis}",
                f"--metrics-port={controller_metrics}",
            ],
            workdir,
            env={"PATH": f"{path_prepend}{os.pathsep}{os.environ['PATH']}"},
        )
        wait_until(
            lambda: _http_ok(f"http://127.0.0.1:{controller_metrics}/metrics"),
            "the application controller",
            process=self.processes[-1],
        )

        metrics = free_port()
        self._run(
            "argocd-applicationset-controller",
            [
                f"--namespace={NAMESPACE}",
                f"--argocd-repo-server={repo_server}",
                "--repo-server-plaintext",
                f"--metrics-addr=127.0.0.1:{metrics}",
                f"--probe-addr=127.0.0.1:{free_port()}",
                f"--webhook-addr=127.0.0.1:{free_port()}",
            ],
            workdir,
            # v3.2.11 ignores --kubeconfig here; it reads KUBECONFIG.
            env={"KUBECONFIG": str(hub.admin_kubeconfig)},
        )
        wait_until(
            lambda: _http_ok(f"http://127.0.0.1:{metrics}/metrics"),
            "the ApplicationSet controller",
            process=self.processes[-1],
        )

    def _run(
        self, name: str, args: list[str], workdir: Path, env: dict[str, str] | None = None
    ) -> None:
        argv = args if name == "redis" else [program("argocd"), *args]
        env = {**(env or {}), "ARGOCD_BINARY_NAME": name, "TMPDIR": str(workdir / name)}
        (workdir / name).mkdir(parents=True, exist_ok=True)
        self.processes.append(start(name, argv, workdir=workdir, env=env))

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def install(hub: KubeCluster) -> None:
    """CRDs, namespace, ConfigMaps and Secret of Argo CD's own manifests, and `default`."""
    hub.kube.apply_crds(load_yaml(argocd_manifests() / "crds"))
    hub.kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    for doc in load_yaml(argocd_manifests() / "base" / "config"):
        if doc["kind"] in ("ConfigMap", "Secret"):
            doc["metadata"]["namespace"] = NAMESPACE
            if doc["metadata"]["name"] == "argocd-secret":
                key = base64.b64encode(secrets.token_bytes(32)).decode()
                doc["data"] = {"server.secretkey": key}
            hub.kube.apply(doc)
    project(hub, "default")


def project(hub: KubeCluster, name: str) -> None:
    """An AppProject that may deploy anything anywhere, like Argo CD's `default`."""
    hub.kube.apply(
        {
            "apiVersion": APP_PROJECT,
            "kind": "AppProject",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {
                "sourceRepos": ["*"],
                "destinations": [{"server": "*", "namespace": "*"}],
                "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            },
        }
    )


def _connects(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=1):
        return True


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310
        return resp.status == 200
