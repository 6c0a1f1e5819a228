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
from tests.e2e.kube import ApiError, Kube, condition
from tests.e2e.pipeline import LABELS, Pipeline, config, example
from tests.e2e.process import wait_until

if TYPE_CHECKING:
    from tests.e2e.cloud import Identity
    from tests.e2e.stack import Stack

STEADY = 10  # seconds a "nothing changes" assertion watches for


# The examples as a platform team would apply them, each with its own new cluster.
EXAMPLES = {
    "payments-prod": ("aks-legacy-claim", "claim.yaml"),
    "team-a-dev": ("aks-namespaced", "xr.yaml"),
    "team-b-staging": ("gke-namespaced", "xr.yaml"),
    "shared-tools": ("gke-cluster", "xr.yaml"),
    "team-c-prod": ("eks-namespaced", "xr.yaml"),
    "data-platform": ("eks-cluster", "xr.yaml"),
}
# Exactly which clusters (Argo CD names) each baseline ApplicationSet reaches, from the
# examples' spec.argocd.labels: payments-prod {prod, gateway, monitoring}, team-a-dev
# {dev, gateway, monitoring}, team-b-staging {staging, monitoring}, shared-tools
# {tools, gateway}, team-c-prod {prod, monitoring}, data-platform {data, gateway}.
# Argo CD's own ApplicationSet controller decides.
REACH = {
    "envoy-gateway": {"payments-prod", "team-a-team-a-dev", "shared-tools", "data-platform"},
    "guestbook": {
        "payments-prod",
        "team-a-team-a-dev",
        "team-b-team-b-staging",
        "shared-tools",
        "team-c-team-c-prod",
        "data-platform",
    },
    "node-exporter": {
        "payments-prod",
        "team-a-team-a-dev",
        "team-b-team-b-staging",
        "team-c-team-c-prod",
    },
}


@pytest.fixture(scope="module")
def examples(stack: Stack) -> dict[str, Pipeline]:
    """Every example XR or claim, through to the guestbook objects on its new cluster."""
    runs = {}
    for name, (folder, file) in EXAMPLES.items():
        runs[name] = Pipeline(stack, example(folder, file, name), name)
        runs[name].through_to_apps()
    return runs


def test_each_applicationset_reaches_exactly_the_opted_in_clusters(
    stack: Stack, examples: dict[str, Pipeline]
) -> None:
    """Argo CD's generator, fed the Secrets the function composed, picks these clusters."""

    def reach() -> dict[str, set[str]]:
        found: dict[str, set[str]] = {name: set() for name in REACH}
        for app in stack.hub.kube.list(APP_PROJECT, "Application", NAMESPACE):
            appset = app["metadata"]["ownerReferences"][0]["name"]
            found[appset].add(app["spec"]["info"][0]["value"])
        return found

    wait_until(lambda: reach() == REACH, f"Applications for exactly {REACH}")
    servers = {run.cluster.url for run in examples.values()}
    for app in stack.hub.kube.list(APP_PROJECT, "Application", NAMESPACE):
        assert app["spec"]["destination"]["server"] in servers  # never in-cluster


