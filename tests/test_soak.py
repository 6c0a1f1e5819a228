"""Soak: 20,000 RunFunction calls over 32 concurrent streams on one server process.

A dedicated server (the real CLI, --insecure, no --debug) serves a mix of realistic
requests; every call must succeed with a well-formed response, and resident memory in the
last quarter may be at most 10% above the first quarter's (after a warm-up).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from tests.builders import AKS_INPUT, GKE_INPUT, request, xr
from tests.pki import kubeconfig, make_pki
from tests.strategies import b64

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.conftest import FunctionServer

TOTAL = 20_000
QUARTERS = 4
WARM_UP = 1_000
STREAMS = 32
CHANNELS = 4
MAX_GROWTH = 1.10
CALL_TIMEOUT = 30.0
# The calls take ~20 s on 2 cores; the bound only stops a hung server from hanging CI.
DEADLINE = 300.0
SAMPLE_EVERY = 0.25

PKI = make_pki("soak")
KUBECONFIG = kubeconfig(PKI, "https://aks.example.io:443")
READY = {"conditions": [{"type": "Ready", "status": "True"}]}
AKS_CLUSTER = {"status": {**READY, "atProvider": {"fqdn": "aks.example.io"}}}
GKE_CLUSTER = {
    "status": {
        **READY,
        "atProvider": {"endpoint": "34.1.2.3", "masterAuth": {"clusterCaCertificate": PKI.ca_data}},
    }
}
GKE_XR = {**xr(), "kind": "GKECluster"}
REGISTRATION = "argocd-cluster"
# The XRs are namespaced: delivery Object, with its credentials Secret beside it.
REGISTERED = frozenset({REGISTRATION, "argocd-cluster-credentials"})
CONDITION = "ArgoCDRegistered"


@dataclass(frozen=True)
class Expected:
    """What a well-formed response to one kind of request holds."""

    resources: frozenset[str]
    condition: tuple[bool, str] | None
    fatal: bool = False
    requirement: bool = False


@dataclass(frozen=True)
class Kind:
    """One kind of request in the mix, and what its response must hold."""

    name: str
    request: fnv1.RunFunctionRequest
    expected: Expected


def with_details(req: fnv1.RunFunctionRequest, **details: bytes) -> fnv1.RunFunctionRequest:
    for key, value in details.items():
        req.observed.resources["cluster"].connection_details[key] = value
    return req


def with_secret(req: fnv1.RunFunctionRequest, **data: bytes) -> fnv1.RunFunctionRequest:
    secret = {"apiVersion": "v1", "kind": "Secret", "data": {k: b64(v) for k, v in data.items()}}
    found = req.required_resources["cluster-connection-secret"]
    found.items.add().resource.CopyFrom(resource.dict_to_struct(secret))
    return req


def observed_registration(address: str, req: fnv1.RunFunctionRequest) -> dict[str, Any]:
    """The registration the server renders for req, as Crossplane then observes it."""
    with grpc.insecure_channel(address) as channel:
        rsp = grpcv1.FunctionRunnerServiceStub(channel).RunFunction(req, timeout=CALL_TIMEOUT)
    desired = resource.struct_to_dict(rsp.desired.resources[REGISTRATION].resource)
    return desired | {"metadata": {"name": "team-a-dev-x8k2q"}, "status": READY}


def request_mix(address: str) -> list[Kind]:
    """AKS and GKE at every lifecycle stage, plus an invalid spec and a broken kubeconfig."""
    aks_fresh = with_details(
        request(xr(), observed={"cluster": AKS_CLUSTER}), kubeconfig=KUBECONFIG
    )
    gke_fresh = request(GKE_XR, GKE_INPUT, observed={"cluster": GKE_CLUSTER})
    aks_registered = with_details(
        request(
            xr(),
            observed={
                "cluster": AKS_CLUSTER,
                REGISTRATION: observed_registration(address, aks_fresh),
            },
        ),
        kubeconfig=KUBECONFIG,
    )
    gke_registered = request(
        GKE_XR,
        GKE_INPUT,
        observed={"cluster": GKE_CLUSTER, REGISTRATION: observed_registration(address, gke_fresh)},
    )
    aks = frozenset({"resource-group", "cluster"})
    gke = frozenset({"cluster", "node-pool"})
    return [
        Kind(
            "aks-registered",
            aks_registered,
            Expected(aks | REGISTERED, (True, "Registered")),
        ),
        Kind(
            "aks-from-required-secret",
            with_secret(request(xr(), observed={"cluster": AKS_CLUSTER}), kubeconfig=KUBECONFIG),
            Expected(aks | REGISTERED, (False, "Registering"), requirement=True),
        ),
        Kind("aks-new", request(xr()), Expected(aks, (False, "WaitingForCluster"))),
        Kind(
            "gke-registered",
            gke_registered,
            Expected(gke | REGISTERED, (True, "Registered")),
        ),
        Kind(
            "aks-broken-kubeconfig",
            with_details(
                request(xr(), observed={"cluster": AKS_CLUSTER}), kubeconfig=b"\xff" + KUBECONFIG
            ),
            Expected(aks, (False, "InvalidKubeconfig")),
        ),
        Kind(
            "invalid-spec",
            request(xr({"nodePool": {"count": 0}}), AKS_INPUT),
            Expected(frozenset(), None, fatal=True),
        ),
    ]


def problems(kind: Kind, tag: str, rsp: fnv1.RunFunctionResponse) -> list[str]:
    """Everything wrong with one response; empty when it is well-formed."""
    want = kind.expected
    found = []
    if rsp.meta.tag != tag:
        found.append(f"tag {rsp.meta.tag!r}")
    if any(r.severity == fnv1.SEVERITY_UNSPECIFIED or not r.message for r in rsp.results):
        found.append("result without severity or message")
    fatals = sum(r.severity == fnv1.SEVERITY_FATAL for r in rsp.results)
    if fatals != int(want.fatal):
        found.append(f"{fatals} fatal results")
    if set(rsp.desired.resources) != want.resources:
        found.append(f"resources {sorted(rsp.desired.resources)}")
    conditions = [
        (c.status == fnv1.STATUS_CONDITION_TRUE, c.reason)
        for c in rsp.conditions
        if c.type == CONDITION
    ]
    if conditions != ([want.condition] if want.condition else []):
        found.append(f"conditions {conditions}")
    if ("cluster-connection-secret" in rsp.requirements.resources) != want.requirement:
        found.append("requirements")
    return [f"{kind.name}: {problem}" for problem in found]


def rss_bytes(pid: int) -> int:
    """Resident set size from /proc, as the kubelet's memory accounting sees it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    msg = f"no VmRSS for process {pid}"
    raise AssertionError(msg)


