"""Write the Input CRD and the example XRDs from the pydantic models.

python hack/generate.py          # rewrite the files
python hack/generate.py --check  # exit 1 if any file is stale (CI)
"""

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from function import inputs
from function.schema import openapi_schema, prune
from function.status import CompositeStatus
from function.xr import ClusterSpec, Scope

ROOT = Path(__file__).resolve().parent.parent
GROUP = "platform.example.org"
XR_VERSION = "v1alpha1"
INPUT_CRD = ROOT / "package" / "input" / f"{inputs.GROUP}_inputs.yaml"

# Fields only one cloud has; the other clouds' XRDs leave them out.
AKS_ONLY = ("resourceGroupName", "argocd.workloadIdentity")
EKS_ONLY = ("subnetIds", "clusterRoleArn", "nodeRoleArn")
CLOUD_ONLY = {"AKS": EKS_ONLY, "GKE": AKS_ONLY + EKS_ONLY, "EKS": AKS_ONLY}
# Fields one cloud requires though the shared model leaves them optional, with the
# schema keywords that say how (EKS needs subnets in at least two availability zones).
CLOUD_REQUIRED: dict[str, dict[str, dict[str, Any]]] = {"EKS": {"subnetIds": {"minItems": 2}}}


@dataclass(frozen=True)
class Example:
    """One examples/<folder>: a cloud, an XR kind and its scope."""

    folder: str
    cloud: str
    kind: str
    scope: Scope
    claim_kind: str | None = None


EXAMPLES = (
    Example("aks-namespaced", "AKS", "AKSCluster", Scope.NAMESPACED),
    Example("gke-namespaced", "GKE", "GKECluster", Scope.NAMESPACED),
    Example("aks-legacy-claim", "AKS", "XAKSCluster", Scope.LEGACY_CLUSTER, "AKSClusterClaim"),
    Example("gke-cluster", "GKE", "XGKECluster", Scope.CLUSTER),
    Example("eks-namespaced", "EKS", "EKSCluster", Scope.NAMESPACED),
    Example("eks-cluster", "EKS", "XEKSCluster", Scope.CLUSTER),
)


def _plural(kind: str) -> str:
    return kind.lower() + "s"


def input_crd() -> dict[str, Any]:
    """The Input CRD: Crossplane never serves it, but validate and IDEs read it."""
    schema = openapi_schema(inputs.Input)
    for key in ("apiVersion", "kind"):
        schema["properties"][key] = {"type": "string"}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"inputs.{inputs.GROUP}"},
        "spec": {
            "group": inputs.GROUP,
            "names": {
                "categories": ["crossplane"],
                "kind": "Input",
                "listKind": "InputList",
                "plural": "inputs",
                "singular": "input",
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": inputs.VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def xrd(example: Example) -> dict[str, Any]:
    """The example's CompositeResourceDefinition: spec and status from the models."""
    spec = prune(openapi_schema(ClusterSpec), CLOUD_ONLY[example.cloud])
    required = CLOUD_REQUIRED.get(example.cloud, {})
    for name, keywords in required.items():
        spec["properties"][name] = spec["properties"][name] | keywords
    spec["required"] = sorted([*spec.get("required", ()), *required])
    status = openapi_schema(CompositeStatus)
    legacy = example.scope is Scope.LEGACY_CLUSTER
    plural = _plural(example.kind)
    definition: dict[str, Any] = {
        "group": GROUP,
        "names": {"kind": example.kind, "plural": plural},
        "versions": [
            {
                "name": XR_VERSION,
                "served": True,
                "referenceable": True,
                "additionalPrinterColumns": [
                    {"name": "ENDPOINT", "type": "string", "jsonPath": ".status.cluster.endpoint"},
                    {"name": "ARGOCD", "type": "string", "jsonPath": ".status.argocd.name"},
                    {
                        "name": "REGISTERED",
                        "type": "boolean",
                        "jsonPath": ".status.argocd.registered",
                    },
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {"spec": spec, "status": status},
                        "required": ["spec"],
                    }
                },
            }
        ],
    }
    if legacy:
        definition["claimNames"] = {
            "kind": example.claim_kind,
            "plural": _plural(example.claim_kind or ""),
        }
    else:
        definition["scope"] = str(example.scope)
    return {
        # LegacyCluster (claims) exists only in the v1 XRD API.
        "apiVersion": "apiextensions.crossplane.io/" + ("v1" if legacy else "v2"),
        "kind": "CompositeResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": definition,
    }


def rendered() -> dict[Path, str]:
    """Every generated file and its content."""
    header = "# Generated by hack/generate.py from the pydantic models; do not edit.\n"
    files = {INPUT_CRD: input_crd()}
    files |= {ROOT / "examples" / e.folder / "definition.yaml": xrd(e) for e in EXAMPLES}
    return {
        path: header + yaml.safe_dump(doc, sort_keys=False, width=100)
        for path, doc in files.items()
    }


def main() -> int:
    """Write the files, or with --check report the stale ones."""
    check = "--check" in sys.argv[1:]
    stale = []
    for path, text in rendered().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        print(f"{'stale' if check else 'wrote'}: {path.relative_to(ROOT)}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
