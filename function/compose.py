"""The pipeline without protos: observed state in, desired state out.

fn.py reads the request into an Observed and writes a Desired back; everything
here is plain data, so each step is testable without a server.
"""

import functools
import operator

from function import argocd, registration, status
from function.clouds import CloudModule, aks, eks, gke
from function.inputs import Cloud, parse_input
from function.state import Desired, Observed, Reads
from function.xr import Scope, parse_composite

# The one seam between the pipeline and a cloud (function/clouds/): adding a cloud is
# adding its module and one line here.
CLOUDS: dict[Cloud, CloudModule] = {Cloud.AKS: aks, Cloud.GKE: gke, Cloud.EKS: eks}  # type: ignore[dict-item]

# What compose reads of the request (state.Reads); fn.py looks at nothing else.
COMPOSITE_READS = Reads(
    (("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace"), ("spec",))
)
# Of every observed resource its readiness; of some, what a cloud or the lifecycle reads.
RESOURCE_READS = Reads(conditions=True)
_OBSERVED_READS = {
    name: functools.reduce(
        operator.or_,
        (cloud.READS.get(name, RESOURCE_READS) for cloud in CLOUDS.values()),
        RESOURCE_READS,
    )
    for name in {name for cloud in CLOUDS.values() for name in cloud.READS}
}
_OBSERVED_READS[registration.REGISTRATION] = RESOURCE_READS | registration.READS
_OBSERVED_READS[registration.CREDENTIALS] = RESOURCE_READS | registration.CREDENTIALS_READS


def observed_reads(name: str) -> Reads:
    """What compose reads of the observed resource of that composition name."""
    return _OBSERVED_READS.get(name, RESOURCE_READS)


def required_reads(name: str) -> Reads:
    """What compose reads of the objects fetched for the requirement of that name."""
    return registration.REQUIRED_READS.get(name, Reads())


def compose(observed: Observed) -> Desired:
    """Validate, render the cloud's resources, register the cluster, derive status."""
    fn_input = parse_input(observed.input)
    xr = parse_composite(observed.composite)
    argocd.check_user_keys("input.argocd.commonLabels", fn_input.argocd.commonLabels)
    argocd.check_user_keys("input.argocd.commonAnnotations", fn_input.argocd.commonAnnotations)
    argocd.check_user_keys("spec.argocd.labels", xr.spec.argocd.labels)
    argocd.check_user_keys("spec.argocd.annotations", xr.spec.argocd.annotations)
    cloud = CLOUDS[fn_input.cloud]

    desired = Desired(
        resources=cloud.render(xr, fn_input), to_claim=xr.scope is Scope.LEGACY_CLUSTER
    )
    for name in desired.resources:
        seen = observed.resources.get(name)
        desired.ready[name] = status.is_ready(seen.manifest if seen else None)

    observed_cluster = observed.resources.get(cloud.CLUSTER)
    endpoint = cloud.cluster_endpoint(observed_cluster.manifest) if observed_cluster else None
    if endpoint:
        desired.status.cluster = status.ClusterStatus(endpoint=endpoint)

    registration.register(xr, fn_input, cloud, observed, desired)
    return desired
