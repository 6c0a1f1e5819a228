"""RunFunction called directly, as function-template-python tests it: request in, response out."""

import asyncio
from typing import Any

import pytest
from crossplane.function import logging, resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import json_format

from function import fn
from function.xr import parse_composite
from tests.builders import AKS_INPUT, GKE_INPUT, request, xr


def run(req: fnv1.RunFunctionRequest) -> dict[str, Any]:
    logging.configure(level=logging.Level.DISABLED)
    rsp = asyncio.run(fn.FunctionRunner().RunFunction(req, None))
    return json_format.MessageToDict(rsp)


def ready(condition: str) -> dict:
    return {"status": {"conditions": [{"type": "Ready", "status": condition}]}}


def fatal_messages(rsp: dict) -> list[str]:
    return [r["message"] for r in rsp.get("results", []) if r["severity"] == "SEVERITY_FATAL"]


def test_aks_namespaced_xr_composes_resource_group_and_cluster() -> None:
    rsp = run(request(xr()))
    resources = rsp["desired"]["resources"]
    assert set(resources) == {"resource-group", "cluster"}
    cluster = resources["cluster"]["resource"]
    assert cluster["apiVersion"] == "containerservice.azure.m.upbound.io/v1beta1"
    assert cluster["spec"]["forProvider"]["resourceGroupNameSelector"] == {
        "matchControllerRef": True
    }
    assert cluster["spec"]["writeConnectionSecretToRef"] == {"name": "team-a-dev-aks-kubeconfig"}
    assert cluster["spec"]["providerConfigRef"] == {
        "kind": "ClusterProviderConfig",
        "name": "default",
    }
    assert "namespace" not in cluster.get("metadata", {})  # Crossplane puts it in the XR's
    assert {r["ready"] for r in resources.values()} == {"READY_FALSE"}
    assert "results" not in rsp
    assert rsp["meta"]["tag"] == "t"


def test_existing_resource_group_is_referenced_not_composed() -> None:
    rsp = run(request(xr({"resourceGroupName": "rg-shared"})))
    resources = rsp["desired"]["resources"]
    assert set(resources) == {"cluster"}
    for_provider = resources["cluster"]["resource"]["spec"]["forProvider"]
    assert for_provider["resourceGroupName"] == "rg-shared"
    assert "resourceGroupNameSelector" not in for_provider


def test_cluster_scoped_xr_uses_cluster_scoped_apis_and_secret_namespace() -> None:
    rsp = run(
        request(
            xr(namespace=None),
            {**AKS_INPUT, "connectionSecretNamespace": "platform-secrets"},
        )
    )
    cluster = rsp["desired"]["resources"]["cluster"]["resource"]
    assert cluster["apiVersion"] == "containerservice.azure.upbound.io/v1beta2"
    assert cluster["spec"]["providerConfigRef"] == {"name": "default"}
    assert cluster["spec"]["writeConnectionSecretToRef"] == {
        "name": "team-a-dev-aks-kubeconfig",
        "namespace": "platform-secrets",
    }
    group = rsp["desired"]["resources"]["resource-group"]["resource"]
    assert group["apiVersion"] == "azure.upbound.io/v1beta1"


def test_ready_comes_from_observed_ready_condition() -> None:
    observed = {
        "cluster": {
            **ready("True"),
            "status": {**ready("True")["status"], "atProvider": {"fqdn": "c.example.io"}},
        },
        "resource-group": ready("False"),
    }
    rsp = run(request(xr(), observed=observed))
    resources = rsp["desired"]["resources"]
    assert resources["cluster"]["ready"] == "READY_TRUE"
    assert resources["resource-group"]["ready"] == "READY_FALSE"
    assert rsp["desired"]["composite"]["resource"]["status"]["cluster"] == {
        "endpoint": "https://c.example.io:443"
    }


