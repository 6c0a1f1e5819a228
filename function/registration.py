"""The registration lifecycle: when to write, keep or remove the Argo CD cluster Secret.

Rules (SPEC §5): nothing is registered before the cluster is Ready and its
credentials exist; once registered, a credential gap never drops the
registration (it is kept as observed, with a Warning); only
spec.argocd.register: false, or deleting the XR, removes it. With delivery Object the
registration is two resources, the Object and the credentials Secret it reads, and
every rule holds for both.

register: false withdraws before it removes: the registration is kept, labelled
draining, so ApplicationSets stop selecting the cluster and delete its Applications
while Argo CD can still reach it (each Application's resources finalizer deletes the
app's objects from the cluster). The function asks Crossplane for the Applications
labelled with the cluster's name and removes the registration once none remain.
spec.argocd.drain: false removes it at once.
"""

import base64
import binascii
from collections.abc import Mapping

from function import argocd
from function.clouds import CloudModule, Waiting
from function.inputs import Delivery, Input
from function.kubeconfig import ClusterConnection, KubeconfigError
from function.managed import connection_secret_name, connection_secret_namespace
from function.naming import dns_label
from function.state import (
    Condition,
    Desired,
    Observed,
    ObservedResource,
    Reads,
    Requirement,
    Result,
    Severity,
)
from function.status import ArgoCDStatus, is_ready
from function.xr import Composite, mapping

REGISTRATION = "argocd-cluster"
# Delivery Object only: the Secret holding data.config that the Object patches in.
CREDENTIALS = "argocd-cluster-credentials"
# Identity grants (CloudModule.access_grants) are named argocd-access, argocd-access-...
GRANTS = "argocd-access"
CONDITION = "ArgoCDRegistered"
CONNECTION_SECRET = "cluster-connection-secret"
# The observed registration is kept as it is through gaps (argocd.kept).
READS = argocd.KEPT_READS
# The credentials Secret is kept as it is through gaps too, and its config is what the
# Object's digest and the status' authMethod follow.
CREDENTIALS_READS = READS
# While draining: the Applications Argo CD still has for the cluster.
APPLICATIONS = "argocd-applications"
# Of a required connection Secret only its data is read; of Applications their names.
REQUIRED_READS = {
    CONNECTION_SECRET: Reads((("data",),)),
    APPLICATIONS: Reads((("metadata", "name"),)),
}
# How many remaining Applications a Draining message names.
NAMED_APPLICATIONS = 5


def register(
    xr: Composite, fn_input: Input, cloud: CloudModule, observed: Observed, desired: Desired
) -> None:
    """Add argocd-cluster (or deliberately leave it out) with its condition and status,
    and the grants that let Argo CD's own identity into the cluster."""
    if xr.spec.argocd.register_:
        _register(xr, fn_input, cloud, observed, desired)
    else:
        _deregister(xr, fn_input, observed, desired)
    _grant_access(xr, fn_input, cloud, observed, desired)


def _register(
    xr: Composite, fn_input: Input, cloud: CloudModule, observed: Observed, desired: Desired
) -> None:
    existing = observed.resources.get(REGISTRATION)
    how = argocd.delivery(xr, fn_input)
    try:
        connection = _connection(xr, fn_input, cloud, observed, desired)
    except KubeconfigError as exc:
        connection = Waiting(exc.reason, str(exc), broken=True)

    if isinstance(connection, ClusterConnection):
        _write(xr, fn_input, cloud, observed, desired, connection, how)
    elif existing is not None:
        _keep(desired, existing, observed.resources.get(CREDENTIALS), connection)
    else:
        if connection.broken:
            desired.results.append(Result(Severity.WARNING, connection.message, connection.reason))
        _report(desired, connection.reason, connection.message, ok=False)
    if REGISTRATION in desired.resources:
        desired.ready[REGISTRATION] = _registration_ready(existing)
    if CREDENTIALS in desired.resources:
        desired.ready[CREDENTIALS] = CREDENTIALS in observed.resources


def _grant_access(
    xr: Composite, fn_input: Input, cloud: CloudModule, observed: Observed, desired: Desired
) -> None:
    """Argo CD's access to the cluster follows the registration (SPEC §4 identity grants).

    Composed once the cluster is Ready, independently of its credentials; rendered
    afresh whenever the observed cluster tells enough, else kept as observed, as the
    registration is through a gap; removed when the registration is (after a drain,
    since Argo CD needs its access to delete the cluster's Applications).
    """
    registered = REGISTRATION in desired.resources
    if not xr.spec.argocd.register_ and not registered:
        return
    cluster = observed.resources.get(cloud.CLUSTER)
    grants = None
    if cluster is not None and (registered or is_ready(cluster.manifest)):
        grants = cloud.access_grants(xr, fn_input, cluster.manifest)
    if grants is None:
        grants = {
            name: argocd.kept(seen.manifest)
            for name, seen in observed.resources.items()
            if name.startswith(GRANTS)
        }
    for name, grant in grants.items():
        desired.resources[name] = grant
        seen = observed.resources.get(name)
        desired.ready[name] = seen is not None and is_ready(seen.manifest)


