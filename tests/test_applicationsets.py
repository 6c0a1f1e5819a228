"""The baseline ApplicationSets (examples/applicationsets/) against Argo CD's schemas and
against the cluster Secrets the function renders for the examples.

Which clusters an ApplicationSet reaches is computed the way Argo CD's cluster generator
does it (argoproj/argo-cd applicationset/generators/cluster.go, utils/clusterUtils.go):
- it lists every Secret labelled `argocd.argoproj.io/secret-type=cluster` in the Argo CD
  namespace, plus a synthetic `in-cluster` unless a Secret already has the in-cluster
  server;
- it adds `argocd.argoproj.io/secret-type=cluster` to the user's selector
  (metav1.AddLabelToSelector) and matches Kubernetes label-selector semantics;
- a cluster without a selected Secret (the synthetic in-cluster) is only included when the
  selector is empty;
- per cluster, the goTemplate parameters are name, nameNormalized, server, project and
  metadata.{labels,annotations} (each only when non-empty).
"""

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLES, CrossplaneCLI
from tests.crossplane_cli import EXAMPLE_FOLDERS, composed, documents, failures, validate

Rendered = Callable[[str, str], str]
Params = dict[str, Any]

APPSETS = EXAMPLES / "applicationsets"
ARGOCD_NAMESPACE = "argocd"
SECRET_TYPE = "argocd.argoproj.io/secret-type"
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"

# Exactly which clusters each ApplicationSet reaches, from the examples' spec.argocd.labels:
# aks-namespaced {dev, gateway, monitoring}, gke-namespaced {staging, monitoring},
# aks-legacy-claim {prod, gateway, monitoring}, gke-cluster {tools, gateway}.
EXPECTED_REACH = {
    "envoy-gateway": {"team-a-team-a-dev", "payments-prod", "shared-tools"},
    "guestbook": {"team-a-team-a-dev", "team-b-team-b-staging", "payments-prod", "shared-tools"},
    "node-exporter": {"team-a-team-a-dev", "team-b-team-b-staging", "payments-prod"},
}
# The location annotation each registered cluster carries (from the golden renders).
LOCATIONS = {
    "team-a-team-a-dev": "westeurope",
    "team-b-team-b-staging": "europe-west1",
    "payments-prod": "northeurope",
    "shared-tools": "us-central1-a",
}
# Destination servers, so the test proves `{{.server}}` reaches the Secret's server.
SERVERS = {
    "team-a-team-a-dev": "https://team-a-dev-4f2a9c1b.hcp.westeurope.azmk8s.io:443",
    "team-b-team-b-staging": "https://203.0.113.10",
    "payments-prod": "https://payments-prod-7d1e3a5f.hcp.northeurope.azmk8s.io:443",
    "shared-tools": "https://198.51.100.20",
}


# --- Argo CD's cluster generator, modelled --------------------------------------------


def requirement_matches(labels: dict[str, str], requirement: dict[str, Any]) -> bool:
    """One label-selector requirement, with apimachinery's validation of its shape."""
    key, operator = requirement["key"], requirement["operator"]
    values = requirement.get("values") or []
    if operator in ("In", "NotIn") and not values:
        msg = f"{key}: operator {operator} needs values"
        raise ValueError(msg)
    if operator in ("Exists", "DoesNotExist") and values:
        msg = f"{key}: operator {operator} takes no values"
        raise ValueError(msg)
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    msg = f"{key}: {operator!r} is not a valid label selector operator"
    raise ValueError(msg)


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """metav1.LabelSelectorAsSelector: every matchLabels pair and expression must hold."""
    requirements = [
        {"key": key, "operator": "In", "values": [value]}
        for key, value in (selector.get("matchLabels") or {}).items()
    ] + list(selector.get("matchExpressions") or [])
    # Evaluate all of them so an invalid requirement fails even after a mismatch.
    return all([requirement_matches(labels, r) for r in requirements])  # noqa: C419


def sanitize_name(name: str) -> str:
    """applicationset/utils.SanitizeName: the `nameNormalized` parameter."""
    name = re.sub(r"[^-a-z0-9.]", "-", name.lower())[:253]
    return name.strip("-.")


