"""The baseline ApplicationSets (examples/applicationsets/): shape, schema, no retired software.

Which clusters each one reaches is decided by Argo CD's own ApplicationSet controller
in the live suite (tests/e2e/test_pipeline.py), from the Secrets the function composes.
"""

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, CrossplaneCLI
from tests.crossplane_cli import documents, failures, validate

APPSETS = EXAMPLES / "applicationsets"
ARGOCD_NAMESPACE = "argocd"
BASELINE = {"envoy-gateway", "guestbook", "node-exporter"}


def applicationsets() -> dict[str, dict[str, Any]]:
    """Every ApplicationSet in examples/applicationsets/, by name."""
    found = {}
    for path in sorted(APPSETS.glob("*.yaml")):
        for doc in documents(path.read_text()):
            assert doc["kind"] == "ApplicationSet", f"{path.name}: unexpected {doc['kind']}"
            found[doc["metadata"]["name"]] = doc
    return found


def generator_of(appset: dict[str, Any]) -> dict[str, Any]:
    """The examples use exactly one clusters generator each."""
    generators = appset["spec"]["generators"]
    assert len(generators) == 1
    assert list(generators[0]) == ["clusters"]
    return generators[0]["clusters"]


def test_examples_define_the_baseline_applicationsets() -> None:
    appsets = applicationsets()
    assert set(appsets) == BASELINE
    for appset in appsets.values():
        spec = appset["spec"]
        assert appset["metadata"]["namespace"] == ARGOCD_NAMESPACE
        assert spec["goTemplate"] is True
        assert spec["goTemplateOptions"] == ["missingkey=error"]
        assert spec["template"]["spec"]["destination"]["server"] == "{{.server}}"
        # One `source` each, so a test or a fork can point it at another repository.
        assert "sources" not in spec["template"]["spec"]
        assert set(spec["template"]["spec"]["source"]) >= {"repoURL", "targetRevision"}


# Components the baseline must not install: retired upstream, no security fixes.
RETIRED = {
    # Kubernetes retired ingress-nginx in March 2026 (no releases, no security fixes).
    "ingress-nginx": ("kubernetes.github.io/ingress-nginx", "ingress-nginx"),
}


def test_no_applicationset_installs_retired_software() -> None:
    for name, appset in applicationsets().items():
        source = appset["spec"]["template"]["spec"]["source"]
        where = f"{source['repoURL']} {source.get('chart', '')} {source.get('path', '')}"
        for component, needles in RETIRED.items():
            assert not any(n in where for n in needles), f"{name} installs {component}: {where}"


def test_gateway_is_envoy_gateway_from_its_oci_chart() -> None:
    """Envoy Gateway's chart (oci://docker.io/envoyproxy/gateway-helm), opt-in by label."""
    appset = applicationsets()["envoy-gateway"]
    selector = generator_of(appset)["selector"]
    assert selector["matchLabels"]["gateway"] == "enabled"
    spec = appset["spec"]["template"]["spec"]
    # Argo CD names an OCI Helm repository without the oci:// scheme.
    assert spec["source"]["repoURL"] == "docker.io/envoyproxy"
    assert spec["source"]["chart"] == "gateway-helm"
    assert re.fullmatch(r"v\d+\.\d+\.\d+", spec["source"]["targetRevision"])
    # The Gateway API CRDs in the chart exceed client-side apply's annotation limit.
    assert "ServerSideApply=true" in spec["syncPolicy"]["syncOptions"]


@pytest.mark.parametrize("path", sorted(APPSETS.glob("*.yaml")), ids=lambda p: p.name)
def test_applicationset_is_valid(
    crossplane: CrossplaneCLI, validate_cache: Path, path: Path
) -> None:
    verdicts = validate(crossplane, validate_cache, [], path)
    assert failures(verdicts) == []
    names = [d["metadata"]["name"] for d in documents(path.read_text())]
    assert [(v["kind"], v["name"], v["status"]) for v in verdicts] == [
        ("ApplicationSet", name, "valid") for name in names
    ]


def test_every_applicationset_lets_a_leaving_cluster_drain() -> None:
    """Graceful deregistration (issue 14): a cluster marked draining is no longer selected,
    so its Applications are deleted; each carries the cluster label the function counts.

    Deleting them deletes their objects: Argo CD v3.2.11's ApplicationSet controller gives
    every generated Application resources-finalizer.argocd.argoproj.io when the template
    has no finalizers and spec.syncPolicy.preserveResourcesOnDeletion is not true
    (applicationset/utils/utils.go, RenderTemplateParams).
    """
    for name, appset in applicationsets().items():
        selector = generator_of(appset)["selector"]
        assert {
            "key": "gitopscluster.fn.crossplane.io/state",
            "operator": "NotIn",
            "values": ["draining"],
        } in selector["matchExpressions"], name
        template = appset["spec"]["template"]
        label = template["metadata"]["labels"]["gitopscluster.fn.crossplane.io/cluster"]
        assert label == '{{index .metadata.labels "gitopscluster.fn.crossplane.io/cluster"}}'
        assert not template["metadata"].get("finalizers"), name
        assert not appset["spec"].get("syncPolicy", {}).get("preserveResourcesOnDeletion"), name
