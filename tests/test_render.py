"""End to end: every example through `crossplane render` (Crossplane's real reconciler)
against the function serving over gRPC, compared with checked-in expected output.

Regenerate the expected output after an intended change with
`UPDATE_GOLDEN=1 make test` and review the diff of tests/golden/.
"""

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.builders import argocd_secret
from tests.crossplane_cli import EXAMPLE_FOLDERS, VARIANTS, composed, documents, results

Rendered = Callable[[str, str], str]

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

# SPEC §4: exactly these API versions, per XR scope.
NAMESPACED_APIS = {
    "aks": {
        "resource-group": ("azure.m.upbound.io/v1beta1", "ResourceGroup"),
        "cluster": ("containerservice.azure.m.upbound.io/v1beta1", "KubernetesCluster"),
    },
    "gke": {
        "cluster": ("container.gcp.m.upbound.io/v1beta1", "Cluster"),
        "node-pool": ("container.gcp.m.upbound.io/v1beta1", "NodePool"),
    },
    "eks": {
        "cluster-role": ("iam.aws.m.upbound.io/v1beta1", "Role"),
        "cluster-role-policy": ("iam.aws.m.upbound.io/v1beta1", "RolePolicyAttachment"),
        "node-role": ("iam.aws.m.upbound.io/v1beta1", "Role"),
        "node-role-policy-worker": ("iam.aws.m.upbound.io/v1beta1", "RolePolicyAttachment"),
        "node-role-policy-cni": ("iam.aws.m.upbound.io/v1beta1", "RolePolicyAttachment"),
        "node-role-policy-registry": ("iam.aws.m.upbound.io/v1beta1", "RolePolicyAttachment"),
        "cluster": ("eks.aws.m.upbound.io/v1beta1", "Cluster"),
        "node-group": ("eks.aws.m.upbound.io/v1beta1", "NodeGroup"),
    },
}
CLUSTER_APIS = {
    "aks": {
        "resource-group": ("azure.upbound.io/v1beta1", "ResourceGroup"),
        "cluster": ("containerservice.azure.upbound.io/v1beta2", "KubernetesCluster"),
    },
    "gke": {
        "cluster": ("container.gcp.upbound.io/v1beta2", "Cluster"),
        "node-pool": ("container.gcp.upbound.io/v1beta2", "NodePool"),
    },
    "eks": {
        "cluster-role": ("iam.aws.upbound.io/v1beta1", "Role"),
        "cluster-role-policy": ("iam.aws.upbound.io/v1beta1", "RolePolicyAttachment"),
        "node-role": ("iam.aws.upbound.io/v1beta1", "Role"),
        "node-role-policy-worker": ("iam.aws.upbound.io/v1beta1", "RolePolicyAttachment"),
        "node-role-policy-cni": ("iam.aws.upbound.io/v1beta1", "RolePolicyAttachment"),
        "node-role-policy-registry": ("iam.aws.upbound.io/v1beta1", "RolePolicyAttachment"),
        "cluster": ("eks.aws.upbound.io/v1beta2", "Cluster"),
        "node-group": ("eks.aws.upbound.io/v1beta2", "NodeGroup"),
    },
}
# Identity grants (SPEC §4), composed once the cluster is Ready.
NAMESPACED_GRANT_APIS = {
    "eks": {
        "argocd-access": ("eks.aws.m.upbound.io/v1beta1", "AccessEntry"),
        "argocd-access-policy": ("eks.aws.m.upbound.io/v1beta1", "AccessPolicyAssociation"),
    },
}
CLUSTER_GRANT_APIS = {
    "eks": {
        "argocd-access": ("eks.aws.upbound.io/v1beta1", "AccessEntry"),
        "argocd-access-policy": ("eks.aws.upbound.io/v1beta1", "AccessPolicyAssociation"),
    },
}
# The legacy example brings its own resource group (spec.resourceGroupName); the
# cluster-scoped EKS example its own IAM roles (spec.clusterRoleArn, spec.nodeRoleArn).
EXPECTED_CLOUD_RESOURCES = {
    "aks-namespaced": NAMESPACED_APIS["aks"],
    "gke-namespaced": NAMESPACED_APIS["gke"],
    "aks-legacy-claim": {"cluster": CLUSTER_APIS["aks"]["cluster"]},
    "gke-cluster": CLUSTER_APIS["gke"],
    "eks-namespaced": NAMESPACED_APIS["eks"],
    "eks-cluster": {name: CLUSTER_APIS["eks"][name] for name in ("cluster", "node-group")},
}
# Only the EKS examples' inputs name Argo CD's identity (input.argocd.identity.aws.roleArn).
EXPECTED_GRANTS = {
    "eks-namespaced": NAMESPACED_GRANT_APIS["eks"],
    "eks-cluster": CLUSTER_GRANT_APIS["eks"],
}
CLOUD_RESOURCES = {name for apis in NAMESPACED_APIS.values() for name in apis}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("folder", EXAMPLE_FOLDERS)
def test_render_matches_expected_output(rendered: Rendered, folder: str, variant: str) -> None:
    out = rendered(folder, variant)
    golden = GOLDEN / f"{folder}.{variant}.yaml"
    # Rewritten only when it differs in more than the order of its Results.
    if UPDATE and not (
        golden.exists() and _stable(documents(out)) == _stable(documents(golden.read_text()))
    ):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(out)
    assert golden.exists(), f"{golden} missing; run with UPDATE_GOLDEN=1 to create it"
    assert _stable(documents(out)) == _stable(documents(golden.read_text()))