def test_endpoint_absent_until_cloud_reports_it() -> None:
    rsp = run(request(xr(), observed={"cluster": ready("False")}))
    assert "cluster" not in rsp["desired"]["composite"]["resource"]["status"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"nodePool": {"minCount": 5, "maxCount": 3, "count": 4}},
            "spec.nodePool.minCount (5) must not exceed spec.nodePool.maxCount (3)",
        ),
        ({"nodePool": {"minCount": 2}}, "spec.nodePool.maxCount: is required when"),
        (
            {"nodePool": {"count": 0}},
            "spec.nodePool.count: Input should be greater than or equal to 1",
        ),
        ({"nodePool": {"count": 2.5}}, "spec.nodePool.count"),
        ({"location": ""}, "spec.location"),
        (
            {"version": 1.33},
            "spec.version: Input should be a valid string (got 1.33). Quote the value",
        ),
        (
            {"argocd": {"auth": "Token"}},
            "spec.argocd.auth: Input should be 'Auto', 'ClientCertificate'",
        ),
        ({"argocd": {"labels": {"bad key!": "x"}}}, "spec.argocd.labels[bad key!]"),
        (
            {"argocd": {"labels": {"env": "x" * 64}}},
            "spec.argocd.labels[env]: the value is not a valid",
        ),
        ({"argocd": {"namespaces": ["Apps"]}}, "spec.argocd.namespaces[0]"),
        (
            {"argocd": {"workloadIdentity": {"clientId": "not-a-guid"}}},
            "spec.argocd.workloadIdentity.clientId",
        ),
    ],
)
def test_bad_spec_is_one_fatal_result_naming_the_field(spec: dict, message: str) -> None:
    rsp = run(request(xr(spec)))
    (fatal,) = fatal_messages(rsp)
    assert message in fatal
    assert "resources" not in rsp.get("desired", {})


@pytest.mark.parametrize(
    ("fn_input", "spec", "field"),
    [
        (AKS_INPUT, {"subnetIds": ["subnet-a", "subnet-b"]}, "spec.subnetIds"),
        (AKS_INPUT, {"clusterRoleArn": "arn:aws:iam::123456789012:role/x"}, "spec.clusterRoleArn"),
        (GKE_INPUT, {"nodeRoleArn": "arn:aws:iam::123456789012:role/x"}, "spec.nodeRoleArn"),
        (GKE_INPUT, {"resourceGroupName": "rg-shared"}, "spec.resourceGroupName"),
        (
            GKE_INPUT,
            {"argocd": {"workloadIdentity": {"clientId": "11111111-2222-3333-4444-555555555555"}}},
            "spec.argocd.workloadIdentity",
        ),
    ],
)
def test_another_clouds_field_is_one_fatal_naming_it(
    fn_input: dict, spec: dict, field: str
) -> None:
    """An XRD shared by several clouds may carry them: ignoring one would make a cluster
    unlike the one asked for."""
    cloud = fn_input["cloud"]
    (fatal,) = fatal_messages(run(request(xr(spec), fn_input)))
    assert fatal.startswith(f"{field}: is an ")
    assert f"which {cloud} does not use. Remove it from the {cloud} cluster's spec" in fatal


def test_an_empty_workload_identity_as_a_shared_xrd_defaults_it_is_no_aks_field() -> None:
    rsp = run(request(xr({"argocd": {"workloadIdentity": {}}}), GKE_INPUT))
    assert fatal_messages(rsp) == []


@pytest.mark.parametrize(
    ("fn_input", "message"),
    [
        (None, "input: the pipeline step has no input"),
        (
            {**AKS_INPUT, "cloud": "OKE"},
            "input.cloud: Input should be 'AKS', 'GKE' or 'EKS' (got 'OKE')",
        ),
        ({**AKS_INPUT, "clod": "AKS"}, "input.clod: Extra inputs are not permitted"),
        (
            {"apiVersion": AKS_INPUT["apiVersion"], "kind": "Input"},
            "input.cloud: Field required. Set it",
        ),
        ({**AKS_INPUT, "argocd": {"delivery": "Helm"}}, "input.argocd.delivery"),
        ({**AKS_INPUT, "argocd": {"namespace": "Argo CD"}}, "input.argocd.namespace"),
        ({**AKS_INPUT, "connectionSecretNamespace": "-x"}, "input.connectionSecretNamespace"),
        ({**AKS_INPUT, "argocd": {"commonLabels": {"a/b/c": "x"}}}, "input.argocd.commonLabels"),
    ],
)
def test_bad_input_is_one_fatal_result_naming_the_field(
    fn_input: dict | None, message: str
) -> None:
    (fatal,) = fatal_messages(run(request(xr(), fn_input)))
    assert message in fatal


def test_unexpected_error_is_a_fatal_result_not_an_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(_: object) -> None:
        msg = "secret-looking detail"
        raise KeyError(msg)

    monkeypatch.setattr(fn, "compose", broken)
    (fatal,) = fatal_messages(run(request(xr())))
    assert fatal.startswith("internal error (KeyError)")
    assert "secret-looking detail" not in fatal


def test_earlier_steps_desired_state_passes_through() -> None:
    other = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}
    req = request(xr(), desired={"from-earlier-step": other})
    rsp = run(req)
    assert rsp["desired"]["resources"]["from-earlier-step"]["resource"] == other


def test_status_merges_with_earlier_steps_status() -> None:
    req = request(xr(), observed={"cluster": {"status": {"atProvider": {"fqdn": "f.example"}}}})
    req.desired.composite.resource.update({"status": {"other": "kept"}})
    status = run(req)["desired"]["composite"]["resource"]["status"]
    assert status["other"] == "kept"
    assert status["cluster"] == {"endpoint": "https://f.example:443"}


