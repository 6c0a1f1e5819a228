"""The benchmark harness runs end to end: real servers, every phase, one complete table.

Timings on a shared CI machine mean nothing, so none is asserted; what must hold is that
the harness starts every server, gets correct answers from the function, and reports
every figure as a number.
"""

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# (row label pattern, target column): every metric the issue asks for, and the context.
ROWS = [
    (r"cold start, spawn to first response \(s\)", "function < 1.5 s"),
    (r"latency p50, steady \(ms\)", "ratio <= 1.2"),
    (r"latency p99, steady \(ms\)", "ratio <= 2.0"),
    (r"latency p50, steady, AKS only \(ms\)", "—"),
    (r"latency p50, steady, GKE only \(ms\)", "—"),
    (r"server CPU per call, steady \(us\)", "—"),
    (r"latency p50, one object written \(ms\)", "ratio <= 1.3"),
    (r"latency p99, one object written \(ms\)", "—"),
    (r"server CPU per call, one object written \(us\)", "—"),
    (r"latency p50, every object written \(ms\)", "ratio <= 1.3"),
    (r"latency p99, every object written \(ms\)", "—"),
    (r"server CPU per call, every object written \(us\)", "—"),
    (r"latency p50, new and changed for compose \(ms\)", "—"),
    (r"server CPU per call, new and changed for compose \(us\)", "—"),
    (r"throughput, 16 streams, steady \(req/s\)", "ratio >= 0.6"),
    (r"server CPU per call, under load, steady \(us\)", "—"),
    (r"client CPU busy, under load, steady \(%\)", "—"),
    (r"throughput, 16 streams, every object written \(req/s\)", "ratio >= 0.6"),
    (r"server CPU per call, under load, every object written \(us\)", "—"),
    (r"client CPU busy, under load, every object written \(%\)", "—"),
    (r"RSS after \d+ calls \(MB\)", "function < 80 MB"),
]
NUMBER = re.compile(r"^\d+\.\d+$")


@pytest.fixture(scope="module")
def smoke() -> subprocess.CompletedProcess[str]:
    """One smoke run for the whole module: a few seconds of real servers."""
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def table(stdout: str) -> dict[str, list[str]]:
    """Markdown table rows by metric, header and separator left out."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("| ") and not line.startswith("| metric"):
            metric, *cells = (cell.strip() for cell in line.strip("|").split("|"))
            rows[metric] = cells
    return rows


def test_smoke_run_succeeds_whatever_the_figures(
    smoke: subprocess.CompletedProcess[str],
) -> None:
    assert smoke.returncode == 0, smoke.stderr


def test_table_has_exactly_the_expected_rows_in_order(
    smoke: subprocess.CompletedProcess[str],
) -> None:
    metrics = list(table(smoke.stdout))
    assert len(metrics) == len(ROWS), smoke.stdout
    for metric, (pattern, _) in zip(metrics, ROWS, strict=True):
        assert re.fullmatch(pattern, metric), (metric, pattern)


@pytest.mark.parametrize(("pattern", "target"), ROWS, ids=[p for p, _ in ROWS])
def test_row_has_numbers_and_its_target(
    smoke: subprocess.CompletedProcess[str], pattern: str, target: str
) -> None:
    (cells,) = [c for m, c in table(smoke.stdout).items() if re.fullmatch(pattern, m)]
    function, noop, ratio, wire, wire_ratio, shown_target, met = cells
    for value in (function, noop, ratio, wire, wire_ratio):
        assert NUMBER.match(value), (pattern, cells)
    for floor, shown in ((noop, ratio), (wire, wire_ratio)):
        assert float(floor) > 0, (pattern, cells)
        assert float(shown) == pytest.approx(float(function) / float(floor), rel=0.01, abs=0.006)
    assert float(function) > 0, (pattern, cells)
    assert shown_target == target
    assert met in (("—",) if target == "—" else ("yes", "**no**"))


def test_rss_is_read_after_every_call_the_smoke_run_made(
    smoke: subprocess.CompletedProcess[str],
) -> None:
    (metric,) = [m for m in table(smoke.stdout) if m.startswith("RSS after")]
    calls = int(re.search(r"\d+", metric).group())  # type: ignore[union-attr]
    # warm-up + sequential + new requests + throughput + top-up to --rss-calls (200)
    assert calls >= 200


def test_header_names_the_machine_and_the_counts(
    smoke: subprocess.CompletedProcess[str],
) -> None:
    header = smoke.stdout.splitlines()[0]
    assert "CPUs (" in header
    assert "load average" in header
    assert "live-shaped requests: AKS " in header
    assert "50 sequential calls per server" in header
    assert "10 sequential calls per server of each kind of new request" in header
    assert "16 streams for 1 s per server, steady and every object written" in header
