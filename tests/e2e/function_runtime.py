"""The function, served over mTLS the way Crossplane's package runtime serves it.

Crossplane core runs with `--package-runtime=External`: something else must do what
its Deployment runtime does. This module is that something, and only that: it signs
the function's server certificate with Crossplane's root CA (SAN 127.0.0.1, the
address Crossplane dials and checks), starts the function's own `function` entry
point with TLS_SERVER_CERTS_DIR as a Deployment would set it, stores the certificate
in a Secret and reports the endpoint and health on the FunctionRevision.
"""

from __future__ import annotations

import base64
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.e2e.crossplane import NAMESPACE
from tests.e2e.kube import condition, timestamp
from tests.e2e.process import Process, start, wait_until
from tests.net import free_port, wait_for_port

if TYPE_CHECKING:
    from tests.e2e.kubernetes import KubeCluster
    from tests.pki import Authority

FUNCTION = "function-gitops-cluster"
SERVER_SECRET = f"{FUNCTION}-tls-server"


@dataclass
class FunctionRuntime:
    address: str
    tls: dict[str, bytes]
    process: Process

    @classmethod
    def start(cls, root_ca: Authority, workdir: Path) -> FunctionRuntime:
        cert, key = root_ca.issue(FUNCTION, server_names=("127.0.0.1",))
        tls = {"tls.crt": cert, "tls.key": key, "ca.crt": root_ca.cert_pem}
        certs = workdir / "tls"
        certs.mkdir(parents=True, exist_ok=True)
        for name, data in tls.items():
            (certs / name).write_bytes(data)
        (certs / "tls.key").chmod(0o600)
        address = f"127.0.0.1:{free_port()}"
        entry_point = str(Path(sys.executable).parent / "function")
        process = start(
            "function",
            [entry_point, f"--address={address}"],
            workdir=workdir,
            env={"TLS_SERVER_CERTS_DIR": str(certs)},
        )
        wait_for_port(address, process.popen)
        return cls(address=address, tls=tls, process=process)

    def serve_revision(self, hub: KubeCluster, revision: dict) -> None:
        """What the Deployment runtime reports once the function's Pod is up."""
        hub.kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": SERVER_SECRET, "namespace": NAMESPACE},
                "type": "kubernetes.io/tls",
                "data": {k: base64.b64encode(v).decode() for k, v in self.tls.items()},
            }
        )
        conditions = [
            c
            for c in revision.get("status", {}).get("conditions", [])
            if c["type"] != "RuntimeHealthy"
        ]
        conditions.append(
            {
                "type": "RuntimeHealthy",
                "status": "True",
                "reason": "HealthyPackageRevision",
                "lastTransitionTime": timestamp(),
            }
        )
        hub.kube.patch(
            revision,
            {
                "status": {
                    "endpoint": self.address,
                    "tlsServerSecretName": SERVER_SECRET,
                    "conditions": conditions,
                }
            },
            subresource="status",
        )

    def stop(self) -> None:
        self.process.stop()


def install(hub: KubeCluster, runtime: FunctionRuntime, package: str) -> None:
    """Install the Function from the registry, then play its runtime until it is Healthy."""
    hub.kube.apply(
        {
            "apiVersion": "pkg.crossplane.io/v1",
            "kind": "Function",
            "metadata": {"name": FUNCTION},
            "spec": {"package": package},
        }
    )
    revision = wait_until(
        lambda: hub.kube.list(
            "pkg.crossplane.io/v1",
            "FunctionRevision",
            labels=f"pkg.crossplane.io/package={FUNCTION}",
        ),
        "Crossplane to unpack the package into a FunctionRevision",
        process=runtime.process,
    )[0]
    runtime.serve_revision(hub, revision)
    wait_until(
        lambda: (
            condition(hub.kube.get("pkg.crossplane.io/v1", "Function", FUNCTION), "Healthy").get(
                "status"
            )
            == "True"
        ),
        "the Function to be Healthy",
        timeout=90,
    )
