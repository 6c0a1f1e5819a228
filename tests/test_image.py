"""The runtime image's install path, replayed without Docker.

The test reads the Dockerfile and runs its build stage's commands as written. Only the
paths move into a temporary directory. Hatch, at the pinned version, builds the wheel
from a copy of the build context, filtered by .dockerignore and made read-only as
BuildKit mounts it. The wheel then goes into a fresh venv with the Dockerfile's own pip
flags. The installed `function` serves mTLS with certificates laid out the way Crossplane
mounts them.

Limit: the venv runs the Python that runs the tests (3.11), while the image runs Debian's
Python (3.13 on Debian 13). The tests cover what that difference could break without
running it: the wheel's Requires-Python, and whether every dependency has a wheel for
that Python on each architecture.
"""

import json
import os
import re
import shlex
import stat
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from packaging.specifiers import SpecifierSet

from tests.builders import request, xr
from tests.conftest import ROOT, start_function, stop_function
from tests.grpc_client import run_function
from tests.pki import make_pki, write_tls_dir

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass(frozen=True)
class Debian:
    """What a Debian release fixes for an image built on it."""

    python: str  # distroless python3-debianN runs Debian's python3 (distroless python3/README.md)
    glibc: int  # minor of glibc 2.x: wheels up to manylinux_2_<glibc> load there


DEBIAN = {"12": Debian(python="3.11", glibc=36), "13": Debian(python="3.13", glibc=41)}
# Docker's architecture names and the ones wheel tags use.
ARCHES = {"amd64": "x86_64", "arm64": "aarch64"}
# Crossplane calls functions on this port (crossplane internal/controller/pkg/revision/runtime.go).
GRPC_PORT = "9443"
# Absolute paths the build stage writes; the replay moves them under its own root.
BUILD_PATHS = ("venv", "whl")


# --- Dockerfile --------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """One FROM ... AS name section of the Dockerfile."""

    base: str
    name: str
    flags: tuple[str, ...]
    steps: tuple[tuple[str, str], ...]

    def args(self, keyword: str) -> list[str]:
        """Arguments of every instruction with this keyword, in order."""
        return [args for kw, args in self.steps if kw == keyword]


def _instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, with continuations joined and comments dropped."""
    found: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        found.append((keyword.upper(), args.strip()))
        pending = ""
    return found


def split_flags(args: str) -> tuple[list[str], str]:
    """Leading `--flag=value` options (FROM --platform, RUN --mount, COPY --from), the rest."""
    flags: list[str] = []
    rest = args
    while match := re.match(r"(--\S+)\s+", rest):
        flags.append(match.group(1))
        rest = rest[match.end() :]
    return flags, rest


def parse_stages(text: str) -> list[Stage]:
    """The Dockerfile's stages in order."""
    stages: list[Stage] = []
    for keyword, args in _instructions(text):
        if keyword == "FROM":
            flags, rest = split_flags(args)
            base, *alias = rest.split()
            name = alias[1] if len(alias) == 2 and alias[0].upper() == "AS" else str(len(stages))
            stages.append(Stage(base=base, name=name, flags=tuple(flags), steps=()))
        elif stages:
            last = stages[-1]
            stages[-1] = Stage(last.base, last.name, last.flags, (*last.steps, (keyword, args)))
    return stages


@dataclass(frozen=True)
class Image:
    """The runtime stage, the stage it copies the venv from, and the venv's path."""

    build: Stage
    runtime: Stage
    venv: str


def read_image() -> Image:
    """Follow the runtime stage's `COPY --from` back to the stage that builds the venv."""
    stages = parse_stages(DOCKERFILE.read_text())
    runtime = stages[-1]
    copies = [split_flags(a) for a in runtime.args("COPY")]
    assert len(copies) == 1, f"the runtime stage should copy one thing, the venv: {copies}"
    flags, paths = copies[0]
    source, dest = paths.split()
    assert source == dest, "the venv must keep its path: shebangs and symlinks are absolute"
    (origin,) = [f.removeprefix("--from=") for f in flags if f.startswith("--from=")]
    build = next(s for s in stages if s.name == origin)
    return Image(build=build, runtime=runtime, venv=dest)


def debian_release(image: Image) -> str:
    """The Debian release both stages run, failing if they differ."""
    build = re.fullmatch(r"debian:(\d+)(?:\.\d+)*-slim", image.build.base)
    runtime = re.fullmatch(r"gcr\.io/distroless/python3-debian(\d+):[\w.-]+", image.runtime.base)
    assert build, f"build stage {image.build.base!r} is not a tagged debian:<release>-slim"
    assert runtime, f"runtime stage {image.runtime.base!r} is not a tagged distroless python3"
    assert build.group(1) == runtime.group(1), (
        f"build stage is Debian {build.group(1)}, runtime is Debian {runtime.group(1)}: "
        "the venv would run on another Python than it was built for"
    )
    return build.group(1)


