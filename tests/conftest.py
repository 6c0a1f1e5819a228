"""Shared fixtures: the function as a real gRPC server, the Crossplane CLI, upstream CRDs.

Tests that need the CLI or ../shared/crds skip with the reason where those are
absent (a user's laptop); FUNCTION_TEST_STRICT=1 (set by .ci/run) turns every
skip into a failure, so CI can never pass by skipping.
"""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.net import free_port, stop, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
STRICT = os.environ.get("FUNCTION_TEST_STRICT") == "1"
SHARED_CRDS = Path(os.environ.get("SHARED_CRDS", ROOT.parent / "shared" / "crds"))
BIN = Path(os.environ.get("CROSSPLANE_TOOLS_BIN", ROOT / ".tools" / "bin"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """In strict mode a skipped test is a failed test."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if STRICT and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped in strict mode (FUNCTION_TEST_STRICT=1): {report.longrepr}"


def require(condition: bool, reason: str) -> None:
    """Skip (or, in strict mode, fail) when a tool or fixture is missing."""
    if not condition:
        if STRICT:
            pytest.fail(f"{reason} (FUNCTION_TEST_STRICT=1)")
        pytest.skip(reason)


@dataclass(frozen=True)
class CrossplaneCLI:
    """The pinned CLI and the core binary that render runs instead of Docker."""

    cli: Path
    core: Path


@pytest.fixture(scope="session")
def crossplane() -> CrossplaneCLI:
    """The Crossplane CLI built by `make tools`."""
    cli, core = BIN / "crossplane", BIN / "crossplane-core"
    require(
        cli.exists() and core.exists(),
        f"Crossplane CLI not built at {BIN}; run `make tools`",
    )
    return CrossplaneCLI(cli=cli, core=core)


@pytest.fixture(scope="session")
def shared_crds() -> Path:
    """The upstream CRDs the rendered resources are validated against."""
    require(SHARED_CRDS.is_dir(), f"upstream CRDs not found at {SHARED_CRDS}; set SHARED_CRDS")
    return SHARED_CRDS


@dataclass
class FunctionServer:
    """A running `function` process and where its output goes."""

    address: str
    log: Path
    process: subprocess.Popen

    def output(self) -> bytes:
        """Everything the process has logged so far (stdout and stderr)."""
        return self.log.read_bytes()


def start_function(
    log: Path, *args: str, env: dict[str, str] | None = None, command: list[str] | None = None
) -> FunctionServer:
    """Start the function's real CLI on a free loopback port."""
    address = f"127.0.0.1:{free_port()}"
    argv = (command or [sys.executable, "-m", "function.main"]) + ["--address", address, *args]
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    server = FunctionServer(address=address, log=log, process=process)
    try:
        wait_for_port(address, process)
    except Exception:
        stop_function(server)
        raise
    return server


def stop_function(server: FunctionServer) -> None:
    """Stop the process; SIGTERM is what Kubernetes sends."""
    stop(server.process)


@pytest.fixture(scope="session")
def function_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionServer]:
    """The function serving insecurely with --debug, as `crossplane render` expects."""
    log = tmp_path_factory.mktemp("function") / "function.log"
    server = start_function(log, "--insecure", "--debug")
    yield server
    stop_function(server)


@pytest.fixture(scope="session")
def validate_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A validate cache that already holds the default Crossplane image's folder.

    With that folder present, `crossplane resource validate` never downloads.
    """
    cache = tmp_path_factory.mktemp("validate-cache")
    (cache / "xpkg.crossplane.io" / "crossplane" / "crossplane@stable").mkdir(parents=True)
    return cache


@pytest.fixture(scope="session")
def rendered(
    crossplane: CrossplaneCLI,
    function_server: FunctionServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str, str], str]:
    """`crossplane render` output per (example, variant), rendered once per session."""
    from tests.crossplane_cli import render_variant  # noqa: PLC0415 - it imports this module

    workdir = tmp_path_factory.mktemp("render")
    cache: dict[tuple[str, str], str] = {}

    def get(folder: str, variant: str) -> str:
        if (folder, variant) not in cache:
            cache[folder, variant] = render_variant(
                crossplane, function_server.address, folder, variant, workdir
            )
        return cache[folder, variant]

    return get
