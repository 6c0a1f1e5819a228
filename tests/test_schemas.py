"""The Input CRD and the example XRDs agree with the models the function validates with."""

import enum
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from function.inputs import Input
from function.status import CompositeStatus
from function.xr import ClusterSpec
from hack import generate
from tests.conftest import EXAMPLES, ROOT

INPUT_CRD = ROOT / "package" / "input" / "gitopscluster.fn.crossplane.io_inputs.yaml"


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def _model_of(annotation: Any) -> Any:
    """The model, enum or scalar inside Optional[...] / list[...]."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _model_of(inner)
    return annotation


def _walk(
    model: type[BaseModel],
    schema: dict[str, Any],
    path: str,
    absent: frozenset[str] = frozenset(),
    required: frozenset[str] = frozenset(),
) -> list[str]:
    """Differences between a model's fields and an OpenAPI object schema.

    absent: dotted paths the schema deliberately leaves out (another cloud's fields).
    required: dotted paths the schema requires though the model does not (one cloud's).
    """
    problems = []
    props = schema.get("properties", {})
    fields = {
        f.alias or name: f
        for name, f in model.model_fields.items()
        if f"{path}.{f.alias or name}" not in absent
    }
    if set(fields) != set(props):
        problems.append(f"{path}: model {sorted(fields)} != schema {sorted(props)}")
    for name in set(fields) & set(props):
        field, prop, where = fields[name], props[name], f"{path}.{name}"
        inner = _model_of(field.annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            problems += _walk(inner, prop, where, absent, required)
        elif (
            isinstance(inner, type)
            and issubclass(inner, enum.Enum)
            and prop.get("enum") != [m.value for m in inner]
        ):
            problems.append(f"{where}: enum {prop.get('enum')} != {[m.value for m in inner]}")
        if field.default not in (PydanticUndefined, None):
            want = field.default.value if isinstance(field.default, enum.Enum) else field.default
            if prop.get("default") != want:
                problems.append(f"{where}: default {prop.get('default')!r} != {want!r}")
        if (field.is_required() or where in required) != (name in schema.get("required", [])):
            problems.append(f"{where}: required differs")
    return problems


def test_generated_files_are_current() -> None:
    stale = [
        str(p.relative_to(ROOT))
        for p, text in generate.rendered().items()
        if not p.exists() or p.read_text() != text
    ]
    assert stale == [], "run `make generate` (python hack/generate.py)"


def test_input_crd_agrees_with_input_model() -> None:
    crd = _load(INPUT_CRD)
    (version,) = crd["spec"]["versions"]
    schema = version["schema"]["openAPIV3Schema"]
    assert crd["spec"]["group"] == "gitopscluster.fn.crossplane.io"
    assert crd["spec"]["names"]["kind"] == "Input"
    assert version["name"] == "v1beta1"
    # apiVersion and kind are the object's type, not fields to default.
    problems = _walk(Input, schema, "input")
    assert [p for p in problems if not p.startswith(("input.apiVersion", "input.kind"))] == []
    assert schema["properties"]["cloud"]["enum"] == ["AKS", "GKE", "EKS"]
    assert schema["properties"]["argocd"]["properties"]["delivery"]["enum"] == [
        "Auto",
        "Secret",
        "Object",
    ]


@pytest.mark.parametrize("example", generate.EXAMPLES, ids=lambda e: e.folder)
def test_xrd_agrees_with_spec_and_status_models(example: generate.Example) -> None:
    xrd = _load(EXAMPLES / example.folder / "definition.yaml")
    (version,) = xrd["spec"]["versions"]
    props = version["schema"]["openAPIV3Schema"]["properties"]
    # Each cloud's XRD leaves out the other clouds' fields, and nothing else.
    aks_only = {"spec.resourceGroupName", "spec.argocd.workloadIdentity"}
    eks_only = {"spec.subnetIds", "spec.clusterRoleArn", "spec.nodeRoleArn"}
    absent = {"AKS": eks_only, "GKE": aks_only | eks_only, "EKS": aks_only}[example.cloud]
    # EKS needs subnets in two zones: required, with at least two, in its XRDs alone.
    required = {"EKS": {"spec.subnetIds"}}.get(example.cloud, set())
    spec = props["spec"]
    assert _walk(ClusterSpec, spec, "spec", frozenset(absent), frozenset(required)) == []
    assert _walk(CompositeStatus, props["status"], "status") == []
    assert spec["required"] == sorted(["location", *(p.removeprefix("spec.") for p in required)])
    if example.cloud == "EKS":
        assert spec["properties"]["subnetIds"]["minItems"] == 2


def test_xrd_scopes_match_examples() -> None:
    scopes = {}
    for example in generate.EXAMPLES:
        xrd = _load(EXAMPLES / example.folder / "definition.yaml")
        spec = xrd["spec"]
        claim = spec.get("claimNames", {}).get("kind")
        scopes[example.folder] = (xrd["apiVersion"], spec.get("scope"), claim)
    assert scopes == {
        "aks-namespaced": ("apiextensions.crossplane.io/v2", "Namespaced", None),
        "gke-namespaced": ("apiextensions.crossplane.io/v2", "Namespaced", None),
        # v1 XRDs default to LegacyCluster, the only scope with claims.
        "aks-legacy-claim": ("apiextensions.crossplane.io/v1", None, "AKSClusterClaim"),
        "gke-cluster": ("apiextensions.crossplane.io/v2", "Cluster", None),
        "eks-namespaced": ("apiextensions.crossplane.io/v2", "Namespaced", None),
        "eks-cluster": ("apiextensions.crossplane.io/v2", "Cluster", None),
    }
