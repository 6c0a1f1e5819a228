"""Argo CD's own cloud identity: signing in with it, and granting it access (AKS here;
EKS in test_eks.py). Each test is one reconcile, without a server."""

import json
from typing import Any

import pytest

from function.compose import compose
from function.errors import InvalidSpec
from function.registration import APPLICATIONS, REGISTRATION
from function.state import Desired, Observed, ObservedResource
from tests.builders import AKS_INPUT, GKE_INPUT, xr
from tests.test_registration import (
    CLIENT_ID,
    KUBECONFIG,
    KUBELOGIN,
    TENANT_ID,
    cluster,
    condition,
    data,
    registration_secret,
)

PRINCIPAL_ID = "abcdefab-1111-2222-3333-444455556666"
CLUSTER_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-team-a"
    "/providers/Microsoft.ContainerService/managedClusters/team-a-dev"
)
IDENTITY = {"clientId": CLIENT_ID, "tenantId": TENANT_ID, "principalId": PRINCIPAL_ID}
ENTRA = {"argocd": {"auth": "WorkloadIdentity"}}
GRANT = "argocd-access"
GSA = "argocd@platform.iam.gserviceaccount.com"
GKE_ID = "projects/platform/locations/us-central1/clusters/team-a-dev"


def identity_input(base: dict[str, Any] = AKS_INPUT, **azure: str) -> dict[str, Any]:
    return {**base, "argocd": {"identity": {"azure": {**IDENTITY, **azure}}}}


def aks_cluster(*, ready: bool = True, cluster_id: str | None = CLUSTER_ID) -> dict[str, Any]:
    observed = cluster(ready=ready)
    if cluster_id:
        observed["status"]["atProvider"]["id"] = cluster_id
    return observed


def reconcile(
    spec: dict[str, Any] | None = ENTRA,
    fn_input: dict[str, Any] | None = None,
    *,
    cluster_manifest: dict[str, Any] | None = None,
    details: dict[str, bytes] | None = None,
    observed: dict[str, dict[str, Any]] | None = None,
    required: dict[str, list[dict[str, Any]]] | None = None,
) -> Desired:
    resources = {name: ObservedResource(manifest) for name, manifest in (observed or {}).items()}
    if cluster_manifest is not None:
        resources["cluster"] = ObservedResource(cluster_manifest, details or {})
    return compose(
        Observed(
            composite=xr(spec),
            input=fn_input or identity_input(),
            resources=resources,
            required=required or {},
        )
    )


def ready(manifest: dict[str, Any]) -> dict[str, Any]:
    """A composed resource as observed once its provider reports it Ready."""
    status = {**manifest.get("status", {}), "conditions": [{"type": "Ready", "status": "True"}]}
    return {**manifest, "status": status}


def test_a_ready_entra_cluster_gets_a_role_assignment_for_argocd() -> None:
    desired = reconcile(cluster_manifest=aks_cluster(), details={"kubeconfig": KUBELOGIN})

    assert desired.resources[GRANT] == {
        "apiVersion": "authorization.azure.m.upbound.io/v1beta1",
        "kind": "RoleAssignment",
        "spec": {
            "forProvider": {
                "principalId": PRINCIPAL_ID,
                "principalType": "ServicePrincipal",
                "roleDefinitionName": "Azure Kubernetes Service RBAC Cluster Admin",
                "scope": CLUSTER_ID,
            },
            "providerConfigRef": {"kind": "ClusterProviderConfig", "name": "default"},
        },
    }
    assert desired.ready[GRANT] is False


def test_the_role_is_the_inputs_and_cluster_scoped_xrs_get_the_cluster_scoped_api() -> None:
    role = "Azure Kubernetes Service RBAC Writer"
    desired = compose(
        Observed(
            composite=xr(ENTRA, namespace=None),
            input=identity_input(role=role),
            resources={"cluster": ObservedResource(aks_cluster(), {"kubeconfig": KUBELOGIN})},
        )
    )

    grant = desired.resources[GRANT]
    assert grant["apiVersion"] == "authorization.azure.upbound.io/v1beta1"
    assert grant["spec"]["forProvider"]["roleDefinitionName"] == role
    assert grant["spec"]["providerConfigRef"] == {"name": "default"}


def test_the_grant_does_not_wait_for_credentials() -> None:
    """Azure RBAC takes minutes to propagate: the grant goes out as soon as the cluster is
    Ready, while the kubeconfig may still be on its way."""
    desired = reconcile(cluster_manifest=aks_cluster())

    assert condition(desired) == (False, "WaitingForCredentials")
    assert GRANT in desired.resources