def test_claim_becomes_apps_on_a_new_aks_cluster(examples: dict[str, Pipeline]) -> None:
    """(a) The seed's flow: AKSClusterClaim -> Ready -> Secret -> Applications -> objects."""
    run = examples["payments-prod"]
    secret = run.registered()
    assert secret["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "cluster"
    assert secret["metadata"]["labels"][f"{LABELS}/distribution"] == "aks"
    assert config(secret)["tlsClientConfig"]["certData"]
    for app in run.applications():
        run.synced(app)
    run.on_cluster("v1", "ConfigMap", "envoy-gateway-stand-in", "envoy-gateway-system")
    run.on_cluster("v1", "ConfigMap", "node-exporter-stand-in", "monitoring")
    assert run.condition()["status"] == "True"


def test_namespaced_xr_registers_through_a_provider_kubernetes_object(
    stack: Stack, examples: dict[str, Pipeline]
) -> None:
    """(b) A namespaced XR outside Argo CD's namespace: the Secret arrives as an Object,
    which holds no credential: provider-kubernetes patches config in from a Secret."""
    run = examples["team-a-dev"]
    secret = run.registered()
    obj = run_object(stack, run)
    manifest = obj["spec"]["forProvider"]["manifest"]
    assert manifest["kind"] == "Secret"
    assert manifest["metadata"]["namespace"] == NAMESPACE
    assert condition(obj, "Ready")["status"] == "True"
    assert secret["metadata"]["name"] == manifest["metadata"]["name"]
    # Argo CD's Secret has the real config, assembled by provider-kubernetes...
    assert config(secret)["tlsClientConfig"]["certData"] == b64(run.identity.credentials.cert)
    assert set(secret["data"]) == set(manifest["data"])
    # ...from the credentials Secret the function composed in the XR's namespace...
    (reference,) = obj["spec"]["references"]
    source = reference["patchesFrom"]
    assert (source["kind"], source["namespace"], reference["toFieldPath"]) == (
        "Secret",
        "team-a",
        "data.config",
    )
    credentials = stack.hub.kube.get("v1", "Secret", source["name"], "team-a")
    assert credentials["data"] == {"config": secret["data"]["config"]}
    # ...and no credential byte is anywhere in the Object: spec, status or metadata.
    # provider-kubernetes v1.2.1 writes the patched manifest into the Object's spec once,
    # on create (provider-kubernetes#223); Crossplane's next apply puts the placeholder back.
    seen = leaks(run_object(stack, run), run, secret)
    if seen:
        run.milestone(f"Object briefly carried {', '.join(seen)} (provider-kubernetes#223)")
    wait_until(
        lambda: not leaks(run_object(stack, run), run, secret),
        "the Object to carry no credential",
        timeout=30,
    )
    run.milestone("Object scanned: no credential in it")


@pytest.mark.parametrize("name", ["shared-tools", "team-b-staging"])
def test_gke_cluster_registers_from_status_alone(examples: dict[str, Pipeline], name: str) -> None:
    """(c) GKE: no connection Secret; Argo CD signs in through argocd-k8s-auth gcp."""
    cfg = config(examples[name].registered())
    assert cfg["execProviderConfig"]["command"] == "argocd-k8s-auth"
    assert cfg["execProviderConfig"]["args"] == ["gcp"]
    assert "certData" not in cfg.get("tlsClientConfig", {})


@pytest.mark.parametrize("name", ["data-platform", "team-c-prod"])
def test_eks_cluster_registers_with_argocds_own_role_and_grants_it_access(
    stack: Stack, examples: dict[str, Pipeline], name: str
) -> None:
    """(c') EKS: no Secret, no token; Argo CD runs argocd-k8s-auth aws for the cluster's
    name and Argo CD's role, and the stand-in EKS lets that role in only because the
    function composed an access entry and a cluster-admin policy association for it."""
    run = examples[name]
    role_arn = input_of(run)["argocd"]["identity"]["aws"]["roleArn"]
    eks = run.stack.cloud.cluster_resource(run.xr())
    cluster_name = eks["metadata"]["annotations"]["crossplane.io/external-name"]

    cfg = config(run.registered())
    assert cfg["awsAuthConfig"] == {"clusterName": cluster_name, "roleARN": role_arn}
    assert "certData" not in cfg["tlsClientConfig"]
    # Argo CD's own code turned awsAuthConfig into this command line, and its token got in
    # (the guestbook objects are on the cluster: through_to_apps).
    calls = stack.auth_calls.read_text().splitlines()
    assert f"aws --cluster-name {cluster_name} --role-arn {role_arn}" in calls

    grants = {
        r["metadata"]["annotations"]["crossplane.io/composition-resource-name"]: r
        for r in stack.cloud.managed_resources(run.xr())
        if r["kind"] in ("AccessEntry", "AccessPolicyAssociation")
    }
    entry = grants["argocd-access"]["spec"]["forProvider"]
    assert (entry["principalArn"], entry["type"]) == (role_arn, "STANDARD")
    association = grants["argocd-access-policy"]["spec"]["forProvider"]
    assert association["policyArn"].endswith("/AmazonEKSClusterAdminPolicy")
    assert association["accessScope"] == {"type": "cluster"}
    assert all(condition(grant, "Ready")["status"] == "True" for grant in grants.values())


def test_keyless_aks_cluster_lets_argocds_own_identity_in_with_a_role_assignment(
    stack: Stack,
) -> None:
    """(c'') AKS with `auth: WorkloadIdentity`: the cluster's kubeconfig runs kubelogin, Argo
    CD signs in as the Composition's managed identity through argocd-k8s-auth azure, and the
    stand-in AKS lets that identity in only because the function assigned it a role."""
    manifest = example("aks-namespaced", "xr.yaml", "keyless")
    manifest["spec"]["argocd"]["auth"] = "WorkloadIdentity"
    run = Pipeline(stack, manifest, "keyless-aks")
    run.through_to_apps()
    azure = input_of(run)["argocd"]["identity"]["azure"]

    cfg = config(run.registered())
    exec_config = cfg["execProviderConfig"]
    assert (exec_config["command"], exec_config["args"]) == ("argocd-k8s-auth", ["azure"])
    assert exec_config["env"]["AZURE_CLIENT_ID"] == azure["clientId"]
    assert "certData" not in cfg["tlsClientConfig"]
    calls = stack.auth_calls.read_text().splitlines()
    assert f"azure AZURE_CLIENT_ID={azure['clientId']}" in calls

    cluster = stack.cloud.cluster_resource(run.xr())
    (grant,) = [r for r in stack.cloud.managed_resources(run.xr()) if r["kind"] == "RoleAssignment"]
    assert grant["spec"]["forProvider"]["principalId"] == azure["principalId"]
    assert grant["spec"]["forProvider"]["scope"] == cluster["status"]["atProvider"]["id"]
    assert condition(grant, "Ready")["status"] == "True"
    assert run.condition()["reason"] == "Registered"


def input_of(run: Pipeline) -> dict:
    """The function's input in the Composition the run's XR uses."""
    spec = run.xr()["spec"]
    ref = spec.get("crossplane", {}).get("compositionRef") or spec["compositionRef"]
    composition = run.hub.get("apiextensions.crossplane.io/v1", "Composition", ref["name"])
    (step,) = [s for s in composition["spec"]["pipeline"] if s.get("input", {}).get("cloud")]
    return step["input"]


def test_credential_rotation_reaches_argocd_and_new_commits_still_deploy(stack: Stack) -> None:
    """(d) The cloud issues a new client certificate and revokes the old one."""
    run = Pipeline(stack, example("aks-legacy-claim", "claim.yaml", "rotating"), "rotation")
    app = run.through_to_apps()
    old, new = rotate(stack, run)
    with pytest.raises(ApiError) as refused:
        Kube(old.credentials).get("v1", "Namespace", "default")
    assert refused.value.status == 403

    new_cert = b64(new.credentials.cert)
    wait_until(
        lambda: config(run.registered())["tlsClientConfig"]["certData"] == new_cert,
        "the registration to carry the new certificate",
    )
    run.milestone("registration follows the rotation")
    deploys_release(stack, run, app, "2")


def test_namespaced_rotation_reaches_argocd_through_the_object(stack: Stack) -> None:
    """(d') The same rotation for a namespaced XR: the new certificate goes into the
    credentials Secret, provider-kubernetes brings it into Argo CD's Secret within
    seconds (not at its next poll), and the Object never holds it."""
    run = Pipeline(stack, example("aks-namespaced", "xr.yaml", "rotating-ns"), "rotation-object")
    app = run.through_to_apps()
    _, new = rotate(stack, run)

    new_cert = b64(new.credentials.cert)
    wait_until(
        lambda: config(run.registered())["tlsClientConfig"]["certData"] == new_cert,
        "the registration to carry the new certificate",
        timeout=30,  # provider-kubernetes polls every minute here: this must not wait for it
    )
    run.milestone("Argo CD's Secret follows the rotation through the Object")
    run.identity = new
    assert not leaks(run_object(stack, run), run, run.registered())
    deploys_release(stack, run, app, "3")


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
    # Kept through the gap (status True, "registered but degraded"), saying what was seen.
    gap = run.condition()
    assert gap["status"] == "True"
    assert "connection Secret" in gap["message"]
    assert "does not exist" in gap["message"], gap["message"]
    end = time.monotonic() + STEADY
    while time.monotonic() < end:
        assert run.registered()["data"] == before["data"]
        assert stack.hub.kube.get(APP_PROJECT, "Application", app["metadata"]["name"], NAMESPACE)
        assert run.cluster.kube.get("apps/v1", "Deployment", "guestbook-ui", "guestbook")
        time.sleep(1)
    run.milestone(f"registration, Application and objects kept for {STEADY}s")


# What the baseline ApplicationSets put on a cluster labelled gateway and monitoring (the
# aks-legacy-claim example), as (apiVersion, kind, name, namespace).
BASELINE_OBJECTS = [
    ("apps/v1", "Deployment", "guestbook-ui", "guestbook"),
    ("v1", "Service", "guestbook-ui", "guestbook"),
    ("v1", "ConfigMap", GUESTBOOK_CONFIG, "guestbook"),
    ("v1", "ConfigMap", "envoy-gateway-stand-in", "envoy-gateway-system"),
    ("v1", "ConfigMap", "node-exporter-stand-in", "monitoring"),
]
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"


def with_baseline(run: Pipeline) -> list[dict]:
    """The claim through to all three baseline apps Synced and their objects on the cluster;
    returns the cluster's Applications."""
    run.through_to_apps()
    for appset in ("envoy-gateway", "node-exporter"):
        run.synced(run.application(appset))
    for api_version, kind, name, namespace in BASELINE_OBJECTS:
        run.on_cluster(api_version, kind, name, namespace)
    return wait_until(  # type: ignore[return-value]
        lambda: len(run.applications()) == 3 and run.applications(), "the cluster's 3 Applications"
    )


def leave(stack: Stack, run: Pipeline, **argocd: bool) -> None:
    manifest = copy.deepcopy(run.manifest)
    manifest["spec"]["argocd"].update(register=False, **argocd)
    stack.hub.kube.apply(manifest)
    run.milestone(f"register: false applied ({argocd or 'drain by default'})")


def test_register_false_drains_the_cluster_before_removing_the_registration(stack: Stack) -> None:
    """(f) `spec.argocd.register: false` takes the cluster out of Argo CD gracefully: the
    cluster is marked draining, the ApplicationSets delete its Applications while Argo CD
    still reaches it, their resources finalizer deletes the objects from the cluster, and
    only then does the function remove the registration."""
    run = Pipeline(stack, example("aks-legacy-claim", "claim.yaml", "leaving"), "register-false")
    apps = with_baseline(run)
    name = base64.b64decode(run.registered()["data"]["name"]).decode()
    for app in apps:
        # The example templates label each Application with its cluster; Argo CD's
        # ApplicationSet controller adds the resources finalizer by itself.
        assert app["metadata"]["labels"][f"{LABELS}/cluster"] == name
        assert RESOURCES_FINALIZER in app["metadata"]["finalizers"]
    leave(stack, run)

    def draining() -> bool:
        marked = [s for s in run.secrets() if s["metadata"]["labels"].get(f"{LABELS}/state")]
        return bool(marked) and marked[0]["metadata"]["labels"][f"{LABELS}/state"] == "draining"

    wait_until(draining, "the cluster Secret to be marked draining")
    run.milestone("cluster Secret marked draining")

    gone: dict[str, float] = {}

    def progress() -> bool:
        """Milestones in the order they happen; the Secret must be the last to go. The
        Secret is looked for after the objects, so a Secret seen in the same round as
        the objects' absence was there after they had gone."""
        if "apps" not in gone and not run.applications():
            gone["apps"] = time.monotonic()
            run.milestone("no Application for the cluster")
        if "objects" not in gone and not any(
            run.cluster.kube.get(*obj) for obj in BASELINE_OBJECTS
        ):
            gone["objects"] = time.monotonic()
            run.milestone("baseline objects removed from the cluster")
        if "secret" not in gone and not run.secrets():
            gone["secret"] = time.monotonic()
            run.milestone("Argo CD cluster Secret removed")
        return len(gone) == 3

    reason = ""
    end = time.monotonic() + 120
    while not progress():
        if not reason and "secret" not in gone:
            now = run.condition()
            if now.get("reason") == "Draining":
                reason = now["message"]
                run.milestone("ArgoCDRegistered=False, Draining")
        assert time.monotonic() < end, f"drain incomplete after 120s: {sorted(gone)} gone"
        time.sleep(0.2)
    assert gone["apps"] <= gone["secret"], "the Secret went before the Applications"
    assert gone["objects"] <= gone["secret"], "the Secret went before the objects"
    # The drain may finish before a poll sees Draining on the XR; when seen, it counts.
    assert not reason or "Application" in reason, reason
    wait_until(lambda: run.condition().get("reason") == "Disabled", "reason Disabled")
    assert run.condition()["status"] == "False"
    # The cluster itself stays, empty of what Argo CD put there.
    assert stack.cloud.cluster_resource(run.xr())
    log_drain(run, gone)


def test_register_false_with_drain_false_removes_the_registration_at_once(stack: Stack) -> None:
    """(f') `drain: false` skips the wait, as before issue 14: Argo CD loses the cluster,
    drops the Applications' resources finalizer, and their objects stay on the cluster."""
    run = Pipeline(stack, example("aks-legacy-claim", "claim.yaml", "abandoned"), "drain-false")
    with_baseline(run)
    leave(stack, run, drain=False)
    wait_until(lambda: not run.secrets(), "the Argo CD cluster Secret to go")
    run.milestone("Argo CD cluster Secret removed")
    wait_until(lambda: not run.applications(), "the cluster's Applications to go")
    run.milestone("Applications removed")
    now = run.condition()
    assert (now["status"], now["reason"]) == ("False", "Disabled")
    assert "drain is false" in now["message"]
    for obj in BASELINE_OBJECTS:
        assert run.cluster.kube.get(*obj), f"{obj} should stay on the cluster"
    run.milestone("baseline objects left on the cluster, unmanaged")


def log_drain(run: Pipeline, gone: dict[str, float]) -> None:
    applied = next(v for k, v in run.marks.items() if k.startswith("register: false applied"))
    start = run.started + applied
    apps, objects, secret = (gone[k] - start for k in ("apps", "objects", "secret"))
    run.milestone(
        f"drained: Applications gone after {apps:.1f}s, objects after {objects:.1f}s, "
        f"Secret after {secret:.1f}s"
    )


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


def run_object(stack: Stack, run: Pipeline) -> dict:
    """The provider-kubernetes Object that delivers a namespaced XR's registration."""
    namespace = run.manifest["metadata"]["namespace"]
    return next(
        o
        for o in stack.hub.kube.list("kubernetes.m.crossplane.io/v1alpha1", "Object", namespace)
        if o["metadata"]["labels"].get("crossplane.io/composite") == run.xr_name
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def leaks(obj: dict, run: Pipeline, secret: dict) -> list[str]:
    """Which credentials appear in the whole Object (plain, base64, or a PEM line)."""
    creds = run.identity.credentials
    config_b64 = secret["data"]["config"]
    found = {
        "config (base64)": config_b64,
        "config (plain)": base64.b64decode(config_b64).decode(),
        "client certificate (base64)": b64(creds.cert),
        "client key (base64)": b64(creds.key),
        "CA certificate (base64)": b64(creds.ca),
    }
    for label, pem in (("client certificate", creds.cert), ("client key", creds.key)):
        body = [line for line in pem.decode().splitlines() if line and "-----" not in line]
        found[f"{label} (PEM line)"] = body[0]
    text = json.dumps(obj)
    return [label for label, value in found.items() if value in text]


def rotate(stack: Stack, run: Pipeline) -> tuple[Identity, Identity]:
    """The cloud issues a new admin certificate and revokes the old one: (old, new)."""
    old, new = run.identity, stack.cloud.issue_admin(run.cluster)
    stack.cloud.publish(stack.cloud.cluster_resource(run.xr()), new)
    stack.cloud.revoke(run.cluster, old)
    run.milestone("credentials rotated, old certificate revoked")
    return old, new


def deploys_release(stack: Stack, run: Pipeline, app: dict, release: str) -> None:
    """A new guestbook commit reaches the cluster: Argo CD syncs it with what it has now."""
    revision = stack.apps.guestbook_release(release)
    refresh(stack, app)
    run.synced(app, revision)
    wait_until(
        lambda: cluster_release(run) == release, f"guestbook release {release} on the cluster"
    )
    run.milestone("new commit deployed with the new certificate")


def cluster_release(run: Pipeline) -> str:
    return run.cluster.kube.get("v1", "ConfigMap", GUESTBOOK_CONFIG, "guestbook")["data"]["release"]


def refresh(stack: Stack, app: dict) -> None:
    """What a Git webhook does: ask Argo CD to look at the repository now."""
    stack.hub.kube.patch(
        app, {"metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}}
    )
