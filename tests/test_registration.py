"""The registration lifecycle and its shapes, step by step, without a server.

Each test is one reconcile: an Observed state in, the Desired state out.
"""

import base64
import json
import re
from typing import Any

import pytest

from function.argocd import CLUSTER_LABEL, STATE_LABEL, config_digest, registered_secret
from function.argocd import kept as argocd_kept
from function.compose import compose
from function.errors import InvalidSpec
from function.naming import label_value
from function.registration import (
    APPLICATIONS,
    CONDITION,
    CONNECTION_SECRET,
    CREDENTIALS,
    REGISTRATION,
)
from function.state import Desired, Observed, ObservedResource, Severity
from tests.builders import AKS_INPUT, GKE_INPUT, argocd_secret, xr
from tests.pki import kubeconfig as make_kubeconfig
from tests.pki import make_pki

PKI = make_pki("registration")
FQDN = "team-a-dev-1234.hcp.westeurope.azmk8s.io"
SERVER = f"https://{FQDN}:443"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
TENANT_ID = "66666666-7777-8888-9999-000000000000"
KUBECONFIG = make_kubeconfig(PKI, SERVER)
KUBELOGIN = make_kubeconfig(
    PKI,
    SERVER,
    user={
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "kubelogin",
            "args": ["get-token", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"],
        }
    },
)


def cluster(*, ready: bool = True, fqdn: str | None = FQDN) -> dict[str, Any]:
    status: dict[str, Any] = {
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]
    }
    if fqdn:
        status["atProvider"] = {"fqdn": fqdn, "currentKubernetesVersion": "1.33.2"}
    return {"apiVersion": "containerservice.azure.m.upbound.io/v1beta1", "status": status}


def observe(
    composite: dict[str, Any] | None = None,
    fn_input: dict[str, Any] | None = None,
    *,
    cluster_manifest: dict[str, Any] | None = None,
    details: dict[str, bytes] | None = None,
    registration: dict[str, Any] | None = None,
    credentials: dict[str, Any] | None = None,
    required: dict[str, list[dict[str, Any]]] | None = None,
) -> Observed:
    resources = {}
    if cluster_manifest is not None:
        resources["cluster"] = ObservedResource(cluster_manifest, details or {})
    if registration is not None:
        resources[REGISTRATION] = ObservedResource(registration)
    if credentials is not None:
        resources[CREDENTIALS] = ObservedResource(credentials)
    return Observed(
        composite=composite or xr(),
        input=fn_input or AKS_INPUT,
        resources=resources,
        required=required or {},
    )


def condition(desired: Desired) -> tuple[bool, str]:
    (found,) = [c for c in desired.conditions if c.type == CONDITION]
    return found.status, found.reason


def registration_secret(desired: Desired) -> dict[str, Any]:
    """The Argo CD Secret as it lands (an Object's assembled as provider-kubernetes does)."""
    return argocd_secret(desired.resources)


