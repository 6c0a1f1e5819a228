"""RunFunctionRequest as read off the wire: lists left encoded, and what is not read.

The SDK parses a whole request before the function sees it, about 100 us for a 55 kB
live-shaped request, most of it lists compose never reads: managedFields above all,
whose entries nest every field an apply touched. These messages share
RunFunctionRequest's field numbers and google.protobuf.Value's, but declare a list as
bytes, so parsing an object stops at its lists (about 23 us for the same request);
structs.select parses a list only where compose reads it. The desired state
and context are copied into the response as they came; the fields the function does not
read (credentials, required schemas) are skipped.
"""

from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf import struct_pb2 as structpb

_FILE = "function_gitops_cluster/wire.proto"
_PACKAGE = "function_gitops_cluster.wire"

_Field = descriptor_pb2.FieldDescriptorProto
_BYTES, _MESSAGE, _STRING = _Field.TYPE_BYTES, _Field.TYPE_MESSAGE, _Field.TYPE_STRING
_DOUBLE, _BOOL, _ENUM = _Field.TYPE_DOUBLE, _Field.TYPE_BOOL, _Field.TYPE_ENUM

# Each message: its fields as (name, number, type, message or enum type, kind), where kind
# is "map" (of string to the type), "repeated", "oneof" (in Value's kind) or "" (single).
_MESSAGES = {
    # google.protobuf.Struct.
    "Object": [("fields", 1, _MESSAGE, "Value", "map")],
    # google.protobuf.Value with every kind, as in struct.proto (so the last kind on the
    # wire wins as it does there), a list still encoded.
    "Value": [
        ("null_value", 1, _ENUM, ".google.protobuf.NullValue", "oneof"),
        ("number_value", 2, _DOUBLE, "", "oneof"),
        ("string_value", 3, _STRING, "", "oneof"),
        ("bool_value", 4, _BOOL, "", "oneof"),
        ("struct_value", 5, _MESSAGE, "Object", "oneof"),
        ("list_value", 6, _BYTES, "", "oneof"),
    ],
    "Resource": [
        ("resource", 1, _MESSAGE, "Object", ""),
        ("connection_details", 2, _BYTES, "", "map"),
    ],
    "Resources": [("items", 1, _MESSAGE, "Resource", "repeated")],
    "State": [
        ("composite", 1, _MESSAGE, "Resource", ""),
        ("resources", 2, _MESSAGE, "Resource", "map"),
    ],
    "Request": [
        ("meta", 1, _MESSAGE, ".apiextensions.fn.proto.v1.RequestMeta", ""),
        ("observed", 2, _MESSAGE, "State", ""),
        # Copied into the response as they are.
        ("desired", 3, _BYTES, "", ""),
        ("input", 4, _MESSAGE, ".google.protobuf.Struct", ""),
        ("context", 5, _BYTES, "", ""),
        ("required_resources", 8, _MESSAGE, "Resources", "map"),
    ],
}


def _field(
    message: descriptor_pb2.DescriptorProto, name: str, number: int, kind: int, type_name: str
) -> _Field:
    field = message.field.add(name=name, number=number, type=kind, label=_Field.LABEL_OPTIONAL)
    if type_name:
        field.type_name = type_name if type_name.startswith(".") else f".{_PACKAGE}.{type_name}"
    return field


def _file() -> descriptor_pb2.FileDescriptorProto:
    """wire.proto, built here rather than generated: it is six short messages."""
    file = descriptor_pb2.FileDescriptorProto(
        name=_FILE,
        package=_PACKAGE,
        syntax="proto3",
        dependency=[structpb.DESCRIPTOR.name, fnv1.DESCRIPTOR.name],
    )
    for message_name, fields in _MESSAGES.items():
        message = file.message_type.add(name=message_name)
        for name, number, kind, type_name, shape in fields:
            if shape != "map":
                field = _field(message, name, number, kind, type_name)
            else:
                entry = message.nested_type.add(name=f"{name.title().replace('_', '')}Entry")
                entry.options.map_entry = True
                _field(entry, "key", 1, _STRING, "")
                _field(entry, "value", 2, kind, type_name)
                field = _field(message, name, number, _MESSAGE, f"{message_name}.{entry.name}")
            if shape in ("map", "repeated"):
                field.label = _Field.LABEL_REPEATED
            elif shape == "oneof":
                if not message.oneof_decl:
                    message.oneof_decl.add(name="kind")
                field.oneof_index = 0
    return file


_POOL = descriptor_pool.Default()
_POOL.Add(_file())
_CLASSES = message_factory.GetMessageClassesForFiles([_FILE], _POOL)
Request = _CLASSES[f"{_PACKAGE}.Request"]
Object = _CLASSES[f"{_PACKAGE}.Object"]
Value = _CLASSES[f"{_PACKAGE}.Value"]
Resource = _CLASSES[f"{_PACKAGE}.Resource"]
Resources = _CLASSES[f"{_PACKAGE}.Resources"]
State = _CLASSES[f"{_PACKAGE}.State"]


def view(req: fnv1.RunFunctionRequest) -> "Request":
    """A request already parsed (the v1beta1 path, callers in-process) as one off the wire."""
    return Request.FromString(req.SerializeToString())
