"""The function's Input (gitopscluster.fn.crossplane.io/v1beta1): one source of truth.

package/input/ holds the CRD generated from this model (`python hack/generate.py`).
"""

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from function.errors import FieldError, from_validation_error
from function.naming import check_annotations, check_labels, is_dns_label

GROUP = "gitopscluster.fn.crossplane.io"
GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# An IAM role ARN in any partition (aws, aws-cn, aws-us-gov), paths included.
IAM_ROLE_ARN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}$"
DEFAULT_AKS_ROLE = "Azure Kubernetes Service RBAC Cluster Admin"
DEFAULT_EKS_ACCESS_POLICY = "AmazonEKSClusterAdminPolicy"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
DEFAULT_TTL = "60s"
DEFAULT_TTL_SECONDS = 60
# Whole hours, minutes and seconds, in that order (Go's duration syntax, whole units).
TTL_PATTERN = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
_TTL = re.compile(r"^(?:(?P<h>[0-9]{1,6})h)?(?:(?P<m>[0-9]{1,8})m)?(?:(?P<s>[0-9]{1,10})s)?$")


class Cloud(StrEnum):
    """Which cloud's managed resources the step renders."""

    AKS = "AKS"
    GKE = "GKE"
    EKS = "EKS"


class Delivery(StrEnum):
    """How the Argo CD cluster Secret reaches Argo CD's namespace."""

    AUTO = "Auto"
    SECRET = "Secret"
    OBJECT = "Object"


class ProviderConfigKind(StrEnum):
    """Kind of a namespaced managed resource's provider config."""

    CLUSTER = "ClusterProviderConfig"
    NAMESPACED = "ProviderConfig"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class ObjectProviderConfigRef(_Model):
    """The provider-kubernetes config that Object delivery uses."""

    name: str = Field(
        "default", min_length=1, description="Name of the provider-kubernetes config."
    )
    kind: ProviderConfigKind = Field(
        ProviderConfigKind.CLUSTER,
        description="Kind of the provider-kubernetes config; namespaced Objects only.",
    )


class AzureIdentity(_Model):
    """The Entra ID app or managed identity Argo CD runs as (AKS workload identity)."""

    clientId: str | None = Field(
        None,
        pattern=GUID,
        description="Its client ID, for argocd-k8s-auth azure when a claim sets no "
        "spec.argocd.workloadIdentity.",
    )
    tenantId: str | None = Field(None, pattern=GUID, description="Its directory (tenant) ID.")
    principalId: str | None = Field(
        None,
        pattern=GUID,
        description="Its object ID: set it to compose a role assignment on every cluster "
        "that uses Entra ID with Azure RBAC.",
    )
    role: str = Field(
        DEFAULT_AKS_ROLE,
        min_length=1,
        max_length=256,
        description="The Azure role assigned to it at each cluster's scope.",
    )


class AWSIdentity(_Model):
    """The IAM role Argo CD assumes (IRSA or EKS Pod Identity)."""

    roleArn: str | None = Field(
        None,
        description="Its ARN: Argo CD signs in to EKS clusters as this role "
        "(awsAuthConfig.roleARN), and each cluster gets an access entry for it.",
        json_schema_extra={"pattern": IAM_ROLE_ARN},
    )
    accessPolicy: str = Field(
        DEFAULT_EKS_ACCESS_POLICY,
        pattern=r"^[A-Za-z0-9]{1,128}$",
        description="The EKS access policy associated with that role, by name "
        "(arn:aws:eks::aws:cluster-access-policy/<name>).",
    )

    @field_validator("roleArn")
    @classmethod
    def _is_a_role_arn(cls, value: str | None) -> str | None:
        return check_role_arn("input.argocd.identity.aws.roleArn", value)


class GCPIdentity(_Model):
    """The Google service account Argo CD runs as; granted once per project, not here."""

    serviceAccount: str | None = Field(
        None,
        pattern=r"^[a-z0-9-]{1,63}@[a-z0-9.-]+\.iam\.gserviceaccount\.com$",
        description="Informational: GKE access is an IAM grant per project (see README).",
    )


class Identity(_Model):
    """Argo CD's own cloud identity, the same for every cluster of a Composition."""

    azure: AzureIdentity = Field(default_factory=AzureIdentity, description="On AKS.")
    aws: AWSIdentity = Field(default_factory=AWSIdentity, description="On EKS.")
    gcp: GCPIdentity = Field(default_factory=GCPIdentity, description="On GKE.")