def pip_install_flags(image: Image) -> list[str]:
    """The options the Dockerfile gives pip when it installs the wheel into the venv."""
    pip = f"{image.venv}/bin/pip"
    for run in image.build.args("RUN"):
        for command in split_flags(run)[1].split("&&"):
            words = shlex.split(command)
            if words[:2] == [pip, "install"]:
                return [w for w in words[2:] if w.startswith("-")]
    msg = f"no `{pip} install` in the build stage"
    raise AssertionError(msg)


# --- .dockerignore -----------------------------------------------------------------------


def _pattern(text: str) -> re.Pattern[str]:
    """A .dockerignore pattern: `**` spans directories, `*` and `?` stay within one."""
    regex = ""
    i = 0
    while i < len(text):
        if text.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif text.startswith("**", i):
            regex, i = regex + ".*", i + 2
        else:
            regex += {"*": "[^/]*", "?": "[^/]"}.get(text[i], re.escape(text[i]))
            i += 1
    return re.compile(regex + r"\Z")


def ignore_rules(text: str) -> list[tuple[bool, str, re.Pattern[str]]]:
    """(excludes?, pattern, regex) per line; later lines win, `!` re-includes."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = line.removeprefix("!").strip().strip("/")
        rules.append((not keep, pattern, _pattern(pattern)))
    return rules


def in_context(relative: str, rules: list[tuple[bool, str, re.Pattern[str]]]) -> bool:
    """Whether Docker sends this path: a pattern matches the path or any parent of it."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for excludes, _, regex in rules:
        if any(regex.match(p) for p in prefixes):
            excluded = excludes
    return not excluded