def data(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def argocd_status(desired: Desired) -> tuple[object, ...]:
    status = desired.status.argocd
    assert status is not None
    return (status.registered, status.name, status.server, status.authMethod)


def warnings(desired: Desired) -> list[str]:
    return [r.message for r in desired.results if r.severity is Severity.WARNING]


def registered(composite: dict[str, Any] | None = None) -> dict[str, Any]:
    """The registration as the previous reconcile wrote it, now observed."""
    return registration_written(composite)[REGISTRATION]


def registration_written(
    composite: dict[str, Any] | None = None, details: dict[str, bytes] | None = None
) -> dict[str, dict[str, Any]]:
    """Every resource of the registration the previous reconcile wrote (with delivery
    Object: the Object and its credentials Secret), by composition resource name."""
    first = compose(
        observe(
            composite,
            cluster_manifest=cluster(),
            details=details or {"kubeconfig": KUBECONFIG},
        )
    )
    return {k: v for k, v in first.resources.items() if k in (REGISTRATION, CREDENTIALS)}


def named(written: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The registration as observed: Crossplane has named the Object."""
    obj = written[REGISTRATION]
    return {**written, REGISTRATION: {**obj, "metadata": {"name": "x7k2p", "namespace": "team-a"}}}


# --- when a registration is written -------------------------------------------------


def test_nothing_registered_before_the_cluster_exists() -> None:
    desired = compose(observe())
    assert REGISTRATION not in desired.resources
    assert condition(desired) == (False, "WaitingForCluster")
    assert desired.status.argocd is not None
    assert desired.status.argocd.registered is False


def test_nothing_registered_while_the_cluster_is_not_ready() -> None:
    desired = compose(
        observe(cluster_manifest=cluster(ready=False), details={"kubeconfig": KUBECONFIG})
    )
    assert REGISTRATION not in desired.resources
    assert condition(desired) == (False, "WaitingForCluster")


def test_ready_cluster_without_connection_details_requires_its_secret() -> None:
    desired = compose(observe(cluster_manifest=cluster()))
    assert REGISTRATION not in desired.resources
    assert condition(desired) == (False, "WaitingForCredentials")
    requirement = desired.requirements[CONNECTION_SECRET]
    assert (requirement.name, requirement.namespace) == ("team-a-dev-aks-kubeconfig", "team-a")


def test_required_connection_secret_is_read_on_the_next_call() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "data": {"kubeconfig": base64.b64encode(KUBECONFIG).decode()},
    }
    desired = compose(observe(cluster_manifest=cluster(), required={CONNECTION_SECRET: [secret]}))
    assert REGISTRATION in desired.resources
    # The requirement is repeated so Crossplane sees it stable and stops iterating.
    assert CONNECTION_SECRET in desired.requirements
    assert data(registration_secret(desired))["server"] == SERVER


def test_required_secret_not_found_waits_for_credentials() -> None:
    desired = compose(observe(cluster_manifest=cluster(), required={CONNECTION_SECRET: []}))
    assert REGISTRATION not in desired.resources
    assert condition(desired) == (False, "WaitingForCredentials")


@pytest.mark.parametrize(
    ("found", "says"),
    [
        (None, "has not been read yet"),
        ([], "does not exist"),
        ([{"apiVersion": "v1", "kind": "Secret"}], "exists but has no data"),
        ([{"apiVersion": "v1", "kind": "Secret", "data": {}}], "exists but has no data"),
    ],
)
@pytest.mark.parametrize("kept", [False, True], ids=["unregistered", "kept"])
def test_a_credential_gap_says_whether_the_secret_is_missing_or_empty(
    found: list[dict[str, Any]] | None, says: str, kept: bool
) -> None:
    desired = compose(
        observe(
            cluster_manifest=cluster(),
            registration=registered() if kept else None,
            required={} if found is None else {CONNECTION_SECRET: found},
        )
    )
    assert condition(desired) == (kept, "WaitingForCredentials")
    assert f"connection Secret team-a/team-a-dev-aks-kubeconfig {says}" in message(desired)


def test_first_registration_is_written_but_not_yet_registered() -> None:
    desired = compose(observe(cluster_manifest=cluster(), details={"kubeconfig": KUBECONFIG}))
    assert REGISTRATION in desired.resources
    assert desired.ready[REGISTRATION] is False
    assert condition(desired) == (False, "Registering")
    assert argocd_status(desired) == (False, "team-a-team-a-dev", SERVER, "ClientCertificate")


def test_observed_registration_is_registered_and_ready() -> None:
    previous = registered()
    desired = compose(
        observe(
            cluster_manifest=cluster(),
            details={"kubeconfig": KUBECONFIG},
            registration={
                **previous,
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            },
        )
    )
    assert desired.resources[REGISTRATION] == previous
    assert desired.ready[REGISTRATION] is True
    assert condition(desired) == (True, "Registered")
    assert desired.status.argocd is not None
    assert desired.status.argocd.registered is True


# --- a registration is never dropped by a transient gap -------------------------------


@pytest.mark.parametrize(
    ("cluster_manifest", "details", "reason"),
    [
        (cluster(), {}, "WaitingForCredentials"),
        (cluster(ready=False), {}, "WaitingForCredentials"),
        (cluster(), {"kubeconfig": b"not: [valid"}, "InvalidKubeconfig"),
        (cluster(), {"kubeconfig": KUBELOGIN}, "WorkloadIdentityNotConfigured"),
        (None, {}, "WaitingForCluster"),
    ],
    ids=["credentials-missing", "cluster-unready", "kubeconfig-invalid", "entra-id", "no-cluster"],
)
def test_observed_registration_is_kept_through_gaps(
    cluster_manifest: dict | None, details: dict[str, bytes], reason: str
) -> None:
    identity = {"name": "team-a-dev-x7k2p", "namespace": "team-a", "labels": {"a": "b"}}
    written = registration_written()
    previous = {**written[REGISTRATION], "metadata": identity}
    credentials = written[CREDENTIALS]
    observed_copy = {
        **previous,
        "metadata": {
            **identity,
            "uid": "f00",
            "resourceVersion": "42",
            "managedFields": [{"manager": "crossplane"}],
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    observed_credentials = {
        **credentials,
        "metadata": {
            **credentials["metadata"],
            "uid": "f01",
            "finalizers": ["kubernetes.crossplane.io/referred-by-object-f00"],
        },
    }
    desired = compose(
        observe(
            cluster_manifest=cluster_manifest,
            details=details,
            registration=observed_copy,
            credentials=observed_credentials,
        )
    )
    assert desired.resources[REGISTRATION] == previous, "kept exactly as it was"
    assert desired.resources[CREDENTIALS] == credentials, "its credentials too"
    assert desired.ready[REGISTRATION] is True
    assert desired.ready[CREDENTIALS] is True
    assert condition(desired) == (True, reason)
    (warning,) = [w for w in warnings(desired) if "kept the existing Argo CD registration" in w]
    assert warning
    assert argocd_status(desired) == (True, "team-a-team-a-dev", SERVER, "ClientCertificate")


def test_registered_cluster_that_turns_unready_is_refreshed_when_credentials_exist() -> None:
    previous = registered()
    desired = compose(
        observe(
            cluster_manifest=cluster(ready=False),
            details={"kubeconfig": KUBECONFIG},
            registration=previous,
        )
    )
    assert desired.resources[REGISTRATION] == previous
    assert condition(desired) == (True, "Registered")
    assert warnings(desired) == []


# --- register: false: withdraw, then remove ----------------------------------------------


def message(desired: Desired) -> str:
    (found,) = [c for c in desired.conditions if c.type == CONDITION]
    return found.message


def app(name: str) -> dict[str, Any]:
    """An Application as Crossplane returns it for the requirement (only its name is read)."""
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name}}


def leaving(
    spec: dict[str, Any] | None = None,
    *,
    registration: dict[str, Any] | None = None,
    applications: list[dict[str, Any]] | None = None,
    details: dict[str, bytes] | None = None,
) -> Desired:
    """One reconcile of an XR with register: false, its registration observed."""
    composite = xr({"argocd": {"register": False, **(spec or {})}})
    required = {} if applications is None else {APPLICATIONS: applications}
    return compose(
        observe(
            composite,
            cluster_manifest=cluster(),
            details={"kubeconfig": KUBECONFIG} if details is None else details,
            registration=registration or registered(),
            required=required,
        )
    )


def labels_of(registration: dict[str, Any]) -> dict[str, str]:
    """Labels of the Argo CD Secret, inside the Object's manifest for delivery Object."""
    return registered_secret(registration)["metadata"]["labels"]


def data_of(registration: dict[str, Any]) -> dict[str, str]:
    return registered_secret(registration)["data"]


def test_register_false_first_asks_for_the_clusters_applications() -> None:
    desired = leaving()
    # Kept, marked draining, so ApplicationSets drop the cluster while Argo CD can reach it.
    secret = desired.resources[REGISTRATION]
    assert labels_of(secret)[STATE_LABEL] == "draining"
    assert data_of(secret) == data_of(registered())
    requirement = desired.requirements[APPLICATIONS]
    assert (requirement.api_version, requirement.kind, requirement.namespace) == (
        "argoproj.io/v1alpha1",
        "Application",
        "argocd",
    )
    assert requirement.name is None
    assert requirement.labels == {CLUSTER_LABEL: "team-a-team-a-dev"}
    assert condition(desired) == (False, "Draining")
    assert "looking for Applications labelled" in message(desired)
    assert argocd_status(desired)[:3] == (True, "team-a-team-a-dev", SERVER)
    assert desired.ready[REGISTRATION] is False  # an Object not yet Ready: as observed


@pytest.mark.parametrize(
    ("names", "says"),
    [
        (["guestbook-x"], "1 Application labelled"),
        (["guestbook-x", "envoy-gateway-x"], "2 Applications labelled"),
        ([f"app-{i}" for i in range(7)], "(app-0, app-1, app-2, app-3, app-4 and 2 more)"),
    ],
)
def test_register_false_waits_while_applications_remain(names: list[str], says: str) -> None:
    desired = leaving(applications=[app(n) for n in names])
    assert labels_of(desired.resources[REGISTRATION])[STATE_LABEL] == "draining"
    assert condition(desired) == (False, "Draining")
    text = message(desired)
    assert says in text
    assert f"{CLUSTER_LABEL}=team-a-team-a-dev in argocd" in text
    assert "spec.argocd.drain: false" in text  # how to skip the wait
    assert sorted(names)[0] in text
    # The requirement stays, so Crossplane keeps answering it.
    assert APPLICATIONS in desired.requirements
    assert desired.status.argocd is not None
    assert desired.status.argocd.registered is True


def test_register_false_removes_the_registration_once_no_application_remains() -> None:
    desired = leaving(applications=[])
    # Leaving it out of desired state is how Crossplane deletes a composed resource.
    assert REGISTRATION not in desired.resources
    assert condition(desired) == (False, "Disabled")
    assert "no Application labelled" in message(desired)
    assert desired.status.argocd is not None
    assert desired.status.argocd.registered is False


def test_register_false_once_removed_stays_disabled_and_asks_nothing() -> None:
    composite = xr({"argocd": {"register": False}})
    desired = compose(
        observe(composite, cluster_manifest=cluster(), details={"kubeconfig": KUBECONFIG})
    )
    assert REGISTRATION not in desired.resources
    assert condition(desired) == (False, "Disabled")
    assert "not registered" in message(desired)
    assert APPLICATIONS not in desired.requirements


@pytest.mark.parametrize("registration", [True, False], ids=["removing", "removed"])
def test_drain_false_says_so_while_removing_and_after(registration: bool) -> None:
    composite = xr({"argocd": {"register": False, "drain": False}})
    desired = compose(
        observe(
            composite,
            cluster_manifest=cluster(),
            details={"kubeconfig": KUBECONFIG},
            registration=registered() if registration else None,
        )
    )
    assert REGISTRATION not in desired.resources
    assert condition(desired) == (False, "Disabled")
    assert "spec.argocd.drain is false" in message(desired)


def test_drain_false_removes_the_registration_at_once() -> None:
    desired = leaving({"drain": False}, applications=[app("guestbook-x")])
    assert REGISTRATION not in desired.resources
    assert condition(desired) == (False, "Disabled")
    assert "spec.argocd.drain is false" in message(desired)
    assert APPLICATIONS not in desired.requirements


def test_a_drain_continues_through_a_credential_gap() -> None:
    """Argo CD still has the credentials it had: the drain does not need new ones."""
    desired = leaving(details={}, applications=[app("guestbook-x")])
    assert data_of(desired.resources[REGISTRATION]) == data_of(registered())
    assert condition(desired) == (False, "Draining")
    assert CONNECTION_SECRET not in desired.requirements


def test_a_draining_registration_keeps_its_label_on_every_call() -> None:
    draining = leaving(applications=[app("guestbook-x")]).resources[REGISTRATION]
    again = leaving(registration=draining, applications=[app("guestbook-x")])
    assert again.resources[REGISTRATION] == draining


def test_registering_again_during_a_drain_returns_to_normal() -> None:
    draining = leaving(applications=[app("guestbook-x")]).resources[REGISTRATION]
    desired = compose(
        observe(
            cluster_manifest=cluster(),
            details={"kubeconfig": KUBECONFIG},
            registration=draining,
        )
    )
    assert STATE_LABEL not in labels_of(desired.resources[REGISTRATION])
    assert desired.resources[REGISTRATION] == registered()
    assert condition(desired) == (True, "Registered")
    assert APPLICATIONS not in desired.requirements


def test_registering_again_during_a_drain_and_a_gap_drops_only_the_draining_label() -> None:
    draining = leaving(applications=[app("guestbook-x")]).resources[REGISTRATION]
    desired = compose(
        observe(cluster_manifest=cluster(), registration=draining, required={CONNECTION_SECRET: []})
    )
    kept = desired.resources[REGISTRATION]
    assert STATE_LABEL not in labels_of(kept)
    assert kept == argocd_kept(registered())
    assert condition(desired) == (True, "WaitingForCredentials")


def test_a_delivery_object_drains_in_its_manifest_then_goes_with_its_credentials() -> None:
    written = registration_written()
    composite = xr({"argocd": {"register": False}})

    def reconcile(applications: list[dict[str, Any]]) -> Desired:
        return compose(
            observe(
                composite,
                cluster_manifest=cluster(),
                details={"kubeconfig": KUBECONFIG},
                registration=written[REGISTRATION],
                credentials=written[CREDENTIALS],
                required={APPLICATIONS: applications},
            )
        )

    desired = reconcile([app("guestbook-x")])
    manifest = desired.resources[REGISTRATION]["spec"]["forProvider"]["manifest"]
    assert labels_of(manifest)[STATE_LABEL] == "draining"  # on the Secret Argo CD reads
    assert desired.resources[CREDENTIALS] == written[CREDENTIALS]
    assert condition(desired) == (False, "Draining")
    assert argocd_status(desired)[0] is True

    desired = reconcile([])
    assert REGISTRATION not in desired.resources
    assert CREDENTIALS not in desired.resources


def test_the_cluster_label_is_the_argocd_name_or_a_safe_stand_in() -> None:
    assert labels_of(registered())[CLUSTER_LABEL] == "team-a-team-a-dev"
    long = xr({"argocd": {"name": "Team_A." + "x" * 200}})
    value = labels_of(registered(long))[CLUSTER_LABEL]
    assert len(value) == 63
    assert value == label_value("Team_A." + "x" * 200)
    assert value.startswith("Team_A.xxx")
    assert value != label_value("Team_A." + "x" * 201)  # a hash tells long names apart


@pytest.mark.parametrize(
    "name",
    ["a", "team-a-dev", "x" * 63, "x" * 64, "a_b.c-D", "-lead", "trail.", "ü" * 70, "a/b c"],
)
def test_label_values_are_valid_and_stable(name: str) -> None:
    value = label_value(name)
    assert 1 <= len(value) <= 63
    assert re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", value), value
    assert value == label_value(name)
    if len(name) <= 63 and re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", name):
        assert value == name


def test_invalid_kubeconfig_is_a_warning_and_condition_not_a_fatal() -> None:
    desired = compose(observe(cluster_manifest=cluster(), details={"kubeconfig": b"users: 3"}))
    assert REGISTRATION not in desired.resources
    assert condition(desired) == (False, "InvalidKubeconfig")
    assert any("kubeconfig" in w for w in warnings(desired))
    assert "cluster" in desired.resources  # the cloud resources are still composed


# --- delivery ------------------------------------------------------------------------


def test_namespaced_xr_delivers_an_object_with_the_input_provider_config() -> None:
    fn_input = {
        **AKS_INPUT,
        "argocd": {"objectProviderConfigRef": {"name": "in-cluster", "kind": "ProviderConfig"}},
    }
    desired = compose(
        observe(fn_input=fn_input, cluster_manifest=cluster(), details={"kubeconfig": KUBECONFIG})
    )
    composed = desired.resources[REGISTRATION]
    assert composed["apiVersion"] == "kubernetes.m.crossplane.io/v1alpha1"
    assert composed["kind"] == "Object"
    assert composed["spec"]["providerConfigRef"] == {"kind": "ProviderConfig", "name": "in-cluster"}
    assert composed["spec"]["forProvider"]["manifest"]["metadata"]["namespace"] == "argocd"


def test_cluster_scoped_xr_delivers_the_secret_itself() -> None:
    desired = compose(
        observe(xr(namespace=None), cluster_manifest=cluster(), details={"kubeconfig": KUBECONFIG})
    )
    secret = desired.resources[REGISTRATION]
    assert (secret["apiVersion"], secret["kind"]) == ("v1", "Secret")
    assert secret["metadata"]["namespace"] == "argocd"


def _cluster_scoped_with_object_delivery() -> Desired:
    fn_input = {**AKS_INPUT, "argocd": {"delivery": "Object"}}
    observed = observe(
        xr(namespace=None), fn_input, cluster_manifest=cluster(), details={"kubeconfig": KUBECONFIG}
    )
    return compose(observed)


def test_cluster_scoped_xr_can_choose_object_delivery() -> None:
    desired = _cluster_scoped_with_object_delivery()
    composed = desired.resources[REGISTRATION]
    assert composed["apiVersion"] == "kubernetes.crossplane.io/v1alpha2"
    assert composed["spec"]["providerConfigRef"] == {"name": "default"}


def test_namespaced_xr_in_the_argocd_namespace_gets_a_secret_on_auto() -> None:
    desired = compose(
        observe(
            xr(namespace="argocd"), cluster_manifest=cluster(), details={"kubeconfig": KUBECONFIG}
        )
    )
    assert desired.resources[REGISTRATION]["kind"] == "Secret"


def test_secret_delivery_where_crossplane_cannot_compose_it_is_fatal() -> None:
    fn_input = {**AKS_INPUT, "argocd": {"delivery": "Secret"}}
    with pytest.raises(InvalidSpec) as exc:
        compose(observe(fn_input=fn_input, cluster_manifest=cluster()))
    message = str(exc.value)
    assert message.startswith("input.argocd.delivery: Secret is not possible")
    assert "Use delivery Object" in message


# --- the Secret ----------------------------------------------------------------------


def test_secret_shape_labels_annotations_and_data() -> None:
    composite = xr(
        {
            "version": "1.33",
            "nodePool": {"size": "Standard_D4s_v5", "count": 3},
            "argocd": {
                "project": "team-a",
                "namespaces": ["apps", "jobs"],
                "clusterResources": True,
                "labels": {"env": "dev", "tier": "user-wins"},
                "annotations": {"team": "a"},
            },
        }
    )
    fn_input = {
        **AKS_INPUT,
        "argocd": {
            "commonLabels": {"tier": "common", "platform": "p"},
            "commonAnnotations": {"owner": "platform"},
        },
    }
    desired = compose(
        observe(composite, fn_input, cluster_manifest=cluster(), details={"kubeconfig": KUBECONFIG})
    )
    secret = registration_secret(desired)
    assert secret["type"] == "Opaque"
    assert "stringData" not in secret
    assert secret["metadata"]["labels"] == {
        "argocd.argoproj.io/secret-type": "cluster",
        "app.kubernetes.io/managed-by": "function-gitops-cluster",
        "gitopscluster.fn.crossplane.io/cloud": "azure",
        "gitopscluster.fn.crossplane.io/distribution": "aks",
        "gitopscluster.fn.crossplane.io/region": "westeurope",
        "gitopscluster.fn.crossplane.io/composite-name": "team-a-dev",
        "gitopscluster.fn.crossplane.io/composite-namespace": "team-a",
        "gitopscluster.fn.crossplane.io/cluster": "team-a-team-a-dev",
        "platform": "p",
        "env": "dev",
        "tier": "user-wins",
    }
    assert secret["metadata"]["annotations"] == {
        "owner": "platform",
        "team": "a",
        # Delivery Object only: the digest of the credentials the Object reads.
        "gitopscluster.fn.crossplane.io/config-digest": config_digest(
            desired.resources[CREDENTIALS]["data"]["config"]
        ),
        "gitopscluster.fn.crossplane.io/location": "westeurope",
        "gitopscluster.fn.crossplane.io/kubernetes-version": "1.33.2",
        "gitopscluster.fn.crossplane.io/node-size": "Standard_D4s_v5",
        "gitopscluster.fn.crossplane.io/node-count": "3",
    }
    decoded = data(secret)
    assert set(decoded) == {"name", "server", "config", "project", "namespaces", "clusterResources"}
    assert decoded["name"] == "team-a-team-a-dev"
    assert decoded["project"] == "team-a"
    assert decoded["namespaces"] == "apps,jobs"
    assert decoded["clusterResources"] == "true"
    config = json.loads(decoded["config"])
    assert config["tlsClientConfig"] == {
        "insecure": False,
        "caData": PKI.ca_data,
        "certData": PKI.client_cert_data,
        "keyData": PKI.client_key_data,
    }


def test_optional_data_keys_are_absent_unless_set() -> None:
    desired = compose(observe(cluster_manifest=cluster(), details={"kubeconfig": KUBECONFIG}))
    assert set(registration_secret(desired)["data"]) == {"name", "server", "config"}


def test_secret_is_identical_across_reconciles() -> None:
    def once() -> dict[str, Any]:
        return compose(
            observe(cluster_manifest=cluster(), details={"kubeconfig": KUBECONFIG})
        ).resources[REGISTRATION]

    assert json.dumps(once(), sort_keys=True) == json.dumps(once(), sort_keys=True)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"argocd": {"labels": {"argocd.argoproj.io/secret-type": "x"}}}, "spec.argocd.labels"),
        (
            {"argocd": {"annotations": {"gitopscluster.fn.crossplane.io/location": "x"}}},
            "spec.argocd.annotations",
        ),
        ({"argocd": {"labels": {"app.kubernetes.io/managed-by": "me"}}}, "spec.argocd.labels"),
    ],
)
def test_reserved_label_keys_are_refused(spec: dict, field: str) -> None:
    with pytest.raises(InvalidSpec) as exc:
        compose(observe(xr(spec)))
    assert str(exc.value).startswith(f"{field}[")
    assert "reserved" in str(exc.value)


