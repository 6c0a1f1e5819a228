"""GKE: a Cluster without its default pool, and one NodePool attached to it."""

import re
from collections.abc import Mapping
from typing import Any

from function.clouds import Waiting, refuse_other_clouds_fields
from function.errors import FieldError
from function.inputs import Input
from function.kubeconfig import (
    EXEC_API_VERSION,
    ClusterConnection,
    KubeconfigError,
    config_json,
    pem_data,
)
from function.managed import (
    SAME_CONTROLLER,
    at_provider,
    connection_secret_ref,
    managed_resource,
)
from function.state import ObservedResource, Reads
from function.xr import AuthMode, Composite

CLOUD = "gcp"
DISTRIBUTION = "gke"
_ZONE = re.compile(r"^(?P<region>[a-z]+-[a-z]+[0-9]+)-[a-z]$")
_CA_FIELD = "status.atProvider.masterAuth.clusterCaCertificate"
CLUSTER = "cluster"
NODE_POOL = "node-pool"

_API = {True: "container.gcp.m.upbound.io/v1beta1", False: "container.gcp.upbound.io/v1beta2"}
# What this module reads of each observed resource, beyond its conditions.
READS = {
    CLUSTER: Reads(
        tuple(
            ("status", "atProvider", *field)
            for field in (
                ("endpoint",),
                ("masterAuth", "clusterCaCertificate"),
                ("project",),
                ("id",),
                ("masterVersion",),
            )
        )
    )
}


def render(xr: Composite, fn_input: Input) -> dict[str, dict[str, Any]]:
    """Managed resources by composition resource name."""
    spec = xr.spec
    refuse_other_clouds_fields(spec, "GKE")
    if spec.argocd.auth is AuthMode.CLIENT_CERTIFICATE:
        raise FieldError(
            "spec.argocd.auth",
            "ClientCertificate is not available for GKE, which issues no client certificates "
            "to new clusters",
            "Use Auto or WorkloadIdentity: Argo CD signs in with argocd-k8s-auth gcp",
        )
    cluster: dict[str, Any] = {
        "location": spec.location,
        # GKE requires a default pool at creation; the NodePool below replaces it.
        "removeDefaultNodePool": True,
        "initialNodeCount": 1,
        "deletionProtection": False,
    }
    if spec.version:
        cluster["minMasterVersion"] = spec.version
    secret = connection_secret_ref(xr, fn_input, DISTRIBUTION)
    return {
        CLUSTER: managed_resource(xr, _API, "Cluster", cluster, writeConnectionSecretToRef=secret),
        NODE_POOL: managed_resource(xr, _API, "NodePool", _node_pool(xr)),
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
    endpoint = at_provider(observed_cluster).get("endpoint")
    return f"https://{endpoint}" if endpoint else None


def needs_connection_details(_: Composite) -> bool:
    """GKE's endpoint and CA are in the cluster's status; no secret is needed."""
    return False


def argocd_connection(
    _: Composite, __: Input, observed_cluster: dict[str, Any], ___: Mapping[str, bytes] | None
) -> ClusterConnection | Waiting:
    """Argo CD signs in with its own Google identity (argocd-k8s-auth gcp)."""
    reported = at_provider(observed_cluster)
    endpoint = reported.get("endpoint")
    if not endpoint:
        return Waiting("WaitingForCluster", "GCP has not reported the cluster endpoint yet")
    tls: dict[str, Any] = {"insecure": False}
    try:
        # Absent for the DNS endpoint, which serves a publicly trusted certificate.
        ca = pem_data(reported.get("masterAuth", {}), "clusterCaCertificate", "", "a certificate")
    except KubeconfigError as exc:
        return Waiting("InvalidClusterCA", f"{_CA_FIELD}: {exc.problem}", broken=True)
    if ca:
        tls["caData"] = ca
    config = {
        "execProviderConfig": {
            "command": "argocd-k8s-auth",
            "args": ["gcp"],
            "apiVersion": EXEC_API_VERSION,
        },
        "tlsClientConfig": tls,
    }
    return ClusterConnection(f"https://{endpoint}", config_json(config), "GCPWorkloadIdentity")


def access_grants(_: Composite, __: Input, ___: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """None: IAM on GKE is per project, so a binding composed per cluster would be shared
    by every cluster of the project, and deleting one XR would revoke Argo CD everywhere.
    The README says how to grant Argo CD's service account once per project."""
    return {}


def region(location: str) -> str:
    """A zone's region (us-central1-a -> us-central1); regions stay as they are."""
    match = _ZONE.match(location)
    return match["region"] if match else location


def registration_annotations(
    _: Composite, observed: Mapping[str, ObservedResource]
) -> dict[str, str]:
    """Cluster facts an ApplicationSet template may want (under the function's prefix)."""
    cluster = observed.get(CLUSTER)
    reported = at_provider(cluster.manifest if cluster else None)
    annotations = {}
    project = reported.get("project") or _project_of(reported.get("id", ""))
    if project:
        annotations["project"] = project
    version = reported.get("masterVersion")
    if version:
        annotations["kubernetes-version"] = str(version)
    return annotations


def _project_of(cluster_id: str) -> str | None:
    """projects/<project>/locations/<location>/clusters/<name>"""
    parts = cluster_id.split("/")
    return parts[1] if len(parts) > 1 and parts[0] == "projects" else None
