"""The Argo CD cluster Secret, and how it reaches Argo CD's namespace (Secret or Object)."""

import base64
import json
from collections.abc import Mapping
from typing import Any

from function.errors import FieldError
from function.inputs import Delivery, Input
from function.kubeconfig import ClusterConnection
from function.naming import bounded_name, dns_label, short_hash
from function.xr import Composite, mapping

SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
PREFIX = "gitopscluster.fn.crossplane.io/"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "function-gitops-cluster"
# Keys users may not set: ApplicationSet selectors rely on them meaning what they say.
RESERVED_PREFIXES = (PREFIX, SECRET_TYPE_LABEL, MANAGED_BY_LABEL)

# The metadata of an observed registration that is its user-visible content.
KEPT_METADATA = ("name", "namespace", "labels", "annotations")

_OBJECT_API = {
    True: "kubernetes.m.crossplane.io/v1alpha1",
    False: "kubernetes.crossplane.io/v1alpha2",
}


def cluster_name(xr: Composite) -> str:
    """Argo CD's cluster name: the user's choice, else unique per XR (or claim)."""
    if xr.spec.argocd.name:
        return xr.spec.argocd.name
    if xr.claim_name:
        return f"{xr.claim_namespace}-{xr.claim_name}"
    return f"{xr.namespace}-{xr.name}" if xr.namespace else xr.name


def secret_name(xr: Composite) -> str:
    """Readable, and unique per XR even when two XRs pick the same Argo CD name."""
    identity = f"{xr.api_version}/{xr.kind}/{xr.namespace or ''}/{xr.name}"
    return bounded_name("cluster", dns_label(cluster_name(xr), 200), short_hash(identity))


def delivery(xr: Composite, fn_input: Input) -> Delivery:
    """Secret where Crossplane may compose into Argo CD's namespace, else Object."""
    argocd_namespace = fn_input.argocd.namespace
    secret_allowed = not xr.namespaced or xr.namespace == argocd_namespace
    wanted = fn_input.argocd.delivery
    if wanted is Delivery.AUTO:
        return Delivery.SECRET if secret_allowed else Delivery.OBJECT
    if wanted is Delivery.SECRET and not secret_allowed:
        raise FieldError(
            "input.argocd.delivery",
            f"Secret is not possible for the namespaced XR {xr.namespace}/{xr.name}: "
            f"Crossplane composes only into the XR's namespace, not {argocd_namespace}",
            "Use delivery Object (or Auto) with provider-kubernetes, or create the XR "
            f"in namespace {argocd_namespace}",
        )
    return wanted


def check_user_keys(field: str, keys: Mapping[str, str]) -> None:
    """Refuse labels and annotations that would overwrite the function's own."""
    for key in keys:
        if key.startswith(RESERVED_PREFIXES):
            raise FieldError(
                f"{field}[{key}]",
                "is reserved for the function's own labels and annotations",
                f"Use a key outside {PREFIX}, {SECRET_TYPE_LABEL} and {MANAGED_BY_LABEL}",
            )


def cluster_secret(
    xr: Composite,
    fn_input: Input,
    connection: ClusterConnection,
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
) -> dict[str, Any]:
    """The v1 Secret Argo CD reads; data only (never stringData), so its shape is stable.

    labels and annotations are the function's own, put under its prefix.
    """
    argocd = xr.spec.argocd
    data = {"name": cluster_name(xr), "server": connection.server, "config": connection.config_json}
    if argocd.project:
        data["project"] = argocd.project
    if argocd.namespaces:
        data["namespaces"] = ",".join(argocd.namespaces)
    if argocd.clusterResources:
        data["clusterResources"] = "true"
    standard = {
        SECRET_TYPE_LABEL: "cluster",
        MANAGED_BY_LABEL: MANAGED_BY,
        f"{PREFIX}composite-name": dns_label(xr.name),
        **({f"{PREFIX}composite-namespace": xr.namespace} if xr.namespace else {}),
        **{PREFIX + k: v for k, v in labels.items()},
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(xr),
            "namespace": fn_input.argocd.namespace,
            "labels": {**fn_input.argocd.commonLabels, **argocd.labels, **standard},
            "annotations": {
                **fn_input.argocd.commonAnnotations,
                **argocd.annotations,
                **{PREFIX + k: v for k, v in annotations.items()},
            },
        },
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def deliver(
    xr: Composite, fn_input: Input, secret: dict[str, Any], how: Delivery
) -> dict[str, Any]:
    """The composed resource: the Secret itself, or a provider-kubernetes Object holding it."""
    if how is Delivery.SECRET:
        return secret
    ref = fn_input.argocd.objectProviderConfigRef
    provider_config = (
        {"kind": str(ref.kind), "name": ref.name} if xr.namespaced else {"name": ref.name}
    )
    return {
        "apiVersion": _OBJECT_API[xr.namespaced],
        "kind": "Object",
        "spec": {"forProvider": {"manifest": secret}, "providerConfigRef": provider_config},
    }


def kept(observed: dict[str, Any]) -> dict[str, Any]:
    """An observed registration as desired state, unchanged: what the user already has."""
    metadata = mapping(observed.get("metadata"))
    desired = {k: v for k, v in observed.items() if k not in ("metadata", "status")}
    desired["metadata"] = {k: metadata[k] for k in KEPT_METADATA if k in metadata}
    return desired


def registered_secret(observed: dict[str, Any]) -> dict[str, Any]:
    """The Secret inside an observed registration, whichever way it was delivered.

    Observed registrations may have been edited by hand, so they are read defensively.
    """
    if observed.get("kind") == "Object":
        return mapping(mapping(mapping(observed.get("spec")).get("forProvider")).get("manifest"))
    return observed


def secret_field(secret: dict[str, Any], key: str) -> str | None:
    """A decoded non-secret data field (name, server) of an observed cluster Secret."""
    value = mapping(secret.get("data")).get(key)
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def auth_method(secret: dict[str, Any]) -> str | None:
    """How an observed cluster Secret authenticates, for status; never the credential."""
    raw = secret_field(secret, "config")
    try:
        config = json.loads(raw) if raw else None
    except ValueError:
        return None
    if not isinstance(config, dict):
        return None
    if config.get("awsAuthConfig"):
        return "AWSAuth"
    exec_config = mapping(config.get("execProviderConfig"))
    if exec_config:
        args = exec_config.get("args")
        args = args if isinstance(args, list) else []
        provider = args[0] if exec_config.get("command") == "argocd-k8s-auth" and args else None
        provider = provider if isinstance(provider, str) else None
        return {"azure": "AzureWorkloadIdentity", "gcp": "GCPWorkloadIdentity"}.get(
            provider, "Exec"
        )
    tls = mapping(config.get("tlsClientConfig"))
    if tls.get("certData"):
        return "ClientCertificate"
    if config.get("bearerToken"):
        return "BearerToken"
    return "BasicAuth" if config.get("username") else "None"