def test_names_default_per_scope_and_secret_names_are_unique_per_xr() -> None:
    def name_of(composite: dict[str, Any]) -> tuple[str, str]:
        desired = compose(
            observe(composite, cluster_manifest=cluster(), details={"kubeconfig": KUBECONFIG})
        )
        secret = registration_secret(desired)
        return data(secret)["name"], secret["metadata"]["name"]

    namespaced = name_of(xr())
    cluster_scoped = name_of(xr(namespace=None))
    claim = {"namespace": "team-c", "name": "pay"}
    claimed = name_of({**xr(namespace=None), "spec": {"location": "westeurope", "claimRef": claim}})
    chosen_a = name_of(xr({"argocd": {"name": "shared"}}))
    chosen_b = name_of(xr({"argocd": {"name": "shared"}}, namespace="team-b"))
    assert namespaced[0] == "team-a-team-a-dev"
    assert cluster_scoped[0] == "team-a-dev"
    assert claimed[0] == "team-c-pay"
    assert chosen_a[0] == chosen_b[0] == "shared"
    # Two XRs choosing the same Argo CD name still get different Secrets.
    assert chosen_a[1] != chosen_b[1]
    for _, secret_name in (namespaced, cluster_scoped, claimed, chosen_a):
        assert secret_name.startswith("cluster-")
        assert len(secret_name) <= 253


