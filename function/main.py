"""The function's command line: the SDK's standard flags, serving FunctionRunner with
requests read off the wire (wire.py) instead of parsed whole."""

import asyncio
import ctypes
import ctypes.util
import signal
from collections.abc import Sequence
from typing import Any

import click
import grpc
from crossplane.function import cli as sdkcli
from crossplane.function import logging, runtime
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1
from crossplane.function.proto.v1beta1 import run_function_pb2_grpc as grpcv1beta1
from grpc_reflection.v1alpha import reflection

from function import fn, wire

# glibc mallopt parameters (malloc.h).
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
# Buffers this large come from mmap and go back to the OS when freed.
_MMAP_THRESHOLD = 128 * 1024
_ARENA_MAX = 2


def bound_malloc() -> None:
    """Keep freed request buffers from staying resident (SPEC §5: memory bounded in bytes).

    glibc raises its mmap threshold after the first large buffer is freed, so later
    ones (a near-1 MiB kubeconfig, its translation, the answer) come from heap arenas,
    one per gRPC thread, which fragment and rarely shrink: 600 such requests left the
    server about 20 MB larger at its peak. A fixed threshold and two arenas keep it near
    what is live. Elsewhere than glibc this does nothing.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc else None
    except (OSError, AttributeError):
        return
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
        mallopt(_M_ARENA_MAX, _ARENA_MAX)


def handler(runner: grpcv1.FunctionRunnerServiceServicer) -> grpc.GenericRpcHandler:
    """RunFunction (v1) as the SDK registers it, except that requests arrive as
    wire.Request: the SDK would parse every observed object whole first."""
    service = fnv1.DESCRIPTOR.services_by_name["FunctionRunnerService"].full_name
    run = grpc.unary_unary_rpc_method_handler(
        runner.RunFunction,
        request_deserializer=wire.Request.FromString,
        response_serializer=fnv1.RunFunctionResponse.SerializeToString,
    )
    return grpc.method_handlers_generic_handler(service, {"RunFunction": run})


def serve(
    runner: grpcv1.FunctionRunnerServiceServicer,
    address: str,
    creds: grpc.ServerCredentials | None,
    *,
    insecure: bool,
    options: Sequence[tuple[str, Any]],
) -> None:
    """runtime.serve, with RunFunction (v1) registered by handler(); v1beta1 and
    reflection as the SDK serves them."""
    if creds is None and not insecure:
        msg = "no credentials were provided - did you provide credentials or use the insecure flag?"
        raise ValueError(msg)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = grpc.aio.server(options=options)
    grace = runtime.SHUTDOWN_GRACE_PERIOD_SECONDS
    loop.add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(server.stop(grace=grace)))
    server.add_generic_rpc_handlers((handler(runner),))
    grpcv1beta1.add_FunctionRunnerServiceServicer_to_server(
        runtime.BetaFunctionRunner(wrapped=runner), server
    )
    reflection.enable_server_reflection(runtime.SERVICE_NAMES, server)
    if insecure:
        server.add_insecure_port(address)
    else:
        server.add_secure_port(address, creds)

    async def run() -> None:
        await server.start()
        await server.wait_for_termination()

    try:
        loop.run_until_complete(run())
    finally:
        loop.run_until_complete(server.stop(grace=grace))
        loop.close()


def run(
    runner: grpcv1.FunctionRunnerServiceServicer,
    *,
    debug: bool,
    address: str,
    tls_certs_dir: str | None,
    insecure: bool,
    max_recv_message_size: int,
    max_send_message_size: int | None,
) -> None:
    """sdkcli.run, serving with serve() above."""
    logging.configure(level=logging.Level.DEBUG if debug else logging.Level.INFO)
    send = max_recv_message_size if max_send_message_size is None else max_send_message_size
    options = [
        ("grpc.max_receive_message_length", max_recv_message_size << 20),
        ("grpc.max_send_message_length", send << 20),
    ]
    creds = runtime.load_credentials(tls_certs_dir)  # type: ignore[arg-type]
    serve(runner, address, creds, insecure=insecure, options=options)


@click.command()
@sdkcli.standard_options
def cli(**options: Any) -> None:
    """Serve function-gitops-cluster over gRPC."""
    bound_malloc()
    try:
        run(fn.FunctionRunner(), **options)
    except Exception as exc:
        click.echo(f"Cannot run function: {exc}", err=True)
        raise SystemExit(1) from exc


if __name__ == "__main__":
    cli()
