"""The floor: a function on the same SDK, started the same way, that does no work.

Its RunFunction only copies the request's tag, desired state and context into the
response (`response.to`), so whatever it costs is the SDK's and gRPC's share, which
the benchmark subtracts out by reporting ratios against it.
"""

import click
import grpc
from crossplane.function import cli as sdkcli
from crossplane.function import response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1


class NoopRunner(grpcv1.FunctionRunnerServiceServicer):
    """Answers every request with the response the SDK starts every function from."""

    async def RunFunction(
        self, req: fnv1.RunFunctionRequest, _: grpc.aio.ServicerContext | None
    ) -> fnv1.RunFunctionResponse:
        """Return the request's desired state unchanged."""
        return response.to(req)


@click.command()
@sdkcli.standard_options
def cli(**options: object) -> None:
    """Serve the no-op function over gRPC with the SDK's standard flags."""
    sdkcli.run(NoopRunner(), **options)  # type: ignore[arg-type]


if __name__ == "__main__":
    cli()