def secret_data(secret: dict[str, Any], key: str) -> str | None:
    """A data key as Argo CD reads it (the API server has decoded base64)."""
    value = secret.get("data", {}).get(key)
    return None if value is None else base64.b64decode(value).decode()


def secret_labels(secret: dict[str, Any]) -> dict[str, str]:
    return secret["metadata"].get("labels") or {}


def cluster_params(secret: dict[str, Any]) -> Params:
    """getClusterParameters in goTemplate mode."""
    name = secret_data(secret, "name") or ""
    meta = {}
    if annotations := secret["metadata"].get("annotations"):
        meta["annotations"] = annotations
    if labels := secret_labels(secret):
        meta["labels"] = labels
    return {
        "name": name,
        "nameNormalized": sanitize_name(name),
        "server": secret_data(secret, "server") or "",
        "project": secret_data(secret, "project") or "",
        "metadata": meta,
    }


def cluster_generator(generator: dict[str, Any], secrets: list[dict[str, Any]]) -> list[Params]:
    """The parameter sets one `clusters` generator produces from these Secrets."""
    selector = generator.get("selector") or {}
    ignore_local = bool(selector.get("matchLabels") or selector.get("matchExpressions"))
    registered = [
        s
        for s in secrets
        if s["metadata"].get("namespace") == ARGOCD_NAMESPACE
        and secret_labels(s).get(SECRET_TYPE) == "cluster"
    ]
    # utils.ListClusters: every cluster Secret, plus in-cluster when no Secret serves it.
    known = [
        (secret_data(s, "name"), (secret_data(s, "server") or "").rstrip("/")) for s in registered
    ]
    if all(server != IN_CLUSTER_SERVER for _, server in known):
        known.append(("in-cluster", IN_CLUSTER_SERVER))
    with_type = {
        **selector,
        "matchLabels": {**(selector.get("matchLabels") or {}), SECRET_TYPE: "cluster"},
    }
    selected = {
        secret_data(s, "name"): s
        for s in registered
        if selector_matches(with_type, secret_labels(s))
    }
    local: list[Params] = []
    found: list[dict[str, Any]] = []
    for name, server in known:
        if name in selected:
            found.append(selected[name])
        elif not ignore_local:
            local.append({"name": name, "nameNormalized": name, "server": server, "project": ""})
    return local + [cluster_params(s) for s in found]


# --- goTemplate rendering (the subset the examples use, strictly) --------------------


class TemplateError(Exception):
    """What Argo CD reports as `failed to execute go template`."""


ACTION = re.compile(r"\{\{(.*?)\}\}")
FIELD = re.compile(r"\.(\w+(?:\.\w+)*)")
INDEX = re.compile(r'index\s+\.(\w+(?:\.\w+)*)\s+"([^"]*)"')


def _field(params: Params, path: str) -> Any:
    """`.a.b` with missingkey=error: a missing map key is an error, not "<no value>"."""
    value: Any = params
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            msg = f"map has no entry for key {part!r} (in .{path})"
            raise TemplateError(msg)
        value = value[part]
    return value


def _action(expression: str, params: Params) -> str:
    """One `{{...}}`; anything outside the subset fails, so the test can't pass by ignoring it.

    Stricter than Go for `index`: a missing key there would silently render "" in Argo CD,
    which is as wrong for an Application as an error, so it is one here.
    """
    if match := FIELD.fullmatch(expression):
        value = _field(params, match[1])
    elif match := INDEX.fullmatch(expression):
        mapping = _field(params, match[1])
        if match[2] not in mapping:
            msg = f"{match[2]!r} is not in .{match[1]}"
            raise TemplateError(msg)
        value = mapping[match[2]]
    else:
        msg = f"unsupported template action {{{{{expression}}}}}: extend this evaluator"
        raise TemplateError(msg)
    if not isinstance(value, str):
        msg = f"{{{{{expression}}}}} is a {type(value).__name__}, not a string"
        raise TemplateError(msg)
    return value


def render_template(node: Any, params: Params) -> Any:
    """Every string value in the template rendered, as Argo CD's deeplyReplace does."""
    if isinstance(node, dict):
        return {key: render_template(value, params) for key, value in node.items()}
    if isinstance(node, list):
        return [render_template(item, params) for item in node]
    if isinstance(node, str):
        return ACTION.sub(lambda m: _action(m[1].strip(), params), node)
    return node


