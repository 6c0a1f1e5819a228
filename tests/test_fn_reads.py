"""Reading only what compose reads changes nothing but cost; input.ttl is meta.ttl.

selection.py copies a few declared paths out of each object (compose.*_READS) instead of
converting whole objects. If a module read a field not declared there, compose would see
it missing: these tests compose every request both ways and require the same answer.
"""

import asyncio
from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import requests as live_requests
from function import fn, inputs, selection, wire
from function.compose import compose
from function.errors import InvalidSpec
from function.state import Observed, ObservedResource
from function.structs import to_dict
from tests.builders import AKS_INPUT, GKE_INPUT, eks_input, eks_xr, request, xr
from tests.pki import kubeconfig, make_pki
from tests.strategies import Case, cases
from tests.test_fuzz import FUZZ
from tests.test_identity_grants import (
    CLUSTER_ID,
    ENTRA,
    GRANT,
    aks_cluster,
    identity_input,
    reconcile,
)


def whole(req: fnv1.RunFunctionRequest) -> Observed:
    """Every object converted whole, as fn.py read requests before."""
    return Observed(
        composite=to_dict(req.observed.composite.resource),
        input=to_dict(req.input) if req.HasField("input") else None,
        resources={
            name: ObservedResource(
                manifest=to_dict(observed.resource),
                connection_details=dict(observed.connection_details),
            )
            for name, observed in req.observed.resources.items()
        },
        required={
            name: [to_dict(item.resource) for item in found.items]
            for name, found in req.required_resources.items()
        },
    )


def observed_of(req: fnv1.RunFunctionRequest) -> Observed:
    """What compose gets of a request: what fn.py finds in it, converted."""
    return selection.to_observed(selection.select_request(wire.view(req)))


def key_of(req: fnv1.RunFunctionRequest) -> bytes:
    """The content key a request's answer is remembered by."""
    return selection.content_key(selection.select_request(wire.view(req)))


def answer(observed: Observed) -> Any:
    """compose's answer as comparable data: the encoded patch, or the Fatal message."""
    try:
        composed = fn.encode(compose(observed))
    except InvalidSpec as exc:
        return str(exc)
    except (AttributeError, TypeError) as exc:
        return type(exc)
    patch = fnv1.RunFunctionResponse.FromString(composed.patch)
    return patch, composed.status


def assert_same(req: fnv1.RunFunctionRequest) -> None:
    whole_answer = answer(whole(req))
    if isinstance(whole_answer, type):
        # Reading a non-object with .get() crashed the whole-object path (an internal
        # error Fatal); the declared paths find nothing there instead, never crash.
        return
    assert answer(observed_of(req)) == whole_answer


@pytest.fixture(scope="module")
def live_workloads() -> list[live_requests.Workload]:
    return live_requests.workloads()


def test_live_shaped_requests_compose_the_same(
    live_workloads: list[live_requests.Workload],
) -> None:
    for workload in live_workloads:
        assert_same(workload.request)


def test_only_what_compose_reads_is_converted(
    live_workloads: list[live_requests.Workload],
) -> None:
    for workload in live_workloads:
        observed = observed_of(workload.request)
        assert set(observed.composite) == {"apiVersion", "kind", "metadata", "spec"}
        assert set(observed.composite["metadata"]) == {"name", "namespace"}
        for name, seen in observed.resources.items():
            assert "managedFields" not in seen.manifest.get("metadata", {}), name
            # A Secret (delivery Object's credentials) has no status at all.
            status = seen.manifest.get("status", {})
            assert set(status) <= {"conditions", "atProvider"}, name
            assert len(status.get("atProvider", {})) <= 5, name


def test_writes_compose_does_not_read_are_the_same_answer(
    live_workloads: list[live_requests.Workload],
) -> None:
    """A new resourceVersion, managedFields time or condition timestamp: the memo hits."""
    fresh = live_requests.distinct(live_workloads)
    for index in range(2 * len(live_workloads)):
        req = fnv1.RunFunctionRequest.FromString(fresh(index)[1])
        assert req != live_workloads[index % len(live_workloads)].request
        for observed in req.observed.resources.values():
            if "status" not in observed.resource:  # a Secret
                continue
            for condition in observed.resource["status"]["conditions"].values:
                condition.struct_value["lastTransitionTime"] = "2026-12-01T00:00:00Z"
        original = live_workloads[index % len(live_workloads)].request
        assert key_of(req) == key_of(original)


