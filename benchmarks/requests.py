"""Live-shaped RunFunctionRequests: the steady-state reconcile of the examples.

Crossplane calls the function again and again for a cluster that already exists and is
already registered, so that is the call worth measuring: every composed resource
observed and Ready, the AKS kubeconfig (fresh RSA 2048 PKI, a few kB) in the cluster's
connection details, the Argo CD registration observed as the previous reconcile
composed it, and the XR carrying the status the function wrote last time. Every object
is shaped as a live API server returns it (live.py): managedFields, uid, resourceVersion,
owner references, finalizers and a provider-sized status.atProvider, and every request
carries a tag as Crossplane computes it (the sha256 of its content), new whenever the
content is.
"""

import asyncio
import copy
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from crossplane.function import logging, resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from benchmarks import live
from tests.builders import crossplane_tag, tagged
from tests.pki import kubeconfig, make_pki

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RESOURCE_NAME = "crossplane.io/composition-resource-name"
REGISTRATION = "argocd-cluster"
CONDITION = "ArgoCDRegistered"
_TIME = "2026-11-26T08:00:00Z"


@dataclass(frozen=True)
class Workload:
    """One benchmark request and what a correct answer to it must contain."""

    name: str
    request: fnv1.RunFunctionRequest
    resources: frozenset[str]

    @functools.cached_property
    def payload(self) -> bytes:
        """Serialised once, so the load generator only moves bytes.

        Crossplane's bytes for one request differ on every call (Go marshals maps in
        random order): only the content, and with it the tag, repeats, so a memo keyed on
        these bytes would hit here and never live.
        """
        return self.request.SerializeToString()


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _step_input(folder: str) -> dict[str, Any]:
    """The function's input exactly as the example Composition passes it."""
    (composition,) = _documents(EXAMPLES / folder / "composition.yaml")
    return composition["spec"]["pipeline"][0]["input"]


# The provider that reports each kind's status, and the attributes it reports.
_PROVIDERS = {
    "ResourceGroup": ("provider-azure", live.resource_group_at_provider),
    "KubernetesCluster": ("provider-azure-containerservice", live.aks_at_provider),
    "Cluster": ("provider-gcp-container", live.gke_at_provider),
    "NodePool": ("provider-gcp-container", live.gke_node_pool_at_provider),
}


def _observed(folder: str) -> dict[str, dict[str, Any]]:
    """Observed composed resources by composition resource name, as the API server has them."""
    (xr,) = _documents(EXAMPLES / folder / "xr.yaml")
    observed = {}
    for doc in _documents(EXAMPLES / folder / "observed.yaml"):
        provider, attributes = _PROVIDERS[doc["kind"]]
        name = doc["metadata"]["annotations"][RESOURCE_NAME]
        observed[name] = live.as_live(doc, owner=xr, provider=provider, at_provider=attributes(doc))
    return observed


