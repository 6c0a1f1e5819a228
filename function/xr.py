"""The composite resource: its scope, identity and the user's spec, validated once.

The example XRDs' schemas are generated from these models (`python hack/generate.py`).
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from function.errors import FieldError, from_validation_error
from function.inputs import GUID, IAM_ROLE_ARN, ProviderConfigKind, check_role_arn
from function.naming import check_annotations, check_labels

K8S_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
CLUSTER_NAME = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
K8S_VERSION = r"^[0-9]+\.[0-9]+(\.[0-9]+)?([-+][0-9A-Za-z.-]+)?$"


class Scope(StrEnum):
    """How the XR is scoped, which decides the managed resources' API versions."""

    NAMESPACED = "Namespaced"
    CLUSTER = "Cluster"
    LEGACY_CLUSTER = "LegacyCluster"


class AuthMode(StrEnum):
    """Which credential Argo CD uses to reach the new cluster."""

    AUTO = "Auto"
    CLIENT_CERTIFICATE = "ClientCertificate"
    WORKLOAD_IDENTITY = "WorkloadIdentity"


class _Model(BaseModel):
    # Unknown fields are ignored: the XRD's schema prunes them, and Crossplane
    # adds its own (spec.crossplane, spec.claimRef, ...) to the same object.
    model_config = ConfigDict(extra="ignore", frozen=True)


class NodePool(_Model):
    """The cluster's one node pool."""

    size: str | None = Field(
        None,
        min_length=1,
        description="VM size (AKS), machine type (GKE) or instance type (EKS); cloud default "
        "if unset.",
    )
    count: int = Field(3, ge=1, description="Number of nodes (per zone on regional GKE clusters).")
    minCount: int | None = Field(None, ge=1, description="Autoscaling minimum; set with maxCount.")
    maxCount: int | None = Field(None, ge=1, description="Autoscaling maximum; set with minCount.")

    @model_validator(mode="after")
    def _autoscaling_bounds(self) -> "NodePool":
        low, high = self.minCount, self.maxCount
        if (low is None) != (high is None):
            given, missing = ("minCount", "maxCount") if high is None else ("maxCount", "minCount")
            raise FieldError(
                f"spec.nodePool.{missing}",
                f"is required when spec.nodePool.{given} is set",
                "Set both minCount and maxCount to enable autoscaling, or neither.",
            )
        if low is not None and high is not None:
            if low > high:
                raise FieldError(
                    "spec.nodePool.minCount",
                    f"({low}) must not exceed spec.nodePool.maxCount ({high})",
                    "Lower minCount or raise maxCount.",
                )
            if not low <= self.count <= high:
                raise FieldError(
                    "spec.nodePool.count",
                    f"({self.count}) must be between minCount ({low}) and maxCount ({high})",
                    "Set count to the initial size within the autoscaling range.",
                )
        return self

    @property
    def autoscaling(self) -> bool:
        """Whether minCount and maxCount are both set."""
        return self.minCount is not None


class WorkloadIdentity(_Model):
    """The Entra ID application that Argo CD authenticates as (AKS)."""

    clientId: str | None = Field(None, pattern=GUID, description="Application (client) ID.")
    tenantId: str | None = Field(None, pattern=GUID, description="Directory (tenant) ID.")


class ArgoCDSpec(_Model):
    """How this cluster appears in Argo CD."""

    # "register" is a classmethod of every pydantic model (ABCMeta), hence the alias.
    register_: bool = Field(True, alias="register", description="Register the cluster in Argo CD.")
    name: str | None = Field(
        None,
        max_length=253,
        pattern=CLUSTER_NAME,
        description="Argo CD cluster name; default <namespace>-<name> (namespaced XR) or <name>.",
    )
    drain: bool = Field(
        True,
        description=(
            "With register: false, keep the registration, marked draining, until Argo CD has "
            "deleted the cluster's Applications (and with them their objects on the cluster); "
            "false removes it at once."
        ),
    )
    project: str | None = Field(
        None, max_length=253, pattern=K8S_NAME, description="Argo CD AppProject owning the cluster."
    )
    namespaces: list[Annotated[str, StringConstraints(max_length=63, pattern=DNS_LABEL)]] = Field(
        default_factory=list, description="Restrict Argo CD to these namespaces of the cluster."
    )
    clusterResources: bool = Field(
        False, description="With namespaces, still manage cluster-scoped resources."
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Extra labels, for ApplicationSet selectors."
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Extra annotations, for ApplicationSet templates."
    )
    auth: AuthMode = Field(AuthMode.AUTO, description="Credential Argo CD uses for the cluster.")
    workloadIdentity: WorkloadIdentity | None = Field(
        None, description="AKS WorkloadIdentity: the Entra ID app Argo CD runs as."
    )


