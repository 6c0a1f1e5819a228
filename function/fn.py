"""The gRPC edge: request protos in, response protos out; the work is in compose.py."""

import functools
import hashlib
import marshal
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from crossplane.function import logging, response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1
from google.protobuf import duration_pb2 as durationpb
from google.protobuf import struct_pb2 as structpb

from function import inputs
from function.compose import COMPOSITE_READS, compose, observed_reads, required_reads
from function.errors import InvalidSpec
from function.memo import BoundedMemo
from function.state import Desired, Observed, ObservedResource, Severity
from function.structs import Leaf, fill, from_leaves, select, serialized, to_dict
from function.xr import Scope, scope_of

# The answer memo's bound, in bytes of protobuf. A typical answer is 4-11 kB (the
# examples' GKE and AKS XRs), so 8 MiB remembers 750-1,700 XRs, each found again on its
# next reconcile. An answer over an eighth of that (1 MiB: a kubeconfig near its 1 MiB cap
# answers in about 1.3 MB) is not remembered: composing it again costs some 30 ms,
# keeping it would push out a hundred typical answers. With the server's ~65 MB at rest
# and a few MB per request in flight, 600 such XRs stay under 100 MB
# (tests/test_memory_bound.py).
MEMO_BYTES = 8 * 1024 * 1024
# Crossplane tags a request with the hex sha256 of its deterministic protobuf encoding
# (composite.Tag, computed once it has added the resources it already knows the step
# requires): equal tags mean equal requests. While resolving requirements it calls again
# with the same tag and new required resources, so those are keyed alongside.
CROSSPLANE_TAG = re.compile(r"[0-9a-f]{64}")
# Each remembered tag points at an answer in the memo: about 500 bytes with Python's own
# share, so 1 MiB holds some 2,000 tags, more than the memo holds typical answers.
TAG_BYTES = 1024 * 1024
TAG_ENTRY_BYTES = 100

_SEVERITY = {Severity.NORMAL: fnv1.SEVERITY_NORMAL, Severity.WARNING: fnv1.SEVERITY_WARNING}


@dataclass(frozen=True)
class Composed:
    """What compose made of one request, as protobuf bytes to merge into its response."""

    # A RunFunctionResponse holding only our desired resources, conditions, results and
    # requirements: merging it adds them and replaces same-named resources.
    patch: bytes
    # The XR status fields we own, merged key by key into what earlier steps set.
    status: bytes
    ready: dict[str, bool]
    # input.ttl in seconds, returned as meta.ttl.
    ttl: int = inputs.DEFAULT_TTL_SECONDS

    def size(self) -> int:
        """Bytes held, for the memo's bound."""
        return len(self.patch) + len(self.status) + 100 * len(self.ready)


