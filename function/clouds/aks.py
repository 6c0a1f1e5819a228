"""AKS: a resource group (unless the user brings one) and a KubernetesCluster."""

from collections.abc import Mapping
from typing import Any

from function.argocd import KEPT_READS
from function.clouds import Waiting, refuse_other_clouds_fields
from function.inputs import Input
from function.kubeconfig import (
    ClusterConnection,
    WorkloadIdentityRequired,
    has_kubelogin,
    translate,
)
from function.managed import (
    EXTERNAL_NAME,
    SAME_CONTROLLER,
    at_provider,
    connection_secret_ref,
    external_name,
    managed_resource,
)
from function.naming import aks_dns_prefix
from function.state import ObservedResource, Reads
from function.xr import AuthMode, Composite, WorkloadIdentity

CLOUD = "azure"
DISTRIBUTION = "aks"
# Connection-detail keys of provider-upjet-azure's KubernetesCluster.
KUBECONFIG = "kubeconfig"
ADMIN_KUBECONFIG = "attribute.kube_admin_config_raw"
RESOURCE_GROUP = "resource-group"
CLUSTER = "cluster"
# The role assignment that lets Argo CD's identity into an Entra ID cluster.
ACCESS = "argocd-access"

_CLUSTER_API = {
    True: "containerservice.azure.m.upbound.io/v1beta1",
    False: "containerservice.azure.upbound.io/v1beta2",
}
_GROUP_API = {True: "azure.m.upbound.io/v1beta1", False: "azure.upbound.io/v1beta1"}
_ROLE_ASSIGNMENT_API = {
    True: "authorization.azure.m.upbound.io/v1beta1",
    False: "authorization.azure.upbound.io/v1beta1",
}
# What this module reads of each observed resource, beyond its conditions.
READS = {
    RESOURCE_GROUP: Reads((("metadata", "annotations", EXTERNAL_NAME), ("metadata", "name"))),
    CLUSTER: Reads(
        tuple(
            ("status", "atProvider", field) for field in ("fqdn", "currentKubernetesVersion", "id")
        )
    ),
    ACCESS: KEPT_READS,
}


def render(xr: Composite, fn_input: Input) -> dict[str, dict[str, Any]]:
    """Managed resources by composition resource name."""
    spec = xr.spec
    refuse_other_clouds_fields(spec, "AKS")
    resources: dict[str, dict[str, Any]] = {}
    cluster: dict[str, Any] = {
        "location": spec.location,
        "dnsPrefix": aks_dns_prefix(xr.name),
        "defaultNodePool": _default_node_pool(xr),
        "identity": {"type": "SystemAssigned"},
    }
    if spec.version:
        cluster["kubernetesVersion"] = spec.version
    if spec.argocd.auth is AuthMode.WORKLOAD_IDENTITY:
        # Entra ID authentication with Azure RBAC, so Argo CD's identity can sign in.
        entra: dict[str, Any] = {"azureRbacEnabled": True}
        _, tenant_id = _argocd_identity(xr, fn_input)
        if tenant_id:
            entra["tenantId"] = tenant_id
        cluster["azureActiveDirectoryRoleBasedAccessControl"] = entra
    if spec.resourceGroupName:
        cluster["resourceGroupName"] = spec.resourceGroupName
    else:
        cluster["resourceGroupNameSelector"] = SAME_CONTROLLER
        resources[RESOURCE_GROUP] = managed_resource(
            xr, _GROUP_API, "ResourceGroup", {"location": spec.location}
        )
    more: dict[str, Any] = {
        "writeConnectionSecretToRef": connection_secret_ref(xr, fn_input, DISTRIBUTION)
    }
    if spec.nodePool.autoscaling:
        # The autoscaler owns the node count after creation; keeping it out of
        # forProvider stops the provider from fighting the autoscaler.
        more["initProvider"] = {"defaultNodePool": {"nodeCount": spec.nodePool.count}}
    resources[CLUSTER] = managed_resource(xr, _CLUSTER_API, "KubernetesCluster", cluster, **more)
    return resources


def _default_node_pool(xr: Composite) -> dict[str, Any]:
    pool = xr.spec.nodePool
    rendered: dict[str, Any] = {"name": "default"}
    if pool.size:
        rendered["vmSize"] = pool.size
    if pool.autoscaling:
        rendered |= {
            "autoScalingEnabled": True,
            "minCount": pool.minCount,
            "maxCount": pool.maxCount,
        }
    else:
        rendered["nodeCount"] = pool.count
    return rendered


def cluster_endpoint(observed_cluster: dict[str, Any]) -> str | None:
    """The API server URL as the AKS kubeconfig spells it, once Azure reports the FQDN."""
    fqdn = at_provider(observed_cluster).get("fqdn")
    return f"https://{fqdn}:443" if fqdn else None


