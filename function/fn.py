"""The gRPC edge: request protos in, response protos out; the work is in compose.py."""

import functools
from dataclasses import dataclass
from typing import Any

import grpc
from crossplane.function import logging, response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1
from google.protobuf import duration_pb2 as durationpb
from google.protobuf import struct_pb2 as structpb

from function import inputs, wire
from function.compose import compose
from function.errors import InvalidSpec
from function.memo import BoundedMemo
from function.selection import (
    Sighting,
    Sightings,
    content_key,
    select_request,
    select_required,
    string_field,
    tag_key,
    to_observed,
)
from function.state import Desired, Severity
from function.structs import fill
from function.xr import Scope, scope_of

# The answer memo's bound, in bytes of protobuf. A typical answer is 4-11 kB (the
# examples' GKE and AKS XRs), so 8 MiB remembers 750-1,700 XRs, each found again on its
# next reconcile. An answer over an eighth of that (1 MiB: a kubeconfig near its 1 MiB cap
# answers in about 1.3 MB) is not remembered: composing it again costs some 30 ms,
# keeping it would push out a hundred typical answers. With the server's ~65 MB at rest
# and a few MB per request in flight, 600 such XRs stay under 100 MB
# (tests/test_memory_bound.py).
MEMO_BYTES = 8 * 1024 * 1024
# Each remembered tag points at an answer in the memo: about 500 bytes with Python's own
# share, so 1 MiB holds some 2,000 tags, more than the memo holds typical answers.
TAG_BYTES = 1024 * 1024
TAG_ENTRY_BYTES = 100
# The sightings of one XR's composed resources, connection details included, hold 8 kB
# (the GKE example) to 24 kB (AKS, whose kubeconfig is among them): 8 MiB holds those of
# 350-1,000 XRs; resources beyond that are read again when next seen. A sighting over
# 64 kB carries a kubeconfig near its cap, whose answer is not remembered (over
# MEMO_BYTES / 8) and is composed anew anyway: it is not remembered either.
SEEN_BYTES = 8 * 1024 * 1024
SEEN_ENTRY_BYTES = 64 * 1024

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
        # What compose reads of each composed resource, by uid and resourceVersion: a
        # request new because one object was written reads only that one again.
        self._seen: Sightings = BoundedMemo(SEEN_BYTES, Sighting.size, SEEN_ENTRY_BYTES)

    async def RunFunction(
        self, req: "fnv1.RunFunctionRequest | wire.Request", _: grpc.aio.ServicerContext | None
    ) -> fnv1.RunFunctionResponse:
        """Compose the cluster's resources, or explain in one Fatal result why not.

        main.py serves requests as wire.Request; a request parsed whole (v1beta1's, a
        caller's in-process) is read the same way.
        """
        if isinstance(req, fnv1.RunFunctionRequest):
            req = wire.view(req)
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

    def _composed(self, req: wire.Request) -> Composed | fnv1.RunFunctionResponse:
        """The answer remembered by the request's tag, else by what compose reads of it,
        else composed now; a Fatal response when the request cannot be composed."""
        required = select_required(req.required_resources)
        tagged = tag_key(req.meta.tag, required)
        key = self._tags.get(tagged) if tagged is not None else None
        composed = self._memo.get(key) if key is not None else None
        if composed is not None:
            return composed
        selected = select_request(req, required, self._seen)
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


def answer(req: wire.Request, ttl: int) -> fnv1.RunFunctionResponse:
    """response.to(req) with input.ttl as meta.ttl: the desired state and context as
    earlier steps left them, parsed straight into the response."""
    rsp = fnv1.RunFunctionResponse(
        meta=fnv1.ResponseMeta(tag=req.meta.tag, ttl=durationpb.Duration(seconds=ttl))
    )
    rsp.desired.MergeFromString(req.desired)
    rsp.context.MergeFromString(req.context)
    return rsp


def fatal(req: wire.Request, message: str, scope: Scope | None = None) -> fnv1.RunFunctionResponse:
    """One Fatal result, with the step's TTL; shown on the claim too for legacy XRs."""
    rsp = answer(req, input_ttl(req))
    response.fatal(rsp, message)
    if scope is Scope.LEGACY_CLUSTER:
        rsp.results[-1].target = fnv1.TARGET_COMPOSITE_AND_CLAIM
    return rsp


def input_ttl(req: wire.Request) -> int:
    """input.ttl in seconds, read straight from the request: it must reach every response,
    even one for a request that could not be read otherwise."""
    return inputs.ttl_seconds({"ttl": string_field(req.input.fields, "ttl")})


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
