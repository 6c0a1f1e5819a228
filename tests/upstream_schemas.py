"""The upstream schemas, obtained the way `crossplane resource validate` obtains them.

tests/upstream_schemas.yaml pins one package reference per upstream. validate resolves a
package reference (`--crossplane-image`, or a Provider's `spec.package`) through its
cache folder (crossplane/cli v2.5.0, cmd/crossplane/validate/cache.go):

- the folder of a reference is `<cache>/<reference with ':' replaced by '@'>`
  (LocalCache.getCachePath), for example
  `xpkg.crossplane.io/crossplane-contrib/provider-kubernetes@v1.2.1/`;
- when that folder exists, validate loads every .yaml file under it and downloads
  nothing (LocalCache.Exists, LocalCache.Load, load.FolderLoader);
- otherwise it downloads the package's base layer, or the image's `crds/` files when
  the image has no base layer (Crossplane's), and stores them there as `package.yaml`
  (manager.go cacheDependencies, LocalCache.Store).

So offline, with a local copy of the CRDs (SHARED_CRDS, default ../shared/crds), the
tests seed each reference's folder from it and validate never goes online. Without one,
validate downloads the packages on first use, and the tests download the one upstream
that is not a Crossplane package (Argo CD) into the same layout.

`python -m tests.upstream_schemas` rewrites README.md's Install table from the list.
"""

import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

LIST = Path(__file__).with_name("upstream_schemas.yaml")
README = Path(__file__).resolve().parent.parent / "README.md"
# The file of Provider objects that names every pinned provider package for validate.
PROVIDERS_FILE = "pinned-providers.yaml"
TABLE_START = "<!-- upstream-schemas:start (generated from tests/upstream_schemas.yaml) -->"
TABLE_END = "<!-- upstream-schemas:end -->"
DOWNLOAD_TIMEOUT = 60


@dataclass(frozen=True)
class Upstream:
    """One entry of the pinned list."""

    kind: str
    name: str
    shared: str
    groups: tuple[str, ...]
    used_for: str
    package: str = ""
    repository: str = ""
    revision: str = ""
    path: str = ""
    files: tuple[str, ...] = ()

    @classmethod
    def of(cls, entry: dict[str, Any]) -> "Upstream":
        upstream = cls(
            kind=entry["kind"],
            name=entry["name"],
            shared=entry["shared"],
            groups=tuple(entry["groups"]),
            used_for=entry["for"],
            package=entry.get("package", ""),
            repository=entry.get("repository", ""),
            revision=entry.get("revision", ""),
            path=entry.get("path", ""),
            files=tuple(entry.get("files", ())),
        )
        if upstream.kind not in ("Crossplane", "Provider", "Files"):
            msg = f"{upstream.name}: unknown kind {upstream.kind!r}"
            raise ValueError(msg)
        if (upstream.kind == "Files") != (not upstream.package):
            msg = f"{upstream.name}: a package reference, or repository files, not both"
            raise ValueError(msg)
        return upstream

    @property
    def reference(self) -> str:
        """The package reference, or <repository host and path>:<revision> for files."""
        if self.package:
            return self.package
        return f"{self.repository.split('://', 1)[-1]}:{self.revision}"

    @property
    def version(self) -> str:
        return self.reference.rpartition(":")[2]

    @property
    def cache_folder(self) -> Path:
        """Relative to the cache: validate's getCachePath."""
        return Path(self.reference.replace(":", "@"))

    def urls(self) -> dict[str, str]:
        """Where each file of a Files entry is downloaded from."""
        base = f"{self.repository}/raw/{self.revision}/{self.path}"
        return {name: f"{base}/{name}" for name in self.files}


def pinned() -> list[Upstream]:
    """Every upstream in tests/upstream_schemas.yaml, in order."""
    return [Upstream.of(e) for e in yaml.safe_load(LIST.read_text())["schemas"]]


def crossplane_image() -> str:
    (crossplane,) = [u for u in pinned() if u.kind == "Crossplane"]
    return crossplane.reference


def provider_objects() -> list[dict[str, Any]]:
    """The pinned providers as the Provider objects validate takes as extensions."""
    return [
        {
            "apiVersion": "pkg.crossplane.io/v1",
            "kind": "Provider",
            "metadata": {"name": u.name},
            "spec": {"package": u.reference},
        }
        for u in pinned()
        if u.kind == "Provider"
    ]


# --- the cache ------------------------------------------------------------------------


def crd_group(path: Path) -> str | None:
    """The API group of a CRD file, None for anything else."""
    doc = yaml.safe_load(path.read_text())
    if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
        return doc["spec"]["group"]
    return None


def shared_files(upstream: Upstream, shared: Path) -> list[Path]:
    """The CRD files of the local copy that belong to this upstream."""
    folder = shared / upstream.shared
    return [p for p in sorted(folder.glob("*.yaml")) if crd_group(p) in upstream.groups]


