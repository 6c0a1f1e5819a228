"""The cloud, played by the test: the only part of the pipeline that cannot run here.

No AKS, GKE or EKS exists on this machine, and no provider-upjet-azure, -gcp or -aws
runs. This module does what they would, on the hub, for one composite resource: marks
its managed resources Ready and Synced, fills the status fields the provider fills (AKS
`fqdn`, `id`; GKE `endpoint`, `masterAuth.clusterCaCertificate`; EKS `endpoint`,
`certificateAuthority`, and the external name), and writes the AKS connection Secret
with a kubeconfig for a stand-in API server. Credentials it issues are client
certificates of the stand-in's own CA, each allowed in by a ClusterRoleBinding, so
rotating them really locks the old one out.

Argo CD's own cloud identities (a static token each, below) are let into a stand-in
cluster only as the cloud would let them in: on EKS when the XR composed an access entry
and a cluster-admin policy association for Argo CD's role, on AKS when it composed a
role assignment for Argo CD's principal at the cluster's scope, on GKE from the start
(the project-wide grant the platform gives once). Without the function's grant, Argo CD
is refused and nothing syncs.

`argocd-k8s-auth gcp|aws|azure` need Google, AWS STS and Entra ID; `write_auth_plugin`
puts a stand-in on the application controller's PATH that prints an ExecCredential with
that identity's static token, and records each call's arguments, so the rest of the exec
path (Argo CD turning awsAuthConfig or the function's execProviderConfig into a command
line) runs for real.
"""

from __future__ import annotations

import base64
import itertools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from tests.e2e.kube import Credentials, Kube, timestamp
from tests.e2e.process import wait_until

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.e2e.kubernetes import KubeCluster

GCP_TOKEN = "gke-stand-in-token-for-argocd"
AWS_TOKEN = "eks-stand-in-token-for-argocd"
AZURE_TOKEN = "aks-stand-in-token-for-argocd"
GCP_USER, AWS_USER, AZURE_USER = "argocd-gcp", "argocd-aws", "argocd-azure"
# Static bearer tokens the stand-in clusters accept, for the users Argo CD signs in as.
TOKENS = {GCP_TOKEN: GCP_USER, AWS_TOKEN: AWS_USER, AZURE_TOKEN: AZURE_USER}
EXTERNAL_NAME = "crossplane.io/external-name"
AWS_ACCOUNT = "123456789012"
# Argo CD's identities as the examples' Compositions name them (input.argocd.identity).
ARGOCD_ROLE_ARN = f"arn:aws:iam::{AWS_ACCOUNT}:role/argocd"
ARGOCD_PRINCIPAL_ID = "7c2d9e4f-3a1b-4c5d-8e6f-9a0b1c2d3e4f"
CLUSTER_ADMIN_POLICY = "cluster-access-policy/AmazonEKSClusterAdminPolicy"
AKS_CLUSTER_ADMIN_ROLE = "Azure Kubernetes Service RBAC Cluster Admin"
KUBELOGIN_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
CLOUD_GROUP = ".upbound.io"
AZURE_SCOPE = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg"
    "/providers/Microsoft.ContainerService"
)
_serial = itertools.count(1)


@dataclass(frozen=True)
class Identity:
    """A credential the cloud issued and can revoke."""

    name: str
    credentials: Credentials


