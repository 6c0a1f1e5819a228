"""One long-running process of the live stack: its own process group, folder and log.

Everything a component starts (Argo CD's git, hatch's children) shares its process
group, so stopping the group stops it all, pass or fail.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

STOP_GRACE = 10.0
# Every process started and not yet stopped, so that nothing outlives the run even
# when a component fails half-way through starting (see `stop_all`).
_running: list[Process] = []


@dataclass
class Process:
    """A started component and where its output goes."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        """The end of the log, for a failure message."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the whole group, SIGKILL to what is left after the grace period."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.popen.wait(timeout=STOP_GRACE)
                _wait_group_gone(self.pid)
                break
            except subprocess.TimeoutExpired:
                continue
        self.popen.wait()
        if self in _running:
            _running.remove(self)


def running() -> list[Process]:
    """Every process started and not yet stopped, oldest first."""
    return list(_running)


def stop_all() -> None:
    """Stop whatever is still running, newest first."""
    for process in reversed(list(_running)):
        process.stop()


atexit.register(stop_all)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def stop_all_on_signals() -> None:
    """SIGTERM (a CI time-out, `kill`) and SIGINT unwind like Ctrl-C, so every process
    started here is stopped: each runs in its own session and would outlive us.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)


def _wait_group_gone(pgid: int, timeout: float = 5.0) -> None:
    """Children may outlive the leader by a moment; give them that moment, then kill."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def start(
    name: str,
    argv: list[str],
    *,
    workdir: Path,
    env: dict[str, str] | None = None,
) -> Process:
    """Start `argv` in a new session (its own process group) with its log in `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{name}.log"
    with log.open("ab") as sink:
        popen = subprocess.Popen(
            argv,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    process = Process(name=name, popen=popen, log=log)
    _running.append(process)
    return process


def wait_until(
    check: Callable[[], object],
    what: str,
    *,
    timeout: float = 90,
    interval: float = 0.2,
    process: Process | None = None,
) -> object:
    """Poll `check` until it returns something truthy; fail fast if `process` died.

    Exceptions from `check` count as "not yet" (the API server may not be up); the last
    one is reported on timeout.
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        if process is not None and not process.alive():
            msg = f"{process.name} exited ({process.popen.returncode}) while waiting for {what}"
            raise RuntimeError(f"{msg}; log {process.log}:\n{process.tail()}")
        try:
            result = check()
        except Exception as exc:  # noqa: BLE001 - reported on timeout
            last, result = exc, None
        if result:
            return result
        if time.monotonic() >= deadline:
            detail = f" (last error: {last})" if last else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)