def test_gke_composes_cluster_and_node_pool_with_autoscaling() -> None:
    spec = {"nodePool": {"size": "e2-standard-4", "count": 2, "minCount": 1, "maxCount": 4}}
    rsp = run(request(xr(spec), GKE_INPUT))
    resources = rsp["desired"]["resources"]
    assert set(resources) == {"cluster", "node-pool"}
    cluster = resources["cluster"]["resource"]["spec"]["forProvider"]
    assert cluster == {
        "location": "westeurope",
        "removeDefaultNodePool": True,
        "initialNodeCount": 1.0,
        "deletionProtection": False,
    }
    pool = resources["node-pool"]["resource"]["spec"]["forProvider"]
    assert pool["clusterSelector"] == {"matchControllerRef": True}
    assert pool["autoscaling"] == {"minNodeCount": 1.0, "maxNodeCount": 4.0}
    assert pool["initialNodeCount"] == 2.0
    assert "nodeCount" not in pool
    assert pool["nodeConfig"] == {"machineType": "e2-standard-4"}


def test_protobuf_floats_become_integers_in_models() -> None:
    composite = parse_composite(
        resource.struct_to_dict(resource.dict_to_struct(xr({"nodePool": {"count": 3}})))
    )
    assert composite.spec.nodePool.count == 3
    assert isinstance(composite.spec.nodePool.count, int)


def test_condition_and_secret_requirement_reach_the_response() -> None:
    observed = {
        "cluster": {
            **ready("True"),
            "status": {**ready("True")["status"], "atProvider": {"fqdn": "f"}},
        }
    }
    rsp = run(request(xr(), observed=observed))
    (condition,) = rsp["conditions"]
    assert condition == {
        "type": "ArgoCDRegistered",
        "status": "STATUS_CONDITION_FALSE",
        "reason": "WaitingForCredentials",
        "message": condition["message"],
        "target": "TARGET_COMPOSITE",
    }
    assert "team-a/team-a-dev-aks-kubeconfig" in condition["message"]
    assert rsp["requirements"]["resources"]["cluster-connection-secret"] == {
        "apiVersion": "v1",
        "kind": "Secret",
        "matchName": "team-a-dev-aks-kubeconfig",
        "namespace": "team-a",
    }


def test_legacy_xr_conditions_and_results_also_reach_the_claim() -> None:
    legacy = xr(namespace=None, spec={"claimRef": {"namespace": "team-c", "name": "pay"}})
    rsp = run(request(legacy))
    assert {c["target"] for c in rsp["conditions"]} == {"TARGET_COMPOSITE_AND_CLAIM"}
    bad = xr(
        {"nodePool": {"count": 0}, "claimRef": {"namespace": "c", "name": "p"}}, namespace=None
    )
    (fatal,) = run(request(bad))["results"]
    assert fatal["target"] == "TARGET_COMPOSITE_AND_CLAIM"
    assert fatal["severity"] == "SEVERITY_FATAL"


def test_draining_asks_for_applications_by_label_and_counts_them() -> None:
    """register: false on the wire: the Applications requirement goes out as matchLabels
    in Argo CD's namespace, and the Applications Crossplane returns are counted."""
    from tests.test_registration import registered  # noqa: PLC0415 - the registration as written

    leaving = xr({"argocd": {"register": False}})
    req = request(leaving, observed={"argocd-cluster": registered()})
    rsp = run(req)
    assert rsp["requirements"]["resources"]["argocd-applications"] == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "matchLabels": {"labels": {"gitopscluster.fn.crossplane.io/cluster": "team-a-team-a-dev"}},
        "namespace": "argocd",
    }
    for name in ("guestbook-team-a-team-a-dev", "envoy-gateway-team-a-team-a-dev"):
        app = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": name, "namespace": "argocd"},
            "spec": {"project": "default", "destination": {"server": "https://x"}},
        }
        req.required_resources["argocd-applications"].items.add().resource.CopyFrom(
            resource.dict_to_struct(app)
        )
    (condition,) = run(req)["conditions"]
    assert (condition["status"], condition["reason"]) == ("STATUS_CONDITION_FALSE", "Draining")
    assert "2 Applications" in condition["message"]
    assert "envoy-gateway-team-a-team-a-dev, guestbook-team-a-team-a-dev" in condition["message"]

    del req.required_resources["argocd-applications"].items[:]
    rsp = run(req)
    assert "argocd-cluster" not in rsp["desired"].get("resources", {})
    (condition,) = rsp["conditions"]
    assert condition["reason"] == "Disabled"
