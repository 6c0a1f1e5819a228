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

from tests import upstream_schemas
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
def shared_crds(validate_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The upstream CRDs, one folder per upstream as in ../shared/crds.

    That folder when it is there, else the pinned packages' CRDs from the validate cache.
    """
    if _local_crds():
        return SHARED_CRDS
    return upstream_schemas.as_shared_layout(validate_cache, tmp_path_factory.mktemp("crds"))


def _local_crds() -> bool:
    """Whether to seed from SHARED_CRDS; `SHARED_CRDS=` (empty) forces the downloads."""
    if os.environ.get("SHARED_CRDS") == "":
        return False
    if "SHARED_CRDS" in os.environ and not SHARED_CRDS.is_dir():
        pytest.fail(f"SHARED_CRDS={SHARED_CRDS} is not a folder")
    return SHARED_CRDS.is_dir()


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


@pytest.fixture
def own_function_server(tmp_path: Path) -> Iterator[FunctionServer]:
    """A server of its own, so no other test's calls share its memory or its CPU queue."""
    server = start_function(tmp_path / "function.log", "--insecure")
    yield server
    stop_function(server)


@pytest.fixture(scope="session")
def function_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionServer]:
    """The function serving insecurely with --debug, as `crossplane render` expects."""
    log = tmp_path_factory.mktemp("function") / "function.log"
    server = start_function(log, "--insecure", "--debug")
    yield server
    stop_function(server)


@pytest.fixture(scope="session")
def validate_cache(crossplane: CrossplaneCLI, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`crossplane resource validate`'s cache, holding every pinned upstream schema.

    tests/upstream_schemas.yaml pins the packages. Seeded from SHARED_CRDS (default
    ../shared/crds) when that folder exists, so nothing is downloaded; otherwise (or with
    `SHARED_CRDS=`) validate downloads the packages and the tests download Argo CD's
    CRDs. VALIDATE_CACHE keeps the cache in a folder of your choice between runs.
    """
    kept = os.environ.get("VALIDATE_CACHE")
    cache = Path(kept) if kept else tmp_path_factory.mktemp("validate-cache")
    cache.mkdir(parents=True, exist_ok=True)
    upstreams = upstream_schemas.pinned()
    if _local_crds():
        disagree = upstream_schemas.check_shared(SHARED_CRDS, upstreams)
        assert disagree == [], f"{SHARED_CRDS} and tests/upstream_schemas.yaml: {disagree}"
        upstream_schemas.seed(cache, SHARED_CRDS, upstreams)
    else:
        try:
            upstream_schemas.download_files(cache, upstreams)
        except OSError as e:
            require(False, f"cannot download upstream CRDs ({e}); set SHARED_CRDS")
    upstream_schemas.write_providers_file(cache)
    proc = upstream_schemas.resolve(crossplane.cli, cache)
    require(
        proc.returncode == 0,
        f"crossplane resource validate cannot fetch the pinned packages: {proc.stdout}"
        f"{proc.stderr}; set SHARED_CRDS to a local copy of the CRDs",
    )
    problems = upstream_schemas.missing(cache)
    assert problems == [], problems
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
