"""The Crossplane package, the runtime examples, and the CI workflow that ships them.

`crossplane xpkg build` runs for real, without Docker and without an embedded runtime,
and the test opens the .xpkg it writes (an OCI image tarball) layer by layer. The
DeploymentRuntimeConfig and Function in examples/runtime are checked against
Crossplane's own CRDs with `crossplane resource validate`.
"""

import io
import json
import re
import subprocess
import tarfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLES, ROOT, CrossplaneCLI
from tests.crossplane_cli import documents, failures, validate

FUNCTION_NAME = "function-gitops-cluster"
INPUT_CRD = "inputs.gitopscluster.fn.crossplane.io"
RUNTIME = EXAMPLES / "runtime"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
# Crossplane labels each layer of a package image with its role, under this key prefix.
LAYER_LABEL = "io.crossplane.xpkg:"
# Crossplane applies a DeploymentRuntimeConfig's container settings only to this container,
# and labels function pods with this key (crossplane internal/controller/pkg/revision/runtime.go).
RUNTIME_CONTAINER = "package-runtime"
FUNCTION_POD_LABEL = "pkg.crossplane.io/function"


def _identity(doc: dict[str, Any]) -> tuple[str, str, str]:
    return doc["apiVersion"], doc["kind"], doc.get("metadata", {}).get("name", "")


def _yaml_docs(data: bytes) -> list[dict[str, Any]]:
    return documents(data.decode("utf-8"))


# --- the package -------------------------------------------------------------------------


def _layers(xpkg: Path) -> dict[str, dict[str, bytes]]:
    """Each layer's role label and its files: {role: {path: content}}."""
    with tarfile.open(xpkg) as image:
        (manifest,) = json.load(image.extractfile("manifest.json"))  # type: ignore[arg-type]
        config = json.load(image.extractfile(manifest["Config"]))  # type: ignore[arg-type]
        labels = config["config"]["Labels"]
        layers: dict[str, dict[str, bytes]] = {}
        for layer in manifest["Layers"]:
            digest = "sha256:" + layer.removesuffix(".tar.gz")
            role = labels[LAYER_LABEL + digest]
            blob = image.extractfile(layer).read()  # type: ignore[union-attr]
            with tarfile.open(fileobj=io.BytesIO(blob)) as files:
                layers[role] = {
                    m.name: files.extractfile(m).read()  # type: ignore[union-attr]
                    for m in files.getmembers()
                    if m.isfile()
                }
    return layers


