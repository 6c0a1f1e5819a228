"""Requests read off the wire (function/wire.py) are read as the SDK's parse reads them.

The function serves RunFunction with its own view of RunFunctionRequest, which leaves
lists encoded; these tests hold that view to the SDK's messages, to Crossplane's
encoder (which writes map entries in random order), and to the response the SDK builds.
"""

import struct
from typing import Any

import grpc
import pytest
from crossplane.function import resource, response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1beta1 import run_function_pb2 as fnv1beta1
from crossplane.function.proto.v1beta1 import run_function_pb2_grpc as grpcv1beta1
from google.protobuf import descriptor
from google.protobuf import struct_pb2 as structpb

from benchmarks import requests as live_requests
from function import fn, selection, wire
from tests.builders import request, xr
from tests.conftest import FunctionServer
from tests.grpc_client import run_function

_LENGTH_DELIMITED = {
    descriptor.FieldDescriptor.TYPE_BYTES,
    descriptor.FieldDescriptor.TYPE_STRING,
    descriptor.FieldDescriptor.TYPE_MESSAGE,
}


@pytest.mark.parametrize(
    ("view", "sdk"),
    [
        (wire.Request, fnv1.RunFunctionRequest),
        (wire.State, fnv1.State),
        (wire.Resource, fnv1.Resource),
        (wire.Resources, fnv1.Resources),
        (wire.Object, structpb.Struct),
        (wire.Value, structpb.Value),
    ],
    ids=lambda message: message.DESCRIPTOR.full_name,
)
def test_every_field_is_the_sdks_field_on_the_wire(view: Any, sdk: Any) -> None:
    for field in view.DESCRIPTOR.fields:
        theirs = sdk.DESCRIPTOR.fields_by_name[field.name]
        assert field.number == theirs.number, field.name
        assert field.is_repeated == theirs.is_repeated, field.name
        assert _oneof(field) == _oneof(theirs), field.name
        _assert_same_encoding(field, theirs)
        if field.message_type and field.message_type.GetOptions().map_entry:
            for part in ("key", "value"):
                ours_part = field.message_type.fields_by_name[part]
                _assert_same_encoding(ours_part, theirs.message_type.fields_by_name[part])


def _assert_same_encoding(
    field: descriptor.FieldDescriptor, theirs: descriptor.FieldDescriptor
) -> None:
    """The same type, or both length-delimited: a message read as bytes, or the reverse."""
    if field.type != theirs.type:
        assert {field.type, theirs.type} <= _LENGTH_DELIMITED, field.full_name


def _oneof(field: descriptor.FieldDescriptor) -> str | None:
    """The field's oneof; not proto3's `optional`, which only marks presence on the wire."""
    oneof = field.containing_oneof
    return None if oneof is None or oneof.name == f"_{field.name}" else oneof.name


def _encode_struct(fields: Any, *, reverse: bool) -> bytes:
    """A Struct with its map entries in key order or its reverse, at every level and inside
    lists too: Go's encoder writes them in either order, or any other."""
    out = b""
    for key in sorted(fields, reverse=reverse):
        value = _encode_value(fields[key], reverse=reverse)
        out += _length(1, _length(1, key.encode()) + _length(2, value))
    return out


def _encode_value(value: structpb.Value, *, reverse: bool) -> bytes:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return _length(5, _encode_struct(value.struct_value.fields, reverse=reverse))
    if kind == "list_value":
        items = (_length(1, _encode_value(v, reverse=reverse)) for v in value.list_value.values)
        return _length(6, b"".join(items))
    return value.SerializeToString()


def _length(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(n: int) -> bytes:
    out = b""
    while n >= 0x80:
        out += struct.pack("B", n & 0x7F | 0x80)
        n >>= 7
    return out + struct.pack("B", n)


def _encoded(req: fnv1.RunFunctionRequest, *, reverse: bool) -> wire.Request:
    """req as Crossplane might encode it, each object's map entries in one order."""
    view = wire.view(req)
    objects = [(req.observed.composite, view.observed.composite)] + [
        (req.observed.resources[name], view.observed.resources[name])
        for name in req.observed.resources
    ]
    for ours, theirs in objects:
        theirs.resource.ParseFromString(_encode_struct(ours.resource.fields, reverse=reverse))
    return view


def _items(view: wire.Request) -> bytes:
    spec = view.observed.composite.resource.fields["spec"].struct_value.fields
    return spec["extra"].struct_value.fields["items"].list_value


def test_map_entries_in_any_order_are_the_same_reading() -> None:
    for workload in live_requests.workloads():
        req = fnv1.RunFunctionRequest()
        req.CopyFrom(workload.request)
        # A list of objects where compose reads whole (the XR's spec), and one in an
        # object it copies back (the registration's spec): both arrive as Go wrote them.
        extra = {"items": [{"name": "a", "value": "1", "labels": {"x": "1", "y": "2"}}]}
        req.observed.composite.resource["spec"]["extra"] = extra
        req.observed.resources["argocd-cluster"].resource["spec"]["extra"] = extra
        forward, backward = _encoded(req, reverse=False), _encoded(req, reverse=True)
        assert _items(forward) != _items(backward)
        ours = selection.select_request(forward)
        theirs = selection.select_request(backward)
        assert selection.content_key(theirs) == selection.content_key(ours), workload.name
        assert selection.to_observed(theirs) == selection.to_observed(ours), workload.name


def _earlier_steps(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionRequest:
    """req after earlier pipeline steps: desired resources and XR status, a context."""
    req.desired.composite.resource.update({"status": {"fromEarlier": {"list": [1, "two"]}}})
    req.desired.resources["bucket"].resource.update({"kind": "Bucket", "spec": {"n": [1]}})
    req.desired.resources["bucket"].ready = fnv1.READY_TRUE
    req.context.update({"apiextensions.crossplane.io/environment": {"region": ["eu"]}})
    return req


def test_the_answer_starts_from_the_sdks_response_to_the_request() -> None:
    req = _earlier_steps(request(xr()))
    assert fn.answer(wire.view(req), 60) == response.to(req)
    assert fn.answer(wire.view(fnv1.RunFunctionRequest()), 60) == response.to(
        fnv1.RunFunctionRequest()
    )


def test_served_over_grpc_earlier_steps_pass_through(function_server: FunctionServer) -> None:
    req = _earlier_steps(request(xr()))
    rsp = run_function(function_server.address, req)
    assert rsp.context == req.context
    assert rsp.desired.resources["bucket"] == req.desired.resources["bucket"]
    status = resource.struct_to_dict(rsp.desired.composite.resource)["status"]
    assert status["fromEarlier"] == {"list": [1, "two"]}
    assert {"resource-group", "cluster"} <= set(rsp.desired.resources)


def test_served_over_grpc_as_v1beta1_too(function_server: FunctionServer) -> None:
    req = fnv1beta1.RunFunctionRequest.FromString(request(xr()).SerializeToString())
    with grpc.insecure_channel(function_server.address) as channel:
        rsp = grpcv1beta1.FunctionRunnerServiceStub(channel).RunFunction(req, timeout=10)
    assert set(rsp.desired.resources) == {"resource-group", "cluster"}