def _write(
    xr: Composite,
    fn_input: Input,
    cloud: CloudModule,
    observed: Observed,
    desired: Desired,
    connection: ClusterConnection,
    how: Delivery,
) -> None:
    """A fresh registration from current credentials: first time, or an update."""
    secret = argocd.cluster_secret(
        xr,
        fn_input,
        connection,
        labels={
            "cloud": cloud.CLOUD,
            "distribution": cloud.DISTRIBUTION,
            "region": dns_label(cloud.region(xr.spec.location)),
        },
        annotations=_cluster_facts(xr) | cloud.registration_annotations(xr, observed.resources),
    )
    applied = observed.resources.get(CREDENTIALS)
    registration, credentials = argocd.deliver(
        xr,
        fn_input,
        secret,
        how,
        applied_config=argocd.config_of(applied.manifest) if applied else None,
    )
    desired.resources[REGISTRATION] = registration
    if credentials is not None:
        desired.resources[CREDENTIALS] = credentials
    desired.results += [Result(Severity.WARNING, w, "ArgoCDConfig") for w in connection.warnings]
    registered = REGISTRATION in observed.resources
    status = ArgoCDStatus(
        registered=registered,
        name=argocd.cluster_name(xr),
        server=connection.server,
        authMethod=connection.auth_method,
    )
    if registered:
        _report(
            desired, "Registered", f"registered in Argo CD as {status.name}", ok=True, status=status
        )
    else:
        where = f"{fn_input.argocd.namespace}/{secret['metadata']['name']}"
        message = f"writing the Argo CD cluster Secret {where}"
        _report(desired, "Registering", message, ok=False, status=status)


def _keep(
    desired: Desired,
    existing: ObservedResource,
    credentials: ObservedResource | None,
    why: Waiting,
) -> None:
    """Through a gap, the registration stays as observed, and people are told.

    Only a draining label goes: registering again during a drain ends the drain.
    """
    desired.resources[REGISTRATION] = argocd.with_state(argocd.kept(existing.manifest), None)
    if credentials is not None:
        desired.resources[CREDENTIALS] = argocd.kept(credentials.manifest)
    message = f"kept the existing Argo CD registration unchanged: {why.message}"
    desired.results.append(Result(Severity.WARNING, message, why.reason))
    status = _observed_status(existing, credentials)
    _report(desired, why.reason, f"kept unchanged: {why.message}", ok=True, status=status)


def _deregister(xr: Composite, fn_input: Input, observed: Observed, desired: Desired) -> None:
    """register: false: withdraw the cluster from Argo CD, then remove its registration.

    Leaving argocd-cluster (and its credentials and grants) out of desired state deletes
    them.
    """
    existing = observed.resources.get(REGISTRATION)
    if not xr.spec.argocd.drain:
        message = (
            "spec.argocd.register is false and spec.argocd.drain is false: the registration "
            "is removed without waiting for Argo CD to delete the cluster's Applications"
        )
        _report(desired, "Disabled", message, ok=False)
        return
    if existing is None:
        message = "spec.argocd.register is false; the cluster is not registered in Argo CD"
        _report(desired, "Disabled", message, ok=False)
        return
    # The value the Applications copied: the registered Secret's, should spec.argocd.name
    # have changed together with register: false.
    value = argocd.cluster_label_of(existing.manifest) or argocd.cluster_label(xr)
    label = f"{argocd.CLUSTER_LABEL}={value}"
    namespace = fn_input.argocd.namespace
    desired.requirements[APPLICATIONS] = Requirement(
        namespace=namespace,
        labels={argocd.CLUSTER_LABEL: value},
        api_version=argocd.APPLICATION_API,
        kind="Application",
    )
    remaining = observed.required.get(APPLICATIONS)
    if remaining is not None and not remaining:
        message = (
            "spec.argocd.register is false; Argo CD has no Application labelled "
            f"{label} in {namespace} any more, so the registration is removed"
        )
        _report(desired, "Disabled", message, ok=False)
        return

    credentials = observed.resources.get(CREDENTIALS)
    desired.resources[REGISTRATION] = argocd.with_state(
        argocd.kept(existing.manifest), argocd.DRAINING
    )
    desired.ready[REGISTRATION] = _registration_ready(existing)
    if credentials is not None:
        desired.resources[CREDENTIALS] = argocd.kept(credentials.manifest)
        desired.ready[CREDENTIALS] = True
    if remaining is None:
        waiting = f"looking for Applications labelled {label} in {namespace}"
    else:
        names = sorted(str(mapping(app.get("metadata")).get("name", "")) for app in remaining)
        shown = ", ".join(names[:NAMED_APPLICATIONS])
        more = len(names) - NAMED_APPLICATIONS
        shown += f" and {more} more" if more > 0 else ""
        count = f"{len(names)} Application{'s' if len(names) != 1 else ''}"
        waiting = f"waiting for Argo CD to delete {count} labelled {label} in {namespace} ({shown})"
    message = (
        f"spec.argocd.register is false; the cluster is marked {argocd.STATE_LABEL}="
        f"{argocd.DRAINING} and stays registered until Argo CD has deleted its Applications: "
        f"{waiting}. Set spec.argocd.drain: false to remove the registration at once"
    )
    _report(desired, "Draining", message, ok=False, status=_observed_status(existing, credentials))