class FunctionRunner(grpcv1.FunctionRunnerServiceServicer):
    """Serves RunFunction; never lets an exception escape to gRPC."""

    def __init__(self) -> None:
        self.log = logging.get_logger()
        # compose is a pure function of what it reads, and Crossplane sends the same
        # request on every reconcile until something changes.
        self._memo: BoundedMemo[bytes, Composed] = BoundedMemo(MEMO_BYTES, Composed.size)
        # A request seen before by its Crossplane tag, to the content key of its answer:
        # a repeated request is answered without finding and hashing what compose reads.
        self._tags: BoundedMemo[bytes, bytes] = BoundedMemo(TAG_BYTES, lambda _: TAG_ENTRY_BYTES)

    async def RunFunction(
        self, req: fnv1.RunFunctionRequest, _: grpc.aio.ServicerContext | None
    ) -> fnv1.RunFunctionResponse:
        """Compose the cluster's resources, or explain in one Fatal result why not."""
        try:
            composed = self._composed(req)
        except Exception as exc:  # noqa: BLE001 - the server must keep serving
            # The exception text could quote request data; log only its type.
            self.log.error("unexpected error", tag=req.meta.tag, error_type=type(exc).__name__)
            return fatal(
                req,
                f"internal error ({type(exc).__name__}) in function-gitops-cluster; "
                "please report it with the XR and input (without secrets)",
            )
        if isinstance(composed, fnv1.RunFunctionResponse):
            return composed
        rsp = answer(req, composed.ttl)
        rsp.MergeFromString(composed.patch)
        if composed.status:
            rsp.desired.composite.resource.fields["status"].struct_value.MergeFromString(
                composed.status
            )
        self._log.debug("composed", tag=req.meta.tag, ready=composed.ready)
        return rsp

    def _composed(self, req: fnv1.RunFunctionRequest) -> Composed | fnv1.RunFunctionResponse:
        """The answer remembered by the request's tag, else by what compose reads of it,
        else composed now; a Fatal response when the request cannot be composed."""
        required = select_required(req.required_resources)
        tagged = tag_key(req.meta.tag, required)
        key = self._tags.get(tagged) if tagged is not None else None
        composed = self._memo.get(key) if key is not None else None
        if composed is not None:
            return composed
        selected = select_request(req, required)
        key = content_key(selected)
        composed = self._memo.get(key)
        if composed is None:
            observed = to_observed(selected)
            try:
                composed = encode(compose(observed), inputs.ttl_seconds(observed.input))
            except InvalidSpec as exc:
                self.log.info("invalid input", tag=req.meta.tag, error=str(exc))
                return fatal(req, str(exc), scope_of(observed.composite))
            if not self._memo.put(key, composed):
                return composed
        if tagged is not None:
            self._tags.put(tagged, key)
        return composed

    @functools.cached_property
    def _log(self) -> Any:
        """The logger bound once, at the first call, after the CLI has configured logging:
        the SDK's lazy proxy binds anew on every use, which costs more than the log."""
        return self.log.bind()


def answer(req: fnv1.RunFunctionRequest, ttl: int) -> fnv1.RunFunctionResponse:
    """response.to(req) with input.ttl as meta.ttl, without its timedelta round trip."""
    return fnv1.RunFunctionResponse(
        meta=fnv1.ResponseMeta(tag=req.meta.tag, ttl=durationpb.Duration(seconds=ttl)),
        desired=req.desired,
        context=req.context,
    )


def fatal(
    req: fnv1.RunFunctionRequest, message: str, scope: Scope | None = None
) -> fnv1.RunFunctionResponse:
    """One Fatal result, with the step's TTL; shown on the claim too for legacy XRs."""
    rsp = answer(req, input_ttl(req))
    response.fatal(rsp, message)
    if scope is Scope.LEGACY_CLUSTER:
        rsp.results[-1].target = fnv1.TARGET_COMPOSITE_AND_CLAIM
    return rsp


def input_ttl(req: fnv1.RunFunctionRequest) -> int:
    """input.ttl in seconds, read straight from the request: it must reach every response,
    even one for a request that could not be read otherwise."""
    return inputs.ttl_seconds({"ttl": _string_field(req.input, "ttl")})


def _string_field(struct: structpb.Struct, key: str) -> str:
    """A top-level string of a Struct, "" when it is absent or not a string."""
    fields = struct.fields
    return fields[key].string_value if key in fields else ""


@dataclass(frozen=True)
class Selected:
    """What compose reads of one request (compose.*_READS), found but not yet converted."""

    input: structpb.Struct | None
    composite: list[Leaf]
    # By composition resource name: the values read, and the connection details.
    resources: dict[str, tuple[list[Leaf], dict[str, bytes]]]
    required: dict[str, list[list[Leaf]]]


def select_request(
    req: fnv1.RunFunctionRequest, required: dict[str, list[list[Leaf]]] | None = None
) -> Selected:
    """Find what compose reads in the request, in a stable order, converting nothing.

    Crossplane sends every observed object whole, managedFields and provider status
    included; looking only at what is read keeps a call's cost independent of that.
    required: select_required of the request's required resources, when already found.
    """
    resources = req.observed.resources
    fn_input = req.input if req.HasField("input") else None
    cloud = _string_field(fn_input, "cloud") if fn_input is not None else ""
    return Selected(
        input=fn_input,
        composite=select(req.observed.composite.resource, COMPOSITE_READS),
        resources={
            name: (
                select(resources[name].resource, observed_reads(name, cloud)),
                _details(resources[name].connection_details),
            )
            for name in sorted(resources)
        },
        required=select_required(req.required_resources) if required is None else required,
    )