def test_writes_compose_reads_are_a_new_answer(
    live_workloads: list[live_requests.Workload],
) -> None:
    fresh = live_requests.changed(live_workloads)
    keys = {key_of(fnv1.RunFunctionRequest.FromString(fresh(index)[1])) for index in range(4)}
    assert len(keys) == 4


def test_fuzzed_requests_compose_the_same() -> None:
    @settings(FUZZ, max_examples=300)
    @given(case=cases())
    def same(case: Case) -> None:
        assert_same(case.request())

    same()


@given(
    junk=st.dictionaries(
        st.sampled_from(["metadata", "status", "spec", "kind", "data"]),
        st.none() | st.text(max_size=3) | st.integers() | st.lists(st.none(), max_size=2),
    )
)
def test_non_objects_where_objects_are_read_never_crash(junk: dict[str, Any]) -> None:
    req = request(xr(), observed={"cluster": junk, "argocd-cluster": junk})
    observed_of(req)
    assert_same(req)


def _run(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
    return asyncio.run(fn.FunctionRunner().RunFunction(req, None))


@pytest.mark.parametrize(
    ("ttl", "seconds"),
    [(None, 60), ("60s", 60), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("90s", 90)],
)
def test_ttl_is_meta_ttl(ttl: str | None, seconds: int) -> None:
    fn_input = AKS_INPUT if ttl is None else {**AKS_INPUT, "ttl": ttl}
    runner = fn.FunctionRunner()
    for _ in range(2):  # composed, then remembered
        rsp = asyncio.run(runner.RunFunction(request(xr(), fn_input=fn_input), None))
        assert not [r for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
        assert (rsp.meta.ttl.seconds, rsp.meta.ttl.nanos) == (seconds, 0)


def test_ttl_is_meta_ttl_on_fatal_responses_too() -> None:
    rsp = _run(request(xr({"nodePool": {"count": 0}}), fn_input={**GKE_INPUT, "ttl": "5m"}))
    assert [r.severity for r in rsp.results] == [fnv1.SEVERITY_FATAL]
    assert rsp.meta.ttl.seconds == 300


@pytest.mark.parametrize("ttl", ["60", "1 minute", "1.5s", "500ms", "0s", "", "1d", "-5m", "5M"])
def test_invalid_ttl_is_one_fatal_naming_the_field_and_the_form(ttl: str) -> None:
    rsp = _run(request(xr(), fn_input={**AKS_INPUT, "ttl": ttl}))
    (result,) = rsp.results
    assert result.severity == fnv1.SEVERITY_FATAL
    assert result.message.startswith("input.ttl: ")
    assert "60s, 5m or 1h" in result.message
    assert rsp.meta.ttl.seconds == inputs.DEFAULT_TTL_SECONDS
    assert not rsp.desired.resources


def test_non_string_ttl_is_a_fatal_naming_the_field() -> None:
    rsp = _run(request(xr(), fn_input={**AKS_INPUT, "ttl": 60}))
    (result,) = rsp.results
    assert result.severity == fnv1.SEVERITY_FATAL
    assert result.message.startswith("input.ttl")
    assert rsp.meta.ttl.seconds == inputs.DEFAULT_TTL_SECONDS


def test_ttl_is_generated_into_the_input_crd() -> None:
    schema = inputs.Input.model_json_schema()["properties"]["ttl"]
    assert schema["default"] == "60s"
    assert schema["pattern"] == inputs.TTL_PATTERN


def test_the_credentials_secret_beside_an_object_is_read_as_declared() -> None:
    """Registration keeps the observed credentials Secret through gaps and follows its
    config: both need what compose reads of it (compose.CREDENTIALS_READS) declared."""
    first = compose(
        Observed(
            composite=xr(),
            input=AKS_INPUT,
            resources={
                "cluster": ObservedResource(
                    {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
                    {"kubeconfig": kubeconfig(make_pki("reads"), "https://h:443")},
                )
            },
        )
    )
    credentials = {
        **first.resources["argocd-cluster-credentials"],
        "metadata": {
            **first.resources["argocd-cluster-credentials"]["metadata"],
            "managedFields": [{"manager": "crossplane"}],
            "finalizers": ["kubernetes.crossplane.io/referred-by-object-f00"],
        },
    }
    observed = {
        "cluster": {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        "argocd-cluster": {**first.resources["argocd-cluster"], "metadata": {"name": "x"}},
        "argocd-cluster-credentials": credentials,
    }
    req = request(xr(), observed=observed)  # a credential gap: the registration is kept
    assert_same(req)
    selected = observed_of(req).resources["argocd-cluster-credentials"]
    assert selected.manifest["data"] == credentials["data"]
    assert "managedFields" not in selected.manifest["metadata"]


def test_an_eks_request_composes_the_same_from_what_it_reads() -> None:
    """EKS registers from the cluster's status and external name, and keeps its grants
    through a gap: all of it declared in eks.READS."""
    ca = make_pki("reads-eks").ca_data
    cluster = {
        "apiVersion": "eks.aws.m.upbound.io/v1beta1",
        "kind": "Cluster",
        "metadata": {
            "name": "team-a-dev-x7k2p",
            "annotations": {"crossplane.io/external-name": "team-a-dev-x7k2p"},
            "managedFields": [{"manager": "crossplane"}],
        },
        "spec": {"forProvider": {"region": "eu-west-1"}},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "atProvider": {
                "endpoint": "https://abc.gr7.eu-west-1.eks.amazonaws.com",
                "certificateAuthority": [{"data": ca}],
                "arn": "arn:aws:eks:eu-west-1:123456789012:cluster/team-a-dev-x7k2p",
                "version": "1.33",
                "platformVersion": "eks.9",
                "roleArn": "arn:aws:iam::123456789012:role/c",
                "vpcConfig": {"vpcId": "vpc-1"},
            },
        },
    }
    fn_input = eks_input("arn:aws:iam::123456789012:role/argocd")
    first = compose(
        Observed(
            composite=eks_xr(), input=fn_input, resources={"cluster": ObservedResource(cluster)}
        )
    )
    assert {"argocd-cluster", "argocd-access", "argocd-access-policy"} <= set(first.resources)
    req = request(eks_xr(), fn_input, observed={"cluster": cluster})
    assert_same(req)
    selected = observed_of(req).resources["cluster"].manifest
    assert set(selected["status"]["atProvider"]) == {
        "endpoint",
        "certificateAuthority",
        "arn",
        "version",
        "platformVersion",
    }

    # A gap: the cluster is gone from the request; the registration and grants are kept.
    written = {
        name: {**first.resources[name], "metadata": {"name": name, "labels": {"a": "b"}}}
        for name in ("argocd-cluster", "argocd-cluster-credentials", "argocd-access")
    }
    gap = request(eks_xr(), fn_input, observed=written)
    assert_same(gap)
    kept = compose(observed_of(gap))
    assert kept.resources["argocd-access"]["spec"] == first.resources["argocd-access"]["spec"]


@pytest.mark.parametrize("cluster_id", [True, False], ids=["rendered", "kept through a gap"])
def test_the_aks_grant_is_read_as_declared(cluster_id: bool) -> None:
    """The role assignment needs the cluster's status.atProvider.id, and a grant kept
    through a gap needs all of it (declared in the clouds' READS): composed both ways,
    the same answer."""
    granted = reconcile(cluster_manifest=aks_cluster()).resources[GRANT]
    observed = {
        "cluster": aks_cluster(ready=cluster_id, cluster_id=CLUSTER_ID if cluster_id else None),
        GRANT: {**granted, "metadata": {"name": "team-a-dev-x1"}, "status": {"atProvider": {}}},
    }
    req = request(xr(ENTRA), fn_input=identity_input(), observed=observed)

    assert_same(req)
    answer_patch, _ = answer(observed_of(req))
    assert GRANT in answer_patch.desired.resources


@pytest.mark.parametrize(("fn_input", "new_answer"), [(AKS_INPUT, False), (GKE_INPUT, True)])
def test_a_step_reads_only_its_own_clouds_fields(fn_input: dict, new_answer: bool) -> None:
    """GKE reads the cluster's status.atProvider.endpoint, AKS does not: for an AKS step a
    new endpoint is the same answer, so no cloud's reads hide another's omissions."""
    keys = set()
    for endpoint in ("10.0.0.1", "10.0.0.2"):
        status = {"atProvider": {"fqdn": "aks.example.io", "endpoint": endpoint}}
        req = request(xr(), fn_input, observed={"cluster": {"status": status}})
        keys.add(key_of(req))
    assert (len(keys) == 2) is new_answer
