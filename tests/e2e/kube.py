"""A small Kubernetes API client: just what the harness and the scenarios use.

Plain HTTPS with the admin's client certificate, server-side apply, status patches,
and discovery for kind -> resource names, so scenarios name kinds as YAML does.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

FIELD_MANAGER = "e2e"


@dataclass(frozen=True)
class Credentials:
    """How to reach one API server: URL, CA, and a client certificate or a token."""

    server: str
    ca: bytes
    cert: bytes = b""
    key: bytes = b""
    token: str = ""

    def kubeconfig(self, name: str = "e2e") -> bytes:
        """A one-context kubeconfig with everything inline."""
        b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
        user: dict[str, str] = (
            {"token": self.token}
            if self.token
            else {"client-certificate-data": b64(self.cert), "client-key-data": b64(self.key)}
        )
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {"server": self.server, "certificate-authority-data": b64(self.ca)},
                }
            ],
            "users": [{"name": name, "user": user}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
        }
        return yaml.safe_dump(doc, sort_keys=False).encode()


class ApiError(Exception):
    """A non-2xx answer, with the API server's own message."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status


@dataclass
class Kube:
    """One API server, as its admin."""

    credentials: Credentials
    _ssl: ssl.SSLContext = field(init=False, repr=False)
    _resources: dict[tuple[str, str], tuple[str, bool]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        ctx = ssl.create_default_context(cadata=self.credentials.ca.decode())
        if self.credentials.cert:
            with tempfile.TemporaryDirectory() as tmp:
                cert, key = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
                cert.write_bytes(self.credentials.cert)
                key.write_bytes(self.credentials.key)
                ctx.load_cert_chain(cert, key)
        self._ssl = ctx

    # -- raw requests ------------------------------------------------------------------

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> Any:
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.credentials.server + path, data=data, method=method)  # noqa: S310
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        if self.credentials.token:
            req.add_header("Authorization", f"Bearer {self.credentials.token}")
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=30) as resp:  # noqa: S310
                raw = resp.read()
        except urllib.error.HTTPError as err:
            raise ApiError(err.code, err.read().decode(errors="replace")) from None
        return json.loads(raw) if raw else None

    # -- discovery ---------------------------------------------------------------------

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) of a kind, from discovery; looked up again for new CRDs."""
        key = (api_version, kind)
        if key not in self._resources:
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            for r in self.request("GET", base)["resources"]:
                if "/" not in r["name"]:
                    self._resources[api_version, r["kind"]] = (r["name"], r["namespaced"])
        if key not in self._resources:
            raise LookupError(f"the API server does not serve {kind} in {api_version}")
        return self._resources[key]

    def path(self, api_version: str, kind: str, name: str = "", namespace: str = "") -> str:
        plural, namespaced = self._resource(api_version, kind)
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if namespaced and namespace:
            base += f"/namespaces/{namespace}"
        return f"{base}/{plural}" + (f"/{name}" if name else "")

    # -- objects -----------------------------------------------------------------------

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict | None:
        """The object, or None when it does not exist."""
        try:
            return self.request("GET", self.path(api_version, kind, name, namespace))
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def list(
        self, api_version: str, kind: str, namespace: str = "", labels: str = ""
    ) -> list[dict]:
        query = f"?labelSelector={urllib.parse.quote(labels)}" if labels else ""
        return self.request("GET", self.path(api_version, kind, namespace=namespace) + query)[
            "items"
        ]

    def apply(self, obj: dict, *, manager: str = FIELD_MANAGER) -> dict:
        """Server-side apply, as `kubectl apply --server-side --force-conflicts`."""
        meta = obj["metadata"]
        path = self.path(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace", ""))
        query = f"?fieldManager={manager}&force=true"
        return self.request("PATCH", path + query, obj, "application/apply-patch+yaml")

    def apply_all(self, docs: list[dict]) -> None:
        for doc in docs:
            self.apply(doc)

    def apply_crds(self, docs: list[dict], timeout: float = 60) -> None:
        """Apply CRDs and wait until the API server serves each of them."""
        crds = [d for d in docs if d.get("kind") == "CustomResourceDefinition"]
        self.apply_all(crds)
        deadline = time.monotonic() + timeout
        for crd in crds:
            while (
                condition(
                    self.get(crd["apiVersion"], crd["kind"], crd["metadata"]["name"]), "Established"
                ).get("status")
                != "True"
            ):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"CRD {crd['metadata']['name']} not established")
                time.sleep(0.1)

    def patch(self, obj: dict, patch: dict, *, subresource: str = "") -> dict:
        """A JSON merge patch of `obj` (or of its `status` subresource)."""
        meta = obj["metadata"]
        path = self.path(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace", ""))
        path += f"/{subresource}" if subresource else ""
        return self.request("PATCH", path, patch, "application/merge-patch+json")

    def delete(self, api_version: str, kind: str, name: str, namespace: str = "") -> None:
        """Delete in the background; absent is fine."""
        try:
            self.request("DELETE", self.path(api_version, kind, name, namespace))
        except ApiError as err:
            if err.status != 404:
                raise

    def ready(self) -> bool:
        """`/readyz` answers ok."""
        req = urllib.request.Request(self.credentials.server + "/readyz")  # noqa: S310
        if self.credentials.token:
            req.add_header("Authorization", f"Bearer {self.credentials.token}")
        with urllib.request.urlopen(req, context=self._ssl, timeout=5) as resp:  # noqa: S310
            return resp.read() == b"ok"


def load_yaml(path: Path) -> list[dict]:
    """The documents of a YAML file (or every YAML file of a folder)."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return [d for f in files for d in yaml.safe_load_all(f.read_text()) if d]


def timestamp() -> str:
    """Now, as Kubernetes writes a condition's lastTransitionTime."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(obj: dict | None, kind: str) -> dict:
    """One condition of an object's status, or {} when absent."""
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c
    return {}
