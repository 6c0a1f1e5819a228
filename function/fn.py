"""The gRPC edge: request protos in, response protos out; the work is in compose.py."""

import grpc
from crossplane.function import logging, resource, response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from function.compose import compose
from function.errors import InvalidSpec
from function.state import Desired, Observed, ObservedResource, Severity
from function.xr import Scope, scope_of

_SEVERITY = {Severity.NORMAL: fnv1.SEVERITY_NORMAL, Severity.WARNING: fnv1.SEVERITY_WARNING}


class FunctionRunner(grpcv1.FunctionRunnerServiceServicer):
    """Serves RunFunction; never lets an exception escape to gRPC."""

    def __init__(self) -> None:
        self.log = logging.get_logger()

    async def RunFunction(
        self, req: fnv1.RunFunctionRequest, _: grpc.aio.ServicerContext | None
    ) -> fnv1.RunFunctionResponse:
        """Compose the cluster's resources, or explain in one Fatal result why not."""
        log = self.log.bind(tag=req.meta.tag)
        rsp = response.to(req)
        try:
            observed = read_observed(req)
            desired = compose(observed)
        except InvalidSpec as exc:
            log.info("invalid input", error=str(exc))
            response.fatal(rsp, str(exc))
            if (
                scope_of(resource.struct_to_dict(req.observed.composite.resource))
                is Scope.LEGACY_CLUSTER
            ):
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
        write_desired(rsp, desired)
        log.debug("composed", resources=sorted(desired.resources), ready=desired.ready)
        return rsp


def read_observed(req: fnv1.RunFunctionRequest) -> Observed:
    """Copy what compose needs out of the request, as plain data."""
    return Observed(
        composite=resource.struct_to_dict(req.observed.composite.resource),
        input=resource.struct_to_dict(req.input) if req.HasField("input") else None,
        resources={
            name: ObservedResource(
                manifest=resource.struct_to_dict(observed.resource),
                connection_details=dict(observed.connection_details),
            )
            for name, observed in req.observed.resources.items()
        },
        required={
            name: [resource.struct_to_dict(item.resource) for item in found.items]
            for name, found in req.required_resources.items()
        },
    )


def write_desired(rsp: fnv1.RunFunctionResponse, desired: Desired) -> None:
    """Add the composed resources, their readiness and the XR status to the response."""
    for name, manifest in desired.resources.items():
        target = rsp.desired.resources[name]
        target.resource.Clear()
        target.resource.update(manifest)
        target.ready = fnv1.READY_TRUE if desired.ready.get(name) else fnv1.READY_FALSE
    if composite_status := desired.status.as_dict():
        # Merge: earlier pipeline steps may own other status fields.
        rsp.desired.composite.resource.get_or_create_struct("status").update(composite_status)
    target = fnv1.TARGET_COMPOSITE_AND_CLAIM if desired.to_claim else fnv1.TARGET_COMPOSITE
    for condition in desired.conditions:
        rsp.conditions.add(
            type=condition.type,
            status=fnv1.STATUS_CONDITION_TRUE if condition.status else fnv1.STATUS_CONDITION_FALSE,
            reason=condition.reason,
            message=condition.message,
            target=target,
        )
    for result in desired.results:
        rsp.results.add(
            severity=_SEVERITY[result.severity],
            message=result.message,
            reason=result.reason,
            target=target,
        )
    for name, secret in desired.requirements.items():
        response.require_resources(
            rsp, name, "v1", "Secret", match_name=secret.name, namespace=secret.namespace
        )