# --- fixtures -------------------------------------------------------------------------


def handwritten_secret(name: str, server: str, labels: dict[str, str]) -> dict[str, Any]:
    """A cluster Secret someone else put in the Argo CD namespace."""

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    config = json.dumps({"tlsClientConfig": {"insecure": False}})
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"cluster-{name}",
            "namespace": ARGOCD_NAMESPACE,
            "labels": {SECRET_TYPE: "cluster", **labels},
        },
        "type": "Opaque",
        "data": {"name": b64(name), "server": b64(server), "config": b64(config)},
    }


# Argo CD's own cluster, declared as a Secret (it then replaces the synthetic entry).
IN_CLUSTER = handwritten_secret("in-cluster", IN_CLUSTER_SERVER, {})
# Registered by someone else (argocd cluster add, another tool), opted in to everything.
FOREIGN = handwritten_secret(
    "edge-legacy", "https://203.0.113.50:6443", {"gateway": "enabled", "monitoring": "enabled"}
)


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


@pytest.fixture(scope="module")
def registered_secrets(rendered: Rendered) -> list[dict[str, Any]]:
    """The Argo CD cluster Secret of each example, as the function delivers it."""
    secrets = []
    for folder in EXAMPLE_FOLDERS:
        registration = composed(documents(rendered(folder, "registered")))["argocd-cluster"]
        if registration["kind"] == "Object":
            registration = registration["spec"]["forProvider"]["manifest"]
        assert registration["kind"] == "Secret"
        secrets.append(registration)
    return secrets


def reach(appset: dict[str, Any], secrets: list[dict[str, Any]]) -> set[str]:
    return {p["name"] for p in cluster_generator(generator_of(appset), secrets)}


# --- tests ----------------------------------------------------------------------------


def test_examples_define_the_baseline_applicationsets() -> None:
    appsets = applicationsets()
    assert set(appsets) == set(EXPECTED_REACH)
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


@pytest.mark.parametrize(("name", "expected"), sorted(EXPECTED_REACH.items()))
def test_applicationset_reaches_exactly(
    registered_secrets: list[dict[str, Any]], name: str, expected: set[str]
) -> None:
    secrets = [*registered_secrets, IN_CLUSTER, FOREIGN]
    assert {secret_data(s, "name") for s in registered_secrets} == set(LOCATIONS)
    assert reach(applicationsets()[name], secrets) == expected


@pytest.mark.parametrize("declared_in_cluster", [True, False], ids=["secret", "synthetic"])
def test_no_applicationset_reaches_in_cluster_or_foreign_clusters(
    registered_secrets: list[dict[str, Any]], declared_in_cluster: bool
) -> None:
    secrets = [*registered_secrets, FOREIGN] + ([IN_CLUSTER] if declared_in_cluster else [])
    everything = set(LOCATIONS) | {"in-cluster", "edge-legacy"}
    # The model does include both when a selector lets them through ...
    assert reach({"spec": {"generators": [{"clusters": {}}]}}, secrets) == everything
    opt_in_only = {"clusters": {"selector": {"matchLabels": {"gateway": "enabled"}}}}
    assert "edge-legacy" in reach({"spec": {"generators": [opt_in_only]}}, secrets)
    # ... and the examples' selectors keep both out.
    for appset in applicationsets().values():
        params = cluster_generator(generator_of(appset), secrets)
        assert {p["name"] for p in params}.isdisjoint({"in-cluster", "edge-legacy"})
        assert all(p["server"] != IN_CLUSTER_SERVER for p in params)


