"""Where the live suite finds its programs: built by `make e2e-tools` into .tools/bin.

Go modules under tools/ pin every component; their source folders (for CRDs and
Argo CD's default config) come from the Go module cache those builds filled.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("CROSSPLANE_TOOLS_BIN", ROOT / ".tools" / "bin"))

PROGRAMS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kubectl",
    "crossplane",
    "crossplane-core",
    "oci-registry",
    "provider-kubernetes",
    "argocd",
)


def program(name: str) -> str:
    """Absolute path of a built program (or of redis-server / git on PATH)."""
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(name)
    return found


def missing() -> list[str]:
    """What the suite needs and this machine lacks, for the skip reason."""
    gone = [f".tools/bin/{p}" for p in PROGRAMS if not (BIN / p).exists()]
    gone += [p for p in ("redis-server", "git", "go") if not shutil.which(p)]
    return gone


@functools.cache
def module_dir(tools_dir: str, module: str) -> Path:
    """A pinned module's source folder in the Go module cache."""
    out = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", module],
        cwd=ROOT / "tools" / tools_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def crossplane_crds() -> Path:
    return module_dir(".", "github.com/crossplane/crossplane/v2") / "cluster" / "crds"


def provider_kubernetes_crds() -> Path:
    return (
        module_dir("provider-kubernetes", "github.com/crossplane-contrib/provider-kubernetes")
        / "package"
        / "crds"
    )


def argocd_manifests() -> Path:
    """Argo CD's install manifests: `crds/` and `base/config/` are what the suite applies."""
    return module_dir("argocd", "github.com/argoproj/argo-cd/v3") / "manifests"
