"""Running the real `crossplane render` and `crossplane resource validate`."""

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests import upstream_schemas
from tests.conftest import EXAMPLES, CrossplaneCLI

# Core Kubernetes kinds have no CRD; validate reports them as missing schemas.
CORE_V1 = "v1"


@dataclass(frozen=True)
class Example:
    """One examples/<folder> and the files `crossplane render` takes from it."""

    folder: str

    @property
    def path(self) -> Path:
        """The example's folder."""
        return EXAMPLES / self.folder

    @property
    def xr(self) -> Path:
        """The XR Crossplane would reconcile (for a claim, the XR made from it)."""
        return self.path / "xr.yaml"

    def files(self, *names: str) -> list[Path]:
        """The named files that exist in this example."""
        return [self.path / n for n in names if (self.path / n).exists()]

    @property
    def connection_secrets(self) -> list[Path]:
        """The provider's connection Secret, for `--required-resources` (AKS only)."""
        return self.files("connection-secret.yaml")


EXAMPLE_FOLDERS = (
    "aks-namespaced",
    "gke-namespaced",
    "aks-legacy-claim",
    "gke-cluster",
    "eks-namespaced",
    "eks-cluster",
)


def render(
    crossplane: CrossplaneCLI,
    example: Example,
    address: str,
    *,
    observed: Sequence[Path] = (),
    required: Sequence[Path] = (),
    xr: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Render an example with Crossplane's real reconciler against a running function."""
    argv = [
        str(crossplane.cli),
        "render",
        str(xr or example.xr),
        str(example.path / "composition.yaml"),
        str(EXAMPLES / "functions.yaml"),
        f"--crossplane-binary={crossplane.core}",
        f"--xrd={example.path / 'definition.yaml'}",
        f"--function-annotations=render.crossplane.io/runtime-development-target={address}",
        "--include-function-results",
    ]
    assert len(observed) <= 1, "render takes one observed-resources file"
    argv += [f"--observed-resources={p}" for p in observed]
    argv += [f"--required-resources={p}" for p in required]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def as_observed(resource: dict[str, Any]) -> dict[str, Any]:
    """A rendered composed resource as Crossplane observes it on the next reconcile."""
    observed = {**resource}
    if resource["kind"] != "Secret":
        ready = {"type": "Ready", "status": "True", "reason": "Available"}
        observed["status"] = {
            "conditions": [{**ready, "lastTransitionTime": "2026-11-26T08:20:00Z"}]
        }
    return observed


def documents(text: str) -> list[dict[str, Any]]:
    """The YAML stream as a list of objects."""
    return [d for d in yaml.safe_load_all(text) if d]


def composed(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Composed resources of a render by composition resource name."""
    return {
        d["metadata"]["annotations"]["crossplane.io/composition-resource-name"]: d
        for d in docs[1:]
        if d.get("kind") != "Result"
    }


def results(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The render's results (built from the reconciler's events)."""
    return [d for d in docs if d.get("kind") == "Result"]


def validate(
    crossplane: CrossplaneCLI, cache: Path, schemas: Sequence[Path], resources: Path
) -> list[dict[str, Any]]:
    """Validate resources against the pinned upstream schemas and these; every verdict.

    cache is the validate_cache fixture: it holds every package the pinned list names
    (tests/upstream_schemas.yaml), so validate resolves them without going online.
    """
    extensions = [*upstream_schemas.extensions(cache), *schemas]
    proc = subprocess.run(
        [
            str(crossplane.cli),
            "resource",
            "validate",
            f"--cache-dir={cache}",
            f"--crossplane-image={upstream_schemas.crossplane_image()}",
            "--output=json",
            ",".join(str(s) for s in extensions),
            str(resources),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        msg = f"validate printed no JSON (exit {proc.returncode}): {proc.stdout}{proc.stderr}"
        raise AssertionError(msg) from None
    return report["resources"]


def failures(verdicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Invalid objects, and missing schemas for anything but core v1 kinds."""
    return [
        v
        for v in verdicts
        if v["status"] == "invalid"
        or (v["status"] == "missingSchema" and v["apiVersion"] != CORE_V1)
    ]


VARIANTS = ("fresh", "observed", "registered")


def render_variant(
    crossplane: CrossplaneCLI, address: str, folder: str, variant: str, workdir: Path
) -> str:
    """Render one example at one point of its life.

    fresh: nothing exists yet. observed: the cloud resources exist and are Ready,
    and the provider has written the connection Secret. registered: additionally
    the Argo CD registration of the previous reconcile exists, with the identity
    grants (argocd-access*) composed beside it.
    """
    example = Example(folder)
    observed: list[Path] = []
    required: list[Path] = []
    if variant != "fresh":
        observed += example.files("observed.yaml")
        required += example.connection_secrets
    if variant == "registered":
        # --observed-resources takes one file or folder: combine both into one file.
        previous = render_variant(crossplane, address, folder, "observed", workdir)
        # The registration: argocd-cluster, with delivery Object its credentials Secret,
        # and the grants that let Argo CD's identity in.
        written = composed(documents(previous))
        registration = [
            as_observed(resource)
            for name, resource in written.items()
            if name in ("argocd-cluster", "argocd-cluster-credentials")
            or name.startswith("argocd-access")
        ]
        combined = workdir / f"{folder}-registered.yaml"
        docs = [d for p in observed for d in documents(p.read_text())] + registration
        combined.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        observed = [combined]
    proc = render(crossplane, example, address, observed=observed, required=required)
    assert proc.returncode == 0, f"render {folder} ({variant}) failed:\n{proc.stderr}"
    return proc.stdout
