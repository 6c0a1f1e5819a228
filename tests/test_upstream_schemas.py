"""The pinned upstream schemas: the list, validate's cache layout, seeding, downloading,
and README.md's Install table generated from the list."""

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests import upstream_schemas
from tests.conftest import CrossplaneCLI
from tests.crossplane_cli import validate
from tests.upstream_schemas import Upstream

SEMVER = re.compile(r"v\d+\.\d+\.\d+")


def _crd(group: str, kind: str) -> str:
    plural = kind.lower() + "s"
    return yaml.safe_dump(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {
                "group": group,
                "names": {"kind": kind, "plural": plural},
                "scope": "Cluster",
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {"openAPIV3Schema": {"type": "object"}},
                    }
                ],
            },
        }
    )


def _files(name: str, revision: str, repository: str) -> Upstream:
    return Upstream.of(
        {
            "kind": "Files",
            "name": name,
            "repository": repository,
            "revision": revision,
            "path": "manifests/crds",
            "files": ["a-crd.yaml", "b-crd.yaml"],
            "shared": name,
            "groups": ["example.io"],
            "for": "a test",
        }
    )


# --- the list -------------------------------------------------------------------------


def test_every_upstream_is_pinned_exactly() -> None:
    upstreams = upstream_schemas.pinned()
    assert [u.kind for u in upstreams].count("Crossplane") == 1
    for u in upstreams:
        if u.package:
            # An exact tag: validate then never lists tags, and a rerun sees the same CRDs.
            assert SEMVER.fullmatch(u.version), u.reference
            assert u.package.startswith("xpkg.crossplane.io/"), u.reference
        else:
            assert re.fullmatch(r"[0-9a-f]{12,40}", u.revision), u.name
            assert u.repository.startswith("https://"), u.name
    assert len({u.reference for u in upstreams}) == len(upstreams)


def test_the_list_covers_what_the_tests_validate() -> None:
    groups = {g for u in upstream_schemas.pinned() for g in u.groups}
    assert {
        "apiextensions.crossplane.io",
        "pkg.crossplane.io",
        "azure.m.upbound.io",
        "containerservice.azure.m.upbound.io",
        "containerservice.azure.upbound.io",
        "container.gcp.m.upbound.io",
        "container.gcp.upbound.io",
        "kubernetes.m.crossplane.io",
        "argoproj.io",
    } <= groups


def test_cache_folders_follow_validates_layout() -> None:
    """cache.go getCachePath: the reference with ':' replaced by '@', under the cache."""
    by_name = {u.name: u for u in upstream_schemas.pinned()}
    assert by_name["provider-kubernetes"].cache_folder == Path(
        "xpkg.crossplane.io/crossplane-contrib/provider-kubernetes@v1.2.1"
    )
    assert by_name["Crossplane"].cache_folder == Path(
        "xpkg.crossplane.io/crossplane/crossplane@v2.2.4"
    )
    assert by_name["Argo CD"].cache_folder == Path("github.com/argoproj/argo-cd@37ee0097cf85")
    assert by_name["Argo CD"].urls()["application-crd.yaml"] == (
        "https://github.com/argoproj/argo-cd/raw/37ee0097cf85/manifests/crds/application-crd.yaml"
    )


def test_providers_are_named_to_validate_as_provider_objects() -> None:
    objects = upstream_schemas.provider_objects()
    packages = [u.package for u in upstream_schemas.pinned() if u.kind == "Provider"]
    assert [o["spec"]["package"] for o in objects] == packages
    assert {(o["apiVersion"], o["kind"]) for o in objects} == {("pkg.crossplane.io/v1", "Provider")}


# --- README ---------------------------------------------------------------------------


def test_readme_install_table_is_generated_from_the_list() -> None:
    readme = upstream_schemas.README.read_text()
    assert readme.count(upstream_schemas.TABLE_START) == 1
    assert upstream_schemas.install_table() in readme, (
        "README.md's Install table drifted from tests/upstream_schemas.yaml; "
        "run `hatch run python -m tests.upstream_schemas`"
    )
    for u in upstream_schemas.pinned():
        assert f"| {u.name} |" in readme


def test_readme_table_rewrite_replaces_only_the_table() -> None:
    table = upstream_schemas.install_table()
    stale = table.replace("v2.2.4", "v0.0.1")
    text = f"before\n{stale}\nafter\n"
    assert upstream_schemas.readme_with_table(text) == f"before\n{table}\nafter\n"


# --- a local copy -----------------------------------------------------------------------


def test_seeding_splits_a_shared_folder_by_group(tmp_path: Path) -> None:
    shared, cache = tmp_path / "crds", tmp_path / "cache"
    (shared / "family").mkdir(parents=True)
    (shared / "family" / "a.example.io_things.yaml").write_text(_crd("a.example.io", "Thing"))
    (shared / "family" / "b.example.io_others.yaml").write_text(_crd("b.example.io", "Other"))

    def provider(name: str, group: str) -> Upstream:
        entry = {"kind": "Provider", "name": name, "shared": "family", "groups": [group]}
        return Upstream.of({**entry, "package": f"reg.io/p/{name}:v1.0.0", "for": "x"})

    a, b = provider("a", "a.example.io"), provider("b", "b.example.io")
    assert upstream_schemas.check_shared(shared, [a, b]) == []
    assert upstream_schemas.seed(cache, shared, [a, b]) == [a, b]
    assert [p.name for p in (cache / "reg.io/p/a@v1.0.0").iterdir()] == ["a.example.io_things.yaml"]
    assert [p.name for p in (cache / "reg.io/p/b@v1.0.0").iterdir()] == ["b.example.io_others.yaml"]
    # What is cached stays as it is.
    assert upstream_schemas.seed(cache, shared, [a, b]) == []
    # A CRD no entry pins, and an entry whose CRDs are not there, are both reported.
    assert upstream_schemas.check_shared(shared, [a]) == [
        "family/b.example.io_others.yaml (b.example.io) is pinned by []"
    ]
    with pytest.raises(FileNotFoundError, match=r"no CRDs of c\.example\.io"):
        upstream_schemas.seed(cache, shared, [provider("c", "c.example.io")])


