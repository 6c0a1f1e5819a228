"""The Argo CD cluster Secret, and how it reaches Argo CD's namespace (Secret or Object)."""

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from function.errors import FieldError
from function.inputs import Delivery, Input
from function.kubeconfig import ClusterConnection
from function.managed import connection_secret_namespace
from function.naming import bounded_name, dns_label, label_value, short_hash
from function.state import Reads
from function.xr import Composite, mapping

SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
PREFIX = "gitopscluster.fn.crossplane.io/"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "function-gitops-cluster"
# The cluster's Argo CD name as a label value (cluster_label): on the cluster Secret, for
# ApplicationSets to copy onto each Application they generate, so the function can find a
# cluster's Applications by label.
CLUSTER_LABEL = f"{PREFIX}cluster"
# On a registration being withdrawn (spec.argocd.register: false): ApplicationSets
# exclude clusters so labelled, and delete their Applications while Argo CD can still
# reach the cluster.
STATE_LABEL = f"{PREFIX}state"
DRAINING = "draining"
APPLICATION_API = "argoproj.io/v1alpha1"
# Keys users may not set: ApplicationSet selectors rely on them meaning what they say.
RESERVED_PREFIXES = (PREFIX, SECRET_TYPE_LABEL, MANAGED_BY_LABEL)

# The metadata of an observed registration that is its user-visible content.
KEPT_METADATA = ("name", "namespace", "labels", "annotations")
# What kept() needs of an observed resource: all of it but its status, and of its
# metadata what makes up its content (kind included: a Secret or an Object).
KEPT_READS = Reads(
    tuple(("metadata", key) for key in KEPT_METADATA), all_but=("metadata", "status")
)

# Delivery Object: the credentials (data.config) stay in a Secret of the function's own,
# which provider-kubernetes patches into the manifest when it applies it.
CONFIG_KEY = "config"
# The manifest's config until then. Declaring it keeps the field Crossplane's: the
# provider writes the patched value into the Object's spec once, when it creates the
# Secret (crossplane-contrib/provider-kubernetes#223), and Crossplane's next apply of
# this placeholder takes it out again.
CONFIG_PLACEHOLDER = ""
# A digest of the credentials the Object's reference reads, so the Object's spec (and
# with it provider-kubernetes' reconcile) changes when they do.
CONFIG_DIGEST = f"{PREFIX}config-digest"
_DIGEST_LEN = 16

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


def cluster_label(xr: Composite) -> str:
    """The cluster's Argo CD name as a label value: the name itself when it is a valid
    label value (63 characters at most), else a readable prefix and a hash of the name."""
    return label_value(cluster_name(xr))


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
        CLUSTER_LABEL: cluster_label(xr),
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


def credentials_name(xr: Composite) -> str:
    """The credentials Secret beside a delivery Object: named after the registration."""
    return bounded_name(secret_name(xr), "credentials")


def config_digest(config_b64: str) -> str:
    """Part of a sha256 of the credentials: changes with them, reveals nothing of them."""
    return hashlib.sha256(config_b64.encode()).hexdigest()[:_DIGEST_LEN]


