"""The fast paths in fn.py and selection.py change nothing but speed: same dicts, same
Structs, same responses."""

import asyncio
import base64
import dataclasses
from typing import Any

import pytest
from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import json_format
from google.protobuf import struct_pb2 as structpb
from hypothesis import given, settings
from hypothesis import strategies as st

from function import fn, structs
from function.registration import CONNECTION_SECRET
from tests.builders import GKE_INPUT, request, tagged, versioned, xr
from tests.pki import kubeconfig, make_pki
from tests.strategies import cases
from tests.test_fuzz import FUZZ

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=30,
)
OBJECTS = st.dictionaries(st.text(max_size=6), JSON, max_size=5)


def _keys_sorted(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _keys_sorted(data[key]) for key in sorted(data)}
    if isinstance(data, list):
        return [_keys_sorted(item) for item in data]
    return data


@given(OBJECTS)
def test_to_dict_is_message_to_dict_with_keys_in_order(data: dict) -> None:
    struct = resource.dict_to_struct(data)
    expected = json_format.MessageToDict(struct, preserving_proto_field_name=True)
    # repr: the same types (floats, as MessageToDict gives) and the same key order.
    assert repr(structs.to_dict(struct)) == repr(_keys_sorted(expected))


@given(OBJECTS)
def test_fill_is_struct_update(data: dict) -> None:
    expected = structpb.Struct()
    expected.update(data)
    filled = structpb.Struct()
    structs.fill(filled, data)
    assert filled == expected


def _run(runner: fn.FunctionRunner, req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
    return asyncio.run(runner.RunFunction(req, None))


def test_a_remembered_answer_is_the_answer() -> None:
    req = request(xr({"argocd": {"register": False}}))
    runner = fn.FunctionRunner()
    first, again = _run(runner, req), _run(runner, req)
    assert first == again == _run(fn.FunctionRunner(), req)


def test_a_changed_request_is_composed_again() -> None:
    runner = fn.FunctionRunner()
    small = _run(runner, request(xr({"nodePool": {"count": 1}})))
    large = _run(runner, request(xr({"nodePool": {"count": 5}})))
    count = [
        rsp.desired.resources["cluster"].resource["spec"]["forProvider"]["defaultNodePool"][
            "nodeCount"
        ]
        for rsp in (small, large)
    ]
    assert count == [1, 5]


def test_a_hit_still_keeps_what_earlier_steps_composed() -> None:
    runner = fn.FunctionRunner()
    _run(runner, request(xr()))
    req = request(xr(), desired={"extra": {"apiVersion": "v1", "kind": "ConfigMap"}})
    req.desired.composite.resource.update({"status": {"other": "kept"}})
    rsp = _run(runner, req)
    assert set(rsp.desired.resources) == {"extra", "resource-group", "cluster"}
    assert rsp.desired.composite.resource["status"]["other"] == "kept"
    assert rsp == _run(fn.FunctionRunner(), req)


def test_our_resources_replace_same_named_ones_from_earlier_steps() -> None:
    stale = {"apiVersion": "v1", "kind": "Stale", "spec": {"leftover": True}}
    for runner in (fn.FunctionRunner(),) * 2:  # a miss, then a hit
        rsp = _run(runner, request(xr(), desired={"cluster": stale}))
        cluster = rsp.desired.resources["cluster"].resource
        assert cluster["kind"] == "KubernetesCluster"
        assert "leftover" not in cluster["spec"]


def _node_count(rsp: fnv1.RunFunctionResponse) -> float:
    return rsp.desired.resources["cluster"].resource["spec"]["forProvider"]["defaultNodePool"][
        "nodeCount"
    ]


def test_a_crossplane_tag_seen_before_is_answered_without_reading_the_request() -> None:
    # Crossplane's promise is that equal tags mean equal requests; breaking it here shows
    # that the answer came from the tag, not from what the request says.
    runner = fn.FunctionRunner()
    one = tagged(request(xr({"nodePool": {"count": 1}})))
    five = request(xr({"nodePool": {"count": 5}}))
    five.meta.tag = one.meta.tag
    assert _node_count(_run(runner, one)) == 1
    assert _node_count(_run(runner, five)) == 1
    assert _node_count(_run(fn.FunctionRunner(), five)) == 5


@pytest.mark.parametrize("tag", ["t", "A" * 64, "0" * 63, "0" * 65, "g" * 64, " " + "0" * 63])
def test_a_tag_that_is_not_crossplanes_sha256_is_not_trusted(tag: str) -> None:
    runner = fn.FunctionRunner()
    counts = []
    for count in (1, 5):
        req = request(xr({"nodePool": {"count": count}}))
        req.meta.tag = tag
        counts.append(_node_count(_run(runner, req)))
    assert counts == [1, 5]


def _registered(rsp: fnv1.RunFunctionResponse) -> bool:
    return "argocd-cluster" in rsp.desired.resources


def test_the_same_tag_with_newly_fetched_required_resources_is_composed_again() -> None:
    # While resolving requirements Crossplane calls again under the same tag, now with
    # the resources the function asked for: here the cluster's connection Secret.
    ready = {"conditions": [{"type": "Ready", "status": "True"}], "atProvider": {"fqdn": "aks"}}
    cluster = {"apiVersion": "containerservice.azure.m.upbound.io/v1beta1", "status": ready}
    req = tagged(request(xr(), observed={"cluster": cluster}))
    config = kubeconfig(make_pki("fast-path"), "https://aks.example.io:443")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "data": {"kubeconfig": base64.b64encode(config).decode()},
    }
    runner = fn.FunctionRunner()
    assert not _registered(_run(runner, req))
    req.required_resources[CONNECTION_SECRET].items.add().resource.update(secret)
    assert _registered(_run(runner, req))
    del req.required_resources[CONNECTION_SECRET]
    assert not _registered(_run(runner, req))


