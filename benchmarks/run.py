"""Benchmark the function against a no-op function on the same SDK, both real gRPC servers.

    python -m benchmarks.run [--smoke] [--calls N] [--seconds S] [--rss-calls N]
                             [--cold-starts N] [--pin]

Both servers run as subprocesses on loopback, started the way Crossplane starts a
function (`--insecure --address ...`), and get the same pre-serialised requests from
the same client, so the ratio function / no-op is what this function adds on top of
Python, gRPC and the SDK. Phases, each alternating the two servers so that drift on a
shared machine hits both alike:

1. cold start: process spawn to the first served RunFunction response (median);
2. sequential latency: one call at a time, in alternating blocks, after a warm-up;
3. the same with requests never sent before, which no content-keyed cache can answer;
4. throughput: 16 concurrent streams (grpc.aio) for several seconds;
5. resident memory (VmRSS) once each server has answered --rss-calls calls.

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

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from benchmarks import requests
from tests.net import free_port, stop, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
METHOD = "/apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction"
STREAMS = 16
TIMEOUT = 30.0
_CPUCLOCK_SCHED = 2
MB = 1024 * 1024

# Targets from the issue "Fast and unbreakable".
P50_RATIO = 1.5
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
    module: str
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


def spawn(name: str, module: str, logs: Path, first: bytes, *, pin: bool) -> Server:
    """Start a server and time it from spawn to its first served response."""
    address = f"127.0.0.1:{free_port()}"
    log = logs / f"{module}-{address.rsplit(':', 1)[1]}.log"
    argv = [sys.executable, "-m", module, "--insecure", "--address", address]
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
    """Spawn each server cold_starts times, alternating; keep the last pair running."""
    kinds = [("function", "function.main"), ("no-op", "benchmarks.noop")]
    times: dict[str, list[float]] = {name: [] for name, _ in kinds}
    servers: list[Server] = []
    try:
        for attempt in range(settings.cold_starts):
            last = attempt == settings.cold_starts - 1
            for name, module in kinds if attempt % 2 == 0 else kinds[::-1]:
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
    servers.sort(key=lambda s: [name for name, _ in kinds].index(s.name))
    for server in servers:
        server.cold_starts = times[server.name]
    return servers


def verify(servers: list[Server], workloads: list[requests.Workload]) -> None:
    """Both servers answer every workload; the function composes and registers."""
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
    stream: list[tuple[str, bytes]],
    *,
    calls: int,
    block: int,
    warmup: int = 0,
) -> dict[str, Sequential]:
    """One call at a time, servers alternating in ABBA blocks, each walking the same stream.

    The stream is cycled; a stream at least `calls` long is never repeated.
    """
    names = list(dict.fromkeys(name for name, _ in stream))
    samples = {s.name: {name: [] for name in names} for s in servers}
    cpu = dict.fromkeys((s.name for s in servers), 0.0)
    position = dict.fromkeys((s.name for s in servers), 0)
    with ExitStack() as stack:
        calls_by_server = {}
        for server in servers:
            channel = stack.enter_context(grpc.insecure_channel(server.address))
            calls_by_server[server.name] = channel.unary_unary(METHOD)
        for server in servers:
            for index in range(warmup):
                calls_by_server[server.name](stream[index % len(stream)][1], timeout=TIMEOUT)
            server.calls += warmup
        for round_ in range(math.ceil(calls / block)):
            for server in servers if round_ % 2 == 0 else servers[::-1]:
                call, out = calls_by_server[server.name], samples[server.name]
                cpu_before = server.cpu_seconds()
                for _ in range(block):
                    name, payload = stream[position[server.name] % len(stream)]
                    position[server.name] += 1
                    start = time.perf_counter_ns()
                    call(payload, timeout=TIMEOUT)
                    out[name].append(time.perf_counter_ns() - start)
                cpu[server.name] += server.cpu_seconds() - cpu_before
                server.calls += block
    return {
        name: Sequential(by_name, cpu[name] / position[name] * 1e6)
        for name, by_name in samples.items()
    }


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
    channel: grpc.aio.Channel, payloads: list[bytes], *, seconds: float = 0, calls: int = 0
) -> tuple[int, float]:
    """STREAMS callers in a tight loop until the time or the call budget is spent."""
    call = channel.unary_unary(METHOD)
    start = time.perf_counter_ns()
    deadline = start + int(seconds * 1e9)
    issued = done = 0

    async def caller(offset: int) -> None:
        nonlocal issued, done
        index = offset
        while (calls and issued < calls) or (not calls and time.perf_counter_ns() < deadline):
            issued += 1
            await call(payloads[index % len(payloads)], timeout=TIMEOUT)
            done += 1
            index += 1

    await asyncio.gather(*(caller(i) for i in range(STREAMS)))
    return done, (time.perf_counter_ns() - start) / 1e9


async def _throughput(
    servers: list[Server], payloads: list[bytes], settings: Settings
) -> dict[str, Load]:
    loads = {s.name: Load() for s in servers}
    channels = {s.name: grpc.aio.insecure_channel(s.address) for s in servers}
    try:
        for server in servers:  # connect and warm the aio path before timing
            done, _ = await _drive(channels[server.name], payloads, calls=STREAMS * 4)
            server.calls += done
        for round_ in range(2):
            for server in servers if round_ % 2 == 0 else servers[::-1]:
                load = loads[server.name]
                client_before, server_before = time.process_time(), server.cpu_seconds()
                done, seconds = await _drive(
                    channels[server.name], payloads, seconds=settings.seconds / 2
                )
                load.client_cpu += time.process_time() - client_before
                load.server_cpu += server.cpu_seconds() - server_before
                load.calls += done
                load.seconds += seconds
                server.calls += done
        for server in servers:  # top up so memory is read after the same number of calls
            if server.calls < settings.rss_calls:
                done, _ = await _drive(
                    channels[server.name], payloads, calls=settings.rss_calls - server.calls
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
    """One metric for both servers, with its target (None: shown for context only)."""

    metric: str
    function: float
    noop: float
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float:
        """Function / no-op."""
        return self.function / self.noop if self.noop else math.inf


def rows(
    servers: dict[str, Server],
    latency: dict[str, Sequential],
    unseen: dict[str, Sequential],
    loads: dict[str, Load],
    rss: dict[str, float],
    rss_calls: int,
) -> list[Row]:
    """Every figure the issue asks for, plus the context needed to read them."""
    fn, noop = latency["function"], latency["no-op"]
    cold = {name: statistics.median(s.cold_starts) for name, s in servers.items()}
    p50 = Row("latency p50, sequential (ms)", percentile(fn.all, 0.5), percentile(noop.all, 0.5))
    p99 = Row("latency p99, sequential (ms)", percentile(fn.all, 0.99), percentile(noop.all, 0.99))
    tput = Row(f"throughput, {STREAMS} streams (req/s)", loads["function"].rps, loads["no-op"].rps)
    table = [
        Row(
            "cold start, spawn to first response (s)",
            cold["function"],
            cold["no-op"],
            f"function < {COLD_START_S} s",
            cold["function"] < COLD_START_S,
        ),
        Row(p50.metric, p50.function, p50.noop, f"ratio <= {P50_RATIO}", p50.ratio <= P50_RATIO),
        Row(p99.metric, p99.function, p99.noop, f"ratio <= {P99_RATIO}", p99.ratio <= P99_RATIO),
    ]
    table += [
        Row(f"latency p50, {name} only (ms)", percentile(samples, 0.5), percentile(other, 0.5))
        for (name, samples), other in zip(fn.samples.items(), noop.samples.values(), strict=True)
    ]
    table += [
        Row("server CPU per call, sequential (us)", fn.cpu_per_call_us, noop.cpu_per_call_us),
        Row(
            "latency p50, every request new (ms)",
            *(percentile(unseen[n].all, 0.5) for n in ("function", "no-op")),
        ),
        Row(
            tput.metric,
            tput.function,
            tput.noop,
            f"ratio >= {THROUGHPUT_RATIO}",
            tput.ratio >= THROUGHPUT_RATIO,
        ),
        Row(
            "server CPU per call, under load (us)",
            *(loads[n].server_cpu / max(loads[n].calls, 1) * 1e6 for n in ("function", "no-op")),
        ),
        Row(
            "client CPU busy, under load (%)",
            *(
                100 * loads[n].client_cpu / max(loads[n].seconds, 1e-9)
                for n in ("function", "no-op")
            ),
        ),
        Row(
            f"RSS after {rss_calls} calls (MB)",
            rss["function"],
            rss["no-op"],
            f"function < {RSS_MB} MB",
            rss["function"] < RSS_MB,
        ),
    ]
    return table


def markdown(table: list[Row]) -> str:
    """The table as it goes into the README."""
    lines = [
        "| metric | function | no-op | ratio | target | met? |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row in table:
        met = "—" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(
            f"| {row.metric} | {row.function:.3f} | {row.noop:.3f} | {row.ratio:.2f} "
            f"| {row.target or '—'} | {met} |"
        )
    return "\n".join(lines)


def environment(settings: Settings, workloads: list[requests.Workload]) -> str:
    """What the figures depend on: the machine, its load, the versions and the counts."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    sizes = ", ".join(f"{w.name} {len(w.payload) / 1024:.1f} kB" for w in workloads)
    return (
        f"{os.cpu_count()} CPUs, load average {load}; Python {platform.python_version()}, "
        f"grpcio {grpc.__version__}; requests: {sizes}; {settings.calls} sequential calls "
        f"per server in blocks of {settings.block} after {settings.warmup} warm-up calls; "
        f"{settings.distinct} sequential calls per server with requests never sent before; "
        f"{STREAMS} streams for {settings.seconds:g} s per server; median of "
        f"{settings.cold_starts} cold starts"
        + ("; servers pinned to CPU 0, client to the others" if settings.pin else "")
    )