@pytest.mark.parametrize(
    ("spec", "fn_input", "cluster_manifest"),
    [
        pytest.param(ENTRA, identity_input(), aks_cluster(ready=False), id="cluster not Ready"),
        pytest.param(ENTRA, identity_input(), None, id="no cluster yet"),
        pytest.param(ENTRA, identity_input(), aks_cluster(cluster_id=None), id="no cluster id"),
        pytest.param(None, identity_input(), aks_cluster(), id="no Entra ID (auth Auto)"),
        pytest.param(
            {"argocd": {"auth": "ClientCertificate"}},
            identity_input(),
            aks_cluster(),
            id="auth ClientCertificate",
        ),
        pytest.param(
            ENTRA,
            {**AKS_INPUT, "argocd": {"identity": {"azure": {"clientId": CLIENT_ID}}}},
            aks_cluster(),
            id="no principalId",
        ),
        pytest.param(
            None,
            {**GKE_INPUT, "argocd": {"identity": {"gcp": {"serviceAccount": GSA}}}},
            ready({"status": {"atProvider": {"endpoint": "34.1.2.3", "id": GKE_ID}}}),
            id="GKE: granted once per project, never per cluster",
        ),
    ],
)
def test_no_grant(
    spec: dict[str, Any] | None, fn_input: dict[str, Any], cluster_manifest: dict[str, Any] | None
) -> None:
    desired = reconcile(spec, fn_input, cluster_manifest=cluster_manifest)

    assert not [name for name in desired.resources if name.startswith(GRANT)]


def test_a_grant_is_kept_as_observed_while_the_cluster_cannot_tell_its_id() -> None:
    first = reconcile(cluster_manifest=aks_cluster(), details={"kubeconfig": KUBELOGIN})
    observed = {name: ready(first.resources[name]) for name in (GRANT, REGISTRATION)}

    # The cluster is being updated: not Ready, and its status momentarily without an id.
    desired = reconcile(
        cluster_manifest=aks_cluster(ready=False, cluster_id=None),
        details={"kubeconfig": KUBELOGIN},
        observed=observed,
    )

    assert desired.resources[GRANT]["spec"] == first.resources[GRANT]["spec"]
    assert desired.ready[GRANT] is True
    assert REGISTRATION in desired.resources


def test_a_grant_is_kept_while_the_registration_drains_and_removed_with_it() -> None:
    """Argo CD needs its access to delete the cluster's Applications' objects."""
    first = reconcile(cluster_manifest=aks_cluster(), details={"kubeconfig": KUBELOGIN})
    observed = {name: ready(first.resources[name]) for name in (GRANT, REGISTRATION)}
    leaving = {"argocd": {"auth": "WorkloadIdentity", "register": False}}
    remaining = [{"metadata": {"name": "guestbook-team-a-team-a-dev"}}]

    draining = reconcile(
        leaving,
        cluster_manifest=aks_cluster(),
        observed=observed,
        required={APPLICATIONS: remaining},
    )
    drained = reconcile(
        leaving, cluster_manifest=aks_cluster(), observed=observed, required={APPLICATIONS: []}
    )

    assert condition(draining) == (False, "Draining")
    assert draining.resources[GRANT] == first.resources[GRANT]
    assert condition(drained) == (False, "Disabled")
    assert GRANT not in drained.resources
    assert REGISTRATION not in drained.resources


def test_drain_false_removes_the_grant_at_once() -> None:
    first = reconcile(cluster_manifest=aks_cluster(), details={"kubeconfig": KUBELOGIN})
    observed = {name: ready(first.resources[name]) for name in (GRANT, REGISTRATION)}

    desired = reconcile(
        {"argocd": {"auth": "WorkloadIdentity", "register": False, "drain": False}},
        cluster_manifest=aks_cluster(),
        observed=observed,
    )

    assert GRANT not in desired.resources


def test_removing_the_identity_from_the_input_removes_the_grant() -> None:
    first = reconcile(cluster_manifest=aks_cluster(), details={"kubeconfig": KUBELOGIN})
    observed = {name: ready(first.resources[name]) for name in (GRANT, REGISTRATION)}

    desired = reconcile(
        fn_input={**AKS_INPUT, "argocd": {"identity": {"azure": {"clientId": CLIENT_ID}}}},
        cluster_manifest=aks_cluster(),
        details={"kubeconfig": KUBELOGIN},
        observed=observed,
    )

    assert GRANT not in desired.resources
    assert condition(desired) == (True, "Registered")


