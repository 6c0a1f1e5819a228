"""Memory stays bounded in bytes, whatever the requests hold (SPEC §5).

A dedicated server gets 600 distinct XRs whose kubeconfigs carry a CA bundle near the
1 MiB cap (accepted input): every answer is over 1 MB, so a memo bounded by entries
would keep hundreds of megabytes. The answer memo, the kubeconfig cache and the
sightings of composed resources are bounded in bytes, so the server's resident memory,
its peak included, stays under 100 MB (the runtime in examples/runtime is limited to
256 Mi).
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from function import fn
from function.kubeconfig import MAX_KUBECONFIG_BYTES
from function.memo import ENTRY_OVERHEAD, BoundedMemo
from tests.builders import AKS_INPUT, request, tagged, versioned, xr
from tests.pki import kubeconfig, make_pki

if TYPE_CHECKING:
    from tests.conftest import FunctionServer

XRS = 600
STREAMS = 4
LIMIT_BYTES = 100 * 1024 * 1024
CALL_TIMEOUT = 60.0
DEADLINE = 600.0
# Under the 4 MiB default on either side: each answer carries the bundle in base64 twice.
MESSAGE_BYTES = 8 * 1024 * 1024

PKI = make_pki("memory")
_PEM = base64.b64decode(PKI.ca_data)
# As many copies of the CA as fit a kubeconfig 48 kB under the cap: about 885 kB of
# certificate-authority-data, the size the issue measured.
BUNDLE = base64.b64encode(_PEM * ((MAX_KUBECONFIG_BYTES - 48 * 1024) * 3 // 4 // len(_PEM)))


# Rendered once: YAML-dumping a near-1 MiB document per XR would take the client longer
# than the server takes to answer it.
_TEMPLATE = kubeconfig(
    PKI,
    "https://cluster-000000.example.io:443",
    cluster_extra={"certificate-authority-data": BUNDLE.decode()},
)


def big_kubeconfig(index: int) -> bytes:
    """A distinct kubeconfig near the cap: its own server, the shared large CA bundle."""
    config = _TEMPLATE.replace(b"cluster-000000.", b"cluster-%06d." % index)
    assert MAX_KUBECONFIG_BYTES - 64 * 1024 < len(config) <= MAX_KUBECONFIG_BYTES
    return config


def xr_request(index: int) -> fnv1.RunFunctionRequest:
    """XR number index, its cluster Ready, its kubeconfig in the connection details."""
    composite = xr()
    composite["metadata"]["name"] = f"cluster-{index}"
    req = request(
        composite,
        fn_input=AKS_INPUT,
        observed={
            "cluster": {
                "apiVersion": "containerservice.azure.m.upbound.io/v1beta1",
                "kind": "KubernetesCluster",
                "status": {
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "atProvider": {"fqdn": f"cluster-{index}.example.io"},
                },
            }
        },
    )
    req.observed.resources["cluster"].connection_details["kubeconfig"] = big_kubeconfig(index)
    return tagged(versioned(req))


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident) in bytes, as the kubelet's accounting sees them."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) * 1024
    return found


async def send_all(address: str) -> list[str]:
    """Every XR once, over STREAMS concurrent streams; the problems found, if any."""
    options = [
        ("grpc.max_receive_message_length", MESSAGE_BYTES),
        ("grpc.max_send_message_length", MESSAGE_BYTES),
    ]
    numbers = iter(range(XRS))
    problems: list[str] = []
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        stub = grpcv1.FunctionRunnerServiceStub(channel)

        async def stream() -> None:
            for index in numbers:
                rsp = await stub.RunFunction(xr_request(index), timeout=CALL_TIMEOUT)
                fatal = [r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
                if fatal or "argocd-cluster" not in rsp.desired.resources:
                    problems.append(f"xr {index}: {fatal or sorted(rsp.desired.resources)}")

        await asyncio.gather(*(stream() for _ in range(STREAMS)))
    return problems


def test_600_xrs_with_kubeconfigs_near_the_cap_stay_under_100_mb(
    own_function_server: FunctionServer,
) -> None:
    problems = asyncio.run(asyncio.wait_for(send_all(own_function_server.address), DEADLINE))
    assert problems == [], problems[:3]
    used = memory(own_function_server.process.pid)
    print(f"\n{XRS} XRs near the kubeconfig cap: {used}")
    assert used["VmHWM"] < LIMIT_BYTES, f"peak resident memory {used['VmHWM']} bytes"
    assert own_function_server.process.poll() is None, "the server exited"


def typical_request(index: int) -> fnv1.RunFunctionRequest:
    """XR number index with an ordinary few-kB kubeconfig."""
    req = xr_request(index)
    config = kubeconfig(PKI, f"https://cluster-{index}.example.io:443")
    req.observed.resources["cluster"].connection_details["kubeconfig"] = config
    return tagged(versioned(req))


@pytest.mark.parametrize(("memo", "bound"), [("_memo", "MEMO_BYTES"), ("_seen", "SEEN_BYTES")])
def test_typical_xrs_are_remembered_within_the_byte_bound(
    monkeypatch: pytest.MonkeyPatch, memo: str, bound: str
) -> None:
    """The answer memo, and the sightings of composed resources: one entry per XR."""
    runner = fn.FunctionRunner()
    for index in range(20):
        asyncio.run(runner.RunFunction(typical_request(index), None))
    assert len(getattr(runner, memo)) == 20
    per_xr = getattr(runner, memo).bytes / 20

    monkeypatch.setattr(fn, bound, int(per_xr * 10))
    bounded = fn.FunctionRunner()
    for index in range(20):
        asyncio.run(bounded.RunFunction(typical_request(index), None))
    assert getattr(bounded, memo).bytes <= getattr(fn, bound)
    assert 8 <= len(getattr(bounded, memo)) <= 10


def test_answers_over_a_mib_are_not_remembered() -> None:
    runner = fn.FunctionRunner()
    for index in range(3):
        rsp = asyncio.run(runner.RunFunction(xr_request(index), None))
        # The namespaced XR's credentials travel in the Secret beside its Object.
        credentials = rsp.desired.resources["argocd-cluster-credentials"]
        assert credentials.resource.ByteSize() > 1024 * 1024
    assert runner._memo.bytes == 0
    assert len(runner._tags) == 0
    assert len(runner._seen) == 0  # nor the clusters' near 1 MiB connection details


def test_remembered_tags_are_bounded_in_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fn, "TAG_BYTES", (fn.TAG_ENTRY_BYTES + ENTRY_OVERHEAD) * 10)
    runner = fn.FunctionRunner()
    for index in range(20):
        asyncio.run(runner.RunFunction(typical_request(index), None))
    assert len(runner._memo) == 20
    assert len(runner._tags) == 10
    assert runner._tags.bytes <= fn.TAG_BYTES


def test_bounded_memo_forgets_least_recently_used_first() -> None:
    memo: BoundedMemo[str, bytes] = BoundedMemo(10_000, len, max_entry_bytes=5_000)
    for key in "abcdefghij":
        memo.put(key, b"x" * 1_600)
    assert memo.bytes <= 10_000
    assert memo.get("a") is None
    assert memo.get("j") == b"x" * 1_600
    memo.put("big", b"x" * 6_000)  # over max_entry_bytes: not remembered at all
    assert memo.get("big") is None
    assert memo.get("j") is not None