def deliver(
    xr: Composite,
    fn_input: Input,
    secret: dict[str, Any],
    how: Delivery,
    *,
    applied_config: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The composed registration, and for delivery Object the credentials Secret beside it.

    Delivery Secret: the Argo CD cluster Secret itself. Delivery Object: a
    provider-kubernetes Object whose manifest is that Secret without its credentials,
    plus a reference that patches data.config from a Secret of our own in the XR's
    namespace, read by provider-kubernetes on the control plane.

    applied_config: data.config as the credentials Secret has it now. The Object's digest
    follows that, not the new credentials: Crossplane applies composed resources in no set
    order, and an Object changed before its Secret would make the provider apply the old
    credentials and then wait a whole poll. The Secret changes on this call, the Object on
    the next (Crossplane calls again as soon as it sees the Secret change).
    """
    if how is Delivery.SECRET:
        return secret, None
    data = mapping(secret.get("data"))
    config = data[CONFIG_KEY]
    # Where the function keeps an XR's Secrets: its namespace, else input's.
    name, namespace = credentials_name(xr), connection_secret_namespace(xr, fn_input)
    credentials = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY},
        },
        "type": "Opaque",
        "data": {CONFIG_KEY: config},
    }
    metadata = secret["metadata"]
    digest = config_digest(applied_config if applied_config is not None else config)
    manifest = {
        **secret,
        "metadata": {
            **metadata,
            "annotations": {**metadata.get("annotations", {}), CONFIG_DIGEST: digest},
        },
        "data": {**data, CONFIG_KEY: CONFIG_PLACEHOLDER},
    }
    ref = fn_input.argocd.objectProviderConfigRef
    provider_config = (
        {"kind": str(ref.kind), "name": ref.name} if xr.namespaced else {"name": ref.name}
    )
    obj = {
        "apiVersion": _OBJECT_API[xr.namespaced],
        "kind": "Object",
        "spec": {
            "forProvider": {"manifest": manifest},
            "references": [
                {
                    "patchesFrom": {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "name": name,
                        "namespace": namespace,
                        "fieldPath": f"data.{CONFIG_KEY}",
                    },
                    "toFieldPath": f"data.{CONFIG_KEY}",
                }
            ],
            "providerConfigRef": provider_config,
        },
    }
    return obj, credentials


def kept(observed: dict[str, Any]) -> dict[str, Any]:
    """An observed registration (or grant) as desired state, unchanged: what the user
    already has.

    Except credentials an Object's spec holds while it has a config reference: those are
    provider-kubernetes' transient copy (see CONFIG_PLACEHOLDER), never ours to keep.
    """
    metadata = mapping(observed.get("metadata"))
    desired = {k: v for k, v in observed.items() if k not in ("metadata", "status")}
    desired["metadata"] = {k: metadata[k] for k in KEPT_METADATA if k in metadata}
    if observed.get("kind") == "Object" and _patches_config(observed):
        return _with_manifest(desired, _without_config)
    return desired


def _without_config(manifest: dict[str, Any]) -> dict[str, Any]:
    data = mapping(manifest.get("data"))
    if data.get(CONFIG_KEY) in (None, CONFIG_PLACEHOLDER):
        return manifest
    return {**manifest, "data": {**data, CONFIG_KEY: CONFIG_PLACEHOLDER}}


def _with_manifest(
    obj: dict[str, Any], change: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    """An Object with its manifest (the Argo CD Secret) changed by `change`."""
    spec = mapping(obj.get("spec"))
    for_provider = mapping(spec.get("forProvider"))
    manifest = change(mapping(for_provider.get("manifest")))
    return {**obj, "spec": {**spec, "forProvider": {**for_provider, "manifest": manifest}}}


def with_state(registration: dict[str, Any], state: str | None) -> dict[str, Any]:
    """A desired registration with the Argo CD Secret's state label set, or removed (None).

    For delivery Object the label goes on the Secret inside the Object's manifest, which
    is what Argo CD reads.
    """
    if registration.get("kind") == "Object":
        return _with_manifest(registration, lambda manifest: with_state(manifest, state))
    metadata = mapping(registration.get("metadata"))
    labels = {k: v for k, v in mapping(metadata.get("labels")).items() if k != STATE_LABEL}
    if state is not None:
        labels[STATE_LABEL] = state
    metadata = (
        {**metadata, "labels": labels}
        if labels
        else {k: v for k, v in metadata.items() if k != "labels"}
    )
    return {**registration, "metadata": metadata}


def cluster_label_of(registration: dict[str, Any]) -> str | None:
    """The cluster label of an observed registration's Argo CD Secret, if it has one."""
    labels = mapping(mapping(registered_secret(registration).get("metadata")).get("labels"))
    value = labels.get(CLUSTER_LABEL)
    return value if isinstance(value, str) and value else None


def _patches_config(observed: dict[str, Any]) -> bool:
    """Does an observed Object patch data.config in from a Secret?"""
    references = mapping(observed.get("spec")).get("references")
    return isinstance(references, list) and any(
        isinstance(ref, dict) and ref.get("toFieldPath") == f"data.{CONFIG_KEY}"
        for ref in references
    )


def config_of(credentials: dict[str, Any] | None) -> str | None:
    """data.config of an observed credentials Secret, base64 as stored; None if absent."""
    value = mapping(mapping(credentials).get("data")).get(CONFIG_KEY)
    return value if isinstance(value, str) and value else None


def registered_secret(observed: dict[str, Any]) -> dict[str, Any]:
    """The Secret inside an observed registration, whichever way it was delivered.

    Observed registrations may have been edited by hand, so they are read defensively.
    """
    if observed.get("kind") == "Object":
        return mapping(mapping(mapping(observed.get("spec")).get("forProvider")).get("manifest"))
    return observed


def with_credentials(secret: dict[str, Any], credentials: dict[str, Any] | None) -> dict[str, Any]:
    """An observed Argo CD Secret with data.config as the credentials Secret has it."""
    config = config_of(credentials)
    if config is None:
        return secret
    return {**secret, "data": {**mapping(secret.get("data")), CONFIG_KEY: config}}


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
