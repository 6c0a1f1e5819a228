"""Benchmark the function against no-op functions on the same SDK, all real gRPC servers.

    python -m benchmarks.run [--smoke] [--calls N] [--seconds S] [--rss-calls N]
                             [--cold-starts N] [--pin]

The servers (KINDS) run as subprocesses on loopback, started the way Crossplane starts a
function (`--insecure --address ...`), and get the same pre-serialised requests from
the same client, so the ratio function / no-op is what this function adds on top of
Python, gRPC and the SDK, and function / wire no-op what it adds on top of a no-op
served the way it is. Phases, each alternating the servers so that drift on a shared
machine hits all alike:

1. cold start: process spawn to the first served RunFunction response (median);
2. sequential latency of the steady request (identical on every call), one call at a
   time, in alternating blocks, after a warm-up;
3. the same with requests new on every call: one object written since the last call
   (requests.written: a new resourceVersion on the XR or one composed resource in turn, as
   a provider's status update leaves it), every object written (requests.distinct: new
   resourceVersions and managedFields times everywhere), neither changing what compose
   reads; and requests new in what compose reads too (requests.changed), which the
   function composes afresh;
4. throughput: 16 concurrent streams (grpc.aio) for several seconds, steady and new;
5. resident memory (VmRSS) once each server has answered --rss-calls calls.

Every request is live-shaped (requests.py, live.py): objects as an API server returns
them, managedFields and provider status included.

The client runs in this process on the same machine: with two cores, client and server
compete, so the table also shows the client's CPU use while driving each server (near
100% means the client, not the server, limits throughput) and the server's CPU time per
call, which is less sensitive to other load than wall-clock figures.

Prints one Markdown table. The full run exits 1 when a target is missed; --smoke runs
tiny counts, checks only that everything works, and exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from benchmarks import requests
from tests.net import free_port, stop, wait_for_port

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parent.parent
METHOD = "/apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction"
STREAMS = 16
TIMEOUT = 30.0
_CPUCLOCK_SCHED = 2
MB = 1024 * 1024

# Targets from the issues "Fast and unbreakable" and "Fast on the requests Crossplane
# really sends": ratios to the no-op measured in the same run.
STEADY_P50_RATIO = 1.2
NEW_P50_RATIO = 1.3
P99_RATIO = 2.0
THROUGHPUT_RATIO = 0.6
COLD_START_S = 1.5
RSS_MB = 80


@dataclass(frozen=True)
class Settings:
    """How much of each phase to run."""

    calls: int
    block: int
    warmup: int
    seconds: float
    rss_calls: int
    cold_starts: int
    distinct: int
    pin: bool


FULL = Settings(
    calls=2000,
    block=100,
    warmup=300,
    seconds=6,
    rss_calls=10_000,
    cold_starts=5,
    distinct=500,
    pin=False,
)
SMOKE = Settings(
    calls=50, block=10, warmup=10, seconds=1, rss_calls=200, cold_starts=1, distinct=10, pin=False
)


@dataclass
class Server:
    """A running function process and what the benchmark has asked of it."""

    name: str
    module: tuple[str, ...]
    address: str
    process: subprocess.Popen
    log: Path
    calls: int = 0
    cold_starts: list[float] = field(default_factory=list)

    def cpu_seconds(self) -> float:
        """CPU time of the process, all threads, to the nanosecond (not /proc's 10 ms ticks).

        Linux names another process's CPU clock by its pid, as clock_getcpuclockid does.
        """
        return time.clock_gettime_ns(((~self.process.pid) << 3) | _CPUCLOCK_SCHED) / 1e9

    def rss_mb(self) -> float:
        """Resident set size now, from /proc (VmRSS)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / MB
        msg = f"no VmRSS for {self.name}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        """SIGTERM, as Kubernetes sends it; SIGKILL if it does not go."""
        stop(self.process)


# The servers: the function, the floor its targets are set against (the SDK's no-op),
# and a no-op served as the function is (requests read as wire.Request, not parsed
# whole by the SDK first), which shows what the function adds to the floor it shares.
KINDS = (
    ("function", ("function.main",)),
    ("no-op", ("benchmarks.noop",)),
    ("wire no-op", ("benchmarks.noop", "--wire")),
)
NAMES = tuple(name for name, _ in KINDS)


def spawn(name: str, module: tuple[str, ...], logs: Path, first: bytes, *, pin: bool) -> Server:
    """Start a server and time it from spawn to its first served response."""
    address = f"127.0.0.1:{free_port()}"
    log = logs / f"{name.replace(' ', '-')}-{address.rsplit(':', 1)[1]}.log"
    argv = [sys.executable, "-m", *module, "--insecure", "--address", address]
    start = time.perf_counter_ns()
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT)
    server = Server(name, module, address, process, log)
    try:
        if pin:
            os.sched_setaffinity(process.pid, {0})
        try:
            wait_for_port(address, process, TIMEOUT, interval=0.005)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}:\n{log.read_text(errors='replace')}") from None
        with grpc.insecure_channel(address) as channel:
            channel.unary_unary(METHOD)(first, timeout=TIMEOUT)
    except BaseException:
        server.stop()
        raise
    server.cold_starts.append((time.perf_counter_ns() - start) / 1e9)
    server.calls += 1
    return server


def cold_starts(logs: Path, first: bytes, settings: Settings) -> list[Server]:
    """Spawn each server cold_starts times, alternating; keep the last ones running."""
    times: dict[str, list[float]] = {name: [] for name in NAMES}
    servers: list[Server] = []
    try:
        for attempt in range(settings.cold_starts):
            last = attempt == settings.cold_starts - 1
            for name, module in KINDS if attempt % 2 == 0 else KINDS[::-1]:
                server = spawn(name, module, logs, first, pin=settings.pin)
                times[name] += server.cold_starts
                if last:
                    servers.append(server)
                else:
                    server.stop()
    except BaseException:
        for server in servers:
            server.stop()
        raise
    servers.sort(key=lambda s: NAMES.index(s.name))
    for server in servers:
        server.cold_starts = times[server.name]
    return servers


def verify(servers: list[Server], workloads: list[requests.Workload]) -> None:
    """Every server answers every workload; the function composes and registers."""
    for server in servers:
        with grpc.insecure_channel(server.address) as channel:
            call = channel.unary_unary(METHOD)
            for workload in workloads:
                raw = call(workload.payload, timeout=TIMEOUT)
                server.calls += 1
                rsp = fnv1.RunFunctionResponse.FromString(raw)
                if server.name == "function":
                    requests.check(rsp, workload.resources, registered=True)
                elif rsp.meta.tag != workload.request.meta.tag:
                    msg = f"{server.name} did not echo the request tag"
                    raise RuntimeError(msg)


@dataclass
class Sequential:
    """Latencies of one server, per workload, in nanoseconds."""

    samples: dict[str, list[int]]
    cpu_per_call_us: float

    @property
    def all(self) -> list[int]:
        """Every sample, whatever the workload."""
        return [s for samples in self.samples.values() for s in samples]


def sequential(
    servers: list[Server],
    stream: Callable[[int], tuple[str, bytes]],
    *,
    calls: int,
    block: int,
    warmup: int = 0,
) -> dict[str, Sequential]:
    """One call at a time, servers alternating in ABBA blocks, each walking the same stream.

    stream(i) is the i-th request (its workload's name and payload); each server is sent
    stream(0), stream(1), ... in turn, so both see the same requests.
    """
    samples: dict[str, dict[str, list[int]]] = {s.name: {} for s in servers}
    cpu = dict.fromkeys((s.name for s in servers), 0.0)
    position = dict.fromkeys((s.name for s in servers), 0)
    with ExitStack() as stack:
        calls_by_server = {}
        for server in servers:
            channel = stack.enter_context(grpc.insecure_channel(server.address))
            calls_by_server[server.name] = channel.unary_unary(METHOD)
        for server in servers:
            for index in range(warmup):
                calls_by_server[server.name](stream(index)[1], timeout=TIMEOUT)
            server.calls += warmup
        for round_ in range(math.ceil(calls / block)):
            for server in servers if round_ % 2 == 0 else servers[::-1]:
                call, out = calls_by_server[server.name], samples[server.name]
                requests_ = [stream(warmup + position[server.name] + i) for i in range(block)]
                position[server.name] += block
                cpu_before = server.cpu_seconds()
                for name, payload in requests_:
                    start = time.perf_counter_ns()
                    call(payload, timeout=TIMEOUT)
                    out.setdefault(name, []).append(time.perf_counter_ns() - start)
                cpu[server.name] += server.cpu_seconds() - cpu_before
                server.calls += block
    return {
        name: Sequential(by_name, cpu[name] / position[name] * 1e6)
        for name, by_name in samples.items()
    }


def cycle(payloads: list[tuple[str, bytes]]) -> Callable[[int], tuple[str, bytes]]:
    """A stream that repeats the same requests: the steady state."""
    return lambda index: payloads[index % len(payloads)]


@dataclass
class Load:
    """Calls completed under concurrent load, and the CPU both sides spent on them."""

    calls: int = 0
    seconds: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.calls / self.seconds if self.seconds else 0.0


async def _drive(
    channel: grpc.aio.Channel,
    stream: Callable[[int], tuple[str, bytes]],
    *,
    seconds: float = 0,
    calls: int = 0,
    first: int = 0,
) -> tuple[int, float]:
    """STREAMS callers in a tight loop until the time or the call budget is spent.

    The callers share one counter, so each sends the next request of the stream from
    first on: a stream of new requests is never repeated.
    """
    call = channel.unary_unary(METHOD)
    start = time.perf_counter_ns()
    deadline = start + int(seconds * 1e9)
    issued = done = 0

    async def caller() -> None:
        nonlocal issued, done
        while (calls and issued < calls) or (not calls and time.perf_counter_ns() < deadline):
            payload = stream(first + issued)[1]
            issued += 1
            await call(payload, timeout=TIMEOUT)
            done += 1

    await asyncio.gather(*(caller() for _ in range(STREAMS)))
    return done, (time.perf_counter_ns() - start) / 1e9


async def _throughput(
    servers: list[Server],
    streams: dict[str, Callable[[int], tuple[str, bytes]]],
    settings: Settings,
) -> dict[str, dict[str, Load]]:
    """Each stream (steady, new) in turn, the servers alternating within it."""
    loads = {kind: {s.name: Load() for s in servers} for kind in streams}
    channels = {s.name: grpc.aio.insecure_channel(s.address) for s in servers}
    sent = dict.fromkeys((s.name for s in servers), 0)
    try:
        for kind, stream in streams.items():
            for server in servers:  # connect and warm the aio path before timing
                done, _ = await _drive(
                    channels[server.name], stream, calls=STREAMS * 4, first=sent[server.name]
                )
                sent[server.name] += done
                server.calls += done
            for round_ in range(2):
                for server in servers if round_ % 2 == 0 else servers[::-1]:
                    load = loads[kind][server.name]
                    client_before, server_before = time.process_time(), server.cpu_seconds()
                    done, seconds = await _drive(
                        channels[server.name],
                        stream,
                        seconds=settings.seconds / 2,
                        first=sent[server.name],
                    )
                    load.client_cpu += time.process_time() - client_before
                    load.server_cpu += server.cpu_seconds() - server_before
                    load.calls += done
                    load.seconds += seconds
                    sent[server.name] += done
                    server.calls += done
        steady = next(iter(streams.values()))
        for server in servers:  # top up so memory is read after the same number of calls
            if server.calls < settings.rss_calls:
                done, _ = await _drive(
                    channels[server.name], steady, calls=settings.rss_calls - server.calls
                )
                server.calls += done
    finally:
        for channel in channels.values():
            await channel.close()
    return loads


def percentile(samples: list[int], q: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] / 1e6


@dataclass(frozen=True)
class Row:
    """One metric for each server, with its target (None: shown for context only)."""

    metric: str
    function: float
    noop: float
    wire: float
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float:
        """Function / no-op: what the targets are set on."""
        return self.function / self.noop if self.noop else math.inf

    @property
    def wire_ratio(self) -> float:
        """Function / wire no-op."""
        return self.function / self.wire if self.wire else math.inf


def rows(
    servers: dict[str, Server],
    latency: dict[str, dict[str, Sequential]],
    loads: dict[str, dict[str, Load]],
    rss: dict[str, float],
    rss_calls: int,
) -> list[Row]:
    """Every figure the issues ask for, plus the context needed to read them."""
    cold = {name: statistics.median(s.cold_starts) for name, s in servers.items()}

    def each(kind: str, figure: Callable[[Sequential], float]) -> tuple[float, float, float]:
        return tuple(figure(latency[kind][name]) for name in NAMES)  # type: ignore[return-value]

    def p50(seq: Sequential) -> float:
        return percentile(seq.all, 0.5)

    def p99(seq: Sequential) -> float:
        return percentile(seq.all, 0.99)

    def cpu(seq: Sequential) -> float:
        return seq.cpu_per_call_us

    def ratio_at_most(metric: str, values: tuple[float, float, float], bound: float) -> Row:
        row = Row(metric, *values)
        return Row(metric, *values, f"ratio <= {bound}", row.ratio <= bound)

    def ratio_at_least(metric: str, values: tuple[float, float, float], bound: float) -> Row:
        row = Row(metric, *values)
        return Row(metric, *values, f"ratio >= {bound}", row.ratio >= bound)

    steady = latency["steady"]
    table = [
        Row(
            "cold start, spawn to first response (s)",
            *(cold[name] for name in NAMES),
            f"function < {COLD_START_S} s",
            cold["function"] < COLD_START_S,
        ),
        ratio_at_most("latency p50, steady (ms)", each("steady", p50), STEADY_P50_RATIO),
        ratio_at_most("latency p99, steady (ms)", each("steady", p99), P99_RATIO),
    ]
    table += [
        Row(
            f"latency p50, steady, {workload} only (ms)",
            *(percentile(steady[name].samples[workload], 0.5) for name in NAMES),
        )
        for workload in steady["function"].samples
    ]
    table.append(Row("server CPU per call, steady (us)", *each("steady", cpu)))
    for kind, label in (("written", "one object written"), ("new", "every object written")):
        table += [
            ratio_at_most(f"latency p50, {label} (ms)", each(kind, p50), NEW_P50_RATIO),
            Row(f"latency p99, {label} (ms)", *each(kind, p99)),
            Row(f"server CPU per call, {label} (us)", *each(kind, cpu)),
        ]
    table += [
        Row("latency p50, new and changed for compose (ms)", *each("changed", p50)),
        Row("server CPU per call, new and changed for compose (us)", *each("changed", cpu)),
    ]
    for kind, label in (("steady", "steady"), ("new", "every object written")):
        load = loads[kind]
        table += [
            ratio_at_least(
                f"throughput, {STREAMS} streams, {label} (req/s)",
                tuple(load[n].rps for n in NAMES),  # type: ignore[arg-type]
                THROUGHPUT_RATIO,
            ),
            Row(
                f"server CPU per call, under load, {label} (us)",
                *(load[n].server_cpu / max(load[n].calls, 1) * 1e6 for n in NAMES),
            ),
            Row(
                f"client CPU busy, under load, {label} (%)",
                *(100 * load[n].client_cpu / max(load[n].seconds, 1e-9) for n in NAMES),
            ),
        ]
    table.append(
        Row(
            f"RSS after {rss_calls} calls (MB)",
            *(rss[name] for name in NAMES),
            f"function < {RSS_MB} MB",
            rss["function"] < RSS_MB,
        )
    )
    return table


def markdown(table: list[Row]) -> str:
    """The table as it goes into the README."""
    lines = [
        "| metric | function | no-op | ratio | wire no-op | ratio to it | target | met? |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in table:
        met = "—" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(
            f"| {row.metric} | {row.function:.3f} | {row.noop:.3f} | {row.ratio:.2f} "
            f"| {row.wire:.3f} | {row.wire_ratio:.2f} | {row.target or '—'} | {met} |"
        )
    return "\n".join(lines)


def environment(settings: Settings, workloads: list[requests.Workload]) -> str:
    """What the figures depend on: the machine, its load, the versions and the counts."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    sizes = ", ".join(f"{w.name} {len(w.payload) / 1024:.1f} kB" for w in workloads)
    return (
        f"{os.cpu_count()} CPUs ({_cpu_model()}), load average {load}; "
        f"Python {platform.python_version()}, grpcio {grpc.__version__}; live-shaped "
        f"requests: {sizes}; {settings.calls} sequential calls per server in blocks of "
        f"{settings.block} after {settings.warmup} warm-up calls; {settings.distinct} "
        f"sequential calls per server of each kind of new request (one object written, "
        f"every object written, changed for compose); {STREAMS} streams for "
        f"{settings.seconds:g} s per server, steady and every object written; median of "
        f"{settings.cold_starts} cold starts"
        + ("; servers pinned to CPU 0, client to the others" if settings.pin else "")
    )


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return " ".join(line.split(":", 1)[1].split())
    return platform.machine()


# Each phase of new requests starts at its own offset, so no request is ever sent twice.
_THROUGHPUT_OFFSET = 100_000_000


def run(settings: Settings) -> list[Row]:
    """All phases, servers stopped whatever happens."""
    print("building requests", file=sys.stderr)
    workloads = requests.workloads()
    steady = cycle([(w.name, w.payload) for w in workloads])
    written, distinct = requests.written(workloads), requests.distinct(workloads)
    changed = requests.changed(workloads)
    if settings.pin and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, set(range(1, os.cpu_count() or 2)))
    with tempfile.TemporaryDirectory(prefix="benchmark-") as logs:
        print("cold starts", file=sys.stderr)
        servers = cold_starts(Path(logs), workloads[0].payload, settings)
        try:
            verify(servers, workloads)
            latency = {}
            for kind, stream, calls, warmup in (
                ("steady", steady, settings.calls, settings.warmup),
                ("written", written, settings.distinct, 0),
                ("new", distinct, settings.distinct, 0),
                ("changed", changed, settings.distinct, 0),
            ):
                print(f"sequential latency, {kind}", file=sys.stderr)
                latency[kind] = sequential(
                    servers, stream, calls=calls, block=settings.block, warmup=warmup
                )
            print("throughput", file=sys.stderr)
            loads = asyncio.run(
                _throughput(
                    servers,
                    {"steady": steady, "new": lambda i: distinct(_THROUGHPUT_OFFSET + i)},
                    settings,
                )
            )
            rss = {s.name: s.rss_mb() for s in servers}
            rss_calls = min(s.calls for s in servers)
        finally:
            for server in servers:
                server.stop()
    print(environment(settings, workloads))
    print()
    table = rows({s.name: s for s in servers}, latency, loads, rss, rss_calls)
    print(markdown(table))
    return table


def main(argv: list[str] | None = None) -> int:
    """Parse flags, run, and turn missed targets into the exit code (not under --smoke)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--smoke", action="store_true", help="tiny counts; never fails on targets")
    parser.add_argument("--calls", type=int, help="sequential calls per server (>= 2000 for p99)")
    parser.add_argument("--seconds", type=float, help="throughput seconds per server")
    parser.add_argument("--rss-calls", type=int, help="calls before reading resident memory")
    parser.add_argument("--cold-starts", type=int, help="cold starts per server (median shown)")
    parser.add_argument("--pin", action="store_true", help="servers on CPU 0, client elsewhere")
    args = parser.parse_args(argv)
    for flag in ("calls", "seconds", "rss_calls", "cold_starts"):
        if getattr(args, flag) is not None and getattr(args, flag) <= 0:
            parser.error(f"--{flag.replace('_', '-')} must be positive")
    base = SMOKE if args.smoke else FULL
    settings = Settings(
        calls=args.calls or base.calls,
        block=base.block,
        warmup=base.warmup,
        seconds=args.seconds or base.seconds,
        rss_calls=args.rss_calls or base.rss_calls,
        cold_starts=args.cold_starts or base.cold_starts,
        distinct=base.distinct,
        pin=args.pin,
    )
    table = run(settings)
    missed = [row.metric for row in table if row.met is False]
    if missed and not args.smoke:
        print(f"\nmissed targets: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