# --- AKS authentication modes ----------------------------------------------------------

ADMIN = make_kubeconfig(make_pki("admin"), SERVER)


def _aks(spec: dict[str, Any], details: dict[str, bytes]) -> Desired:
    return compose(observe(xr(spec), cluster_manifest=cluster(), details=details))


def _config(desired: Desired) -> dict[str, Any]:
    return json.loads(data(registration_secret(desired))["config"])


def test_workload_identity_translates_kubelogin_to_argocd_k8s_auth_azure() -> None:
    spec = {
        "argocd": {
            "auth": "WorkloadIdentity",
            "workloadIdentity": {"clientId": CLIENT_ID, "tenantId": TENANT_ID},
        }
    }
    desired = _aks(spec, {"kubeconfig": KUBELOGIN})
    assert _config(desired)["execProviderConfig"] == {
        "command": "argocd-k8s-auth",
        "args": ["azure"],
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "env": {
            "AAD_LOGIN_METHOD": "workloadidentity",
            "AZURE_CLIENT_ID": CLIENT_ID,
            "AZURE_TENANT_ID": TENANT_ID,
        },
    }
    assert desired.status.argocd is not None
    assert desired.status.argocd.authMethod == "AzureWorkloadIdentity"
    # Entra ID is switched on for the cluster, so that kubeconfig appears at all.
    entra = desired.resources["cluster"]["spec"]["forProvider"][
        "azureActiveDirectoryRoleBasedAccessControl"
    ]
    assert entra == {"azureRbacEnabled": True, "tenantId": TENANT_ID}


