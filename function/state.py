"""Observed and desired state as plain data: what fn.py reads from and writes to protos."""

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from function.status import CompositeStatus

Path = tuple[str, ...]
# A Reads.tree leaf: a list of conditions, of which only whether they say Ready is read.
TYPE_AND_STATUS = "type-and-status"
CONDITIONS = ("status", "conditions")


@dataclass(frozen=True)
class Reads:
    """Which fields of an observed object compose reads; selection.py looks at nothing else.

    A live object carries managedFields, a provider status mirroring its whole spec and
    more, none of which compose needs: reading only these paths keeps a call's cost
    independent of the object's size, and the answer memo, keyed by them, unaffected by
    writes compose never looks at. A path's value is read whole; conditions are the
    exception, reduced to what readiness needs (status.is_ready).
    """

    paths: tuple[Path, ...] = ()
    # Also every top-level field but these (for an object compose copies back out).
    all_but: tuple[str, ...] | None = None
    conditions: bool = False

    @functools.cached_property
    def tree(self) -> dict[str, Any]:
        """The paths as nested dicts, so shared prefixes are walked once; None reads whole."""
        tree: dict[str, Any] = {}
        leaves = [(path, None) for path in self.paths]
        if self.conditions:
            leaves.append((CONDITIONS, TYPE_AND_STATUS))
        for path, leaf in leaves:
            node: dict[str, Any] | None = tree
            for key in path[:-1]:
                node = node.setdefault(key, {})
                if node is None:  # an enclosing field is copied whole already
                    break
            else:
                node[path[-1]] = None if node.get(path[-1], leaf) is None else leaf
        return tree

    @functools.cached_property
    def skip(self) -> frozenset[str]:
        """The top-level fields an all_but read leaves out: those named, and the tree's."""
        return frozenset((*(self.all_but or ()), *self.tree))

    def __or__(self, other: "Reads") -> "Reads":
        return Reads(
            tuple(dict.fromkeys(self.paths + other.paths)),
            self.all_but if other.all_but is None else other.all_but,
            self.conditions or other.conditions,
        )


@dataclass(frozen=True)
class ObservedResource:
    """A composed resource as Crossplane last saw it."""

    manifest: dict[str, Any]
    connection_details: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Observed:
    """Everything the function reads from a request."""

    composite: dict[str, Any]
    input: dict[str, Any] | None
    resources: Mapping[str, ObservedResource] = field(default_factory=dict)
    # Resources Crossplane fetched for our requirements, by requirement name.
    # A name is absent until Crossplane has resolved that requirement.
    required: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)


class Severity(StrEnum):
    """Result severities; Fatal results are raised as InvalidSpec instead."""

    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True)
class Result:
    """An event on the XR (and its claim)."""

    severity: Severity
    message: str
    reason: str | None = None


@dataclass(frozen=True)
class Condition:
    """A custom status condition on the XR (and its claim)."""

    type: str
    status: bool
    reason: str
    message: str = ""


@dataclass(frozen=True)
class Requirement:
    """Ask Crossplane to fetch objects into the next request: one by name, or by labels."""

    namespace: str
    name: str | None = None
    labels: Mapping[str, str] | None = None
    api_version: str = "v1"
    kind: str = "Secret"


@dataclass
class Desired:
    """Everything the function writes into a response."""

    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    ready: dict[str, bool] = field(default_factory=dict)
    status: CompositeStatus = field(default_factory=CompositeStatus)
    conditions: list[Condition] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    requirements: dict[str, Requirement] = field(default_factory=dict)
    # Legacy XRs have claims; their users should see conditions and events too.
    to_claim: bool = False