class Cloud:
    """Plays AKS and GKE for the XRs on `hub`."""

    def __init__(self, hub: Kube) -> None:
        self.hub = hub

    # -- provisioning --------------------------------------------------------------

    def managed_resources(self, xr: dict) -> list[dict]:
        """The XR's composed cloud resources, as they are now."""
        spec = xr.get("spec", {})
        refs = spec.get("crossplane", {}).get("resourceRefs") or spec.get("resourceRefs") or []
        namespace = xr["metadata"].get("namespace", "")
        found = [
            self.hub.get(r["apiVersion"], r["kind"], r["name"], r.get("namespace", namespace))
            for r in refs
            if CLOUD_GROUP in r["apiVersion"]
        ]
        return [r for r in found if r]

    def provision(self, xr: dict, cluster: KubeCluster) -> Identity | None:
        """Finish creating everything the XR composed; `cluster` is the new cluster.

        Returns the admin credential an AKS connection Secret carries (GKE has none).
        """
        composed = wait_until(
            lambda: self.cluster_resource(xr),
            f"{xr['kind']} {xr['metadata']['name']} to compose its cluster",
        )
        for resource in self.managed_resources(self._fresh(xr)):
            if _is_eks_cluster(resource):
                # provider-upjet-aws names the EKS cluster after the MR and records it.
                name = resource["metadata"]["name"]
                self.hub.patch(resource, {"metadata": {"annotations": {EXTERNAL_NAME: name}}})
            self._mark_ready(resource, _at_provider(resource, cluster))
        if _is_eks_cluster(composed):
            self._honour_grant(xr, cluster, AWS_USER, _grants_argocds_role)
            return None
        if not composed["apiVersion"].startswith("containerservice.azure"):
            self._bind(cluster, GCP_USER)  # the project-wide grant, given once
            return None
        identity = self.issue_admin(cluster)
        entra = xr["spec"].get("argocd", {}).get("auth") == "WorkloadIdentity"
        self.publish(composed, identity, entra=entra)
        if entra:
            scope = _at_provider(composed, cluster)["id"]
            self._honour_grant(
                xr, cluster, AZURE_USER, lambda grants: _assigns_argocd(grants, scope)
            )
        return identity

    def _honour_grant(
        self, xr: dict, cluster: KubeCluster, user: str, grants_admin: Callable[[dict], bool]
    ) -> None:
        """Wait for the XR's argocd-access* grants; when they give Argo CD's identity
        cluster admin (grants_admin, by composition resource name), let `user` in and
        report them Ready, as the cloud would."""

        def composed() -> dict[str, dict] | None:
            grants = {
                _role(r): r
                for r in self.managed_resources(self._fresh(xr))
                if _role(r).startswith("argocd-access")
            }
            return grants if grants and grants_admin(grants) else None

        grants = wait_until(composed, f"grants for Argo CD's identity on {cluster.name}")
        self._bind(cluster, user)
        for grant in grants.values():
            self._mark_ready(grant, {"id": grant["metadata"]["name"]})

    def _fresh(self, xr: dict) -> dict:
        meta = xr["metadata"]
        return self.hub.get(xr["apiVersion"], xr["kind"], meta["name"], meta.get("namespace", ""))

    def _mark_ready(self, resource: dict, at_provider: dict) -> None:
        now = timestamp()
        conditions = [
            {"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": now},
            {
                "type": "Synced",
                "status": "True",
                "reason": "ReconcileSuccess",
                "lastTransitionTime": now,
            },
        ]
        status = {"conditions": conditions, "atProvider": at_provider}
        self.hub.patch(resource, {"status": status}, subresource="status")

    # -- credentials ---------------------------------------------------------------

    def issue_admin(self, cluster: KubeCluster) -> Identity:
        """A new admin client certificate, bound to cluster-admin on `cluster`."""
        name = f"cloud-admin-{next(_serial)}"
        cert, key = cluster.ca.issue(name)
        self._bind(cluster, name)
        creds = Credentials(server=cluster.url, ca=cluster.ca.cert_pem, cert=cert, key=key)
        return Identity(name=name, credentials=creds)

    def _bind(self, cluster: KubeCluster, user: str) -> None:
        """Make `user` cluster-admin on `cluster`; the binding is named after the user."""
        cluster.kube.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": user},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "cluster-admin",
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}
                ],
            }
        )

    def revoke(self, cluster: KubeCluster, identity: Identity) -> None:
        """The old certificate stops working: its binding goes."""
        cluster.kube.delete("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", identity.name)

    def publish(self, cluster_resource: dict, identity: Identity, *, entra: bool = False) -> None:
        """Write the AKS connection Secret, as provider-upjet-azure does: with Entra ID the
        cluster's kubeconfig runs kubelogin, and the admin one (local accounts) rides along."""
        ref = cluster_resource["spec"]["writeConnectionSecretToRef"]
        namespace = ref.get("namespace") or cluster_resource["metadata"]["namespace"]
        name = cluster_resource["metadata"]["name"]
        admin = identity.credentials.kubeconfig(name)
        data = {"kubeconfig": _kubelogin(admin), "attribute.kube_admin_config_raw": admin}
        self.hub.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": ref["name"], "namespace": namespace},
                "type": "connection.crossplane.io/v1alpha1",
                "data": {
                    key: base64.b64encode(value).decode()
                    for key, value in (data.items() if entra else [("kubeconfig", admin)])
                },
            }
        )

    def withdraw(self, cluster_resource: dict) -> None:
        """The connection Secret disappears (a provider hiccup, a manual mistake)."""
        ref = cluster_resource["spec"]["writeConnectionSecretToRef"]
        namespace = ref.get("namespace") or cluster_resource["metadata"]["namespace"]
        self.hub.delete("v1", "Secret", ref["name"], namespace)

    def cluster_resource(self, xr: dict) -> dict | None:
        """The XR's composed cluster (composition resource name `cluster`), once it exists."""
        return next(
            (r for r in self.managed_resources(self._fresh(xr)) if _role(r) == "cluster"), None
        )


