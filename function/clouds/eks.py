"""EKS: IAM roles for the cluster and its nodes (unless the user brings them), a Cluster
and one NodeGroup attached to it."""

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from function.argocd import KEPT_READS, PREFIX
from function.clouds import Waiting, refuse_other_clouds_fields
from function.errors import FieldError
from function.inputs import Input
from function.kubeconfig import ClusterConnection, KubeconfigError, config_json, pem_data
from function.managed import (
    EXTERNAL_NAME,
    SAME_CONTROLLER,
    at_provider,
    external_name,
    managed_resource,
)
from function.state import ObservedResource, Reads
from function.xr import AuthMode, Composite, mapping

CLOUD = "aws"
DISTRIBUTION = "eks"
CLUSTER = "cluster"
NODE_GROUP = "node-group"
CLUSTER_ROLE = "cluster-role"
NODE_ROLE = "node-role"
# The managed policies each role needs, by composition resource name of the attachment.
CLUSTER_ROLE_POLICIES = {"cluster-role-policy": "AmazonEKSClusterPolicy"}
NODE_ROLE_POLICIES = {
    "node-role-policy-worker": "AmazonEKSWorkerNodePolicy",
    "node-role-policy-cni": "AmazonEKS_CNI_Policy",
    "node-role-policy-registry": "AmazonEC2ContainerRegistryReadOnly",
}
# The access entry for Argo CD's IAM role, and the access policy associated with it.
ACCESS = "argocd-access"
ACCESS_POLICY = "argocd-access-policy"
# The two roles share a kind, so a selector tells them apart by this label.
ROLE_LABEL = f"{PREFIX}role"
AUTHENTICATION_MODE = "API_AND_CONFIG_MAP"

_EKS_API = {True: "eks.aws.m.upbound.io/v1beta1", False: "eks.aws.upbound.io/v1beta2"}
# AccessEntry and AccessPolicyAssociation have no v1beta2.
_ACCESS_API = {True: "eks.aws.m.upbound.io/v1beta1", False: "eks.aws.upbound.io/v1beta1"}
_IAM_API = {True: "iam.aws.m.upbound.io/v1beta1", False: "iam.aws.upbound.io/v1beta1"}
_ENDPOINT_FIELD = "status.atProvider.endpoint"
_CA_FIELD = "status.atProvider.certificateAuthority[0].data"
# us-east-1, eu-central-2, us-gov-west-1, cn-north-1, ap-southeast-7, ...
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")
_ARN = re.compile(r"^arn:[a-z-]+:eks:[a-z0-9-]+:(?P<account>[0-9]{12}):cluster/.+$")

# What this module reads of each observed resource, beyond its conditions.
READS = {
    CLUSTER: Reads(
        (
            ("metadata", "annotations", EXTERNAL_NAME),
            *(
                ("status", "atProvider", field)
                for field in ("endpoint", "certificateAuthority", "id", "arn", "version")
            ),
            ("status", "atProvider", "platformVersion"),
        )
    ),
    ACCESS: KEPT_READS,
    ACCESS_POLICY: KEPT_READS,
}


def render(xr: Composite, _: Input) -> dict[str, dict[str, Any]]:
    """Managed resources by composition resource name."""
    _check(xr)
    spec = xr.spec
    resources: dict[str, dict[str, Any]] = {}
    cluster: dict[str, Any] = {
        "region": spec.location,
        "vpcConfig": {"subnetIds": list(spec.subnetIds)},
        # Access entries (Argo CD's among them) need the API; the ConfigMap stays usable.
        "accessConfig": {"authenticationMode": AUTHENTICATION_MODE},
    }
    if spec.version:
        cluster["version"] = spec.version
    if spec.clusterRoleArn:
        cluster["roleArn"] = spec.clusterRoleArn
    else:
        cluster["roleArnSelector"] = _role_selector("cluster")
        resources |= _role(xr, CLUSTER_ROLE, "cluster", "eks.amazonaws.com", CLUSTER_ROLE_POLICIES)
    resources[CLUSTER] = managed_resource(xr, _EKS_API, "Cluster", cluster)
    if not spec.nodeRoleArn:
        resources |= _role(xr, NODE_ROLE, "node", "ec2.amazonaws.com", NODE_ROLE_POLICIES)
    resources[NODE_GROUP] = _node_group(xr)
    return resources