def select_required(required: Mapping[str, fnv1.Resources]) -> dict[str, list[list[Leaf]]]:
    """What compose reads of the resources Crossplane fetched for our requirements."""
    return {
        name: [select(item.resource, required_reads(name)) for item in required[name].items]
        for name in sorted(required)
    }


def tag_key(tag: str, required: dict[str, list[list[Leaf]]]) -> bytes | None:
    """A Crossplane tag with a digest of what compose reads of the required resources
    (select_required); None for a tag that is not Crossplane's sha256 (tests, other
    callers): those requests are known by their content alone."""
    if not CROSSPLANE_TAG.fullmatch(tag):
        return None
    if not required:
        return tag.encode()
    return tag.encode() + hashlib.sha256(marshal.dumps(_required_shape(required), 0)).digest()


def content_key(selected: Selected) -> bytes:
    """A digest of what compose reads, which its output is a pure function of.

    marshal (version 0: no references, no interning) frames every name and value with
    its length, so different selections never hash the same bytes; serialization is
    deterministic and names are sorted, as Crossplane does not order map entries.
    """
    shape = (
        selected.input.SerializeToString(deterministic=True) if selected.input else None,
        serialized(selected.composite),
        [
            (name, serialized(leaves), [(key, len(value)) for key, value in details.items()])
            for name, (leaves, details) in selected.resources.items()
        ],
        _required_shape(selected.required),
    )
    hasher = hashlib.sha256(marshal.dumps(shape, 0))
    # Connection details can be near 1 MiB: fed as they are, framed by their lengths above.
    for _, details in selected.resources.values():
        for value in details.values():
            hasher.update(value)
    return hasher.digest()


def _required_shape(required: dict[str, list[list[Leaf]]]) -> list[Any]:
    return [(name, [serialized(leaves) for leaves in items]) for name, items in required.items()]


def _details(details: Mapping[str, bytes]) -> dict[str, bytes]:
    """Connection details in key order, copied out of the protobuf once.

    Indexing, not items(): upb leaves a map's items() to the slow Mapping mixin.
    """
    return {key: details[key] for key in sorted(details)} if details else {}


def to_observed(selected: Selected) -> Observed:
    """What select_request found, as plain data for compose."""
    return Observed(
        composite=from_leaves(selected.composite),
        input=to_dict(selected.input) if selected.input is not None else None,
        resources={
            name: ObservedResource(manifest=from_leaves(leaves), connection_details=details)
            for name, (leaves, details) in selected.resources.items()
        },
        required={
            name: [from_leaves(leaves) for leaves in items]
            for name, items in selected.required.items()
        },
    )


def encode(desired: Desired, ttl: int = inputs.DEFAULT_TTL_SECONDS) -> Composed:
    """The desired state as protobuf bytes: resources, readiness, status, events, asks."""
    patch = fnv1.RunFunctionResponse()
    for name, manifest in desired.resources.items():
        target = patch.desired.resources[name]
        fill(target.resource, manifest)
        target.ready = fnv1.READY_TRUE if desired.ready.get(name) else fnv1.READY_FALSE
    target = fnv1.TARGET_COMPOSITE_AND_CLAIM if desired.to_claim else fnv1.TARGET_COMPOSITE
    for condition in desired.conditions:
        patch.conditions.add(
            type=condition.type,
            status=fnv1.STATUS_CONDITION_TRUE if condition.status else fnv1.STATUS_CONDITION_FALSE,
            reason=condition.reason,
            message=condition.message,
            target=target,
        )
    for result in desired.results:
        patch.results.add(
            severity=_SEVERITY[result.severity],
            message=result.message,
            reason=result.reason,
            target=target,
        )
    for name, wanted in desired.requirements.items():
        response.require_resources(
            patch,
            name,
            wanted.api_version,
            wanted.kind,
            match_name=wanted.name,
            match_labels=dict(wanted.labels) if wanted.labels else None,
            namespace=wanted.namespace,
        )
    status = structpb.Struct()
    fill(status, desired.status.as_dict())
    return Composed(patch.SerializeToString(), status.SerializeToString(), dict(desired.ready), ttl)
