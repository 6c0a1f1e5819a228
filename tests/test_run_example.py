"""The README's main job (`make run`): serve the function, render an example, clean up."""

import os
import subprocess

import pytest

from tests.conftest import ROOT, CrossplaneCLI, require
from tests.crossplane_cli import composed, documents

HATCH = ROOT / ".tools" / "venv" / "bin" / "hatch"


def _servers() -> set[str]:
    """Running `function --insecure --address ...` processes, by pid."""
    proc = subprocess.run(
        ["pgrep", "-f", "function --insecure --address 127.0.0.1:"],
        capture_output=True,
        text=True,
        check=False,
    )
    return set(proc.stdout.split())


@pytest.mark.parametrize("folder", ["aks-namespaced", "gke-cluster"])
def test_run_example_renders_and_leaves_no_server_behind(
    crossplane: CrossplaneCLI, folder: str
) -> None:
    require(HATCH.exists(), f"hatch not installed at {HATCH}; run `make run` once")
    before = _servers()
    # A hatch inside `hatch test` must not see the test environment's variables.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HATCH_")}
    proc = subprocess.run(
        [str(ROOT / "hack" / "run-example.sh"), folder],
        env={**env, "HATCH": str(HATCH)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    docs = documents(proc.stdout)
    assert docs[0]["status"]["argocd"]["registered"] is False
    assert {"cluster", "argocd-cluster"} <= set(composed(docs))
    assert _servers() <= before, "the example's function server is still running"


def test_run_example_names_the_examples_for_an_unknown_one() -> None:
    proc = subprocess.run(
        [str(ROOT / "hack" / "run-example.sh"), "no-such-example"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "aks-namespaced" in proc.stderr
    assert "applicationsets" not in proc.stderr
