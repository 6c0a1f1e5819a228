"""The seed's workflow, live: a claim becomes apps on a new cluster, and stays right.

Every assertion is on what Argo CD and the new cluster show. No kubelet runs, so
nothing becomes Healthy: the scenarios assert sync status and objects on the cluster.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from typing import TYPE_CHECKING

import pytest

from tests.e2e.apps import GUESTBOOK_CONFIG
from tests.e2e.argocd import APP_PROJECT, NAMESPACE
from tests.e2e.kube import ApiError, Kube
from tests.e2e.pipeline import LABELS, Pipeline, config, example
from tests.e2e.process import wait_until

if TYPE_CHECKING:
    from tests.e2e.stack import Stack

STEADY = 10  # seconds a "nothing changes" assertion watches for


def test_claim_becomes_apps_on_a_new_aks_cluster(stack: Stack) -> None:
    """(a) The seed's flow: AKSClusterClaim -> Ready -> Secret -> Applications -> objects."""
    run = Pipeline(
        stack, example("aks-legacy-claim", "claim.yaml", "payments-prod"), "legacy-claim"
    )
    run.through_to_apps()
    secret = run.registered()
    assert secret["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "cluster"
    assert secret["metadata"]["labels"][f"{LABELS}/distribution"] == "aks"
    assert config(secret)["tlsClientConfig"]["certData"]
    # The claim opts in to the gateway and monitoring: Argo CD's own generator decides.
    wait_until(lambda: len(run.applications()) == 3, "three Applications for the cluster")
    assert sorted(a["spec"]["source"]["path"] for a in run.applications()) == [
        "envoy-gateway",
        "guestbook",
        "node-exporter",
    ]
    for app in run.applications():
        run.synced(app)
    run.on_cluster("v1", "ConfigMap", "envoy-gateway-stand-in", "envoy-gateway-system")
    assert run.condition()["status"] == "True"


def test_namespaced_xr_registers_through_a_provider_kubernetes_object(stack: Stack) -> None:
    """(b) A namespaced XR outside Argo CD's namespace: the Secret arrives as an Object."""
    run = Pipeline(stack, example("aks-namespaced", "xr.yaml", "team-a-dev"), "namespaced-object")
    run.through_to_apps()
    objects = stack.hub.kube.list("kubernetes.m.crossplane.io/v1alpha1", "Object", "team-a")
    assert len(objects) == 1
    obj = objects[0]
    assert obj["spec"]["forProvider"]["manifest"]["kind"] == "Secret"
    assert obj["spec"]["forProvider"]["manifest"]["metadata"]["namespace"] == NAMESPACE
    assert {c["type"]: c["status"] for c in obj["status"]["conditions"]}["Ready"] == "True"
    secret = run.registered()
    assert secret["metadata"]["name"] == obj["spec"]["forProvider"]["manifest"]["metadata"]["name"]
    # --sanitize-secrets: the provider never copies the Secret's data into the Object's status.
    assert secret["data"]["config"] not in json.dumps(obj["status"])


def test_gke_cluster_registers_from_status_alone(stack: Stack) -> None:
    """(c) GKE: no connection Secret; Argo CD signs in through argocd-k8s-auth gcp."""
    run = Pipeline(stack, example("gke-cluster", "xr.yaml", "shared-tools"), "gke-status")
    run.through_to_apps()
    cfg = config(run.registered())
    assert cfg["execProviderConfig"]["command"] == "argocd-k8s-auth"
    assert cfg["execProviderConfig"]["args"] == ["gcp"]
    assert "certData" not in cfg.get("tlsClientConfig", {})
    # Opted in to the gateway only.
    wait_until(lambda: len(run.applications()) == 2, "two Applications for the cluster")
    assert sorted(a["spec"]["source"]["path"] for a in run.applications()) == [
        "envoy-gateway",
        "guestbook",
    ]


def test_credential_rotation_reaches_argocd_and_new_commits_still_deploy(stack: Stack) -> None:
    """(d) The cloud issues a new client certificate and revokes the old one."""
    run = Pipeline(stack, example("aks-legacy-claim", "claim.yaml", "rotating"), "rotation")
    app = run.through_to_apps()
    old = run.identity
    new = stack.cloud.issue_admin(run.cluster)
    stack.cloud.publish(stack.cloud.cluster_resource(run.xr()), new)
    stack.cloud.revoke(run.cluster, old)
    run.milestone("credentials rotated, old certificate revoked")
    with pytest.raises(ApiError) as refused:
        Kube(old.credentials).get("v1", "Namespace", "default")
    assert refused.value.status == 403

    new_cert = base64.b64encode(new.credentials.cert).decode()
    wait_until(
        lambda: config(run.registered())["tlsClientConfig"]["certData"] == new_cert,
        "the registration to carry the new certificate",
    )
    run.milestone("registration follows the rotation")
    revision = stack.apps.guestbook_release("2")
    refresh(stack, app)
    run.synced(app, revision)
    wait_until(
        lambda: (
            run.cluster.kube.get("v1", "ConfigMap", GUESTBOOK_CONFIG, "guestbook")["data"][
                "release"
            ]
            == "2"
        ),
        "guestbook release 2 on the cluster",
    )
    run.milestone("new commit deployed with the new certificate")


def test_credential_gap_keeps_registration_apps_and_objects(stack: Stack) -> None:
    """(e) The connection Secret disappears: nothing is deleted anywhere."""
    run = Pipeline(stack, example("aks-legacy-claim", "claim.yaml", "gap"), "credential-gap")
    app = run.through_to_apps()
    before = run.registered()
    stack.cloud.withdraw(stack.cloud.cluster_resource(run.xr()))
    run.milestone("connection Secret deleted")
    wait_until(
        lambda: run.condition().get("reason") == "WaitingForCredentials",
        "the XR to say it is waiting for credentials",
    )
    assert "connection Secret" in run.condition()["message"]
    end = time.monotonic() + STEADY
    while time.monotonic() < end:
        assert run.registered()["data"] == before["data"]
        assert stack.hub.kube.get(APP_PROJECT, "Application", app["metadata"]["name"], NAMESPACE)
        assert run.cluster.kube.get("apps/v1", "Deployment", "guestbook-ui", "guestbook")
        time.sleep(1)
    run.milestone(f"registration, Application and objects kept for {STEADY}s")


def test_register_false_removes_the_registration(stack: Stack) -> None:
    """(f) `spec.argocd.register: false` takes the cluster out of Argo CD."""
    run = Pipeline(stack, example("aks-legacy-claim", "claim.yaml", "leaving"), "register-false")
    run.through_to_apps()
    manifest = copy.deepcopy(run.manifest)
    manifest["spec"]["argocd"]["register"] = False
    stack.hub.kube.apply(manifest)
    run.milestone("register: false applied")
    wait_until(lambda: not run.secrets(), "the Argo CD cluster Secret to go")
    wait_until(lambda: not run.applications(), "the cluster's Applications to go")
    run.milestone("Secret and Applications removed")
    assert run.condition()["status"] == "False"
    # The cluster itself stays; today its apps' objects stay too (issue 14 drains them first).
    assert stack.cloud.cluster_resource(run.xr())
    assert run.cluster.kube.get("apps/v1", "Deployment", "guestbook-ui", "guestbook")


def test_deleting_the_claim_leaves_nothing_in_argocd(stack: Stack) -> None:
    """(g) Deleting the claim: no Secret, no Application, none stuck on a finalizer."""
    run = Pipeline(stack, example("aks-legacy-claim", "claim.yaml", "deleted"), "delete-claim")
    run.through_to_apps()
    xr = run.xr()
    names = [a["metadata"]["name"] for a in run.applications()]
    run.delete()
    wait_until(lambda: not run.secrets(), "the Argo CD cluster Secret to go")
    wait_until(
        lambda: (
            not any(stack.hub.kube.get(APP_PROJECT, "Application", n, NAMESPACE) for n in names)
        ),
        "every Application of the cluster to be deleted (none stuck on its finalizer)",
    )
    wait_until(
        lambda: not stack.hub.kube.get(xr["apiVersion"], xr["kind"], xr["metadata"]["name"]),
        "the XR to be deleted",
    )
    run.milestone("claim, XR, registration and Applications gone")


def refresh(stack: Stack, app: dict) -> None:
    """What a Git webhook does: ask Argo CD to look at the repository now."""
    stack.hub.kube.patch(
        app, {"metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}}
    )