def test_the_inputs_identity_signs_argocd_in_when_the_claim_names_none() -> None:
    desired = reconcile(cluster_manifest=aks_cluster(), details={"kubeconfig": KUBELOGIN})

    config = json.loads(data(registration_secret(desired))["config"])
    exec_config = config["execProviderConfig"]
    assert exec_config["args"][0] == "azure"
    assert exec_config["env"]["AZURE_CLIENT_ID"] == CLIENT_ID
    assert exec_config["env"]["AZURE_TENANT_ID"] == TENANT_ID
    assert desired.resources["cluster"]["spec"]["forProvider"][
        "azureActiveDirectoryRoleBasedAccessControl"
    ] == {"azureRbacEnabled": True, "tenantId": TENANT_ID}


@pytest.mark.parametrize(
    "claimed",
    [{}, {"tenantId": TENANT_ID}],
    ids=["empty, as the XRD defaults it", "tenant only"],
)
def test_the_inputs_client_id_fills_what_the_claim_leaves_out(claimed: dict[str, str]) -> None:
    spec = {"argocd": {"auth": "WorkloadIdentity", "workloadIdentity": claimed}}

    desired = reconcile(spec, cluster_manifest=aks_cluster(), details={"kubeconfig": KUBELOGIN})

    env = json.loads(data(registration_secret(desired))["config"])["execProviderConfig"]["env"]
    assert (env["AZURE_CLIENT_ID"], env["AZURE_TENANT_ID"]) == (CLIENT_ID, TENANT_ID)


def test_the_claims_workload_identity_wins_over_the_inputs() -> None:
    claimed = "99999999-8888-7777-6666-555555555555"
    spec = {"argocd": {"auth": "WorkloadIdentity", "workloadIdentity": {"clientId": claimed}}}

    desired = reconcile(spec, cluster_manifest=aks_cluster(), details={"kubeconfig": KUBELOGIN})

    config = json.loads(data(registration_secret(desired))["config"])
    assert config["execProviderConfig"]["env"]["AZURE_CLIENT_ID"] == claimed


def test_an_auto_entra_cluster_uses_the_inputs_identity_instead_of_the_admin_config() -> None:
    desired = reconcile(None, cluster_manifest=aks_cluster(), details={"kubeconfig": KUBELOGIN})

    config = json.loads(data(registration_secret(desired))["config"])
    assert config["execProviderConfig"]["env"]["AZURE_CLIENT_ID"] == CLIENT_ID


def test_without_any_client_id_workload_identity_names_both_places_to_set_one() -> None:
    desired = reconcile(
        fn_input=AKS_INPUT, cluster_manifest=aks_cluster(), details={"kubeconfig": KUBELOGIN}
    )

    (found,) = desired.conditions
    assert (found.status, found.reason) == (False, "WorkloadIdentityNotConfigured")
    assert "spec.argocd.workloadIdentity.clientId" in found.message
    assert "input argocd.identity.azure.clientId" in found.message


def test_a_client_certificate_cluster_ignores_the_inputs_identity() -> None:
    desired = reconcile(None, cluster_manifest=aks_cluster(), details={"kubeconfig": KUBECONFIG})

    config = json.loads(data(registration_secret(desired))["config"])
    assert "certData" in config["tlsClientConfig"]
    assert "execProviderConfig" not in config


@pytest.mark.parametrize(
    ("identity", "field"),
    [
        ({"azure": {"principalId": "not-a-guid"}}, "input.argocd.identity.azure.principalId"),
        ({"azure": {"clientId": "x"}}, "input.argocd.identity.azure.clientId"),
        ({"azure": {"role": ""}}, "input.argocd.identity.azure.role"),
        ({"aws": {"roleArn": "arn:aws:iam::123:user/argocd"}}, "input.argocd.identity.aws.roleArn"),
        ({"aws": {"accessPolicy": "arn:aws:eks::aws:x"}}, "input.argocd.identity.aws.accessPolicy"),
        ({"gcp": {"serviceAccount": "argocd"}}, "input.argocd.identity.gcp.serviceAccount"),
        ({"azure": {"objectId": PRINCIPAL_ID}}, "input.argocd.identity.azure.objectId"),
    ],
)
def test_a_bad_identity_is_a_fatal_naming_the_field(identity: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidSpec) as raised:
        reconcile(fn_input={**AKS_INPUT, "argocd": {"identity": identity}})

    assert str(raised.value).startswith(field)
