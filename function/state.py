"""Observed and desired state as plain data: what fn.py reads from and writes to protos."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from function.status import CompositeStatus


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
class SecretRequirement:
    """Ask Crossplane to fetch one Secret by name into the next request."""

    name: str
    namespace: str


@dataclass
class Desired:
    """Everything the function writes into a response."""

    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    ready: dict[str, bool] = field(default_factory=dict)
    status: CompositeStatus = field(default_factory=CompositeStatus)
    conditions: list[Condition] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    requirements: dict[str, SecretRequirement] = field(default_factory=dict)
    # Legacy XRs have claims; their users should see conditions and events too.
    to_claim: bool = False
