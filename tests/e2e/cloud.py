"""The cloud, played by the test: the only part of the pipeline that cannot run here.

No AKS, GKE or EKS exists on this machine, and no provider-upjet-azure, -gcp or -aws
runs. This module does what they would, on the hub, for one composite resource: marks
its managed resources Ready and Synced, fills the status fields the provider fills (AKS
`fqdn`, `id`; GKE `endpoint`, `masterAuth.clusterCaCertificate`; EKS `endpoint`,
`certificateAuthority`, and the external name), and writes the AKS connection Secret
with a kubeconfig for a stand-in API server. Credentials it issues are client
certificates of the stand-in's own CA, each allowed in by a ClusterRoleBinding, so
rotating them really locks the old one out.

`argocd-k8s-auth gcp` needs Google and `argocd-k8s-auth aws` needs AWS STS;
`write_auth_plugin` puts a stand-in on the application controller's PATH that prints an
ExecCredential with a static token the stand-in API servers accept, and records each
call's arguments, so the rest of the exec path (Argo CD turning awsAuthConfig into a
command line) runs for real.
"""

from __future__ import annotations

import base64
import itertools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tests.e2e.kube import Credentials, Kube, timestamp
from tests.e2e.process import wait_until

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.kubernetes import KubeCluster

GCP_TOKEN = "gke-stand-in-token-for-argocd"
AWS_TOKEN = "eks-stand-in-token-for-argocd"
# Static bearer tokens the stand-in clusters accept, for the users Argo CD signs in as.
TOKENS = {GCP_TOKEN: "argocd-gcp", AWS_TOKEN: "argocd-aws"}
EXTERNAL_NAME = "crossplane.io/external-name"
AWS_ACCOUNT = "123456789012"
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
        if not composed["apiVersion"].startswith("containerservice.azure"):
            return None
        identity = self.issue_admin(cluster)
        self.publish(composed, identity)
        return identity

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
        cluster.kube.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": name},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "cluster-admin",
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}
                ],
            }
        )
        creds = Credentials(server=cluster.url, ca=cluster.ca.cert_pem, cert=cert, key=key)
        return Identity(name=name, credentials=creds)

    def revoke(self, cluster: KubeCluster, identity: Identity) -> None:
        """The old certificate stops working: its binding goes."""
        cluster.kube.delete("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", identity.name)

    def publish(self, cluster_resource: dict, identity: Identity) -> None:
        """Write the AKS connection Secret, as provider-upjet-azure does."""
        ref = cluster_resource["spec"]["writeConnectionSecretToRef"]
        namespace = ref.get("namespace") or cluster_resource["metadata"]["namespace"]
        kubeconfig = identity.credentials.kubeconfig(cluster_resource["metadata"]["name"])
        self.hub.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": ref["name"], "namespace": namespace},
                "type": "connection.crossplane.io/v1alpha1",
                "data": {"kubeconfig": base64.b64encode(kubeconfig).decode()},
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


def write_auth_plugin(folder: Path) -> Path:
    """A stand-in `argocd-k8s-auth` for `gcp` and `aws`: a static ExecCredential per cloud,
    and each call's arguments appended to `calls` in the same folder."""
    folder.mkdir(parents=True, exist_ok=True)
    gcp, aws = (
        json.dumps(
            {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "kind": "ExecCredential",
                "status": {"token": token},
            }
        )
        for token in (GCP_TOKEN, AWS_TOKEN)
    )
    script = folder / "argocd-k8s-auth"
    script.write_text(
        "#!/bin/sh\n"
        "# Stand-in for argocd-k8s-auth gcp|aws: Google and AWS are not reachable from here.\n"
        f'echo "$*" >> "{calls_file(folder)}"\n'
        'case "$1" in\n'
        f"  gcp) echo '{gcp}' ;;\n"
        f"  aws) echo '{aws}' ;;\n"
        '  *) echo "stand-in serves only: argocd-k8s-auth gcp|aws" >&2; exit 1 ;;\n'
        "esac\n"
    )
    script.chmod(0o755)
    return folder


def calls_file(folder: Path) -> Path:
    """Where the stand-in `argocd-k8s-auth` records the arguments Argo CD ran it with."""
    return folder / "calls"
