"""What compose reads of a request, found in its protobuf, and the keys answers are
remembered by.

Crossplane sends every observed object whole, managedFields and provider status included;
finding only what is read keeps a call's cost independent of that, and keys the answer
memo by what its answer depends on.
"""

import hashlib
import marshal
import re
from collections.abc import Mapping
from dataclasses import dataclass

from google.protobuf import struct_pb2 as structpb

from function import wire
from function.compose import COMPOSITE_READS, observed_reads, required_reads
from function.memo import BoundedMemo
from function.state import Observed, ObservedResource, Reads
from function.structs import Fields, Item, from_selected, select, to_dict

# Crossplane tags a request with the hex sha256 of its deterministic protobuf encoding
# (composite.Tag, computed once it has added the resources it already knows the step
# requires): equal tags mean equal requests. While resolving requirements it calls again
# with the same tag and new required resources, so those are keyed alongside.
CROSSPLANE_TAG = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Sighting:
    """What compose reads of one observed composed resource at one resourceVersion, with
    the connection details it came with, and a digest of both."""

    version: str
    found: list[Item]
    details: dict[str, bytes]
    digest: bytes
    # Bytes held, for the memo's bound, with 50 for each value's own share.
    held: int

    @staticmethod
    def of(version: str, found: list[Item], details: dict[str, bytes]) -> "Sighting":
        """marshal (version 0: no references, no interning) frames every value with its
        length, so different sightings never hash the same bytes; connection details,
        which can be near 1 MiB, are fed as they are, framed by their lengths."""
        shape = (found, [(key, len(value)) for key, value in details.items()])
        hasher = hashlib.sha256(marshal.dumps(shape, 0))
        for value in details.values():
            hasher.update(value)
        held = sum(50 + len(value) for value in details.values())
        held += 200 + sum(50 + _item_bytes(item) for item in found)
        return Sighting(version, found, details, hasher.digest(), held)

    def at(self, version: str) -> "Sighting":
        """The same reading at another resourceVersion: nothing hashed or counted again."""
        return Sighting(version, self.found, self.details, self.digest, self.held)

    def size(self) -> int:
        """Bytes held, for the memo's bound."""
        return self.held


def _item_bytes(item: Item) -> int:
    if isinstance(item, bytes):
        return len(item)
    if isinstance(item, tuple):
        return sum(50 + len(key) + len(value) for key, value in item)
    return 0


# Sightings by (uid, composition resource name, input.cloud): what is read of an object
# follows its name and the step's cloud.
Sightings = BoundedMemo[tuple[str, str, str], Sighting]


@dataclass(frozen=True)
class Selected:
    """What compose reads of one request (compose.*_READS), found but not yet converted."""

    input: structpb.Struct | None
    composite: list[Item]
    # By composition resource name: what is read of it, and what was.
    resources: dict[str, tuple[Reads, Sighting]]
    required: dict[str, list[list[Item]]]


def select_request(
    req: wire.Request,
    required: dict[str, list[list[Item]]] | None = None,
    seen: Sightings | None = None,
) -> Selected:
    """Find what compose reads in the request, in a stable order, converting nothing.

    required: select_required of the request's required resources, when already found.
    seen: composed resources sighted before, found again by uid and resourceVersion.
    """
    resources = req.observed.resources
    fn_input = req.input if req.HasField("input") else None
    cloud = string_field(fn_input.fields, "cloud") if fn_input is not None else ""
    selected = {}
    for name in sorted(resources):
        reads = observed_reads(name, cloud)
        selected[name] = (reads, _sight(resources[name], reads, (name, cloud), seen))
    return Selected(
        input=fn_input,
        composite=select(req.observed.composite.resource.fields, COMPOSITE_READS),
        resources=selected,
        required=select_required(req.required_resources) if required is None else required,
    )