def _check(xr: Composite) -> None:
    """What the XRD cannot say for EKS alone (its schema is shared by every cloud)."""
    spec = xr.spec
    if spec.argocd.auth is AuthMode.CLIENT_CERTIFICATE:
        raise FieldError(
            "spec.argocd.auth",
            "ClientCertificate is not available for EKS, which issues no client certificates",
            "Use Auto or WorkloadIdentity: Argo CD signs in with its own IAM role (awsAuthConfig)",
        )
    if not _REGION.match(spec.location):
        shown = f"({spec.location!r}) " if len(spec.location) <= 40 else ""
        raise FieldError(
            "spec.location",
            f"{shown}is not an AWS region",
            "Use a region such as eu-west-1 or us-east-2",
        )
    if len(spec.subnetIds) < 2:
        raise FieldError(
            "spec.subnetIds",
            f"lists {len(spec.subnetIds)} subnet{'s' if len(spec.subnetIds) != 1 else ''}; "
            "EKS needs at least two, in different availability zones",
            "List the IDs of at least two subnets of the cluster's VPC, in two zones",
        )
    seen: set[str] = set()
    for subnet in spec.subnetIds:
        if subnet in seen:
            raise FieldError(
                "spec.subnetIds",
                f"lists {subnet} twice",
                "List each subnet once, at least two in different availability zones",
            )
        seen.add(subnet)
    refuse_other_clouds_fields(spec, "EKS")


def _partition(region: str) -> str:
    """The ARN partition of a region: aws, aws-cn or aws-us-gov."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _role_selector(role: str) -> dict[str, Any]:
    """The sibling role: same controller, and the role label, since both roles are Roles."""
    return {**SAME_CONTROLLER, "matchLabels": {ROLE_LABEL: role}}


def _role(
    xr: Composite, name: str, role: str, service: str, policies: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """An IAM role the AWS service may assume, and its managed policy attachments."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }
    # Serialized like the Secret's config: an unchanged role never diffs.
    assume = {"assumeRolePolicy": config_json(trust)}
    resources = {
        name: managed_resource(xr, _IAM_API, "Role", assume)
        | {"metadata": {"labels": {ROLE_LABEL: role}}}
    }
    partition = _partition(xr.spec.location)
    for attachment, policy in policies.items():
        attached = {
            "policyArn": f"arn:{partition}:iam::aws:policy/{policy}",
            "roleSelector": _role_selector(role),
        }
        resources[attachment] = managed_resource(xr, _IAM_API, "RolePolicyAttachment", attached)
    return resources


def _node_group(xr: Composite) -> dict[str, Any]:
    spec = xr.spec
    pool = spec.nodePool
    node_group: dict[str, Any] = {
        "region": spec.location,
        "clusterNameSelector": SAME_CONTROLLER,
        "subnetIds": list(spec.subnetIds),
    }
    if spec.nodeRoleArn:
        node_group["nodeRoleArn"] = spec.nodeRoleArn
    else:
        node_group["nodeRoleArnSelector"] = _role_selector("node")
    if pool.size:
        node_group["instanceTypes"] = [pool.size]
    if spec.version:
        # A managed node group keeps its version when the control plane is upgraded; asking
        # for spec.version here upgrades the nodes too (AWS refuses it until the control
        # plane runs that version, and the provider retries until it does).
        node_group["version"] = spec.version
    more: dict[str, Any] = {}
    if pool.autoscaling:
        # The cluster autoscaler owns desiredSize after creation: set only at create time
        # (initProvider), the provider never resets it to count and fights the autoscaler.
        node_group["scalingConfig"] = {"minSize": pool.minCount, "maxSize": pool.maxCount}
        more["initProvider"] = {"scalingConfig": {"desiredSize": pool.count}}
    else:
        node_group["scalingConfig"] = {
            "desiredSize": pool.count,
            "minSize": pool.count,
            "maxSize": pool.count,
        }
    return managed_resource(xr, _EKS_API, "NodeGroup", node_group, **more)


def _https_endpoint(observed_cluster: dict[str, Any]) -> str | None:
    """status.atProvider.endpoint when it is an https URL with a host."""
    endpoint = at_provider(observed_cluster).get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        return None
    try:
        parts = urlsplit(endpoint)
        _ = parts.port
    except ValueError:
        return None
    return endpoint if parts.scheme == "https" and parts.hostname else None


def cluster_endpoint(observed_cluster: dict[str, Any]) -> str | None:
    """The API server URL, once AWS reports the endpoint (already https://...)."""
    return _https_endpoint(observed_cluster)


def needs_connection_details(_: Composite) -> bool:
    """EKS's endpoint and CA are in the cluster's status; no secret is needed."""
    return False


