"""provider-kubernetes v1.2.1 as a local process, delivering `Object`s to the hub.

It runs as Crossplane's package manager would run it, minus the Pod: its CRDs are
applied from the pinned module, the cluster-scoped Object CRD's conversion webhook
points at the provider's own webhook server on 127.0.0.1:9443 (Crossplane would
point it at the provider's Service), and `--sanitize-secrets` keeps Secret data out
of every Object's status. Its ProviderConfigs reach the hub with an admin kubeconfig.
"""

from __future__ import annotations

import base64
import fcntl
import logging
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from tests.e2e.components import program, provider_kubernetes_crds
from tests.e2e.crossplane import NAMESPACE
from tests.e2e.kube import load_yaml
from tests.e2e.process import Process, start, wait_until
from tests.net import free_port
from tests.pki import Authority

if TYPE_CHECKING:
    from tests.e2e.kubernetes import KubeCluster

# Bound on all interfaces by the provider with no flag to move them.
FIXED_PORTS = {9443: "webhook", 8080: "metrics"}
CREDENTIALS_SECRET = "provider-kubernetes-hub"
LOCK = Path(tempfile.gettempdir()) / "function-gitops-cluster-e2e-ports.lock"
log = logging.getLogger("e2e")


@dataclass
class ProviderKubernetes:
    process: Process
    ports: IO[str]  # held while running: one provider per machine owns the fixed ports

    @classmethod
    def start(cls, hub: KubeCluster, workdir: Path) -> ProviderKubernetes:
        ports = _take_fixed_ports()
        try:
            return cls._start(hub, workdir, ports)
        except BaseException:
            ports.close()
            raise

    @classmethod
    def _start(cls, hub: KubeCluster, workdir: Path, ports: IO[str]) -> ProviderKubernetes:
        _require_free(FIXED_PORTS)
        workdir.mkdir(parents=True, exist_ok=True)
        ca = Authority.new("provider-kubernetes-webhook")
        cert, key = ca.issue("provider-kubernetes", server_names=("127.0.0.1",))
        (workdir / "tls.crt").write_bytes(cert)
        (workdir / "tls.key").write_bytes(key)
        hub.kube.apply_all(_crds(ca.cert_pem))
        _provider_configs(hub)
        health = free_port()
        process = start(
            "provider-kubernetes",
            [
                program("provider-kubernetes"),
                "--sanitize-secrets",
                f"--health-probe-bind-addr=127.0.0.1:{health}",
                "--poll=1m",
            ],
            workdir=workdir,
            env={"KUBECONFIG": str(hub.admin_kubeconfig), "TLS_SERVER_CERTS_DIR": str(workdir)},
        )
        wait_until(
            lambda: _connects(health) and _connects(9443),
            "provider-kubernetes to serve",
            process=process,
            timeout=60,
        )
        return cls(process=process, ports=ports)

    def stop(self) -> None:
        self.process.stop()
        self.ports.close()


def _crds(webhook_ca: bytes) -> list[dict]:
    crds = load_yaml(provider_kubernetes_crds())
    for crd in crds:
        conversion = crd["spec"].get("conversion") or {}
        if conversion.get("strategy") == "Webhook":
            conversion["webhook"]["clientConfig"] = {
                "url": "https://127.0.0.1:9443/convert",
                "caBundle": base64.b64encode(webhook_ca).decode(),
            }
    return crds


def _provider_configs(hub: KubeCluster) -> None:
    """`default` configs of both scopes, reaching the hub itself."""
    hub.kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": NAMESPACE},
        }
    )
    hub.kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": CREDENTIALS_SECRET, "namespace": NAMESPACE},
            "data": {"kubeconfig": base64.b64encode(hub.admin_kubeconfig.read_bytes()).decode()},
        }
    )
    credentials = {
        "source": "Secret",
        "secretRef": {"namespace": NAMESPACE, "name": CREDENTIALS_SECRET, "key": "kubeconfig"},
    }
    for api_version, kind in (
        ("kubernetes.m.crossplane.io/v1alpha1", "ClusterProviderConfig"),
        ("kubernetes.crossplane.io/v1alpha1", "ProviderConfig"),
    ):
        hub.kube.apply(
            {
                "apiVersion": api_version,
                "kind": kind,
                "metadata": {"name": "default"},
                "spec": {"credentials": credentials},
            }
        )


def _connects(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


def _take_fixed_ports(timeout: float = 1800) -> IO[str]:
    """Wait for any other live stack on this machine to finish with the fixed ports."""
    lock = LOCK.open("a")
    deadline = time.monotonic() + timeout
    waiting = False
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return lock
        except BlockingIOError:
            if time.monotonic() > deadline:
                lock.close()
                raise TimeoutError(f"another live stack held {LOCK} for {timeout:.0f}s") from None
            if not waiting:
                log.info("waiting for another live stack on this machine to stop (%s)", LOCK)
                waiting = True
            time.sleep(2)


def _require_free(ports: dict[int, str]) -> None:
    for port, what in ports.items():
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))  # noqa: S104 - the provider binds it so
            except OSError:
                msg = f"port {port} is taken; provider-kubernetes needs it for its {what} server"
                raise RuntimeError(msg) from None