@dataclass
class Tally:
    """Outcome of the calls so far: counts, and the first few problems for the report."""

    calls: int = 0
    failures: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, errors: list[str]) -> None:
        self.calls += 1
        if errors:
            self.failures += 1
            if len(self.examples) < 5:
                self.examples.append(errors[0])


async def batch(
    stubs: list[grpcv1.FunctionRunnerServiceStub],
    kinds: list[Kind],
    calls: int,
    tally: Tally,
    name: str,
) -> None:
    """calls RunFunction calls over STREAMS concurrent streams, round-robin over kinds."""
    numbers: Iterator[int] = iter(range(calls))  # shared: each stream takes the next number

    async def stream(index: int) -> None:
        stub = stubs[index % len(stubs)]
        for number in numbers:
            kind = kinds[number % len(kinds)]
            req = fnv1.RunFunctionRequest()
            req.CopyFrom(kind.request)
            req.meta.tag = f"{name}-{number}"
            try:
                rsp = await stub.RunFunction(req, timeout=CALL_TIMEOUT)
            except grpc.aio.AioRpcError as exc:
                tally.add([f"{kind.name}: {exc.code().name} {exc.details()}"])
                continue
            tally.add(problems(kind, req.meta.tag, rsp))

    await asyncio.gather(*(stream(i) for i in range(STREAMS)))


async def sample_rss(pid: int, samples: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(rss_bytes(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)


async def soak(server: FunctionServer, kinds: list[Kind]) -> tuple[Tally, list[int], float]:
    """Warm up, then run the quarters; returns the tally, each quarter's peak RSS, seconds."""
    channels = [grpc.aio.insecure_channel(server.address) for _ in range(CHANNELS)]
    stubs = [grpcv1.FunctionRunnerServiceStub(channel) for channel in channels]
    try:
        warm_up = Tally()
        await batch(stubs, kinds, WARM_UP, warm_up, "warm-up")
        assert warm_up.failures == 0, warm_up.examples
        tally, peaks = Tally(), []
        start = time.perf_counter()
        for quarter in range(QUARTERS):
            samples: list[int] = []
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_rss(server.process.pid, samples, stop))
            await batch(stubs, kinds, TOTAL // QUARTERS, tally, f"q{quarter}")
            stop.set()
            await sampler
            peaks.append(max([*samples, rss_bytes(server.process.pid)]))
        return tally, peaks, time.perf_counter() - start
    finally:
        for channel in channels:
            await channel.close()


def test_soak_20000_calls_32_streams_no_failures_no_memory_growth(
    own_function_server: FunctionServer,
) -> None:
    kinds = request_mix(own_function_server.address)
    tally, peaks, seconds = asyncio.run(
        asyncio.wait_for(soak(own_function_server, kinds), timeout=DEADLINE)
    )
    print(
        f"\nsoak: {tally.calls} calls in {seconds:.1f}s ({tally.calls / seconds:.0f}/s); "
        f"peak RSS per quarter (MiB): {[round(p / 2**20, 1) for p in peaks]}"
    )
    assert tally.calls == TOTAL
    assert tally.failures == 0, f"{tally.failures} failed calls, e.g. {tally.examples}"
    assert peaks[-1] <= MAX_GROWTH * peaks[0], (
        f"RSS grew from {peaks[0]} to {peaks[-1]} bytes (> {MAX_GROWTH - 1:.0%})"
    )
    assert own_function_server.process.poll() is None, "the server exited"
    assert b"unexpected error" not in own_function_server.output()