def needs_connection_details(_: Composite) -> bool:
    """AKS publishes its CA only in the connection Secret, so it is always needed."""
    return True


def _argocd_identity(xr: Composite, fn_input: Input) -> tuple[str | None, str | None]:
    """Client and tenant ID Argo CD signs in with: each the claim's, else the platform's.

    Field by field: the XRD defaults workloadIdentity to {}, so the API server gives
    every XR one, usually empty.
    """
    claimed = xr.spec.argocd.workloadIdentity or WorkloadIdentity()
    platform = fn_input.argocd.identity.azure
    return claimed.clientId or platform.clientId, claimed.tenantId or platform.tenantId


def argocd_connection(
    xr: Composite, fn_input: Input, _: dict[str, Any], details: Mapping[str, bytes] | None
) -> ClusterConnection | Waiting:
    """Pick the kubeconfig for the auth mode and translate it for Argo CD."""
    details = details or {}
    user, admin = details.get(KUBECONFIG), details.get(ADMIN_KUBECONFIG)
    if not user and not admin:
        return Waiting("WaitingForCredentials", "the connection Secret has no kubeconfig yet")
    argocd = xr.spec.argocd
    client_id, tenant_id = _argocd_identity(xr, fn_input)
    entra = bool(user) and has_kubelogin(user)

    if argocd.auth is AuthMode.WORKLOAD_IDENTITY:
        if not client_id:
            raise WorkloadIdentityRequired(
                "spec.argocd.workloadIdentity.clientId",
                "is required when spec.argocd.auth is WorkloadIdentity, unless the "
                "Composition's input argocd.identity.azure.clientId names Argo CD's identity",
                "Set it to the client ID of the Entra ID app federated with Argo CD's "
                "application-controller and server service accounts",
            )
        if not entra:
            return Waiting(
                "WaitingForCredentials",
                "the cluster's kubeconfig does not use Entra ID (kubelogin) yet; "
                "Azure is enabling Entra ID authentication on the cluster",
            )
        return translate(user, client_id, tenant_id)  # type: ignore[arg-type]
    if entra and (argocd.auth is AuthMode.CLIENT_CERTIFICATE or not client_id):
        # An Entra ID cluster with local accounts publishes a certificate-based admin config.
        if admin:
            return translate(admin)
        if argocd.auth is AuthMode.CLIENT_CERTIFICATE:
            return Waiting(
                "AdminCredentialsUnavailable",
                "the cluster uses Entra ID and publishes no admin kubeconfig "
                "(local accounts are disabled); set spec.argocd.auth to WorkloadIdentity",
            )
    if user:
        return translate(user, client_id, tenant_id)
    return translate(admin)  # type: ignore[arg-type]


def access_grants(
    xr: Composite, fn_input: Input, observed_cluster: dict[str, Any]
) -> dict[str, dict[str, Any]] | None:
    """A role assignment for Argo CD's identity at the cluster's scope.

    Only for a cluster that uses Entra ID with Azure RBAC (spec.argocd.auth
    WorkloadIdentity), and only when the input names the identity's object ID.
    """
    identity = fn_input.argocd.identity.azure
    if not identity.principalId or xr.spec.argocd.auth is not AuthMode.WORKLOAD_IDENTITY:
        return {}
    cluster_id = at_provider(observed_cluster).get("id")
    if not cluster_id:
        return None
    assignment = {
        "principalId": identity.principalId,
        # Managed identities and app registrations alike; saying so spares Azure a
        # directory lookup that fails for a principal created moments ago.
        "principalType": "ServicePrincipal",
        "roleDefinitionName": identity.role,
        "scope": cluster_id,
    }
    return {ACCESS: managed_resource(xr, _ROLE_ASSIGNMENT_API, "RoleAssignment", assignment)}


def region(location: str) -> str:
    """Azure locations are regions already."""
    return location


def registration_annotations(
    xr: Composite, observed: Mapping[str, ObservedResource]
) -> dict[str, str]:
    """Cluster facts an ApplicationSet template may want (under the function's prefix)."""
    annotations = {}
    group = xr.spec.resourceGroupName or _external_name(observed.get(RESOURCE_GROUP))
    if group:
        annotations["resource-group"] = group
    cluster = observed.get(CLUSTER)
    version = at_provider(cluster.manifest if cluster else None).get("currentKubernetesVersion")
    if version:
        annotations["kubernetes-version"] = str(version)
    return annotations


def _external_name(resource: ObservedResource | None) -> str | None:
    if resource is None:
        return None
    return external_name(resource.manifest) or resource.manifest.get("metadata", {}).get("name")
