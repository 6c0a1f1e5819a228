"""The live stack, once per test session, and what a failing scenario leaves to read.

Skips with the reason where the components are not built (a laptop without `make
e2e-tools`); FUNCTION_TEST_STRICT=1 (set by .ci/run) makes that a failure.
"""

from __future__ import annotations

import logging
import os
import platform
from typing import TYPE_CHECKING

import pytest

from tests.conftest import require
from tests.e2e.components import missing
from tests.e2e.process import stop_all_on_signals
from tests.e2e.stack import Stack

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

log = logging.getLogger("e2e")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, shared_crds: Path) -> Iterator[Stack]:
    gone = missing()
    require(not gone, f"the live suite needs {', '.join(gone)}: run `make e2e-tools`")
    stop_all_on_signals()
    live = Stack.up(tmp_path_factory.mktemp("live"), shared_crds)
    try:
        yield live
    finally:
        _report(live)
        live.down()


def _report(live: Stack) -> None:
    """Measured, never asserted: start time, Ready -> Synced per scenario, memory."""
    core, clusters = live.resident_mib()
    log.info("machine: %s, %s cores", platform.platform(), os.cpu_count())
    log.info("stack start: %.1fs", live.started_in)
    for scenario, seconds in sorted(live.timings.items()):
        log.info("cluster Ready -> Application Synced, %s: %.1fs", scenario, seconds)
    for name, mib in sorted(core.items(), key=lambda kv: -kv[1]):
        log.info("resident %-34s %6.0f MiB", name, mib)
    log.info("resident stack without stand-ins: %.0f MiB", sum(core.values()))
    if clusters:
        each = sum(clusters.values()) / len(clusters)
        log.info("resident per stand-in cluster: %.0f MiB (%d clusters)", each, len(clusters))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A failed scenario shows the end of every component's log, and where the logs are."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    live = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(live, Stack):
        for process in live.processes():
            report.sections.append((f"{process.name} log ({process.log})", process.tail(40)))
