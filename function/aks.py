"""AKS: a resource group (unless the user brings one) and a KubernetesCluster."""

from typing import Any

from function.inputs import Input
from function.managed import SAME_CONTROLLER, connection_secret_ref, provider_config_ref
from function.naming import aks_dns_prefix
from function.xr import Composite

DISTRIBUTION = "aks"
RESOURCE_GROUP = "resource-group"
CLUSTER = "cluster"

_CLUSTER_API = {
    True: "containerservice.azure.m.upbound.io/v1beta1",
    False: "containerservice.azure.upbound.io/v1beta2",
}
_GROUP_API = {True: "azure.m.upbound.io/v1beta1", False: "azure.upbound.io/v1beta1"}


def render(xr: Composite, fn_input: Input) -> dict[str, dict[str, Any]]:
    """Managed resources by composition resource name."""
    spec = xr.spec
    resources: dict[str, dict[str, Any]] = {}
    cluster: dict[str, Any] = {
        "location": spec.location,
        "dnsPrefix": aks_dns_prefix(xr.name),
        "defaultNodePool": _default_node_pool(xr),
        "identity": {"type": "SystemAssigned"},
    }
    if spec.version:
        cluster["kubernetesVersion"] = spec.version
    if spec.resourceGroupName:
        cluster["resourceGroupName"] = spec.resourceGroupName
    else:
        cluster["resourceGroupNameSelector"] = SAME_CONTROLLER
        resources[RESOURCE_GROUP] = {
            "apiVersion": _GROUP_API[xr.namespaced],
            "kind": "ResourceGroup",
            "spec": {
                "forProvider": {"location": spec.location},
                "providerConfigRef": provider_config_ref(xr),
            },
        }
    managed: dict[str, Any] = {
        "forProvider": cluster,
        "providerConfigRef": provider_config_ref(xr),
        "writeConnectionSecretToRef": connection_secret_ref(xr, fn_input, DISTRIBUTION),
    }
    if spec.nodePool.autoscaling:
        # The autoscaler owns the node count after creation; keeping it out of
        # forProvider stops the provider from fighting the autoscaler.
        managed["initProvider"] = {"defaultNodePool": {"nodeCount": spec.nodePool.count}}
    resources[CLUSTER] = {
        "apiVersion": _CLUSTER_API[xr.namespaced],
        "kind": "KubernetesCluster",
        "spec": managed,
    }
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
    fqdn = observed_cluster.get("status", {}).get("atProvider", {}).get("fqdn")
    return f"https://{fqdn}:443" if fqdn else None
