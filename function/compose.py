"""The pipeline without protos: observed state in, desired state out.

selection.py reads the request into an Observed and fn.py writes a Desired back; everything
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

# What compose reads of the request (state.Reads); selection.py looks at nothing else.
COMPOSITE_READS = Reads(
    (("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace"), ("spec",))
)
# Of every observed resource its readiness; of some, what the cloud or the lifecycle reads.
RESOURCE_READS = Reads(conditions=True)


def _reads_of(clouds: list[CloudModule]) -> dict[str, Reads]:
    """By composition name, what compose reads of an observed resource with these clouds."""
    reads = {
        name: functools.reduce(
            operator.or_,
            (cloud.READS.get(name, RESOURCE_READS) for cloud in clouds),
            RESOURCE_READS,
        )
        for name in {name for cloud in clouds for name in cloud.READS}
    }
    reads[registration.REGISTRATION] = RESOURCE_READS | registration.READS
    reads[registration.CREDENTIALS] = RESOURCE_READS | registration.CREDENTIALS_READS
    return reads


# Per cloud, so that what a cloud forgets to declare is not read for it by another; every
# cloud's together for a step whose input names none (compose then only says so).
_OBSERVED_READS = {str(name): _reads_of([cloud]) for name, cloud in CLOUDS.items()}
_ANY_CLOUD_READS = _reads_of(list(CLOUDS.values()))


def observed_reads(name: str, cloud: str = "") -> Reads:
    """What compose reads of the observed resource of that composition name, for the step
    whose input.cloud is cloud."""
    return _OBSERVED_READS.get(cloud, _ANY_CLOUD_READS).get(name, RESOURCE_READS)


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
