"""The gRPC edge: request protos in, response protos out; the work is in compose.py."""

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import grpc
from crossplane.function import logging, response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1
from google.protobuf import struct_pb2 as structpb

from function.compose import compose
from function.errors import InvalidSpec
from function.state import Desired, Observed, ObservedResource, Severity
from function.structs import fill, to_dict
from function.xr import Scope, scope_of

# Distinct requests whose composed output is remembered: about 10 kB each, so that one
# replica serving hundreds of XRs finds each of them again on its next reconcile.
_MEMO_ENTRIES = 512

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


class FunctionRunner(grpcv1.FunctionRunnerServiceServicer):
    """Serves RunFunction; never lets an exception escape to gRPC."""

    def __init__(self) -> None:
        self.log = logging.get_logger()
        # compose is a pure function of the request, and Crossplane sends the same
        # request on every reconcile until something changes.
        self._memo: OrderedDict[bytes, Composed] = OrderedDict()

    def _compose(self, req: fnv1.RunFunctionRequest) -> Composed:
        """compose(), remembered: the steady-state reconcile costs a digest, not a compose."""
        key = content_key(req)
        composed = self._memo.get(key)
        if composed is not None:
            self._memo.move_to_end(key)
            return composed
        composed = encode(compose(read_observed(req)))
        self._memo[key] = composed
        if len(self._memo) > _MEMO_ENTRIES:
            self._memo.popitem(last=False)
        return composed

    async def RunFunction(
        self, req: fnv1.RunFunctionRequest, _: grpc.aio.ServicerContext | None
    ) -> fnv1.RunFunctionResponse:
        """Compose the cluster's resources, or explain in one Fatal result why not."""
        log = self.log.bind(tag=req.meta.tag)
        rsp = response.to(req)
        try:
            composed = self._compose(req)
        except InvalidSpec as exc:
            log.info("invalid input", error=str(exc))
            response.fatal(rsp, str(exc))
            if scope_of(to_dict(req.observed.composite.resource)) is Scope.LEGACY_CLUSTER:
                rsp.results[-1].target = fnv1.TARGET_COMPOSITE_AND_CLAIM
            return rsp
        except Exception as exc:  # noqa: BLE001 - the server must keep serving
            # The exception text could quote request data; log only its type.
            log.error("unexpected error", error_type=type(exc).__name__)
            response.fatal(
                rsp,
                f"internal error ({type(exc).__name__}) in function-gitops-cluster; "
                "please report it with the XR and input (without secrets)",
            )
            return rsp
        rsp.MergeFromString(composed.patch)
        if composed.status:
            rsp.desired.composite.resource.fields["status"].struct_value.MergeFromString(
                composed.status
            )
        log.debug("composed", ready=composed.ready)
        return rsp


def content_key(req: fnv1.RunFunctionRequest) -> bytes:
    """A digest of the whole request, which compose's output is a pure function of.

    Serialization is deterministic because Crossplane does not order map entries, so
    identical requests could otherwise arrive as different bytes.
    """
    return hashlib.sha256(req.SerializeToString(deterministic=True)).digest()


def read_observed(req: fnv1.RunFunctionRequest) -> Observed:
    """Copy what compose needs out of the request, as plain data."""
    return Observed(
        composite=to_dict(req.observed.composite.resource),
        input=to_dict(req.input) if req.HasField("input") else None,
        resources={
            name: ObservedResource(
                manifest=to_dict(observed.resource),
                connection_details=dict(observed.connection_details),
            )
            for name, observed in req.observed.resources.items()
        },
        required={
            name: [to_dict(item.resource) for item in found.items]
            for name, found in req.required_resources.items()
        },
    )


def encode(desired: Desired) -> Composed:
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
    for name, secret in desired.requirements.items():
        response.require_resources(
            patch, name, "v1", "Secret", match_name=secret.name, namespace=secret.namespace
        )
    status = structpb.Struct()
    fill(status, desired.status.as_dict())
    return Composed(patch.SerializeToString(), status.SerializeToString(), dict(desired.ready))