def test_synthetic_in_cluster_would_break_the_templates() -> None:
    """Why the selectors matter beyond placement: in-cluster has no metadata to template."""
    [local] = cluster_generator({}, [])
    assert local == {
        "name": "in-cluster",
        "nameNormalized": "in-cluster",
        "server": IN_CLUSTER_SERVER,
        "project": "",
    }
    for appset in applicationsets().values():
        with pytest.raises(TemplateError, match="'metadata'"):
            render_template(appset["spec"]["template"], local)


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ({"matchLabels": {"env": "dev"}}, {"env": "dev", "x": "y"}, True),
        ({"matchLabels": {"env": "dev"}}, {"env": "prod"}, False),
        ({"matchLabels": {"env": "dev"}}, {}, False),
        (
            {"matchExpressions": [{"key": "m", "operator": "In", "values": ["a", "b"]}]},
            {"m": "b"},
            True,
        ),
        ({"matchExpressions": [{"key": "m", "operator": "In", "values": ["a"]}]}, {}, False),
        ({"matchExpressions": [{"key": "m", "operator": "NotIn", "values": ["a"]}]}, {}, True),
        (
            {"matchExpressions": [{"key": "m", "operator": "NotIn", "values": ["a"]}]},
            {"m": "a"},
            False,
        ),
        ({"matchExpressions": [{"key": "m", "operator": "Exists"}]}, {"m": ""}, True),
        ({"matchExpressions": [{"key": "m", "operator": "Exists"}]}, {}, False),
        ({"matchExpressions": [{"key": "m", "operator": "DoesNotExist"}]}, {}, True),
        ({"matchExpressions": [{"key": "m", "operator": "DoesNotExist"}]}, {"m": "a"}, False),
        (
            {
                "matchLabels": {"env": "dev"},
                "matchExpressions": [{"key": "m", "operator": "Exists"}],
            },
            {"env": "dev"},
            False,
        ),
        ({}, {}, True),
    ],
)
def test_label_selector_semantics(
    selector: dict[str, Any], labels: dict[str, str], matches: bool
) -> None:
    """The model follows Kubernetes: NotIn and DoesNotExist hold for an absent key."""
    assert selector_matches(selector, labels) is matches


@pytest.mark.parametrize(
    "requirement",
    [
        {"key": "m", "operator": "In", "values": []},
        {"key": "m", "operator": "NotIn"},
        {"key": "m", "operator": "Exists", "values": ["a"]},
        {"key": "m", "operator": "Equals", "values": ["a"]},
    ],
)
def test_invalid_selector_requirements_are_rejected(requirement: dict[str, Any]) -> None:
    """Argo CD fails the generator on these (LabelSelectorAsSelector errors)."""
    with pytest.raises(ValueError, match="m: "):
        selector_matches({"matchExpressions": [requirement]}, {"m": "a"})


def test_nameNormalized_is_argo_cds_sanitize_name() -> None:  # noqa: N802
    assert sanitize_name("Team_A/Dev.") == "team-a-dev"
    assert sanitize_name("-x.y-") == "x.y"


def test_templates_render_for_every_reached_cluster(
    crossplane: CrossplaneCLI,
    validate_cache: Path,
    registered_secrets: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    """Every `{{...}}` resolves for every selected Secret, so missingkey=error never trips,
    and the Applications Argo CD would create are valid."""
    apps = []
    for name, appset in applicationsets().items():
        params = cluster_generator(generator_of(appset), [*registered_secrets, FOREIGN])
        for cluster in params:
            app = render_template(appset["spec"]["template"], cluster)
            assert "{{" not in json.dumps(app)
            metadata, spec = app["metadata"], app["spec"]
            assert metadata["name"] == f"{name}-{cluster['name']}"
            assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", metadata["name"])
            assert spec["destination"]["server"] == SERVERS[cluster["name"]]
            location = LOCATIONS[cluster["name"]]
            assert metadata["annotations"]["gitopscluster.fn.crossplane.io/location"] == location
            assert metadata["labels"]["gitopscluster.fn.crossplane.io/cloud"] in ("azure", "gcp")
            assert {"name": "cluster", "value": cluster["name"]} in spec["info"]
            assert all(item["value"] for item in spec["info"])
            apps.append({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", **app})
    assert len(apps) == sum(len(clusters) for clusters in EXPECTED_REACH.values())

    for app in apps:
        app["metadata"]["namespace"] = ARGOCD_NAMESPACE
    path = tmp_path / "applications.yaml"
    path.write_text(yaml.safe_dump_all(apps, sort_keys=False))
    verdicts = validate(crossplane, validate_cache, [], path)
    assert failures(verdicts) == []
    assert [v["status"] for v in verdicts] == ["valid"] * len(apps)
