"""Requests as Crossplane sends them, built from plain dicts."""

import copy
import hashlib
from typing import Any

from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

AKS_INPUT = {
    "apiVersion": "gitopscluster.fn.crossplane.io/v1beta1",
    "kind": "Input",
    "cloud": "AKS",
}
GKE_INPUT = {**AKS_INPUT, "cloud": "GKE"}
EKS_INPUT = {**AKS_INPUT, "cloud": "EKS"}
EKS_SUBNETS = ["subnet-0a1b2c3d4e5f60718", "subnet-0b2c3d4e5f6071829"]


def xr(spec: dict[str, Any] | None = None, namespace: str | None = "team-a", **extra: Any) -> dict:
    metadata = {"name": "team-a-dev", **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": "platform.example.org/v1alpha1",
        "kind": "AKSCluster",
        "metadata": metadata,
        "spec": {"location": "westeurope", **(spec or {})},
        **extra,
    }


def eks_xr(
    spec: dict[str, Any] | None = None, namespace: str | None = "team-a", **extra: Any
) -> dict:
    """An EKS XR: an AWS region and two subnets, the least EKS needs."""
    composite = xr({"location": "eu-west-1", "subnetIds": EKS_SUBNETS, **(spec or {})}, namespace)
    return {**composite, "kind": "EKSCluster" if namespace else "XEKSCluster", **extra}


def eks_input(role_arn: str | None = None, **aws: str) -> dict:
    """The EKS step's input, with Argo CD's IAM role when given."""
    identity = {"roleArn": role_arn, **aws} if role_arn else aws
    return {**EKS_INPUT, "argocd": {"identity": {"aws": identity}}} if identity else EKS_INPUT


def request(
    composite: dict,
    fn_input: dict | None = AKS_INPUT,
    observed: dict[str, dict] | None = None,
    desired: dict[str, dict] | None = None,
) -> fnv1.RunFunctionRequest:
    req = fnv1.RunFunctionRequest(
        meta=fnv1.RequestMeta(tag="t"),
        observed=fnv1.State(composite=fnv1.Resource(resource=resource.dict_to_struct(composite))),
    )
    if fn_input is not None:
        req.input.CopyFrom(resource.dict_to_struct(fn_input))
    for name, manifest in (observed or {}).items():
        req.observed.resources[name].resource.CopyFrom(resource.dict_to_struct(manifest))
    for name, manifest in (desired or {}).items():
        req.desired.resources[name].resource.CopyFrom(resource.dict_to_struct(manifest))
    return req


def crossplane_tag(req: fnv1.RunFunctionRequest) -> str:
    """meta.tag as Crossplane sets it (composite.Tag): the hex sha256 of the request's
    deterministic encoding, taken before meta is set. Go's and Python's deterministic
    encodings may differ in bytes; what matters is that the tag follows the content."""
    bare = fnv1.RunFunctionRequest()
    bare.CopyFrom(req)
    bare.ClearField("meta")
    return hashlib.sha256(bare.SerializeToString(deterministic=True)).hexdigest()


def tagged(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionRequest:
    """The request with Crossplane's tag instead of the builders' "t"."""
    req.meta.tag = crossplane_tag(req)
    return req


REGISTRATION = "argocd-cluster"
CREDENTIALS = "argocd-cluster-credentials"


def versioned(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionRequest:
    """The request with every observed composed resource's metadata.uid and
    resourceVersion set as an API server would: the uid by XR and composition resource
    name, and a resourceVersion new whenever the content is."""
    xr_name = req.observed.composite.resource["metadata"]["name"]
    for name in req.observed.resources:
        obj = req.observed.resources[name].resource
        metadata = obj.fields["metadata"].struct_value
        metadata.fields.pop("resourceVersion", None)
        metadata["uid"] = f"uid-{xr_name}-{name}"
        content = hashlib.sha256(obj.SerializeToString(deterministic=True)).hexdigest()
        metadata["resourceVersion"] = str(int(content[:12], 16))
    return req


def argocd_secret(resources: dict[str, dict]) -> dict:
    """The Argo CD cluster Secret as it lands, from composed resources by name.

    Delivery Secret: argocd-cluster itself. Delivery Object: its manifest with every
    references[].patchesFrom applied from the credentials Secret, as provider-kubernetes
    does (fieldPath read from the referenced object, set at manifest.toFieldPath).
    """
    registration = resources[REGISTRATION]
    if registration["kind"] != "Object":
        return registration
    secret = copy.deepcopy(registration["spec"]["forProvider"]["manifest"])
    for ref in registration["spec"].get("references", []):
        source = ref["patchesFrom"]
        [referenced] = [
            r
            for r in resources.values()
            if (r["apiVersion"], r["kind"]) == (source["apiVersion"], source["kind"])
            and (r["metadata"]["name"], r["metadata"].get("namespace"))
            == (source["name"], source["namespace"])
        ]
        value: Any = referenced
        for key in source["fieldPath"].split("."):
            value = value[key]
        *parents, last = ref.get("toFieldPath", source["fieldPath"]).split(".")
        target = secret
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value
    return secret