def copy_context(source: Path, dest: Path) -> None:
    """Copy what .dockerignore lets into the build context, read-only like the mount."""
    rules = ignore_rules(DOCKERIGNORE.read_text())
    reincluded = [p for excludes, p, _ in rules if not excludes]
    for top, dirs, files in os.walk(source):
        relative_top = Path(top).relative_to(source).as_posix()
        here = "" if relative_top == "." else relative_top
        # Only descend where something may be sent (an exception may re-include below).
        dirs[:] = [
            d
            for d in dirs
            if in_context(f"{here}/{d}".lstrip("/"), rules)
            or any(p.startswith(f"{here}/{d}/".lstrip("/")) for p in reincluded)
        ]
        for name in files:
            relative = f"{here}/{name}".lstrip("/")
            if in_context(relative, rules):
                target = dest / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes((source / relative).read_bytes())
    for path in sorted(dest.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    dest.chmod(0o555)


# --- replaying the build stage -----------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """This environment minus what would make a subprocess use the test's Python setup.

    That includes hatch's own variables: under `hatch test`, a nested `hatch build`
    would otherwise try to build inside the test environment.
    """
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "TLS_SERVER_CERTS_DIR"}
    kept = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("HATCH_")}
    return {**kept, **extra}


def relocate(command: str, root: Path) -> str:
    """The command with the stage's absolute output paths moved under `root`.

    `python3 -m venv` uses the test's interpreter: Debian's python3 is what the
    skipped apt-get step installs.
    """
    paths = "|".join(BUILD_PATHS)
    moved = re.sub(rf"(?<![\w./-])/({paths})\b", lambda m: f"{root}/{m.group(1)}", command)
    moved = re.sub(r"\bpython3 -m venv\b", f"{shlex.quote(sys.executable)} -m venv", moved)
    outside = [
        w
        for w in shlex.split(moved)
        if w.startswith("/") and not w.startswith((str(root), sys.executable))
    ]
    assert not outside, f"the replay would write outside its root; add to BUILD_PATHS: {outside}"
    return moved


def replay(stage: Stage, root: Path, context: Path) -> None:
    """Run the stage's RUN commands with /bin/sh, as Docker does, in the build context."""
    env = clean_env(
        HATCH_DATA_DIR=str(root / "hatch-data"),
        HATCH_CACHE_DIR=str(root / "hatch-cache"),
        **dict(a.split("=", 1) for a in stage.args("ENV") if "=" in a),
    )
    for run in stage.args("RUN"):
        command = split_flags(run)[1]
        if "apt-get" in command:  # installs the OS Python; the test brings its own
            continue
        proc = subprocess.run(
            ["/bin/sh", "-c", relocate(command, root)],
            cwd=context,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, f"RUN {command}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"


@dataclass(frozen=True)
class Installed:
    """The result of the replayed build stage."""

    image: Image
    root: Path
    context: Path
    wheel: Path
    venv: Path
    entrypoint: Path


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel and the venv exactly as the Dockerfile does (network: PyPI)."""
    image = read_image()
    root = tmp_path_factory.mktemp("image")
    context = root / "build"
    copy_context(ROOT, context)
    try:
        replay(image.build, root, context)
    finally:
        # Let pytest clean up the read-only copy later.
        for path in [context, *context.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    (entrypoint,) = json.loads(image.runtime.args("ENTRYPOINT")[-1])
    wheels = list((root / "whl").glob("*.whl"))
    assert len(wheels) == 1, wheels
    return Installed(
        image=image,
        root=root,
        context=context,
        wheel=wheels[0],
        venv=Path(relocate(image.venv, root)),
        entrypoint=Path(relocate(entrypoint, root)),
    )


# --- the Dockerfile itself ---------------------------------------------------------------


def test_both_stages_run_the_same_debian_and_so_the_same_python() -> None:
    image = read_image()
    release = debian_release(image)
    assert release in DEBIAN, f"Debian {release}: add its Python minor and glibc to DEBIAN"
    # pip picks wheels for the platform it runs on; a BUILDPLATFORM build stage would
    # put amd64 grpcio into the arm64 image.
    assert not any("BUILDPLATFORM" in f for f in image.build.flags)


def test_runtime_stage_runs_the_venv_as_nonroot_on_the_grpc_port() -> None:
    image = read_image()
    assert any(f"-m venv {image.venv}" in run for run in image.build.args("RUN"))
    # Exec form: distroless has no shell to run a string entrypoint with.
    assert json.loads(image.runtime.args("ENTRYPOINT")[-1]) == [f"{image.venv}/bin/function"]
    assert image.runtime.args("USER")[-1] in ("nonroot:nonroot", "65532:65532")
    assert GRPC_PORT in " ".join(image.runtime.args("EXPOSE")).split()


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("pyproject.toml", True),
        ("README.md", True),
        ("function/main.py", True),
        ("function/__pycache__/main.cpython-311.pyc", False),
        ("tests/test_image.py", False),
        (".venv/bin/python", False),
        ("examples/functions.yaml", False),
        ("Dockerfile", False),
    ],
)
def test_dockerignore_sends_only_what_the_wheel_needs(path: str, sent: bool) -> None:
    assert in_context(path, ignore_rules(DOCKERIGNORE.read_text())) is sent


# --- the installed function --------------------------------------------------------------


def test_context_builds_a_wheel_with_every_function_module(installed: Installed) -> None:
    in_repo = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "function").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    with zipfile.ZipFile(installed.wheel) as wheel:
        in_wheel = {n for n in wheel.namelist() if n.startswith("function/")}
    assert in_wheel == in_repo


def test_installed_function_serves_mtls_and_rejects_clients_without_a_certificate(
    installed: Installed, tmp_path: Path
) -> None:
    pki = make_pki("image-mtls")
    certs = write_tls_dir(pki, tmp_path / "tls")
    server = start_function(
        tmp_path / "function.log",
        "--tls-certs-dir",
        str(certs),
        env=clean_env(),
        command=[str(installed.entrypoint)],
    )
    try:
        rsp = run_function(server.address, request(xr()), pki)
        assert set(rsp.desired.resources) == {"resource-group", "cluster"}

        with pytest.raises(grpc.RpcError) as rejected:
            run_function(server.address, request(xr()), pki, client_cert=False, timeout=5)
        assert rejected.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        stop_function(server)


def test_installed_function_runs_from_the_venv(installed: Installed, tmp_path: Path) -> None:
    def run(*argv: str) -> str:
        return subprocess.run(
            argv,
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout

    usage = run(str(installed.entrypoint), "--help")
    assert "--tls-certs-dir" in usage
    assert "--address" in usage
    where = run(
        str(installed.venv / "bin" / "python"), "-c", "import function; print(function.__file__)"
    )
    assert Path(where.strip()).is_relative_to(installed.venv)


def _requires_python(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        for line in archive.read(metadata).decode().splitlines():
            if line.startswith("Requires-Python:"):
                return line.partition(":")[2].strip()
    return ""


def test_wheel_admits_the_image_python(installed: Installed) -> None:
    """pip in the image refuses a wheel whose Requires-Python excludes Debian's Python."""
    python = DEBIAN[debian_release(installed.image)].python
    requires = _requires_python(installed.wheel)
    assert SpecifierSet(requires).contains(python), (
        f"Requires-Python {requires!r} excludes the image's Python {python}: "
        "widen requires-python in pyproject.toml"
    )


def test_every_dependency_has_a_wheel_for_the_image_python_on_each_arch(
    installed: Installed, tmp_path: Path
) -> None:
    """Resolve as the image's pip would, per architecture, without installing."""
    debian = DEBIAN[debian_release(installed.image)]
    abi = "cp" + debian.python.replace(".", "")
    running = {}
    for arch, machine in ARCHES.items():
        platforms = [f"manylinux_2_{m}_{machine}" for m in range(17, debian.glibc + 1)]
        argv = [
            str(installed.venv / "bin" / "pip"),
            "install",
            *pip_install_flags(installed.image),
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            f"--target={tmp_path / arch}",
            f"--report={tmp_path / f'{arch}.json'}",
            f"--python-version={debian.python}",
            "--implementation=cp",
            f"--abi={abi}",
            *[f"--platform={p}" for p in [*platforms, f"manylinux2014_{machine}"]],
            str(installed.wheel),
        ]
        running[arch] = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=clean_env()
        )
    for arch, proc in running.items():
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"{arch}: {out.decode()[-3000:]}"
        report = json.loads((tmp_path / f"{arch}.json").read_text())
        files = {
            i["metadata"]["name"].lower(): i["download_info"]["url"].rsplit("/", 1)[-1]
            for i in report["install"]
        }
        assert "function-gitops-cluster" in files
        assert f"-{abi}-" in files["grpcio"]
        assert ARCHES[arch] in files["grpcio"]
