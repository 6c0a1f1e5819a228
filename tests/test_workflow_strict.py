"""The GitHub workflow runs every test strictly, with the upstream schemas it downloads.

A public pull request must not pass by skipping: no step may tolerate a failure, and
the test step runs with FUNCTION_TEST_STRICT=1, as .ci/run does.
"""

from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
# Ways a command can run fewer tests, or succeed whatever they do.
TOLERANT = ("|| true", "|| :", "--deselect", " -k ", " -m ", "--ignore", "set +e", "exit 0")


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def _steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [(name, job, step) for name, job in workflow["jobs"].items() for step in job["steps"]]


def _test_step(workflow: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    job = workflow["jobs"]["test"]
    (step,) = [s for s in job["steps"] if "make test" in s.get("run", "")]
    return job, step


def test_no_step_tolerates_failures_or_skips(workflow: dict[str, Any]) -> None:
    for name, job, step in _steps(workflow):
        where = f"{name}: {step.get('name', step.get('uses'))}"
        assert not step.get("continue-on-error"), where
        assert not job.get("continue-on-error"), name
        run = f" {step.get('run', '')} "
        assert not [t for t in TOLERANT if t in run], where


def test_tests_run_strict(workflow: dict[str, Any]) -> None:
    job, step = _test_step(workflow)
    env = {**workflow.get("env", {}), **job.get("env", {}), **step.get("env", {})}
    assert env.get("FUNCTION_TEST_STRICT") == "1"
    assert step["run"].strip() == "make test"


def test_tests_download_the_pinned_schemas_into_a_kept_cache(workflow: dict[str, Any]) -> None:
    """No local copy on GitHub: validate downloads by reference, into a cache kept per list."""
    job, step = _test_step(workflow)
    env = {**workflow.get("env", {}), **job.get("env", {}), **step.get("env", {})}
    assert "SHARED_CRDS" not in env
    (cache,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/cache@")]
    assert cache["with"]["path"] == env["VALIDATE_CACHE"]
    assert "hashFiles('tests/upstream_schemas.yaml')" in cache["with"]["key"]
    steps = job["steps"]
    assert steps.index(cache) < steps.index(step)
    assert (ROOT / "tests" / "upstream_schemas.yaml").exists()
