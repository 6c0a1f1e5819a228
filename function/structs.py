"""protobuf Struct <-> plain data, for the per-request path.

json_format does the same through descriptor lookups; these walk the Struct
directly and are about 1.7x faster, which is most of a call's cost.
"""

from typing import Any

from google.protobuf import struct_pb2 as structpb


def to_dict(struct: structpb.Struct) -> dict[str, Any]:
    """json_format.MessageToDict for Structs (numbers as float), 1.7x faster.

    It skips the descriptor lookups, and indexes the map instead of calling items(), which
    upb leaves to the pure-Python Mapping mixin.
    """
    fields = struct.fields
    return {key: _value(fields[key]) for key in fields}


def _value(value: structpb.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "struct_value":
        fields = value.struct_value.fields
        return {key: _value(fields[key]) for key in fields}
    if kind == "list_value":
        return [_value(item) for item in value.list_value.values]
    if kind == "number_value":
        return value.number_value
    if kind == "bool_value":
        return value.bool_value
    return None


def fill(struct: structpb.Struct, data: dict[str, Any]) -> None:
    """Struct.update without its generic dispatch: desired state is plain JSON data."""
    fields = struct.fields
    for key, value in data.items():
        _set(fields[key], value)


def _set(target: structpb.Value, value: Any) -> None:
    if isinstance(value, str):
        target.string_value = value
    elif isinstance(value, dict):
        target.struct_value.SetInParent()  # {} is a struct_value too, not an unset Value
        fill(target.struct_value, value)
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int | float):
        target.number_value = value
    elif isinstance(value, list | tuple):
        target.list_value.SetInParent()
        values = target.list_value.values
        for item in value:
            _set(values.add(), item)
    elif value is None:
        target.null_value = structpb.NULL_VALUE
    else:
        msg = f"cannot put a {type(value).__name__} into a protobuf Struct"
        raise TypeError(msg)