def _role(resource: dict) -> str:
    annotations = resource["metadata"].get("annotations", {})
    return annotations.get("crossplane.io/composition-resource-name", "")


def _at_provider(resource: dict, cluster: KubeCluster) -> dict:
    """What the provider reports for each kind once the cloud has created it."""
    name = resource["metadata"]["name"]
    host = cluster.url.removeprefix("https://")
    kind = resource["kind"]
    if kind == "KubernetesCluster":
        return {
            "id": f"{AZURE_SCOPE}/managedClusters/{name}",
            "fqdn": f"{name}.hcp.stand-in.azmk8s.io",
            "currentKubernetesVersion": "1.34.2",
        }
    if _is_eks_cluster(resource):
        return {
            "id": name,
            "arn": f"arn:aws:eks:eu-west-1:{AWS_ACCOUNT}:cluster/{name}",
            "endpoint": cluster.url,
            "certificateAuthority": [{"data": base64.b64encode(cluster.ca.cert_pem).decode()}],
            "version": "1.34",
            "platformVersion": "eks.1",
            "status": "ACTIVE",
        }
    if kind == "Cluster" and resource["apiVersion"].startswith("container.gcp"):
        return {
            "id": f"projects/stand-in-project/locations/us-central1/clusters/{name}",
            "endpoint": host,
            "masterVersion": "1.34.2-gke.100",
            "masterAuth": {"clusterCaCertificate": base64.b64encode(cluster.ca.cert_pem).decode()},
        }
    return {"id": name}


def _is_eks_cluster(resource: dict) -> bool:
    return resource["kind"] == "Cluster" and resource["apiVersion"].startswith("eks.aws")


def _grants_argocds_role(grants: dict[str, dict]) -> bool:
    """An access entry for Argo CD's role, with the cluster-admin policy at cluster scope."""
    entry = grants.get("argocd-access", {}).get("spec", {}).get("forProvider", {})
    association = grants.get("argocd-access-policy", {}).get("spec", {}).get("forProvider", {})
    return (
        entry.get("principalArn") == ARGOCD_ROLE_ARN
        and association.get("policyArn", "").endswith(CLUSTER_ADMIN_POLICY)
        and association.get("accessScope") == {"type": "cluster"}
    )


def _assigns_argocd(grants: dict[str, dict], scope: str) -> bool:
    """A role assignment of AKS cluster admin to Argo CD's principal at the cluster."""
    assignment = grants.get("argocd-access", {}).get("spec", {}).get("forProvider", {})
    return (
        assignment.get("principalId") == ARGOCD_PRINCIPAL_ID
        and assignment.get("roleDefinitionName") == AKS_CLUSTER_ADMIN_ROLE
        and assignment.get("scope") == scope
    )


def _kubelogin(admin: bytes) -> bytes:
    """The Entra ID kubeconfig AKS publishes: the admin one's cluster, a kubelogin user."""
    doc = yaml.safe_load(admin)
    doc["users"][0]["user"] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "kubelogin",
            "args": ["get-token", "--login", "devicecode", "--server-id", KUBELOGIN_SERVER_ID],
        }
    }
    return yaml.safe_dump(doc, sort_keys=False).encode()


def write_auth_plugin(folder: Path) -> Path:
    """A stand-in `argocd-k8s-auth` for `gcp`, `aws` and `azure`: a static ExecCredential
    per cloud, and each call's arguments (and workload identity client ID) appended to
    `calls` in the same folder."""
    folder.mkdir(parents=True, exist_ok=True)
    gcp, aws, azure = (
        json.dumps(
            {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "kind": "ExecCredential",
                "status": {"token": token},
            }
        )
        for token in (GCP_TOKEN, AWS_TOKEN, AZURE_TOKEN)
    )
    script = folder / "argocd-k8s-auth"
    script.write_text(
        "#!/bin/sh\n"
        "# Stand-in for argocd-k8s-auth gcp|aws|azure: no cloud is reachable from here.\n"
        'client="${AZURE_CLIENT_ID:+ AZURE_CLIENT_ID=$AZURE_CLIENT_ID}"\n'
        f'echo "$*$client" >> "{calls_file(folder)}"\n'
        'case "$1" in\n'
        f"  gcp) echo '{gcp}' ;;\n"
        f"  aws) echo '{aws}' ;;\n"
        f"  azure) echo '{azure}' ;;\n"
        '  *) echo "stand-in serves only: argocd-k8s-auth gcp|aws|azure" >&2; exit 1 ;;\n'
        "esac\n"
    )
    script.chmod(0o755)
    return folder


def calls_file(folder: Path) -> Path:
    """Where the stand-in `argocd-k8s-auth` records the arguments Argo CD ran it with."""
    return folder / "calls"
