"""A loopback OCI registry holding the function package, built and pushed as a user would.

`crossplane xpkg build` makes the package (no runtime image: the function runs as a
local process), `crossplane xpkg push` sends it; Crossplane pulls it over plain HTTP
because the registry's host is 127.0.0.1.
"""

from __future__ import annotations

import subprocess
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

from function.__version__ import __version__
from tests.e2e.components import ROOT, program
from tests.e2e.process import Process, start, wait_until
from tests.net import free_port

if TYPE_CHECKING:
    from pathlib import Path

REPOSITORY = "function-gitops-cluster"


@dataclass
class Registry:
    address: str
    process: Process

    @classmethod
    def start(cls, workdir: Path) -> Registry:
        address = f"127.0.0.1:{free_port()}"
        process = start(
            "oci-registry", [program("oci-registry"), f"--address={address}"], workdir=workdir
        )
        registry = cls(address=address, process=process)
        wait_until(registry.serving, "the OCI registry", process=process, timeout=30)
        return registry

    def serving(self) -> bool:
        with urllib.request.urlopen(f"http://{self.address}/v2/", timeout=2) as resp:
            return resp.status == 200

    def push_function(self, workdir: Path) -> str:
        """Build the package from package/ and push it; the reference a Function names."""
        xpkg = workdir / "function.xpkg"
        ref = f"{self.address}/{REPOSITORY}:v{__version__}"
        cli = program("crossplane")
        for argv in (
            [
                cli,
                "xpkg",
                "build",
                "--package-root=package",
                "--examples-root=examples",
                "-o",
                str(xpkg),
            ],
            [cli, "xpkg", "push", "-f", str(xpkg), ref],
        ):
            subprocess.run(argv, cwd=ROOT, check=True, capture_output=True, timeout=120)
        return ref

    def stop(self) -> None:
        self.process.stop()