def test_workload_identity_without_client_id_says_what_to_set() -> None:
    desired = _aks({"argocd": {"auth": "WorkloadIdentity"}}, {"kubeconfig": KUBELOGIN})
    assert REGISTRATION not in desired.resources
    (found,) = desired.conditions
    assert (found.status, found.reason) == (False, "WorkloadIdentityNotConfigured")
    assert "spec.argocd.workloadIdentity.clientId" in found.message


def test_workload_identity_waits_while_the_kubeconfig_is_not_entra_id_yet() -> None:
    spec = {"argocd": {"auth": "WorkloadIdentity", "workloadIdentity": {"clientId": CLIENT_ID}}}
    desired = _aks(spec, {"kubeconfig": KUBECONFIG})
    assert REGISTRATION not in desired.resources
    assert condition(desired) == (False, "WaitingForCredentials")


@pytest.mark.parametrize("auth", ["ClientCertificate", "Auto"])
def test_entra_id_cluster_falls_back_to_the_admin_kubeconfig(auth: str) -> None:
    details = {"kubeconfig": KUBELOGIN, "attribute.kube_admin_config_raw": ADMIN}
    config = _config(_aks({"argocd": {"auth": auth}}, details))
    assert config["tlsClientConfig"]["certData"] == make_pki("admin").client_cert_data


