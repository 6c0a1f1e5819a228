"""One cluster's way through the pipeline, milestone by milestone, as Argo CD sees it.

Each step waits for what a platform engineer would look for (the claim's XR, the
cluster Ready, the Argo CD cluster Secret, the generated Application, `Synced`, the
app's objects on the new cluster) and logs it as it happens, with the time since
the claim was applied. Nothing here reads the function's output directly.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.e2e.argocd import APP_PROJECT, NAMESPACE
from tests.e2e.components import ROOT
from tests.e2e.kube import condition, load_yaml
from tests.e2e.process import wait_until

if TYPE_CHECKING:
    from tests.e2e.cloud import Identity
    from tests.e2e.kubernetes import KubeCluster
    from tests.e2e.stack import Stack

log = logging.getLogger("e2e")
LABELS = "gitopscluster.fn.crossplane.io"
REGISTERED = "registered in Argo CD"


@dataclass
class Pipeline:
    """The live run of one composite resource (or claim) and the cluster it gets."""

    stack: Stack
    manifest: dict
    scenario: str
    cluster: KubeCluster | None = None
    identity: Identity | None = None
    started: float = field(default_factory=time.monotonic)
    marks: dict[str, float] = field(default_factory=dict)
    xr_name: str = ""  # known once the XR exists; it outlives a deleted claim here

    def milestone(self, what: str) -> None:
        self.marks[what] = time.monotonic() - self.started
        log.info("[%s] %s (+%.1fs)", self.scenario, what, self.marks[what])

    @property
    def hub(self):
        return self.stack.hub.kube

    # -- the steps ---------------------------------------------------------------------

    def apply(self) -> Pipeline:
        namespace = self.manifest["metadata"].get("namespace")
        if namespace:
            self.hub.apply(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            )
        self.started = time.monotonic()
        self.hub.apply(self.manifest)
        self.milestone(f"{self.manifest['kind']} {self.manifest['metadata']['name']} applied")
        return self

    def xr(self) -> dict:
        """The composite resource: the manifest itself, or the XR its claim is bound to."""
        meta = self.manifest["metadata"]
        obj = self.hub.get(
            self.manifest["apiVersion"],
            self.manifest["kind"],
            meta["name"],
            meta.get("namespace", ""),
        )
        ref = (obj or {}).get("spec", {}).get("resourceRef")
        if ref:  # a claim
            obj = wait_until(
                lambda: self.hub.get(ref["apiVersion"], ref["kind"], ref["name"]), "the claim's XR"
            )
        if obj:
            self.xr_name = obj["metadata"]["name"]
        return obj

    def provision(self) -> Pipeline:
        """The cloud creates the cluster: a stand-in API server, reported Ready."""
        self.cluster = self.stack.standin(self.scenario)
        xr = wait_until(self.xr, "the XR")
        self.identity = self.stack.cloud.provision(xr, self.cluster)
        self.milestone("cluster Ready")
        return self

    def registered(self) -> dict:
        """The Argo CD cluster Secret, once it points at the new cluster."""
        try:
            secret = wait_until(
                lambda: next(
                    (s for s in self.secrets() if _decoded(s, "server") == self.cluster.url),
                    None,
                ),
                f"the Argo CD cluster Secret for {self.cluster.url}",
            )
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; the XR says {self.condition()}") from None
        if REGISTERED not in self.marks:
            self.milestone(REGISTERED)
        return secret

    def secrets(self) -> list[dict]:
        """Argo CD cluster Secrets the function labeled as this XR's."""
        selector = f"{LABELS}/composite-name={self.xr_name}"
        return self.hub.list(
            "v1", "Secret", NAMESPACE, labels=f"argocd.argoproj.io/secret-type=cluster,{selector}"
        )

    def applications(self) -> list[dict]:
        """Applications Argo CD's ApplicationSet controller generated for the new cluster."""
        return [
            a
            for a in self.hub.list(APP_PROJECT, "Application", NAMESPACE)
            if a["spec"]["destination"].get("server") == self.cluster.url
        ]

    def application(self, appset: str = "guestbook") -> dict:
        app = wait_until(
            lambda: next(
                (a for a in self.applications() if a["metadata"]["name"].startswith(appset)), None
            ),
            f"an Application from ApplicationSet {appset}",
        )
        self.milestone(f"Application {app['metadata']['name']} generated")
        return app

    def synced(self, app: dict, revision: str = "") -> dict:
        def done() -> dict | None:
            now = self.hub.get(APP_PROJECT, "Application", app["metadata"]["name"], NAMESPACE)
            sync = (now or {}).get("status", {}).get("sync", {})
            if sync.get("status") == "Synced" and (
                not revision or sync.get("revision") == revision
            ):
                return now
            return None

        synced = wait_until(done, f"{app['metadata']['name']} to be Synced")
        self.milestone(f"Application {app['metadata']['name']} Synced")
        return synced

    def on_cluster(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict:
        obj = wait_until(
            lambda: self.cluster.kube.get(api_version, kind, name, namespace),
            f"{kind} {namespace}/{name} on the new cluster",
        )
        self.milestone(f"{kind} {namespace}/{name} on the new cluster")
        return obj

    def condition(self, kind: str = "ArgoCDRegistered") -> dict:
        return condition(self.xr(), kind)

    def delete(self) -> None:
        meta = self.manifest["metadata"]
        self.hub.delete(
            self.manifest["apiVersion"],
            self.manifest["kind"],
            meta["name"],
            meta.get("namespace", ""),
        )
        self.milestone(f"{self.manifest['kind']} {meta['name']} deleted")

    def ready_to_synced(self) -> float:
        """Seconds from "cluster Ready" to the first Application Synced."""
        synced = min(v for k, v in self.marks.items() if k.endswith("Synced"))
        return synced - self.marks["cluster Ready"]

    def through_to_apps(self) -> dict:
        """The seed's flow from the claim to the guestbook objects on the new cluster."""
        self.apply().provision()
        self.registered()
        app = self.synced(self.application("guestbook"))
        self.on_cluster("apps/v1", "Deployment", "guestbook-ui", "guestbook")
        self.stack.timings[self.scenario] = self.ready_to_synced()
        return app


def example(folder: str, file: str, name: str) -> dict:
    """An example XR or claim as a team commits it, under a name of the scenario's own."""
    doc = copy.deepcopy(load_yaml(ROOT / "examples" / folder / file)[0])
    doc["metadata"] = {k: v for k, v in doc["metadata"].items() if k in ("namespace",)} | {
        "name": name
    }
    argocd = doc["spec"].setdefault("argocd", {})
    if "name" in argocd:
        argocd["name"] = name
    return doc


def _decoded(secret: dict, key: str) -> str:
    value = secret.get("data", {}).get(key)
    return base64.b64decode(value).decode() if value else ""


def config(secret: dict) -> dict[str, Any]:
    """The Argo CD cluster config a Secret carries."""
    return json.loads(_decoded(secret, "config"))