def check_shared(shared: Path, upstreams: Iterable[Upstream]) -> list[str]:
    """Where a local copy disagrees with the pinned list.

    Every CRD in it belongs to exactly one upstream, and its README's version for each
    folder names the pinned version (tag, or commit for files).
    """
    upstreams = list(upstreams)
    problems = []
    for path in sorted(shared.glob("*/*.yaml")):
        group = crd_group(path)
        owners = [u.name for u in upstreams if u.shared == path.parent.name and group in u.groups]
        if group and len(owners) != 1:
            problems.append(f"{path.relative_to(shared)} ({group}) is pinned by {owners}")
    readme = shared / "README.md"
    versions = {}
    for line in readme.read_text().splitlines() if readme.exists() else []:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].endswith("/"):
            versions[cells[0].rstrip("/")] = cells[2]
    problems += [
        f"{u.name}: pinned {u.version}, {readme} says {versions[u.shared]!r}"
        for u in upstreams
        if u.shared in versions and u.version not in versions[u.shared]
    ]
    return problems


def _fill(folder: Path, files: dict[str, bytes]) -> None:
    """Create a cache folder whole or not at all: a half-written one would look cached."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    for name, content in files.items():
        (staging / name).write_bytes(content)
    staging.rename(folder)


def seed(cache: Path, shared: Path, upstreams: Iterable[Upstream]) -> list[Upstream]:
    """Seed each upstream's cache folder from the local copy; the ones seeded."""
    seeded = []
    for upstream in upstreams:
        folder = cache / upstream.cache_folder
        if folder.exists():
            continue
        files = shared_files(upstream, shared)
        if not files:
            msg = f"{shared / upstream.shared} has no CRDs of {', '.join(upstream.groups)}"
            raise FileNotFoundError(msg)
        _fill(folder, {p.name: p.read_bytes() for p in files})
        seeded.append(upstream)
    return seeded


def download_files(cache: Path, upstreams: Iterable[Upstream]) -> None:
    """Download the Files entries that are not cached yet (validate can't: no package)."""
    for upstream in upstreams:
        folder = cache / upstream.cache_folder
        if upstream.kind != "Files" or folder.exists():
            continue
        files = {}
        for name, url in upstream.urls().items():
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:  # noqa: S310 - https from the pinned list
                files[name] = response.read()
        _fill(folder, files)


def write_providers_file(cache: Path) -> Path:
    """The pinned Provider objects, beside (not inside) the packages' folders."""
    path = cache / PROVIDERS_FILE
    path.write_text(yaml.safe_dump_all(provider_objects(), sort_keys=False))
    return path


def resolve(cli: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """Let validate fetch every pinned package it does not find in the cache.

    A no-op when the cache is seeded. The resource is a core object, so the run
    validates nothing and exists only for its downloads.
    """
    with tempfile.TemporaryDirectory() as tmp:
        namespace = Path(tmp) / "namespace.yaml"
        namespace.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
        return subprocess.run(
            [
                str(cli),
                "resource",
                "validate",
                f"--cache-dir={cache}",
                f"--crossplane-image={crossplane_image()}",
                str(cache / PROVIDERS_FILE),
                str(namespace),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


def extensions(cache: Path) -> list[Path]:
    """What validate takes besides --crossplane-image: the providers and the files."""
    files = [cache / u.cache_folder for u in pinned() if u.kind == "Files"]
    return [cache / PROVIDERS_FILE, *files]


def missing(cache: Path) -> list[str]:
    """Upstreams whose cache folder lacks a CRD of one of their groups."""
    problems = []
    for upstream in pinned():
        folder = cache / upstream.cache_folder
        groups = set()
        for path in folder.rglob("*.yaml"):
            for doc in yaml.safe_load_all(path.read_text()):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    groups.add(doc["spec"]["group"])
        if absent := [g for g in upstream.groups if g not in groups]:
            problems.append(f"{upstream.reference}: no CRDs of {', '.join(absent)} in {folder}")
    return problems


def as_shared_layout(cache: Path, target: Path) -> Path:
    """The cached CRDs laid out like ../shared/crds: one folder per `shared` name."""
    for upstream in pinned():
        folder = target / upstream.shared
        folder.mkdir(parents=True, exist_ok=True)
        for path in sorted((cache / upstream.cache_folder).rglob("*.yaml")):
            shutil.copyfile(path, folder / f"{upstream.name.replace(' ', '-')}-{path.name}")
    return target


# --- README ---------------------------------------------------------------------------


def install_table() -> str:
    """README.md's Install table: what the tests validate against, from the pinned list."""
    rows = [
        "| component | package (or source) | version | used for |",
        "|---|---|---|---|",
    ]
    for u in pinned():
        if u.package:
            where, version = f"`{u.package.rpartition(':')[0]}`", u.version
        else:
            where, version = f"`{u.repository}`, `{u.path}/`", f"commit {u.revision}"
        rows.append(f"| {u.name} | {where} | {version} | {u.used_for} |")
    return "\n".join([TABLE_START, *rows, TABLE_END])


def readme_with_table(readme: str) -> str:
    """README text with its generated table replaced by the current one."""
    start, end = readme.index(TABLE_START), readme.index(TABLE_END) + len(TABLE_END)
    return readme[:start] + install_table() + readme[end:]


def main() -> int:
    text = README.read_text()
    updated = readme_with_table(text)
    if updated != text:
        README.write_text(updated)
        print(f"wrote the Install table in {README.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