def _composite(folder: str, observed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The XR with the fields Crossplane itself adds (spec.crossplane, bookkeeping metadata)."""
    (xr,) = _documents(EXAMPLES / folder / "xr.yaml")
    xr["metadata"] |= {"generation": 1, "resourceVersion": "4712", "creationTimestamp": _TIME}
    xr["metadata"]["labels"] = {"crossplane.io/composite": xr["metadata"]["name"]}
    xr["spec"]["crossplane"] = {
        "compositionRef": {"name": f"{xr['kind'].lower()}s.platform.example.org"},
        "compositionRevisionRef": {"name": f"{xr['kind'].lower()}s.platform.example.org-1a2b3c4"},
        "compositionUpdatePolicy": "Automatic",
        "resourceRefs": [
            {"apiVersion": doc["apiVersion"], "kind": doc["kind"], "name": doc["metadata"]["name"]}
            for doc in observed.values()
        ],
    }
    return xr


def _request(
    composite: dict[str, Any],
    fn_input: dict[str, Any],
    observed: dict[str, dict[str, Any]],
    connection_details: dict[str, dict[str, bytes]],
) -> fnv1.RunFunctionRequest:
    req = fnv1.RunFunctionRequest()
    req.observed.composite.resource.CopyFrom(resource.dict_to_struct(composite))
    req.input.CopyFrom(resource.dict_to_struct(fn_input))
    for name, manifest in observed.items():
        req.observed.resources[name].resource.CopyFrom(resource.dict_to_struct(manifest))
        for key, value in connection_details.get(name, {}).items():
            req.observed.resources[name].connection_details[key] = value
    return tagged(req)


def _run_in_process(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
    """One call of the real function, to learn what the previous reconcile composed."""
    from function.fn import FunctionRunner  # noqa: PLC0415 - only needed to build requests

    logging.configure(logging.Level.DISABLED)
    return asyncio.run(FunctionRunner().RunFunction(req, None))


def _as_observed(desired: dict[str, Any], xr: dict[str, Any], name: str) -> dict[str, Any]:
    """A composed resource as the API server returns it once applied and Ready."""
    observed = copy.deepcopy(desired)
    metadata = observed.setdefault("metadata", {})
    metadata.setdefault("name", f"{xr['metadata']['name']}-{name}-x7k2q")
    if "namespace" in xr["metadata"]:
        metadata.setdefault("namespace", xr["metadata"]["namespace"])
    metadata.setdefault("annotations", {})[RESOURCE_NAME] = name
    conditions = [
        {"type": kind, "status": "True", "reason": reason, "lastTransitionTime": _TIME}
        for kind, reason in (("Ready", "Available"), ("Synced", "ReconcileSuccess"))
    ]
    status: dict[str, Any] = {"conditions": conditions}
    if observed.get("kind") == "Object":
        # provider-kubernetes mirrors the applied object, Secret data included.
        applied = copy.deepcopy(observed["spec"]["forProvider"]["manifest"])
        applied["metadata"] |= {"uid": live.uid("secret"), "resourceVersion": "4714"}
        status["atProvider"] = {"manifest": applied}
        observed["status"] = status
        return live.as_live(observed, owner=xr, provider="provider-kubernetes", version=4713)
    observed = live.as_live(observed, owner=xr, provider="apiextensions.crossplane.io/composed")
    # A Secret has no provider, finalizer or conditions: Crossplane's apply is all there is.
    metadata = observed["metadata"]
    del metadata["finalizers"]
    metadata["managedFields"] = metadata["managedFields"][:1]
    for key in ("external-name", "external-create-pending", "external-create-succeeded"):
        del metadata["annotations"][f"crossplane.io/{key}"]
    observed.pop("status", None)
    return observed


def _steady_state(
    name: str, folder: str, connection_details: dict[str, dict[str, bytes]]
) -> Workload:
    """Call the function on the first reconcile, then build the one after it."""
    fn_input = _step_input(folder)
    observed = _observed(folder)
    composite = _composite(folder, observed)
    first = _run_in_process(_request(composite, fn_input, observed, connection_details))
    check(first, frozenset(first.desired.resources), registered=False)
    # The registration, and for delivery Object the credentials Secret beside it.
    for composed_name, composed in first.desired.resources.items():
        if composed_name in observed:
            continue
        desired = resource.struct_to_dict(composed.resource)
        applied = _as_observed(desired, composite, composed_name)
        observed[composed_name] = applied
        composite["spec"]["crossplane"]["resourceRefs"].append(
            {"apiVersion": applied["apiVersion"], "kind": applied["kind"]}
            | {"name": applied["metadata"]["name"]}
        )
    status = resource.struct_to_dict(first.desired.composite.resource).get("status", {})
    status["argocd"]["registered"] = True
    status["conditions"] = [
        {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
        {"type": "Ready", "status": "True", "reason": "Available"},
        {"type": CONDITION, "status": "True", "reason": "Registered"},
    ]
    composite["status"] = status
    req = _request(live.composite_live(composite), fn_input, observed, connection_details)
    return Workload(name, req, frozenset(first.desired.resources))


def aks_kubeconfig() -> dict[str, bytes]:
    """Connection details as provider-upjet-azure publishes them: a few-kB admin kubeconfig."""
    (cluster,) = [
        doc
        for doc in _documents(EXAMPLES / "aks-namespaced" / "observed.yaml")
        if doc["kind"] == "KubernetesCluster"
    ]
    fqdn = cluster["status"]["atProvider"]["fqdn"]
    pki = make_pki("benchmark-aks", (fqdn,), "rsa")
    config = kubeconfig(
        pki,
        f"https://{fqdn}:443",
        user={
            "client-certificate-data": pki.client_cert_data,
            "client-key-data": pki.client_key_data,
            "token": "0f3c1b6e8d2a4f5c9b7e1d3a5c7e9f1b",
        },
        context_name=cluster["metadata"]["name"].rsplit("-", 1)[0],
    )
    return {
        "kubeconfig": config,
        "kubeconfig.clustercacertificate": pki.ca_cert,
        "kubeconfig.clientcertificate": pki.client_cert,
        "kubeconfig.clientkey": pki.client_key,
    }


def workloads() -> list[Workload]:
    """AKS (namespaced, kubeconfig from connection details) and GKE (CA from status)."""
    return [
        _steady_state("AKS", "aks-namespaced", {"cluster": aks_kubeconfig()}),
        _steady_state("GKE", "gke-namespaced", {}),
    ]


# Fixed-width tokens in a template's bytes, replaced per call: a payload new on every
# call costs the load generator one bytes.replace, not a protobuf round trip.
_SEQUENCE = b"7777777777"
_TIME_TOKEN = b"1999-12-31T23:59:59Z"


@dataclass(frozen=True)
class Fresh:
    """Payloads new on every call, made from one template per workload."""

    names: tuple[str, ...]
    templates: tuple[bytes, ...]

    def __call__(self, index: int) -> tuple[str, bytes]:
        """The workload's name and a payload no call has sent before (index < 10**9)."""
        at = index % len(self.templates)
        seconds = index % 57600
        time = b"2026-11-26T%02d:%02d:%02dZ" % (
            8 + seconds // 3600,
            seconds // 60 % 60,
            seconds % 60,
        )
        payload = self.templates[at].replace(_SEQUENCE, b"%010d" % (1_000_000_000 + index))
        return self.names[at], payload.replace(_TIME_TOKEN, time)


def distinct(workloads: list[Workload]) -> Fresh:
    """Requests new on every call because every object was written since the last call.

    Every object gets a new resourceVersion and its field managers a new time; nothing
    compose reads changes. The worst case of a write compose does not read: a live
    control plane mostly sends requests where one object is new (written).
    """
    return Fresh(
        tuple(w.name for w in workloads),
        tuple(_variant(w).SerializeToString() for w in workloads),
    )


# Fixed-width resourceVersion tokens, one per object of a template (its index in it).
_VERSION = b"555555%04d"


@dataclass(frozen=True)
class Written:
    """Payloads new on every call because one object was written since the workload's last
    call: the XR and each composed resource in turn get a new resourceVersion, and keep it
    until their next turn, as a provider's status update or a write of the XR leaves them."""

    names: tuple[str, ...]
    templates: tuple[bytes, ...]
    objects: tuple[int, ...]

    def __call__(self, index: int) -> tuple[str, bytes]:
        """The workload's name and a payload no call has sent before (index < 10**9)."""
        at = index % len(self.templates)
        turn = index // len(self.templates)
        payload = self.templates[at]
        count = self.objects[at]
        for obj in range(count):
            written = turn - (turn - obj) % count  # this object's latest turn, maybe < 0
            payload = payload.replace(_VERSION % obj, b"%010d" % (1_000_000_000 + written))
        return self.names[at], payload.replace(_SEQUENCE, b"%010d" % (1_000_000_000 + index))


def written(workloads: list[Workload]) -> Written:
    """Requests new on every call because one object was written (see Written); nothing
    compose reads changes."""
    templates, objects = [], []
    for workload in workloads:
        req = fnv1.RunFunctionRequest()
        req.CopyFrom(workload.request)
        found = [req.observed.composite.resource]
        found += [req.observed.resources[name].resource for name in sorted(req.observed.resources)]
        for at, obj in enumerate(found):
            obj["metadata"]["resourceVersion"] = (_VERSION % at).decode()
        templates.append(_retagged(req).SerializeToString())
        objects.append(len(found))
    return Written(tuple(w.name for w in workloads), tuple(templates), tuple(objects))


def changed(workloads: list[Workload]) -> Fresh:
    """Requests new on every call in what compose reads too: a new XR annotation for Argo CD.

    No memo can answer these; the function composes each one.
    """
    templates = []
    for workload in workloads:
        req = _variant(workload)
        spec = req.observed.composite.resource["spec"]
        spec["argocd"]["annotations"] = {"platform.example.org/sequence": _SEQUENCE.decode()}
        templates.append(_retagged(req).SerializeToString())
    return Fresh(tuple(w.name for w in workloads), tuple(templates))


def _variant(workload: Workload) -> fnv1.RunFunctionRequest:
    req = fnv1.RunFunctionRequest()
    req.CopyFrom(workload.request)
    objects = [req.observed.composite.resource]
    objects += [observed.resource for observed in req.observed.resources.values()]
    for obj in objects:
        metadata = obj["metadata"]
        metadata["resourceVersion"] = _SEQUENCE.decode()
        for manager in metadata["managedFields"].values:
            manager.struct_value["time"] = _TIME_TOKEN.decode()
    return _retagged(req)


def _retagged(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionRequest:
    """Crossplane's tag follows the content, so a template's is new on every call too."""
    req.meta.tag = crossplane_tag(req)[: -len(_SEQUENCE)] + _SEQUENCE.decode()
    return req


def check(rsp: fnv1.RunFunctionResponse, resources: frozenset[str], *, registered: bool) -> None:
    """Refuse to time an error path: the answer must compose and register the cluster."""
    fatal = [r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
    if fatal:
        msg = f"function returned Fatal results: {fatal}"
        raise RuntimeError(msg)
    if set(rsp.desired.resources) != resources or REGISTRATION not in resources:
        msg = f"function composed {sorted(rsp.desired.resources)}, expected {sorted(resources)}"
        raise RuntimeError(msg)
    want = fnv1.STATUS_CONDITION_TRUE if registered else fnv1.STATUS_CONDITION_FALSE
    if not any(c.type == CONDITION and c.status == want for c in rsp.conditions):
        msg = f"function did not report {CONDITION}={'True' if registered else 'False'}"
        raise RuntimeError(msg)