def cluster_name(observed_cluster: dict[str, Any]) -> str | None:
    """The EKS cluster's name: its external name, else the ID AWS reports (the name too)."""
    name = external_name(observed_cluster) or at_provider(observed_cluster).get("id")
    return name if isinstance(name, str) and name else None


def argocd_connection(
    _: Composite, fn_input: Input, observed_cluster: dict[str, Any], __: Mapping[str, bytes] | None
) -> ClusterConnection | Waiting:
    """Argo CD signs in with its own IAM role (awsAuthConfig, argocd-k8s-auth aws)."""
    reported = at_provider(observed_cluster)
    if not reported.get("endpoint"):
        return Waiting("WaitingForCluster", "AWS has not reported the cluster endpoint yet")
    server = _https_endpoint(observed_cluster)
    if server is None:
        return Waiting(
            "InvalidClusterEndpoint",
            f"{_ENDPOINT_FIELD} is not an https:// URL with a host",
            broken=True,
        )
    authorities = reported.get("certificateAuthority")
    first = authorities[0] if isinstance(authorities, list) and authorities else None
    if not mapping(first).get("data"):
        return Waiting(
            "WaitingForCluster", "AWS has not reported the cluster's certificate authority yet"
        )
    try:
        ca = pem_data(mapping(first), "data", "", "a certificate")
    except KubeconfigError as exc:
        return Waiting("InvalidClusterCA", f"{_CA_FIELD}: {exc.problem}", broken=True)
    name = cluster_name(observed_cluster)
    if name is None:
        return Waiting("WaitingForCluster", "AWS has not reported the cluster's name yet")
    aws: dict[str, Any] = {"clusterName": name}
    role_arn = fn_input.argocd.identity.aws.roleArn
    if role_arn:
        aws["roleARN"] = role_arn
    config = {"awsAuthConfig": aws, "tlsClientConfig": {"insecure": False, "caData": ca}}
    return ClusterConnection(server, config_json(config), "AWSAuth")


def access_grants(
    xr: Composite, fn_input: Input, _: dict[str, Any]
) -> dict[str, dict[str, Any]] | None:
    """An access entry for Argo CD's IAM role, and an access policy associated with it.

    Both find the cluster, and the association its entry, through selectors, so the
    observed cluster's status is not needed; AWS sees the entry before the association
    because the association's principal is resolved from it.
    """
    identity = fn_input.argocd.identity.aws
    if not identity.roleArn:
        return {}
    spec = xr.spec
    scope: dict[str, Any] = {"type": "cluster"}
    if spec.argocd.namespaces and not spec.argocd.clusterResources:
        # With clusterResources Argo CD manages cluster-scoped resources too, which a
        # namespace-scoped access policy would deny.
        scope = {"type": "namespace", "namespaces": list(spec.argocd.namespaces)}
    partition = _partition(spec.location)
    entry = {
        "region": spec.location,
        "clusterNameSelector": SAME_CONTROLLER,
        "principalArn": identity.roleArn,
        "type": "STANDARD",
    }
    association = {
        "region": spec.location,
        "clusterNameSelector": SAME_CONTROLLER,
        "principalArnSelector": SAME_CONTROLLER,
        "policyArn": f"arn:{partition}:eks::aws:cluster-access-policy/{identity.accessPolicy}",
        "accessScope": scope,
    }
    return {
        ACCESS: managed_resource(xr, _ACCESS_API, "AccessEntry", entry),
        ACCESS_POLICY: managed_resource(xr, _ACCESS_API, "AccessPolicyAssociation", association),
    }


def region(location: str) -> str:
    """EKS locations are regions already."""
    return location


def registration_annotations(
    _: Composite, observed: Mapping[str, ObservedResource]
) -> dict[str, str]:
    """Cluster facts an ApplicationSet template may want (under the function's prefix).

    The account ID lets a template build the ARNs of IRSA roles for add-ons.
    """
    cluster = observed.get(CLUSTER)
    reported = at_provider(cluster.manifest if cluster else None)
    annotations = {}
    for key, field in (("kubernetes-version", "version"), ("platform-version", "platformVersion")):
        value = reported.get(field)
        if isinstance(value, str) and value:
            annotations[key] = value
    arn = reported.get("arn")
    match = _ARN.match(arn) if isinstance(arn, str) else None
    if match:
        annotations["cluster-arn"] = arn
        annotations["account-id"] = match["account"]
    return annotations
