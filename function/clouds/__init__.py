"""One module per cloud, each behind the same seam (CloudModule), picked by input.cloud.

A cloud module renders the cloud's managed resources for an XR, reads the observed
cluster for Argo CD (endpoint, credentials, facts for labels and annotations) and
grants Argo CD's own cloud identity access to it. Everything else (validation, the
registration lifecycle, delivery, status) is shared and lives outside this package.
Adding a cloud is adding a module that provides CloudModule, its name in inputs.Cloud
and one line in compose.CLOUDS (and, for its examples' XRDs, its fields in
hack/generate.py).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from function.errors import FieldError
from function.inputs import Input
from function.kubeconfig import ClusterConnection
from function.state import ObservedResource, Reads
from function.xr import ClusterSpec, Composite


@dataclass(frozen=True)
class Waiting:
    """Why there is no connection yet: a condition reason and a message for people.

    broken: the credentials exist but are unusable, which deserves a Warning event;
    plain waiting (nothing there yet) is only a condition.
    """

    reason: str
    message: str
    broken: bool = False


class CloudModule(Protocol):
    """What a cloud module provides."""

    # Label values on the Argo CD cluster Secret (gitopscluster.fn.crossplane.io/cloud
    # and /distribution): azure, gcp, aws; aks, gke, eks.
    CLOUD: str
    DISTRIBUTION: str
    # Composition resource name of the cluster, whose readiness gates registration.
    CLUSTER: str
    # What the module reads of each observed resource, beyond its conditions, by
    # composition resource name (fn.py reads nothing else of a request).
    READS: dict[str, Reads]
    # Managed resources by composition resource name; FieldError for a bad spec.
    render: Callable[[Composite, Input], dict[str, dict[str, Any]]]
    # The API server URL for the XR's status, once the cloud reports it.
    cluster_endpoint: Callable[[dict[str, Any]], str | None]
    # Whether argocd_connection needs the cluster's connection details (a Secret).
    needs_connection_details: Callable[[Composite], bool]
    # How Argo CD reaches the observed cluster, or why it cannot yet.
    argocd_connection: Callable[
        [Composite, Input, dict[str, Any], Mapping[str, bytes] | None],
        ClusterConnection | Waiting,
    ]
    # The region of spec.location, for the region label.
    region: Callable[[str], str]
    # Cluster facts for the Secret's annotations (under the function's prefix).
    registration_annotations: Callable[[Composite, Mapping[str, ObservedResource]], dict[str, str]]
    # Resources that let Argo CD's own identity (input.argocd.identity) into the observed
    # Ready cluster, by composition resource name: {} when none is wanted, None when the
    # cluster's status does not tell enough yet. registration.py composes them with the
    # registration, keeps them through gaps and removes them with it.
    access_grants: Callable[[Composite, Input, dict[str, Any]], dict[str, dict[str, Any]] | None]


def refuse_other_clouds_fields(spec: ClusterSpec, cloud: str) -> None:
    """One Fatal naming a field of another cloud, rather than a cluster silently unlike
    the one asked for: an XRD shared by several clouds may carry them all."""
    identity = spec.argocd.workloadIdentity
    # Field: the cloud it belongs to, what it is, its value, and more of the fix.
    fields = {
        "spec.resourceGroupName": ("AKS", "an Azure resource group", spec.resourceGroupName, ""),
        "spec.argocd.workloadIdentity": (
            "AKS",
            "the Entra ID app Argo CD signs in with",
            # An empty one is what the API server defaults a shared XRD's field to.
            identity is not None and (identity.clientId or identity.tenantId),
            "; Argo CD's own identity is the Composition's input.argocd.identity",
        ),
        "spec.subnetIds": ("EKS", "the cluster's VPC subnets", spec.subnetIds, ""),
        "spec.clusterRoleArn": ("EKS", "the cluster's IAM role", spec.clusterRoleArn, ""),
        "spec.nodeRoleArn": ("EKS", "the nodes' IAM role", spec.nodeRoleArn, ""),
    }
    for field, (owner, what, value, more) in fields.items():
        if owner != cloud and value:
            raise FieldError(
                field,
                f"is an {owner} field ({what}), which {cloud} does not use",
                f"Remove it from the {cloud} cluster's spec{more}",
            )
