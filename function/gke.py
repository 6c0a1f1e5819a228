"""GKE: a Cluster without its default pool, and one NodePool attached to it."""

from typing import Any

from function.inputs import Input
from function.managed import SAME_CONTROLLER, connection_secret_ref, provider_config_ref
from function.xr import Composite

DISTRIBUTION = "gke"
CLUSTER = "cluster"
NODE_POOL = "node-pool"

_API = {True: "container.gcp.m.upbound.io/v1beta1", False: "container.gcp.upbound.io/v1beta2"}


def render(xr: Composite, fn_input: Input) -> dict[str, dict[str, Any]]:
    """Managed resources by composition resource name."""
    spec = xr.spec
    cluster: dict[str, Any] = {
        "location": spec.location,
        # GKE requires a default pool at creation; the NodePool below replaces it.
        "removeDefaultNodePool": True,
        "initialNodeCount": 1,
        "deletionProtection": False,
    }
    if spec.version:
        cluster["minMasterVersion"] = spec.version
    return {
        CLUSTER: {
            "apiVersion": _API[xr.namespaced],
            "kind": "Cluster",
            "spec": {
                "forProvider": cluster,
                "providerConfigRef": provider_config_ref(xr),
                "writeConnectionSecretToRef": connection_secret_ref(xr, fn_input, DISTRIBUTION),
            },
        },
        NODE_POOL: {
            "apiVersion": _API[xr.namespaced],
            "kind": "NodePool",
            "spec": {
                "forProvider": _node_pool(xr),
                "providerConfigRef": provider_config_ref(xr),
            },
        },
    }


def _node_pool(xr: Composite) -> dict[str, Any]:
    pool = xr.spec.nodePool
    rendered: dict[str, Any] = {"location": xr.spec.location, "clusterSelector": SAME_CONTROLLER}
    if pool.size:
        rendered["nodeConfig"] = {"machineType": pool.size}
    if pool.autoscaling:
        # nodeCount and autoscaling must not be combined; initialNodeCount is create-only.
        rendered["initialNodeCount"] = pool.count
        rendered["autoscaling"] = {"minNodeCount": pool.minCount, "maxNodeCount": pool.maxCount}
    else:
        rendered["nodeCount"] = pool.count
    return rendered


def cluster_endpoint(observed_cluster: dict[str, Any]) -> str | None:
    """The API server URL, once GCP reports the endpoint."""
    endpoint = observed_cluster.get("status", {}).get("atProvider", {}).get("endpoint")
    return f"https://{endpoint}" if endpoint else None