def run(settings: Settings) -> list[Row]:
    """All phases, servers stopped whatever happens."""
    print("building requests", file=sys.stderr)
    workloads = requests.workloads()
    payloads = [w.payload for w in workloads]
    if settings.pin and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, set(range(1, os.cpu_count() or 2)))
    with tempfile.TemporaryDirectory(prefix="benchmark-") as logs:
        print("cold starts", file=sys.stderr)
        servers = cold_starts(Path(logs), payloads[0], settings)
        try:
            verify(servers, workloads)
            print("sequential latency", file=sys.stderr)
            steady = [(w.name, w.payload) for w in workloads]
            latency = sequential(
                servers,
                steady,
                calls=settings.calls,
                block=settings.block,
                warmup=settings.warmup,
            )
            print("sequential latency, every request new", file=sys.stderr)
            # As many as the blocks will send, so that no request is ever repeated.
            count = math.ceil(settings.distinct / settings.block) * settings.block
            fresh = requests.distinct(workloads, count)
            unseen = sequential(
                servers,
                [("new", payload) for payload in fresh],
                calls=settings.distinct,
                block=settings.block,
            )
            print("throughput", file=sys.stderr)
            loads = asyncio.run(_throughput(servers, payloads, settings))
            rss = {s.name: s.rss_mb() for s in servers}
            rss_calls = min(s.calls for s in servers)
        finally:
            for server in servers:
                server.stop()
    print(environment(settings, workloads))
    print()
    table = rows({s.name: s for s in servers}, latency, unseen, loads, rss, rss_calls)
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
