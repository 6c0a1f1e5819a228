"""The harness stops what it starts: whole process groups, also on SIGTERM.

These need no live stack; they guard the promise every live test relies on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

from tests.e2e.components import ROOT
from tests.e2e.process import start, wait_until

if TYPE_CHECKING:
    from pathlib import Path

# A shell that starts a child and keeps it: stopping only the shell would leave the child.
WITH_CHILD = ["sh", "-c", "sleep 300 & echo $! > child.pid; wait"]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); it is gone for our purpose once reaped or defunct.
    with open(f"/proc/{pid}/stat") as stat:  # noqa: PTH123
        return stat.read().split()[2] == "Z"


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    process = start("with-child", WITH_CHILD, workdir=tmp_path)
    child = int(wait_until(lambda: (tmp_path / "child.pid").read_text().strip(), "the child"))
    process.stop()
    assert not process.alive()
    wait_until(lambda: _gone(child), "the child to be gone", timeout=10)


def test_sigterm_to_the_test_process_stops_what_it_started(tmp_path: Path) -> None:
    """A CI time-out sends SIGTERM: the components, each in its own session, go too."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from tests.e2e.process import start, stop_all_on_signals
        stop_all_on_signals()
        start("with-child", {WITH_CHILD!r}, workdir=Path({str(tmp_path)!r}))
        print("started", flush=True)
        time.sleep(300)
        """
    )
    runner = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert runner.stdout is not None
    assert runner.stdout.readline().strip() == "started"
    child = int(wait_until(lambda: (tmp_path / "child.pid").read_text().strip(), "the child"))
    runner.send_signal(signal.SIGTERM)
    runner.wait(timeout=30)
    deadline = time.monotonic() + 10
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(child)
