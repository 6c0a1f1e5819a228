"""etcd and Kubernetes API servers: the hub, and one stand-in per "new cloud cluster".

A cluster here is a kube-apiserver plus the kube-controller-manager's garbage
collector and namespace controllers (without them deleting an XR leaves its composed
resources, and Argo CD's foreground deletes hang). There is no scheduler or kubelet:
nothing runs Pods, so tests assert on objects and sync status, never on Health.
All API servers share one etcd, each under its own prefix.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tests.e2e.components import program
from tests.e2e.kube import Credentials, Kube
from tests.e2e.process import Process, start, wait_until
from tests.net import free_port
from tests.pki import Authority

if TYPE_CHECKING:
    from pathlib import Path

ADMIN_GROUP = "system:masters"


@dataclass
class Etcd:
    """One etcd member on loopback, fsync off: test data need not survive a crash."""

    url: str
    process: Process

    @classmethod
    def start(cls, workdir: Path) -> Etcd:
        client, peer = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
        process = start(
            "etcd",
            [
                program("etcd"),
                "--name=e2e",
                f"--data-dir={workdir / 'data'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=e2e={peer}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            workdir=workdir,
        )
        etcd = cls(url=client, process=process)
        wait_until(etcd.healthy, "etcd /health", process=process, timeout=30)
        return etcd

    def stop(self) -> None:
        self.process.stop()

    def healthy(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/health", timeout=2) as resp:  # noqa: S310
            return b'"health":"true"' in resp.read()


@dataclass
class KubeCluster:
    """A kube-apiserver and kube-controller-manager; `kube` talks to it as admin."""

    name: str
    ca: Authority
    kube: Kube
    workdir: Path
    processes: list[Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.kube.credentials.server

    @property
    def admin_kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    @classmethod
    def start(
        cls, name: str, etcd: Etcd, workdir: Path, tokens: dict[str, str] | None = None
    ) -> KubeCluster:
        """Start an API server; `tokens` maps static bearer tokens to users, who may do
        nothing until something binds them a role (as a cloud identity before its grant)."""
        workdir.mkdir(parents=True, exist_ok=True)
        ca = Authority.new(name)
        port = free_port()
        serving_cert, serving_key = ca.issue(name, server_names=("127.0.0.1", "localhost"))
        admin_cert, admin_key = ca.issue("admin", organizations=(ADMIN_GROUP,))
        _, sa_key = ca.issue("service-accounts")  # only the key: it signs and verifies tokens
        files = {
            "ca.crt": ca.cert_pem,
            "apiserver.crt": serving_cert,
            "apiserver.key": serving_key,
            "sa.key": sa_key,
            "tokens.csv": "".join(
                f"{token},{user},{user}\n" for token, user in (tokens or {}).items()
            ).encode(),
        }
        for file, data in files.items():
            (workdir / file).write_bytes(data)
        credentials = Credentials(
            server=f"https://127.0.0.1:{port}", ca=ca.cert_pem, cert=admin_cert, key=admin_key
        )
        cluster = cls(name=name, ca=ca, kube=Kube(credentials), workdir=workdir)
        cluster.admin_kubeconfig.write_bytes(credentials.kubeconfig(name))
        apiserver = start(
            f"{name}-kube-apiserver",
            [
                program("kube-apiserver"),
                f"--etcd-servers={etcd.url}",
                f"--etcd-prefix=/{name}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={port}",
                f"--tls-cert-file={workdir / 'apiserver.crt'}",
                f"--tls-private-key-file={workdir / 'apiserver.key'}",
                f"--client-ca-file={workdir / 'ca.crt'}",
                f"--token-auth-file={workdir / 'tokens.csv'}",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={workdir / 'sa.key'}",
                f"--service-account-signing-key-file={workdir / 'sa.key'}",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--authorization-mode=RBAC",
                "--endpoint-reconciler-type=none",
                f"--cert-dir={workdir}",
                "--profiling=false",
            ],
            workdir=workdir,
        )
        cluster.processes.append(apiserver)
        try:
            wait_until(
                cluster.kube.ready, f"{name} API server /readyz", process=apiserver, timeout=60
            )
            cluster.processes.append(
                start(
                    f"{name}-kube-controller-manager",
                    [
                        program("kube-controller-manager"),
                        f"--kubeconfig={cluster.admin_kubeconfig}",
                        "--controllers=garbagecollector,namespace",
                        "--leader-elect=false",
                        "--bind-address=127.0.0.1",
                        f"--secure-port={free_port()}",
                        f"--cert-dir={workdir / 'kcm'}",
                    ],
                    workdir=workdir,
                )
            )
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