def _sight(
    observed: wire.Resource, reads: Reads, read_as: tuple[str, str], seen: Sightings | None
) -> Sighting:
    """What compose reads of a composed resource, found again without reading it when
    this uid was seen at this resourceVersion.

    The API server gives every write a new resourceVersion, and Crossplane sends composed
    resources as it reads them: one uid at one resourceVersion is one content. (Not so the
    XR, which Crossplane changes in memory before it calls; it is always read.) A
    provider's status update rewrites one object, so a live request new since the last
    is mostly objects seen before. Connection details come from another object (a
    Secret), so they are compared, not trusted.
    """
    details = _details(observed.connection_details)
    fields = observed.resource.fields
    uid, version = _identity(fields) if seen is not None else ("", "")
    if seen is None or not (uid and version):
        return Sighting.of(version, select(fields, reads), details)
    key = (uid, *read_as)
    last = seen.get(key)
    if last is None:
        sighting = Sighting.of(version, select(fields, reads), details)
    elif last.version == version and last.details == details:
        return last
    else:
        found = last.found if last.version == version else select(fields, reads)
        if found == last.found and details == last.details:
            # Written, but not where compose reads (a status timestamp, managedFields).
            sighting = last.at(version)
        else:
            sighting = Sighting.of(version, found, details)
    seen.put(key, sighting)
    return sighting


def _identity(fields: Fields) -> tuple[str, str]:
    """metadata.uid and metadata.resourceVersion, "" where absent (crossplane render,
    hand-built requests): such objects are read on every call."""
    metadata = fields.get("metadata")  # never index: indexing a map inserts the key
    if metadata is None:
        return "", ""
    metadata_fields = metadata.struct_value.fields
    uid, version = metadata_fields.get("uid"), metadata_fields.get("resourceVersion")
    if uid is None or version is None:
        return "", ""
    return uid.string_value, version.string_value


def select_required(required: Mapping[str, wire.Resources]) -> dict[str, list[list[Item]]]:
    """What compose reads of the resources Crossplane fetched for our requirements."""
    return {
        name: [select(item.resource.fields, required_reads(name)) for item in required[name].items]
        for name in sorted(required)
    }


def tag_key(tag: str, required: dict[str, list[list[Item]]]) -> bytes | None:
    """A Crossplane tag with a digest of what compose reads of the required resources
    (select_required); None for a tag that is not Crossplane's sha256 (tests, other
    callers): those requests are known by their content alone."""
    if not CROSSPLANE_TAG.fullmatch(tag):
        return None
    if not required:
        return tag.encode()
    return tag.encode() + hashlib.sha256(marshal.dumps(list(required.items()), 0)).digest()


def content_key(selected: Selected) -> bytes:
    """A digest of what compose reads, which its output is a pure function of: framed by
    marshal as in Sighting.of; select serializes deterministically and names are sorted,
    as Crossplane does not order map entries."""
    shape = (
        selected.input.SerializeToString(deterministic=True) if selected.input else None,
        selected.composite,
        [(name, sighting.digest) for name, (_, sighting) in selected.resources.items()],
        list(selected.required.items()),
    )
    return hashlib.sha256(marshal.dumps(shape, 0)).digest()


def to_observed(selected: Selected) -> Observed:
    """What select_request found, as plain data for compose."""
    return Observed(
        composite=from_selected(selected.composite, COMPOSITE_READS),
        input=to_dict(selected.input) if selected.input is not None else None,
        resources={
            name: ObservedResource(
                manifest=from_selected(sighting.found, reads),
                connection_details=sighting.details,
            )
            for name, (reads, sighting) in selected.resources.items()
        },
        required={
            name: [from_selected(found, required_reads(name)) for found in items]
            for name, items in selected.required.items()
        },
    )


def string_field(fields: Mapping[str, structpb.Value], key: str) -> str:
    """A string in a Struct's fields, "" when it is absent or not a string."""
    value = fields.get(key)  # never index: indexing a map inserts the key
    return value.string_value if value is not None else ""


def _details(details: Mapping[str, bytes]) -> dict[str, bytes]:
    """Connection details in key order, copied out of the protobuf once.

    Indexing, not items(): upb leaves a map's items() to the slow Mapping mixin.
    """
    return {key: details[key] for key in sorted(details)} if details else {}
