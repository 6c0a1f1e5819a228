"""The pipeline without protos: observed state in, desired state out.

fn.py reads the request into an Observed and writes a Desired back; everything
here is plain data, so each step is testable without a server.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from function import aks, gke, status
from function.inputs import Cloud, Input, parse_input
from function.xr import Composite, parse_composite


class CloudRenderer(Protocol):
    """What a cloud module (aks.py, gke.py) provides."""

    DISTRIBUTION: str
    CLUSTER: str
    render: Callable[[Composite, Input], dict[str, dict[str, Any]]]
    cluster_endpoint: Callable[[dict[str, Any]], str | None]


# Adding a cloud is adding its module and one line here.
CLOUDS: dict[Cloud, CloudRenderer] = {Cloud.AKS: aks, Cloud.GKE: gke}  # type: ignore[dict-item]


@dataclass(frozen=True)
class ObservedResource:
    """A composed resource as Crossplane last saw it."""

    manifest: dict[str, Any]
    connection_details: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Observed:
    """Everything the function reads from a request."""

    composite: dict[str, Any]
    input: dict[str, Any] | None
    resources: Mapping[str, ObservedResource] = field(default_factory=dict)


@dataclass
class Desired:
    """Everything the function writes into a response."""

    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    ready: dict[str, bool] = field(default_factory=dict)
    composite_status: status.CompositeStatus = field(default_factory=status.CompositeStatus)


def compose(observed: Observed) -> Desired:
    """Validate, render the cloud's resources, and derive readiness and status."""
    fn_input = parse_input(observed.input)
    xr = parse_composite(observed.composite)
    cloud = CLOUDS[fn_input.cloud]

    desired = Desired(resources=cloud.render(xr, fn_input))
    for name in desired.resources:
        seen = observed.resources.get(name)
        desired.ready[name] = status.is_ready(seen.manifest if seen else None)

    observed_cluster = observed.resources.get(cloud.CLUSTER)
    endpoint = cloud.cluster_endpoint(observed_cluster.manifest) if observed_cluster else None
    desired.composite_status = status.CompositeStatus(
        cluster=status.ClusterStatus(endpoint=endpoint) if endpoint else None
    )
    return desired
