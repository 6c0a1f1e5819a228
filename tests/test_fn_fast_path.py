"""The fast paths in fn.py change nothing but speed: same dicts, same Structs, same responses."""

import asyncio

from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import json_format
from google.protobuf import struct_pb2 as structpb
from hypothesis import given
from hypothesis import strategies as st

from function import fn, structs
from tests.builders import request, xr

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


@given(OBJECTS)
def test_to_dict_is_message_to_dict(data: dict) -> None:
    struct = resource.dict_to_struct(data)
    expected = json_format.MessageToDict(struct, preserving_proto_field_name=True)
    assert repr(structs.to_dict(struct)) == repr(expected)


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