def _resource_group(ready: bool, uid: str | None = "uid-rg", version: str | None = "1") -> dict:
    metadata = {"name": "rg", "uid": uid, "resourceVersion": version}
    return {
        "apiVersion": "azure.m.upbound.io/v1beta1",
        "kind": "ResourceGroup",
        "metadata": {key: value for key, value in metadata.items() if value is not None},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def _group_ready(runner: fn.FunctionRunner, group: dict) -> bool:
    rsp = _run(runner, request(xr(), observed={"resource-group": group}))
    return rsp.desired.resources["resource-group"].ready == fnv1.READY_TRUE


def test_a_composed_resource_seen_at_its_resource_version_is_not_read_again() -> None:
    # The API server's promise is one content per uid and resourceVersion; breaking it here
    # shows that the readiness came from what was seen before, not from the request.
    runner = fn.FunctionRunner()
    assert _group_ready(runner, _resource_group(ready=True))
    assert _group_ready(runner, _resource_group(ready=False))
    assert not _group_ready(fn.FunctionRunner(), _resource_group(ready=False))


@pytest.mark.parametrize(
    ("uid", "version"),
    [("uid-rg", "2"), ("uid-other", "1"), (None, "1"), ("uid-rg", None), ("", "1"), ("uid-rg", "")],
)
def test_a_composed_resource_written_since_or_without_a_version_is_read_again(
    uid: str | None, version: str | None
) -> None:
    runner = fn.FunctionRunner()
    assert _group_ready(runner, _resource_group(ready=True))
    assert not _group_ready(runner, _resource_group(ready=False, uid=uid, version=version))


def test_new_connection_details_of_a_composed_resource_seen_before_are_read() -> None:
    # Connection details come from the resource's connection Secret, which its
    # resourceVersion does not follow.
    ready = {"conditions": [{"type": "Ready", "status": "True"}], "atProvider": {"fqdn": "aks"}}
    cluster = {
        "apiVersion": "containerservice.azure.m.upbound.io/v1beta1",
        "metadata": {"uid": "uid-cluster", "resourceVersion": "1"},
        "status": ready,
    }
    runner = fn.FunctionRunner()
    req = request(xr(), observed={"cluster": cluster})
    assert not _registered(_run(runner, req))
    config = kubeconfig(make_pki("fast-path"), "https://aks.example.io:443")
    req.observed.resources["cluster"].connection_details["kubeconfig"] = config
    assert _registered(_run(runner, req))
    assert _run(runner, req) == _run(fn.FunctionRunner(), req)


def test_an_object_seen_by_one_clouds_step_is_read_again_for_another() -> None:
    # What is read of "cluster" follows input.cloud: AKS reads status.atProvider.fqdn,
    # GKE its endpoint.
    status = {
        "conditions": [{"type": "Ready", "status": "True"}],
        "atProvider": {"fqdn": "aks.example.io", "endpoint": "34.1.2.3"},
    }
    cluster = {"metadata": {"uid": "uid-cluster", "resourceVersion": "1"}, "status": status}
    runner = fn.FunctionRunner()
    _run(runner, request(xr(), observed={"cluster": cluster}))
    gke = request(xr(), GKE_INPUT, observed={"cluster": cluster})
    assert _run(runner, gke) == _run(fn.FunctionRunner(), gke)


def test_remembered_answers_to_honestly_tagged_requests_are_the_answers() -> None:
    """Requests in any order and repeated, with Crossplane's tags and the API server's
    uids and resourceVersions, and each again under the same tag without its required
    resources (as before Crossplane has fetched them): what a long-lived runner answers
    from its tag index, sightings or memo is what a fresh runner composes."""
    runner = fn.FunctionRunner()

    @settings(FUZZ, max_examples=150)
    @given(batch=st.lists(cases(), min_size=1, max_size=3), order=st.lists(st.integers(0, 5)))
    def same(batch: list, order: list[int]) -> None:
        requests = []
        # Each case also as a cluster whose credentials come from the required Secret.
        for case in [*batch, *(dataclasses.replace(c, connection_details={}) for c in batch)]:
            req = tagged(versioned(case.request()))
            bare = fnv1.RunFunctionRequest()
            bare.CopyFrom(req)
            bare.ClearField("required_resources")
            requests += [req, bare]
        for index in [*range(len(requests)), *order]:
            req = requests[index % len(requests)]
            assert _run(runner, req) == _run(fn.FunctionRunner(), req)

    same()