def test_client_certificate_on_entra_id_without_admin_kubeconfig_explains() -> None:
    desired = _aks({"argocd": {"auth": "ClientCertificate"}}, {"kubeconfig": KUBELOGIN})
    assert condition(desired) == (False, "AdminCredentialsUnavailable")


def test_auto_with_client_id_prefers_workload_identity_on_entra_id() -> None:
    spec = {"argocd": {"workloadIdentity": {"clientId": CLIENT_ID}}}
    details = {"kubeconfig": KUBELOGIN, "attribute.kube_admin_config_raw": ADMIN}
    assert _config(_aks(spec, details))["execProviderConfig"]["args"] == ["azure"]


# --- GKE ------------------------------------------------------------------------------


def gke_cluster(ca: str | None = PKI.ca_data, endpoint: str | None = "203.0.113.7") -> dict:
    at_provider: dict[str, Any] = {"id": "projects/proj-1/locations/europe-west1/clusters/c"}
    if endpoint:
        at_provider["endpoint"] = endpoint
    if ca is not None:
        at_provider["masterAuth"] = {"clusterCaCertificate": ca}
    return {
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "atProvider": at_provider}
    }


def test_gke_registers_from_status_with_argocd_k8s_auth_gcp() -> None:
    desired = compose(observe(xr(), GKE_INPUT, cluster_manifest=gke_cluster()))
    secret = registration_secret(desired)
    decoded = data(secret)
    assert decoded["server"] == "https://203.0.113.7"
    assert json.loads(decoded["config"]) == {
        "execProviderConfig": {
            "command": "argocd-k8s-auth",
            "args": ["gcp"],
            "apiVersion": "client.authentication.k8s.io/v1beta1",
        },
        "tlsClientConfig": {"insecure": False, "caData": PKI.ca_data},
    }
    assert secret["metadata"]["annotations"]["gitopscluster.fn.crossplane.io/project"] == "proj-1"
    assert desired.requirements == {}  # no Secret is read for GKE


