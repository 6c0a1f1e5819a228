"""Every rendered composed resource, and every example file, against the real schemas.

The upstream schemas are the packages pinned in tests/upstream_schemas.yaml, which
`crossplane resource validate` resolves through its cache (see tests/upstream_schemas.py);
the example XRDs validate the XRs and claims.
"""

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from function.compose import compose
from function.state import Observed, ObservedResource
from tests.builders import xr
from tests.conftest import EXAMPLES, ROOT, CrossplaneCLI
from tests.crossplane_cli import (
    EXAMPLE_FOLDERS,
    VARIANTS,
    Example,
    composed,
    documents,
    failures,
    validate,
)
from tests.test_identity_grants import ENTRA, GRANT, aks_cluster, identity_input


def _write(path: Path, docs: list[dict]) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("folder", EXAMPLE_FOLDERS)
def test_rendered_resources_are_valid(
    crossplane: CrossplaneCLI,
    rendered: Callable[[str, str], str],
    validate_cache: Path,
    tmp_path: Path,
    folder: str,
    variant: str,
) -> None:
    example = Example(folder)
    resources = list(composed(documents(rendered(folder, variant))).values())
    assert resources, "render composed nothing"

    verdicts = validate(
        crossplane,
        validate_cache,
        [example.path / "definition.yaml"],
        _write(tmp_path / "composed.yaml", resources),
    )
    assert failures(verdicts) == []
    # Every composed resource was validated against a schema, not merely not-failed.
    checked = {(v["kind"], v["name"]) for v in verdicts if v["status"] == "valid"}
    assert checked == {(r["kind"], r["metadata"]["name"]) for r in resources}
    registrations = [r for r in resources if r["kind"] in ("Secret", "Object")]
    # Delivery Object (the namespaced examples) is two: the Object and its credentials Secret.
    per_registration = 2 if "namespaced" in folder else 1
    assert len(registrations) == (0 if variant == "fresh" else per_registration)


@pytest.mark.parametrize("folder", EXAMPLE_FOLDERS)
def test_example_xrs_and_claims_are_valid(
    crossplane: CrossplaneCLI, validate_cache: Path, folder: str
) -> None:
    example = Example(folder)
    user_files = example.files("xr.yaml", "claim.yaml")
    assert example.xr in user_files
    for user_file in user_files:
        verdicts = validate(
            crossplane, validate_cache, [example.path / "definition.yaml"], user_file
        )
        assert failures(verdicts) == []
        assert [v["status"] for v in verdicts] == ["valid"]


def test_example_crossplane_objects_are_valid(
    crossplane: CrossplaneCLI, validate_cache: Path, tmp_path: Path
) -> None:
    """XRDs, Compositions and the Function against Crossplane's own CRDs."""
    docs = []
    for folder in EXAMPLE_FOLDERS:
        for name in ("definition.yaml", "composition.yaml"):
            docs += documents((EXAMPLES / folder / name).read_text())
    docs += documents((EXAMPLES / "functions.yaml").read_text())
    verdicts = validate(
        crossplane,
        validate_cache,
        [ROOT / "package" / "input"],
        _write(tmp_path / "x.yaml", docs),
    )
    assert failures(verdicts) == []
    # validate also checks each pipeline step's input against package/input.
    inputs = [s["input"] for d in docs for s in d["spec"].get("pipeline", ()) if "input" in s]
    assert len([v for v in verdicts if v["status"] == "valid"]) == len(docs) + len(inputs)


@pytest.mark.parametrize("namespace", ["team-a", None], ids=["namespaced", "cluster-scoped"])
def test_the_aks_role_assignment_is_valid(
    crossplane: CrossplaneCLI, validate_cache: Path, tmp_path: Path, namespace: str | None
) -> None:
    """No example composes it (their clusters use local accounts), so compose it here."""
    desired = compose(
        Observed(
            composite=xr(ENTRA, namespace=namespace),
            input=identity_input(),
            resources={"cluster": ObservedResource(aks_cluster())},
        )
    )
    grant = desired.resources[GRANT]
    grant["metadata"] = {"name": "team-a-dev-argocd-access"} | (
        {"namespace": namespace} if namespace else {}
    )

    verdicts = validate(crossplane, validate_cache, [], _write(tmp_path / "grant.yaml", [grant]))
    assert failures(verdicts) == []
    assert [(v["kind"], v["status"]) for v in verdicts] == [("RoleAssignment", "valid")]
