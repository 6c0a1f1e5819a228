"""Crossplane core v2.4.0 against the hub, with `--package-runtime=External`.

`core init` installs Crossplane's CRDs and makes its TLS Secrets (retried: its CRDs
are not established on the first try); `core start` then runs every controller, with
the client certificate it presents to functions in a folder of its own.
"""

from __future__ import annotations

import base64
import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tests.e2e.components import crossplane_crds, program
from tests.e2e.process import Process, start, wait_until
from tests.net import free_port
from tests.pki import Authority

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.kubernetes import KubeCluster

NAMESPACE = "crossplane-system"
ROOT_CA_SECRET = "crossplane-root-ca"
CLIENT_SECRET = "crossplane-tls-client"
TLS_ENV = {
    "TLS_CA_SECRET_NAME": ROOT_CA_SECRET,
    "TLS_CLIENT_SECRET_NAME": CLIENT_SECRET,
    "TLS_SERVER_SECRET_NAME": "crossplane-tls-server",
    "ENABLE_WEBHOOKS": "false",
}


@dataclass
class Crossplane:
    """The running core, and the root CA it signs function certificates with."""

    process: Process
    root_ca: Authority

    @classmethod
    def start(cls, hub: KubeCluster, workdir: Path) -> Crossplane:
        workdir.mkdir(parents=True, exist_ok=True)
        env = {"KUBECONFIG": str(hub.admin_kubeconfig), **TLS_ENV}
        # Helm creates the namespace before Crossplane's init container runs.
        hub.kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        _init(env, workdir)
        secret = hub.kube.get("v1", "Secret", CLIENT_SECRET, NAMESPACE)
        client_dir = workdir / "tls-client"
        client_dir.mkdir(exist_ok=True)
        for key in ("ca.crt", "tls.crt", "tls.key"):
            (client_dir / key).write_bytes(base64.b64decode(secret["data"][key]))
        root = hub.kube.get("v1", "Secret", ROOT_CA_SECRET, NAMESPACE)["data"]
        cache = workdir / "cache"
        cache.mkdir(exist_ok=True)  # must exist, or unpacking fails with "closed pipe"
        health = free_port()
        process = start(
            "crossplane",
            [
                program("crossplane-core"),
                "core",
                "start",
                f"--namespace={NAMESPACE}",
                "--package-runtime=External",
                f"--cache-dir={cache}",
                f"--xfn-cache-dir={workdir / 'xfn-cache'}",
                f"--tls-client-certs-dir={client_dir}",
                f"--metrics-port={free_port()}",
                f"--health-probe-port={health}",
                f"--webhook-port={free_port()}",
            ],
            workdir=workdir,
            env=env,
        )
        wait_until(
            lambda: _ok(f"http://127.0.0.1:{health}/readyz"),
            "Crossplane /readyz",
            process=process,
            timeout=90,
        )
        ca = Authority.from_pem(
            base64.b64decode(root["tls.crt"]), base64.b64decode(root["tls.key"])
        )
        return cls(process=process, root_ca=ca)

    def stop(self) -> None:
        self.process.stop()


def _init(env: dict[str, str], workdir: Path, timeout: float = 120) -> None:
    """`crossplane core init`, until Crossplane's own CRDs are established."""
    deadline = time.monotonic() + timeout
    log = workdir / "crossplane-init.log"
    while True:
        with log.open("ab") as sink:
            done = subprocess.run(
                [
                    program("crossplane-core"),
                    "core",
                    "init",
                    f"--namespace={NAMESPACE}",
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env, "CRDS_PATH": str(crossplane_crds())},
                timeout=120,
                check=False,
            )
        if done.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"crossplane core init kept failing; see {log}")
        time.sleep(1)


def _ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310
        return resp.status == 200