@pytest.fixture(scope="module")
def package_layers(
    crossplane: CrossplaneCLI, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, bytes]]:
    """Build the package as .ci/run does and open it."""
    out = tmp_path_factory.mktemp("xpkg") / "function.xpkg"
    proc = subprocess.run(
        [
            str(crossplane.cli),
            "xpkg",
            "build",
            "--package-root=package",
            "--examples-root=examples",
            "-o",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return _layers(out)


def test_package_layer_holds_the_function_and_its_input_crd(
    package_layers: dict[str, dict[str, bytes]],
) -> None:
    # Crossplane reads package.yaml from the layer labelled "base".
    docs = _yaml_docs(package_layers["base"]["package.yaml"])
    assert [_identity(d) for d in docs] == [
        ("meta.pkg.crossplane.io/v1", "Function", FUNCTION_NAME),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition", INPUT_CRD),
    ]


def test_examples_layer_holds_every_example_object(
    package_layers: dict[str, dict[str, bytes]],
) -> None:
    (examples_layer,) = [files for role, files in package_layers.items() if role != "base"]
    assert list(examples_layer) == [".up/examples.yaml"]
    packed = Counter(_identity(d) for d in _yaml_docs(examples_layer[".up/examples.yaml"]))
    on_disk = Counter(
        _identity(d)
        for path in sorted(EXAMPLES.rglob("*.y*ml"))
        for d in documents(path.read_text())
    )
    assert packed == on_disk
    for doc in _runtime_docs():
        assert packed[_identity(doc)] >= 1


# --- examples/runtime --------------------------------------------------------------------


def _runtime_docs() -> list[dict[str, Any]]:
    return [d for path in sorted(RUNTIME.glob("*.yaml")) for d in documents(path.read_text())]


def _one(kind: str) -> dict[str, Any]:
    (doc,) = [d for d in _runtime_docs() if d["kind"] == kind]
    return doc


def test_runtime_examples_are_valid_crossplane_objects(
    crossplane: CrossplaneCLI, shared_crds: Path, validate_cache: Path
) -> None:
    verdicts = validate(crossplane, validate_cache, [shared_crds / "crossplane"], RUNTIME)
    assert failures(verdicts) == []
    assert Counter((v["kind"], v["status"]) for v in verdicts) == Counter(
        {("DeploymentRuntimeConfig", "valid"): 1, ("Function", "valid"): 1}
    )


def test_function_runs_with_the_runtime_config_under_the_compositions_name() -> None:
    function, config = _one("Function"), _one("DeploymentRuntimeConfig")
    assert function["spec"]["runtimeConfigRef"] == {
        "apiVersion": config["apiVersion"],
        "kind": config["kind"],
        "name": config["metadata"]["name"],
    }
    referenced = {
        step["functionRef"]["name"]
        for path in EXAMPLES.glob("*/composition.yaml")
        for doc in documents(path.read_text())
        for step in doc["spec"]["pipeline"]
    }
    assert referenced == {function["metadata"]["name"]}


def _pod() -> dict[str, Any]:
    return _one("DeploymentRuntimeConfig")["spec"]["deploymentTemplate"]["spec"]["template"]["spec"]


def _get(doc: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        doc = doc.get(key, {}) if isinstance(doc, dict) else {}
    return doc


# The restricted Pod Security Standard, plus a read-only root filesystem.
RESTRICTED = [
    ("pod", "securityContext.runAsNonRoot", True),
    ("pod", "securityContext.seccompProfile.type", "RuntimeDefault"),
    ("container", "securityContext.runAsNonRoot", True),
    ("container", "securityContext.allowPrivilegeEscalation", False),
    ("container", "securityContext.privileged", False),
    ("container", "securityContext.readOnlyRootFilesystem", True),
    ("container", "securityContext.capabilities.drop", ["ALL"]),
    ("container", "securityContext.seccompProfile.type", "RuntimeDefault"),
]


@pytest.mark.parametrize(("level", "path", "want"), RESTRICTED)
def test_runtime_pods_are_restricted(level: str, path: str, want: object) -> None:
    pod = _pod()
    (container,) = [c for c in pod["containers"] if c["name"] == RUNTIME_CONTAINER]
    assert _get(pod if level == "pod" else container, path) == want


def test_runtime_user_is_numeric_and_not_root() -> None:
    """The image's USER is a name; the kubelet verifies runAsNonRoot only against a UID."""
    pod = _pod()
    (container,) = [c for c in pod["containers"] if c["name"] == RUNTIME_CONTAINER]
    for context in (pod["securityContext"], container["securityContext"]):
        assert isinstance(context["runAsUser"], int)
        assert context["runAsUser"] > 0


def test_runtime_is_highly_available_across_nodes() -> None:
    deployment = _one("DeploymentRuntimeConfig")["spec"]["deploymentTemplate"]["spec"]
    assert deployment["replicas"] >= 2
    assert deployment["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    spread = {c["topologyKey"]: c for c in _pod()["topologySpreadConstraints"]}
    by_node = spread["kubernetes.io/hostname"]
    assert by_node["whenUnsatisfiable"] == "DoNotSchedule"
    assert by_node["maxSkew"] == 1
    # It must select the pods Crossplane creates for this Function.
    assert by_node["labelSelector"]["matchLabels"] == {
        FUNCTION_POD_LABEL: _one("Function")["metadata"]["name"]
    }


def test_runtime_container_has_requests_and_limits() -> None:
    (container,) = [c for c in _pod()["containers"] if c["name"] == RUNTIME_CONTAINER]
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}


# --- .github/workflows/ci.yml ------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def _uses(job: dict[str, Any], action: str) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if s.get("uses", "").startswith(action + "@")]
    return step.get("with", {})


def _env(workflow: dict[str, Any], value: str) -> str:
    """A `${{ env.NAME }}` expression resolved against the workflow's env."""
    return re.sub(r"\$\{\{\s*env\.(\w+)\s*\}\}", lambda m: workflow["env"][m.group(1)], value)


def test_workflow_lints_and_tests(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]
    assert "hatch fmt --check" in _runs(jobs["lint"])
    assert "make test" in _runs(jobs["test"])
    # Go as new as tools/go.mod's `go` line, which pins the CLI `make test` builds.
    go_line = re.search(r"^go (\d+\.\d+)", (ROOT / "tools" / "go.mod").read_text(), re.M)
    assert go_line
    for job in ("test", "build", "push"):
        go = _env(workflow, _uses(workflow["jobs"][job], "actions/setup-go")["go-version"])
        assert go == go_line.group(1)


def test_workflow_builds_one_package_per_arch_with_its_image(workflow: dict[str, Any]) -> None:
    build = workflow["jobs"]["build"]
    assert build["strategy"]["matrix"]["arch"] == ["amd64", "arm64"]
    image = _uses(build, "docker/build-push-action")
    assert image["platforms"] == "linux/${{ matrix.arch }}"
    assert image["outputs"] == "type=docker,dest=runtime-${{ matrix.arch }}.tar"
    # The target is the Dockerfile's last stage: the distroless runtime.
    last_from = [
        ln for ln in (ROOT / "Dockerfile").read_text().splitlines() if ln.startswith("FROM")
    ]
    assert last_from[-1].split()[-1] == image["target"]
    runs = _runs(build)
    for flag in (
        "xpkg build",
        "--package-root=package",
        "--examples-root=examples",
        "--embed-runtime-image-tarball=runtime-${{ matrix.arch }}.tar",
    ):
        assert flag in runs


def test_workflow_pushes_only_from_main_after_every_check(workflow: dict[str, Any]) -> None:
    push = workflow["jobs"]["push"]
    assert set(push["needs"]) == {"lint", "test", "build"}
    assert "refs/heads/main" in push["if"]
    assert "xpkg push" in _runs(push)
    assert push["permissions"]["packages"] == "write"
