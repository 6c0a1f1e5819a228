"""A real gRPC client for the function, as Crossplane calls it."""

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from tests.pki import Pki


def channel(address: str, pki: Pki | None = None, *, client_cert: bool = True) -> grpc.Channel:
    """Insecure without pki; mTLS (with or without our client certificate) with it."""
    if pki is None:
        return grpc.insecure_channel(address)
    creds = grpc.ssl_channel_credentials(
        root_certificates=pki.ca_cert,
        private_key=pki.client_key if client_cert else None,
        certificate_chain=pki.client_cert if client_cert else None,
    )
    return grpc.secure_channel(address, creds)


def run_function(
    address: str,
    req: fnv1.RunFunctionRequest,
    pki: Pki | None = None,
    *,
    client_cert: bool = True,
    timeout: float = 10,
) -> fnv1.RunFunctionResponse:
    """One RunFunction call over a fresh channel."""
    with channel(address, pki, client_cert=client_cert) as ch:
        return grpcv1.FunctionRunnerServiceStub(ch).RunFunction(req, timeout=timeout)