class ClusterSpec(_Model):
    """What the user asks for: the XR's spec."""

    location: str = Field(
        min_length=1, description="Azure region, GCP region or zone, or AWS region."
    )
    version: str | None = Field(
        None,
        pattern=K8S_VERSION,
        description='Kubernetes version, e.g. "1.33"; cloud default if unset.',
    )
    nodePool: NodePool = Field(default_factory=NodePool, description="The cluster's node pool.")
    resourceGroupName: str | None = Field(
        None,
        min_length=1,
        max_length=90,
        description="AKS: an existing resource group; a new one is composed if unset.",
    )
    subnetIds: list[Annotated[str, StringConstraints(min_length=1, max_length=255)]] = Field(
        default_factory=list,
        description="EKS: subnets of the cluster and its nodes, at least two, in different "
        "availability zones.",
    )
    clusterRoleArn: str | None = Field(
        None,
        description="EKS: an existing cluster IAM role; a new one is composed if unset.",
        json_schema_extra={"pattern": IAM_ROLE_ARN},
    )
    nodeRoleArn: str | None = Field(
        None,
        description="EKS: an existing node IAM role; a new one is composed if unset.",
        json_schema_extra={"pattern": IAM_ROLE_ARN},
    )
    providerConfigName: str = Field(
        "default", min_length=1, description="ProviderConfig of the cloud managed resources."
    )
    providerConfigKind: ProviderConfigKind = Field(
        ProviderConfigKind.CLUSTER, description="Kind of that ProviderConfig, for namespaced XRs."
    )
    argocd: ArgoCDSpec = Field(default_factory=ArgoCDSpec, description="Argo CD registration.")

    @field_validator("clusterRoleArn", "nodeRoleArn")
    @classmethod
    def _is_a_role_arn(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_role_arn(f"spec.{info.field_name}", value)


@dataclass(frozen=True)
class Composite:
    """The observed XR reduced to what rendering needs."""

    api_version: str
    kind: str
    name: str
    namespace: str | None
    scope: Scope
    spec: ClusterSpec
    claim_namespace: str | None = None
    claim_name: str | None = None

    @property
    def namespaced(self) -> bool:
        """Namespaced XRs compose namespaced (.m.) managed resources."""
        return self.scope is Scope.NAMESPACED


def mapping(value: Any) -> dict[str, Any]:
    """A field that should be an object; anything else reads as empty, never crashes."""
    return value if isinstance(value, dict) else {}


def scope_of(xr: dict[str, Any]) -> Scope:
    """Tell the XR's scope from the object itself, as Crossplane sends it."""
    if mapping(xr.get("metadata")).get("namespace"):
        return Scope.NAMESPACED
    spec = mapping(xr.get("spec"))
    if "crossplane" not in spec and any(
        k in spec for k in ("claimRef", "compositionRef", "resourceRefs", "compositionSelector")
    ):
        return Scope.LEGACY_CLUSTER
    return Scope.CLUSTER


def parse_composite(xr: dict[str, Any]) -> Composite:
    """Validate the observed XR's spec, raising field-named errors."""
    metadata = mapping(xr.get("metadata"))
    name = metadata.get("name")
    if not name or not isinstance(name, str):
        raise FieldError(
            "metadata.name", "the composite resource has no name", "Give the XR a name."
        )
    try:
        spec = ClusterSpec.model_validate(xr.get("spec") or {})
    except ValidationError as exc:
        raise from_validation_error(exc, "spec") from None
    check_labels("spec.argocd.labels", spec.argocd.labels)
    check_annotations("spec.argocd.annotations", spec.argocd.annotations)
    claim = mapping(mapping(xr.get("spec")).get("claimRef"))
    return Composite(
        api_version=xr.get("apiVersion", ""),
        kind=xr.get("kind", ""),
        name=name,
        namespace=str(metadata.get("namespace") or "") or None,
        scope=scope_of(xr),
        spec=spec,
        claim_namespace=claim.get("namespace"),
        claim_name=claim.get("name"),
    )