def test_gke_zone_location_is_labelled_with_its_region() -> None:
    composite = xr({"location": "us-central1-a"})
    secret = registration_secret(
        compose(observe(composite, GKE_INPUT, cluster_manifest=gke_cluster()))
    )
    assert secret["metadata"]["labels"]["gitopscluster.fn.crossplane.io/region"] == "us-central1"


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        (gke_cluster(endpoint=None), "WaitingForCluster"),
        (gke_cluster(ca="-----BEGIN CERTIFICATE-----"), "InvalidClusterCA"),
    ],
)
def test_gke_waits_for_endpoint_and_refuses_a_bad_ca(manifest: dict, reason: str) -> None:
    desired = compose(observe(xr(), GKE_INPUT, cluster_manifest=manifest))
    assert REGISTRATION not in desired.resources
    assert condition(desired) == (False, reason)
    # A broken CA is worth an event; an endpoint not reported yet is only waiting.
    assert [r.reason for r in desired.results] == (
        ["InvalidClusterCA"] if reason == "InvalidClusterCA" else []
    )


def test_gke_client_certificate_is_a_fatal_naming_the_field() -> None:
    with pytest.raises(InvalidSpec) as exc:
        compose(observe(xr({"argocd": {"auth": "ClientCertificate"}}), GKE_INPUT))
    assert str(exc.value).startswith("spec.argocd.auth: ClientCertificate is not available for GKE")


# --- delivery Object: credentials only in a Secret of the function's own -------------------


def _object_and_credentials(desired: Desired) -> tuple[dict[str, Any], dict[str, Any]]:
    return desired.resources[REGISTRATION], desired.resources[CREDENTIALS]


def test_delivery_object_carries_no_credential_and_patches_config_from_its_secret() -> None:
    written = compose(observe(cluster_manifest=cluster(), details={"kubeconfig": KUBECONFIG}))
    obj, credentials = _object_and_credentials(written)
    name = "cluster-team-a-team-a-dev-67951-credentials"
    assert credentials == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": "team-a",
            "labels": {"app.kubernetes.io/managed-by": "function-gitops-cluster"},
        },
        "type": "Opaque",
        "data": {"config": credentials["data"]["config"]},
    }
    assert obj["spec"]["references"] == [
        {
            "patchesFrom": {
                "apiVersion": "v1",
                "kind": "Secret",
                "name": name,
                "namespace": "team-a",
                "fieldPath": "data.config",
            },
            "toFieldPath": "data.config",
        }
    ]
    manifest = obj["spec"]["forProvider"]["manifest"]
    # Every key of the Argo CD Secret but config, which is only a placeholder here.
    assert set(manifest["data"]) == {"name", "server", "config"}
    assert manifest["data"]["config"] == ""
    digest = manifest["metadata"]["annotations"]["gitopscluster.fn.crossplane.io/config-digest"]
    assert digest == config_digest(credentials["data"]["config"])
    # No key, certificate or kubeconfig byte anywhere in the Object, plain or base64.
    text = json.dumps(obj)
    config = base64.b64decode(credentials["data"]["config"]).decode()
    for secret in (
        PKI.client_key_data,
        PKI.client_cert_data,
        PKI.ca_data,
        base64.b64decode(PKI.client_key_data).decode().splitlines()[1],
        base64.b64decode(PKI.client_cert_data).decode().splitlines()[1],
        credentials["data"]["config"],
        config,
        base64.b64encode(KUBECONFIG).decode()[:40],
    ):
        assert secret not in text
    # What provider-kubernetes assembles is the whole Argo CD Secret.
    assert json.loads(data(registration_secret(written))["config"])["tlsClientConfig"] == {
        "insecure": False,
        "caData": PKI.ca_data,
        "certData": PKI.client_cert_data,
        "keyData": PKI.client_key_data,
    }


def test_delivery_secret_is_unchanged_and_has_no_credentials_secret() -> None:
    desired = compose(
        observe(xr(namespace=None), cluster_manifest=cluster(), details={"kubeconfig": KUBECONFIG})
    )
    secret = desired.resources[REGISTRATION]
    assert CREDENTIALS not in desired.resources
    assert "references" not in secret
    assert "gitopscluster.fn.crossplane.io/config-digest" not in secret["metadata"]["annotations"]
    assert json.loads(data(secret)["config"])["tlsClientConfig"]["keyData"] == PKI.client_key_data


def test_cluster_scoped_object_reads_credentials_from_the_connection_secret_namespace() -> None:
    desired = _cluster_scoped_with_object_delivery()
    obj, credentials = _object_and_credentials(desired)
    assert credentials["metadata"]["namespace"] == "crossplane-system"
    (reference,) = obj["spec"]["references"]
    assert reference["patchesFrom"]["namespace"] == "crossplane-system"
    assert reference["patchesFrom"]["name"] == credentials["metadata"]["name"]


def test_rotation_changes_the_secret_first_and_the_object_on_the_next_call() -> None:
    """Crossplane applies composed resources in no set order: the Object's digest follows
    the credentials Secret as observed, so the provider never re-reads a stale Secret."""
    old = registration_written()
    rotated = make_pki("registration-rotated")
    new_kubeconfig = make_kubeconfig(rotated, SERVER)

    def call(credentials: dict[str, Any]) -> Desired:
        return compose(
            observe(
                cluster_manifest=cluster(),
                details={"kubeconfig": new_kubeconfig},
                registration=old[REGISTRATION],
                credentials=credentials,
            )
        )

    first = call(old[CREDENTIALS])
    assert first.resources[CREDENTIALS]["data"] != old[CREDENTIALS]["data"]
    assert first.resources[REGISTRATION] == old[REGISTRATION], "the Object waits for its Secret"
    second = call(first.resources[CREDENTIALS])
    assert second.resources[CREDENTIALS] == first.resources[CREDENTIALS]
    annotations = second.resources[REGISTRATION]["spec"]["forProvider"]["manifest"]["metadata"][
        "annotations"
    ]
    assert annotations["gitopscluster.fn.crossplane.io/config-digest"] == config_digest(
        first.resources[CREDENTIALS]["data"]["config"]
    )
    assert _config(second)["tlsClientConfig"]["certData"] == rotated.client_cert_data


