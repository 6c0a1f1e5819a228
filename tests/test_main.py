"""The `function` command: the SDK's standard flags work, over a real socket."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from tests.builders import request, xr
from tests.conftest import FunctionServer, start_function, stop_function
from tests.grpc_client import run_function
from tests.pki import make_pki, write_tls_dir


@pytest.fixture
def started() -> Iterator[list[FunctionServer]]:
    """Servers a test starts; all stopped afterwards."""
    servers: list[FunctionServer] = []
    yield servers
    for server in servers:
        stop_function(server)


def test_help_lists_the_standard_flags() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "function.main", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in (
        "--address",
        "--tls-certs-dir",
        "--insecure",
        "--debug",
        "--max-recv-message-size",
        "--max-send-message-size",
    ):
        assert flag in out


def test_serves_mtls_with_certs_from_tls_server_certs_dir_env(
    tmp_path: Path, started: list[FunctionServer]
) -> None:
    pki = make_pki("function-mtls")
    certs = write_tls_dir(pki, tmp_path / "tls")
    env = {**os.environ, "TLS_SERVER_CERTS_DIR": str(certs)}
    server = start_function(tmp_path / "fn.log", env=env)
    started.append(server)

    rsp = run_function(server.address, request(xr()), pki)
    assert set(rsp.desired.resources) == {"resource-group", "cluster"}

    with pytest.raises(grpc.RpcError) as no_client_cert:
        run_function(server.address, request(xr()), pki, client_cert=False, timeout=5)
    assert no_client_cert.value.code() == grpc.StatusCode.UNAVAILABLE

    with pytest.raises(grpc.RpcError):
        run_function(server.address, request(xr()), make_pki("someone-else"), timeout=5)


def test_insecure_serves_plaintext(tmp_path: Path, started: list[FunctionServer]) -> None:
    server = start_function(tmp_path / "fn.log", "--insecure")
    started.append(server)
    assert set(run_function(server.address, request(xr())).desired.resources) == {
        "resource-group",
        "cluster",
    }


def test_without_certs_or_insecure_refuses_to_start(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "function.main", "--address", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "TLS_SERVER_CERTS_DIR"},
    )
    assert proc.returncode != 0
    assert "Cannot run function" in proc.stderr
    assert "insecure" in proc.stderr


def test_debug_flag_enables_debug_logs(tmp_path: Path, started: list[FunctionServer]) -> None:
    quiet = start_function(tmp_path / "quiet.log", "--insecure")
    loud = start_function(tmp_path / "loud.log", "--insecure", "--debug")
    started += [quiet, loud]
    for server in (quiet, loud):
        run_function(server.address, request(xr()))
    stop_function(quiet)
    stop_function(loud)
    assert b"composed" in loud.output()
    assert b"composed" not in quiet.output()


def _big_request(megabytes: int) -> fnv1.RunFunctionRequest:
    req = request(xr())
    # An earlier step's desired resource, passed through; large on purpose.
    req.desired.resources["bulk"].resource.update({"data": {"blob": "x" * (megabytes << 20)}})
    return req


def test_max_message_size_flags_raise_the_4mb_default(
    tmp_path: Path, started: list[FunctionServer]
) -> None:
    default = start_function(tmp_path / "default.log", "--insecure")
    raised = start_function(tmp_path / "raised.log", "--insecure", "--max-recv-message-size", "16")
    started += [default, raised]

    with pytest.raises(grpc.RpcError) as too_big:
        run_function(default.address, _big_request(5))
    assert too_big.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    # The response carries the 5 MB pass-through too: the send limit follows the receive one.
    options = [("grpc.max_receive_message_length", 32 << 20)]
    with grpc.insecure_channel(raised.address, options=options) as ch:
        rsp = grpcv1.FunctionRunnerServiceStub(ch).RunFunction(_big_request(5), timeout=30)
    assert "bulk" in rsp.desired.resources
    assert "cluster" in rsp.desired.resources


def test_server_keeps_serving_after_bad_requests(function_server: FunctionServer) -> None:
    bad = request(xr({"nodePool": {"count": -1}}))
    for _ in range(3):
        rsp = run_function(function_server.address, bad)
        assert rsp.results[0].severity == fnv1.SEVERITY_FATAL
    empty = fnv1.RunFunctionRequest()
    assert run_function(function_server.address, empty).results[0].severity == fnv1.SEVERITY_FATAL
    good = run_function(function_server.address, request(xr()))
    assert set(good.desired.resources) == {"resource-group", "cluster"}


def test_sigterm_stops_the_server_gracefully(tmp_path: Path) -> None:
    server = start_function(tmp_path / "fn.log", "--insecure")
    try:
        run_function(server.address, request(xr()))
        server.process.send_signal(signal.SIGTERM)
        # Kubernetes waits terminationGracePeriodSeconds (30 s by default) before SIGKILL.
        assert server.process.wait(timeout=15) == 0, server.output()
    finally:
        stop_function(server)