def _stable(docs: list[dict]) -> list[dict]:
    """Results come from events, whose order the reconciler does not fix."""
    events = sorted(results(docs), key=lambda r: (r["severity"], r["reason"], r["message"]))
    return [d for d in docs if d.get("kind") != "Result"] + events


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("folder", EXAMPLE_FOLDERS)
def test_render_composes_spec_api_versions(rendered: Rendered, folder: str, variant: str) -> None:
    resources = composed(documents(rendered(folder, variant)))
    cloud_resources = {
        name: (r["apiVersion"], r["kind"])
        for name, r in resources.items()
        if name in CLOUD_RESOURCES
    }
    assert cloud_resources == EXPECTED_CLOUD_RESOURCES[folder]
    grants = {
        name: (r["apiVersion"], r["kind"])
        for name, r in resources.items()
        if name.startswith("argocd-access")
    }
    # Grants follow the registration: none before the cluster is Ready.
    assert grants == ({} if variant == "fresh" else EXPECTED_GRANTS.get(folder, {}))


@pytest.mark.parametrize("folder", EXAMPLE_FOLDERS)
def test_ready_follows_observed_cluster(rendered: Rendered, folder: str) -> None:
    fresh = documents(rendered(folder, "fresh"))
    ready = {c["type"]: c for c in fresh[0]["status"]["conditions"]}["Ready"]
    assert ready["status"] == "False"
    assert ready["reason"] == "Creating"
    assert "cluster" in ready["message"]
    assert "cluster" not in fresh[0]["status"]

    # The registration written on this reconcile is not Ready until it is observed, nor
    # are the identity grants composed with it.
    observed = documents(rendered(folder, "observed"))
    ready = {c["type"]: c for c in observed[0]["status"]["conditions"]}["Ready"]
    unready = ["argocd-cluster", *EXPECTED_GRANTS.get(folder, {})]
    if "namespaced" in folder:  # delivery Object: the Object and its credentials Secret
        unready.append("argocd-cluster-credentials")
    message = f"Unready resources: {_crossplane_list(unready)}"
    assert (ready["status"], ready["message"]) == ("False", message)

    observed = documents(rendered(folder, "registered"))
    ready = {c["type"]: c for c in observed[0]["status"]["conditions"]}["Ready"]
    assert ready["status"] == "True", ready
    endpoint = observed[0]["status"]["cluster"]["endpoint"]
    assert endpoint.startswith("https://")


def _crossplane_list(names: list[str]) -> str:
    """Names as Crossplane lists them in a condition: sorted, three at most."""
    names = sorted(names)
    if len(names) > 3:
        return f"{', '.join(names[:3])}, and {len(names) - 3} more"
    if len(names) == 3:
        return f"{', '.join(names[:2])}, and {names[2]}"
    return ", ".join(names)


@pytest.mark.parametrize("folder", ["aks-namespaced", "gke-namespaced", "eks-namespaced"])
def test_namespaced_xr_composes_into_its_namespace_without_warnings(
    rendered: Rendered, folder: str
) -> None:
    docs = documents(rendered(folder, "registered"))
    namespace = docs[0]["metadata"]["namespace"]
    for resource in composed(docs).values():
        assert resource["metadata"]["namespace"] == namespace
    # Crossplane warns (NamespaceOverridden) when a function asks for another namespace.
    assert [r for r in results(docs) if r["severity"] != "Normal"] == []


def test_every_example_has_expected_output_for_every_variant() -> None:
    expected = {f"{f}.{v}.yaml" for f in EXAMPLE_FOLDERS for v in VARIANTS}
    assert expected <= {p.name for p in GOLDEN.glob("*.yaml")}


def _numbers(value: object) -> list[object]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []


@pytest.mark.parametrize("folder", EXAMPLE_FOLDERS)
def test_counts_stay_integers(rendered: Rendered, folder: str) -> None:
    """protobuf Structs carry every number as a double: 3 must not become 3.0 anywhere."""
    resources = composed(documents(rendered(folder, "registered")))
    numbers = [n for r in resources.values() for n in _numbers(r.get("spec", {}))]
    assert numbers, "the examples set node counts"
    assert all(isinstance(n, int) for n in numbers), numbers
    # Numbers that become strings (annotations for ApplicationSet templates) too.
    secret = argocd_secret(resources)
    counts = {k: v for k, v in secret["metadata"]["annotations"].items() if k.endswith("count")}
    assert counts, "the Secret carries node counts"
    assert all(v.isdigit() for v in counts.values()), counts
