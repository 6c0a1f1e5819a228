"""What every composed managed resource shares: scope-dependent refs and names."""

from collections.abc import Mapping
from typing import Any

from function.inputs import Input
from function.naming import bounded_name
from function.xr import Composite, mapping

# Siblings find each other through the XR that controls them both, never by a
# generated name that only exists after the first apply.
SAME_CONTROLLER = {"matchControllerRef": True}
# The cloud's own name for a managed resource, set by its provider.
EXTERNAL_NAME = "crossplane.io/external-name"


def managed_resource(
    xr: Composite,
    api_version: Mapping[bool, str],
    kind: str,
    for_provider: dict[str, Any],
    **spec: Any,
) -> dict[str, Any]:
    """A managed resource at the API version for the XR's scope (by xr.namespaced), with
    the XR's provider config; spec holds the rest (initProvider, writeConnectionSecretToRef)."""
    return {
        "apiVersion": api_version[xr.namespaced],
        "kind": kind,
        "spec": {"forProvider": for_provider, **spec, "providerConfigRef": provider_config_ref(xr)},
    }


def at_provider(observed: dict[str, Any] | None) -> dict[str, Any]:
    """status.atProvider of an observed managed resource: what the cloud reports of it."""
    return mapping(mapping(mapping(observed).get("status")).get("atProvider"))


def external_name(observed: dict[str, Any] | None) -> str | None:
    """The crossplane.io/external-name of an observed managed resource, if it has one."""
    name = mapping(mapping(mapping(observed).get("metadata")).get("annotations")).get(EXTERNAL_NAME)
    return name if isinstance(name, str) and name else None


def provider_config_ref(xr: Composite) -> dict:
    """Namespaced MRs name a kind (ClusterProviderConfig or ProviderConfig); legacy ones don't."""
    spec = xr.spec
    if xr.namespaced:
        return {"kind": str(spec.providerConfigKind), "name": spec.providerConfigName}
    return {"name": spec.providerConfigName}


def connection_secret_name(xr: Composite, distribution: str) -> str:
    """Deterministic, so the function can ask Crossplane for this Secret by name."""
    return bounded_name(xr.name, distribution, "kubeconfig")


def connection_secret_namespace(xr: Composite, fn_input: Input) -> str:
    """Namespaced MRs always write into their own (the XR's) namespace."""
    return xr.namespace if xr.namespace else fn_input.connectionSecretNamespace


def connection_secret_ref(xr: Composite, fn_input: Input, distribution: str) -> dict:
    """writeConnectionSecretToRef: name only for namespaced MRs, name and namespace otherwise."""
    ref = {"name": connection_secret_name(xr, distribution)}
    if not xr.namespaced:
        ref["namespace"] = fn_input.connectionSecretNamespace
    return ref