class ArgoCDInput(_Model):
    """Platform-wide Argo CD settings, the same for every cluster of a Composition."""

    namespace: str = Field(
        "argocd", description="Namespace where Argo CD watches for cluster Secrets."
    )
    identity: Identity = Field(
        default_factory=Identity,
        description="Argo CD's own cloud identity: how it signs in to new clusters, and "
        "what the function grants access to each.",
    )
    delivery: Delivery = Field(
        Delivery.AUTO,
        description="Secret writes the cluster Secret directly; Object wraps it in a "
        "provider-kubernetes Object; Auto picks Secret where Crossplane allows it.",
    )
    objectProviderConfigRef: ObjectProviderConfigRef = Field(
        default_factory=ObjectProviderConfigRef,
        description="provider-kubernetes config for delivery Object.",
    )
    commonLabels: dict[str, str] = Field(
        default_factory=dict, description="Labels put on every cluster Secret."
    )
    commonAnnotations: dict[str, str] = Field(
        default_factory=dict, description="Annotations put on every cluster Secret."
    )

    @field_validator("namespace")
    @classmethod
    def _namespace_is_dns_label(cls, value: str) -> str:
        if not is_dns_label(value):
            msg = "must be a Kubernetes namespace name (lower-case DNS label)"
            raise ValueError(msg)
        return value


class Input(_Model):
    """Input of a function-gitops-cluster pipeline step."""

    apiVersion: Literal["gitopscluster.fn.crossplane.io/v1beta1"] = API_VERSION
    kind: Literal["Input"] = "Input"
    cloud: Cloud = Field(description="Cloud whose cluster this step composes: AKS, GKE or EKS.")
    argocd: ArgoCDInput = Field(default_factory=ArgoCDInput, description="Argo CD registration.")
    ttl: str = Field(
        DEFAULT_TTL,
        description="How long Crossplane may wait before calling the function again for an XR "
        "(meta.ttl): a duration such as 60s, 5m or 1h. With realtime compositions it is how "
        "often a quiet XR is reconciled.",
        json_schema_extra={"pattern": TTL_PATTERN},
    )
    connectionSecretNamespace: str = Field(
        "crossplane-system",
        description="Namespace of connection Secrets of cluster-scoped managed resources.",
    )

    @field_validator("ttl")
    @classmethod
    def _ttl_is_a_duration(cls, value: str) -> str:
        if duration_seconds(value) is None:
            shown = f" ({value!r})" if len(value) <= 40 else ""
            raise FieldError(
                "input.ttl",
                f"is not a positive duration{shown}",
                "Use whole hours, minutes or seconds, such as 60s, 5m or 1h",
            )
        return value

    @field_validator("connectionSecretNamespace")
    @classmethod
    def _secret_namespace_is_dns_label(cls, value: str) -> str:
        if not is_dns_label(value):
            msg = "must be a Kubernetes namespace name (lower-case DNS label)"
            raise ValueError(msg)
        return value


def check_role_arn(field: str, value: str | None) -> str | None:
    """An IAM role ARN, or a FieldError naming the field and the form."""
    if value is not None and not re.fullmatch(IAM_ROLE_ARN, value):
        shown = f" ({value!r})" if len(value) <= 80 else ""
        raise FieldError(
            field,
            f"is not an IAM role ARN{shown}",
            "Use arn:aws:iam::<12-digit account ID>:role/<role name>",
        )
    return value


def duration_seconds(text: str) -> int | None:
    """Seconds in a duration such as 90s, 5m or 1h30m; None if not one, or not positive."""
    match = _TTL.fullmatch(text)
    if not match:
        return None
    seconds = sum(
        int(match[unit] or 0) * factor for unit, factor in (("h", 3600), ("m", 60), ("s", 1))
    )
    return seconds or None


def ttl_seconds(raw: dict[str, Any] | None) -> int:
    """input.ttl in seconds for meta.ttl, on every response: the default when it is absent
    or invalid (parse_input then reports it in a Fatal result)."""
    ttl = raw.get("ttl") if isinstance(raw, dict) else None
    return (duration_seconds(ttl) if isinstance(ttl, str) else None) or DEFAULT_TTL_SECONDS


def parse_input(raw: dict | None) -> Input:
    """Validate the step's input, raising field-named errors."""
    if not raw:
        raise FieldError(
            "input",
            "the pipeline step has no input",
            f"Add an input of apiVersion {API_VERSION}, kind Input, with at least 'cloud'.",
        )
    try:
        parsed = Input.model_validate(raw)
    except ValidationError as exc:
        raise from_validation_error(exc, "input") from None
    check_labels("input.argocd.commonLabels", parsed.argocd.commonLabels)
    check_annotations("input.argocd.commonAnnotations", parsed.argocd.commonAnnotations)
    return parsed