def _observed_status(
    existing: ObservedResource, credentials: ObservedResource | None
) -> ArgoCDStatus:
    """Status of a registration as observed (kept or draining): never the credential."""
    secret = argocd.registered_secret(existing.manifest)
    if existing.manifest.get("kind") == "Object":
        secret = argocd.with_credentials(secret, credentials.manifest if credentials else None)
    return ArgoCDStatus(
        registered=True,
        name=argocd.secret_field(secret, "name"),
        server=argocd.secret_field(secret, "server"),
        authMethod=argocd.auth_method(secret),
    )


def _connection(
    xr: Composite, fn_input: Input, cloud: CloudModule, observed: Observed, desired: Desired
) -> ClusterConnection | Waiting:
    """The Argo CD connection for the cluster, or why it cannot be had yet."""
    cluster = observed.resources.get(cloud.CLUSTER)
    if cluster is None:
        return Waiting("WaitingForCluster", "the cluster has not been created yet")
    registered = REGISTRATION in observed.resources
    if not is_ready(cluster.manifest) and not registered:
        return Waiting("WaitingForCluster", "the cluster is not Ready yet")
    details = None
    if cloud.needs_connection_details(xr):
        details = _connection_details(xr, fn_input, cloud, observed, cluster, desired)
        if isinstance(details, Waiting):
            return details
    return cloud.argocd_connection(xr, fn_input, cluster.manifest, details)


def _connection_details(
    xr: Composite,
    fn_input: Input,
    cloud: CloudModule,
    observed: Observed,
    cluster: ObservedResource,
    desired: Desired,
) -> Mapping[str, bytes] | Waiting:
    """Connection details as Crossplane observed them, else from the Secret itself.

    Crossplane fills connection_details from the MR's connection Secret; when it
    did not (yet), ask for that Secret and read it on the next call. Without data, why:
    the Secret is not read yet, does not exist, or exists without data.
    """
    if cluster.connection_details:
        return cluster.connection_details
    name = connection_secret_name(xr, cloud.DISTRIBUTION)
    namespace = connection_secret_namespace(xr, fn_input)
    desired.requirements[CONNECTION_SECRET] = Requirement(name=name, namespace=namespace)
    found = observed.required.get(CONNECTION_SECRET)
    data = mapping(found[0].get("data")) if found else None
    if not data:
        if found is None:
            state = "has not been read yet"
        elif not found:
            state = "does not exist"
        else:
            state = "exists but has no data"
        return Waiting(
            "WaitingForCredentials", f"the cluster's connection Secret {namespace}/{name} {state}"
        )
    try:
        return {k: base64.b64decode(v, validate=True) for k, v in data.items()}
    except (binascii.Error, ValueError, TypeError):
        raise KubeconfigError(
            "connection Secret data",
            "is not valid base64",
            "Check the Secret the provider wrote for the cluster",
        ) from None


def _cluster_facts(xr: Composite) -> dict[str, str]:
    """Annotations every cloud shares: what was asked for, for ApplicationSet templates."""
    spec = xr.spec
    facts = {"location": spec.location, "node-count": str(spec.nodePool.count)}
    if spec.version:
        facts["kubernetes-version"] = spec.version
    if spec.nodePool.size:
        facts["node-size"] = spec.nodePool.size
    if spec.nodePool.autoscaling:
        facts["node-min-count"] = str(spec.nodePool.minCount)
        facts["node-max-count"] = str(spec.nodePool.maxCount)
    return facts


def _registration_ready(existing: ObservedResource | None) -> bool:
    """A Secret is ready once it exists; an Object once provider-kubernetes says Ready."""
    if existing is None:
        return False
    if existing.manifest.get("kind") == "Object":
        return is_ready(existing.manifest)
    return True


def _report(
    desired: Desired, reason: str, message: str, *, ok: bool, status: ArgoCDStatus | None = None
) -> None:
    desired.conditions.append(Condition(CONDITION, ok, reason, message))
    desired.status.argocd = status or ArgoCDStatus(registered=False)
