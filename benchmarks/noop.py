"""The floors: functions on the same SDK, started the same way, that do no work.

RunFunction only copies the request's tag, desired state and context into the response
(`response.to`), so whatever it costs is the SDK's and gRPC's share, which the benchmark
subtracts out by reporting ratios against it. With --wire it is served as this function
is (function/main.py): requests read as wire.Request, not parsed whole first. The first
is the floor the targets are set against; the second shows what the function adds to
the floor it shares.
"""

from typing import Any

import click
import grpc
from crossplane.function import cli as sdkcli
from crossplane.function import response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from function import fn, inputs, main, wire


class NoopRunner(grpcv1.FunctionRunnerServiceServicer):
    """Answers every request with the response the SDK starts every function from."""

    async def RunFunction(
        self, req: fnv1.RunFunctionRequest, _: grpc.aio.ServicerContext | None
    ) -> fnv1.RunFunctionResponse:
        """Return the request's desired state unchanged."""
        return response.to(req)


class WireNoopRunner(grpcv1.FunctionRunnerServiceServicer):
    """The same, for requests read as wire.Request."""

    async def RunFunction(
        self, req: "wire.Request", _: grpc.aio.ServicerContext | None
    ) -> fnv1.RunFunctionResponse:
        """Return the request's desired state unchanged."""
        return fn.answer(req, inputs.DEFAULT_TTL_SECONDS)


@click.command()
@sdkcli.standard_options
@click.option("--wire", "as_wire", is_flag=True, help="Serve as function/main.py does.")
def cli(*, as_wire: bool, **options: Any) -> None:
    """Serve a no-op function over gRPC with the SDK's standard flags."""
    if as_wire:
        main.run(WireNoopRunner(), **options)
    else:
        sdkcli.run(NoopRunner(), **options)


if __name__ == "__main__":
    cli()
