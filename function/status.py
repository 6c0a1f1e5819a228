"""Readiness of composed resources and the XR status the function owns.

The status models also generate the status schema of the example XRDs.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClusterStatus(_Model):
    """The composed cluster as the cloud reports it."""

    endpoint: str | None = Field(None, description="API server URL of the cluster.")


class ArgoCDStatus(_Model):
    """The cluster's registration in Argo CD; never any credential."""

    registered: bool = Field(False, description="Whether the Argo CD cluster Secret exists.")
    name: str | None = Field(None, description="Argo CD cluster name.")
    server: str | None = Field(None, description="Server URL Argo CD uses for the cluster.")
    authMethod: str | None = Field(None, description="How Argo CD authenticates to the cluster.")


class CompositeStatus(_Model):
    """The XR status fields this function writes."""

    cluster: ClusterStatus | None = Field(None, description="The composed cluster.")
    argocd: ArgoCDStatus | None = Field(None, description="Argo CD registration.")

    def as_dict(self) -> dict[str, Any]:
        """Only what is known: absent fields stay absent rather than null."""
        return self.model_dump(exclude_none=True)


def is_ready(observed: dict[str, Any] | None) -> bool:
    """A composed resource is ready when its observed Ready condition is True."""
    status = observed.get("status") if observed else None
    conditions = status.get("conditions") if isinstance(status, dict) else None
    for condition in conditions if isinstance(conditions, list) else ():
        if isinstance(condition, dict) and condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False