def test_kept_object_never_keeps_credentials_the_provider_wrote_into_its_spec() -> None:
    """provider-kubernetes v1.2.1 persists the patched manifest once, on create (#223)."""
    written = named(registration_written())
    obj = json.loads(json.dumps(written[REGISTRATION]))
    obj["spec"]["forProvider"]["manifest"]["data"]["config"] = written[CREDENTIALS]["data"][
        "config"
    ]
    desired = compose(
        observe(
            cluster_manifest=cluster(),
            registration=obj,
            credentials=written[CREDENTIALS],
        )
    )
    assert condition(desired) == (True, "WaitingForCredentials")
    assert desired.resources[REGISTRATION] == written[REGISTRATION]
    assert desired.resources[CREDENTIALS] == written[CREDENTIALS]


def test_object_without_its_credentials_secret_is_kept_and_reported_without_auth() -> None:
    written = named(registration_written())
    desired = compose(observe(cluster_manifest=cluster(), registration=written[REGISTRATION]))
    assert desired.resources[REGISTRATION] == written[REGISTRATION]
    assert CREDENTIALS not in desired.resources
    assert argocd_status(desired) == (True, "team-a-team-a-dev", SERVER, None)


def test_registration_readiness_is_the_objects_ready_condition() -> None:
    written = registration_written()
    for expected in (False, True):
        says = {"type": "Ready", "status": str(expected)}
        obj = {**written[REGISTRATION], "status": {"conditions": [says]}}
        desired = compose(
            observe(
                cluster_manifest=cluster(),
                details={"kubeconfig": KUBECONFIG},
                registration=obj,
                credentials=written[CREDENTIALS],
            )
        )
        assert desired.ready[REGISTRATION] is expected
        assert desired.ready[CREDENTIALS] is True


@pytest.mark.parametrize("how", ["drained", "drain-false", "nothing-before-ready"])
def test_neither_resource_exists_when_the_registration_must_not(how: str) -> None:
    written = registration_written()
    if how != "nothing-before-ready":
        observed = observe(
            xr({"argocd": {"register": False, "drain": how == "drained"}}),
            cluster_manifest=cluster(),
            details={"kubeconfig": KUBECONFIG},
            registration=written[REGISTRATION],
            credentials=written[CREDENTIALS],
            required={APPLICATIONS: []} if how == "drained" else None,
        )
    else:
        observed = observe(
            cluster_manifest=cluster(ready=False), details={"kubeconfig": KUBECONFIG}
        )
    desired = compose(observed)
    assert REGISTRATION not in desired.resources
    assert CREDENTIALS not in desired.resources


def test_every_lifecycle_transition_in_order() -> None:
    """One cluster through its whole life, each reconcile observing what the last wrote:
    (register, Applications Crossplane found) -> (condition status, reason, state label)."""
    steps = [
        (True, None, (False, "Registering", None)),
        (True, None, (True, "Registered", None)),
        (False, None, (False, "Draining", "draining")),
        (False, ["guestbook-x", "envoy-gateway-x"], (False, "Draining", "draining")),
        (True, None, (True, "Registered", None)),  # re-enabled mid-drain: back to normal
        (False, ["guestbook-x"], (False, "Draining", "draining")),
        (False, [], (False, "Disabled", None)),  # none left: removed
        (False, None, (False, "Disabled", None)),
        (True, None, (False, "Registering", None)),
        (True, None, (True, "Registered", None)),
    ]
    written: dict[str, dict[str, Any]] = {}
    for register, apps, want in steps:
        required = {} if apps is None else {APPLICATIONS: [app(n) for n in apps]}
        desired = compose(
            observe(
                xr({"argocd": {"register": register}}),
                cluster_manifest=cluster(),
                details={"kubeconfig": KUBECONFIG},
                registration=written.get(REGISTRATION),
                credentials=written.get(CREDENTIALS),
                required=required,
            )
        )
        registration = desired.resources.get(REGISTRATION)
        state = labels_of(registration).get(STATE_LABEL) if registration else None
        assert (*condition(desired), state) == want, (register, apps)
        written = {k: v for k, v in desired.resources.items() if k in (REGISTRATION, CREDENTIALS)}


def test_a_drain_looks_for_the_label_the_registered_secret_carries() -> None:
    """The Applications copied the label from the Secret: renaming the cluster together
    with register: false still finds them; a Secret from before the label, the XR's."""
    renamed = xr({"argocd": {"register": False, "name": "renamed"}})
    observed = observe(
        renamed,
        cluster_manifest=cluster(),
        details={"kubeconfig": KUBECONFIG},
        registration=registered(),
    )
    wanted = compose(observed).requirements[APPLICATIONS].labels
    assert wanted == {CLUSTER_LABEL: "team-a-team-a-dev"}

    old = registered()
    secret = registered_secret(old)
    del secret["metadata"]["labels"][CLUSTER_LABEL]
    observed = observe(
        renamed,
        cluster_manifest=cluster(),
        details={"kubeconfig": KUBECONFIG},
        registration=old,
    )
    assert compose(observed).requirements[APPLICATIONS].labels == {CLUSTER_LABEL: "renamed"}