def test_a_local_copy_must_hold_the_pinned_versions(tmp_path: Path) -> None:
    shared = tmp_path / "crds"
    (shared / "thing").mkdir(parents=True)
    (shared / "thing" / "a-crd.yaml").write_text(_crd("example.io", "A"))
    (shared / "README.md").write_text(
        "| folder | upstream | version |\n|---|---|---|\n| thing/ | x | commit 0123456789ab |\n"
    )
    pinned, other = "0123456789ab", "ba9876543210"
    assert upstream_schemas.check_shared(shared, [_files("thing", pinned, "https://x")]) == []
    assert upstream_schemas.check_shared(shared, [_files("thing", other, "https://x")]) == [
        f"thing: pinned {other}, {shared / 'README.md'} says 'commit {pinned}'"
    ]


# --- downloading what is not a package ----------------------------------------------------


@contextmanager
def _repository(files: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """A loopback stand-in for a repository's raw file URLs, and the paths requested."""
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            if body is not None:
                self.wfile.write(body.encode())

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/owner/repo", requested
    finally:
        server.shutdown()
        server.server_close()


def test_files_are_downloaded_at_the_pinned_revision(tmp_path: Path) -> None:
    served = {
        "/owner/repo/raw/0123456789ab/manifests/crds/a-crd.yaml": _crd("example.io", "A"),
        "/owner/repo/raw/0123456789ab/manifests/crds/b-crd.yaml": _crd("example.io", "B"),
    }
    with _repository(served) as (repository, requested):
        upstream = _files("thing", "0123456789ab", repository)
        upstream_schemas.download_files(tmp_path, [upstream])
        assert sorted(requested) == sorted(served)
        folder = tmp_path / upstream.cache_folder
        assert sorted(p.name for p in folder.iterdir()) == ["a-crd.yaml", "b-crd.yaml"]
        # Cached: no second download.
        upstream_schemas.download_files(tmp_path, [upstream])
        assert len(requested) == len(served)


def test_a_failed_download_leaves_nothing_that_looks_cached(tmp_path: Path) -> None:
    served = {"/owner/repo/raw/0123456789ab/manifests/crds/a-crd.yaml": _crd("example.io", "A")}
    with _repository(served) as (repository, _):
        upstream = _files("thing", "0123456789ab", repository)
        with pytest.raises(OSError, match="404"):
            upstream_schemas.download_files(tmp_path, [upstream])
    assert not (tmp_path / upstream.cache_folder).exists()
    assert list(tmp_path.rglob("*.yaml")) == []


# --- validate with the cache ------------------------------------------------------------


def test_validate_finds_every_pinned_package_in_the_cache(
    crossplane: CrossplaneCLI, validate_cache: Path
) -> None:
    """Seeded or downloaded, a second resolve downloads nothing."""
    proc = upstream_schemas.resolve(crossplane.cli, validate_cache)
    assert proc.returncode == 0, proc.stderr
    assert "downloading" not in proc.stdout + proc.stderr
    assert upstream_schemas.missing(validate_cache) == []


def _one_object_per_group(cache: Path) -> list[dict]:
    """A minimal object of the first kind of each pinned group, from the cached CRDs."""
    objects: dict[str, dict] = {}
    for upstream in upstream_schemas.pinned():
        for path in sorted((cache / upstream.cache_folder).rglob("*.yaml")):
            for crd in yaml.safe_load_all(path.read_text()):
                if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
                    continue
                spec = crd["spec"]
                if spec["group"] not in upstream.groups or spec["group"] in objects:
                    continue
                meta = {"name": "x"}
                if spec["scope"] == "Namespaced":
                    meta["namespace"] = "x"
                objects[spec["group"]] = {
                    "apiVersion": f"{spec['group']}/{spec['versions'][0]['name']}",
                    "kind": spec["names"]["kind"],
                    "metadata": meta,
                }
    return list(objects.values())


def test_every_pinned_upstream_supplies_schemas_to_validate(
    crossplane: CrossplaneCLI, validate_cache: Path, tmp_path: Path
) -> None:
    """One object of each pinned group: none is a missing schema, so each reference resolved.

    The objects carry only a name, so their verdict (valid, or invalid for a missing
    required field) does not matter; a kind validate has no schema for is `missingSchema`.
    """
    objects = _one_object_per_group(validate_cache)
    groups = {o["apiVersion"].split("/")[0] for o in objects}
    assert groups == {g for u in upstream_schemas.pinned() for g in u.groups}
    resources = tmp_path / "objects.yaml"
    resources.write_text(yaml.safe_dump_all(objects))
    verdicts = validate(crossplane, validate_cache, [], resources)
    assert len(verdicts) == len(objects)
    assert [v for v in verdicts if v["status"] == "missingSchema"] == []
