"""EKS (SPEC §4): what is composed per XR scope, registration from the cluster's status
with awsAuthConfig, and the access entry that lets Argo CD's IAM role in.

Each test is one reconcile, without a server, except where the gRPC path is the point.
"""

import asyncio
import base64
import json
from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function import fn
from function.compose import compose
from function.errors import InvalidSpec
from function.registration import APPLICATIONS, REGISTRATION
from function.state import Desired, Observed, ObservedResource, Severity
from tests.builders import EKS_INPUT, EKS_SUBNETS, eks_input, eks_xr, request
from tests.pki import make_pki
from tests.test_registration import condition, data, registration_secret, warnings

PKI = make_pki("eks")
ENDPOINT = "https://B3F1A9C2D4E6F8A0B1C3D5E7F9A1B3C5.gr7.eu-west-1.eks.amazonaws.com"
CLUSTER_NAME = "team-a-dev-x7k2p"
ACCOUNT = "123456789012"
CLUSTER_ARN = f"arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/{CLUSTER_NAME}"
ARGOCD_ROLE = f"arn:aws:iam::{ACCOUNT}:role/argocd"
CLUSTER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/eks-cluster"
NODE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/eks-node"
ROLE_LABEL = "gitopscluster.fn.crossplane.io/role"
PREFIX = "gitopscluster.fn.crossplane.io/"

ROLES = {
    "cluster-role": "Role",
    "cluster-role-policy": "RolePolicyAttachment",
    "node-role": "Role",
    "node-role-policy-worker": "RolePolicyAttachment",
    "node-role-policy-cni": "RolePolicyAttachment",
    "node-role-policy-registry": "RolePolicyAttachment",
}
GRANTS = ("argocd-access", "argocd-access-policy")


def legacy_xr(spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """A LegacyCluster XR made from a claim."""
    return eks_xr(spec, namespace=None, kind="XEKSCluster") | {
        "spec": {
            **eks_xr(spec, namespace=None)["spec"],
            "claimRef": {"namespace": "team-a", "name": "dev"},
            "compositionRef": {"name": "xeksclusters.platform.example.org"},
        }
    }


SCOPES = {
    "namespaced": (eks_xr, "eks.aws.m.upbound.io/v1beta1", "iam.aws.m.upbound.io/v1beta1"),
    "cluster": (
        lambda spec=None: eks_xr(spec, namespace=None),
        "eks.aws.upbound.io/v1beta2",
        "iam.aws.upbound.io/v1beta1",
    ),
    "legacy": (legacy_xr, "eks.aws.upbound.io/v1beta2", "iam.aws.upbound.io/v1beta1"),
}
# AccessEntry and AccessPolicyAssociation have no v1beta2.
GRANT_APIS = {
    "namespaced": "eks.aws.m.upbound.io/v1beta1",
    "cluster": "eks.aws.upbound.io/v1beta1",
    "legacy": "eks.aws.upbound.io/v1beta1",
}


def eks_cluster(
    *,
    ready: bool = True,
    endpoint: str | None = ENDPOINT,
    ca: Any = PKI.ca_data,
    external_name: str | None = CLUSTER_NAME,
    cluster_id: str | None = CLUSTER_NAME,
) -> dict[str, Any]:
    """The Cluster as provider-upjet-aws reports it."""
    at_provider: dict[str, Any] = {
        "arn": CLUSTER_ARN,
        "version": "1.33",
        "platformVersion": "eks.9",
        "status": "ACTIVE",
    }
    if endpoint:
        at_provider["endpoint"] = endpoint
    if ca is not None:
        at_provider["certificateAuthority"] = [{"data": ca}]
    if cluster_id:
        at_provider["id"] = cluster_id
    annotations = {"crossplane.io/external-name": external_name} if external_name else {}
    return {
        "apiVersion": "eks.aws.m.upbound.io/v1beta1",
        "kind": "Cluster",
        "metadata": {"name": CLUSTER_NAME, "annotations": annotations},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "atProvider": at_provider,
        },
    }


def ready(manifest: dict[str, Any]) -> dict[str, Any]:
    """A composed resource as observed once its provider reports it Ready."""
    return {**manifest, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def reconcile(
    composite: dict[str, Any] | None = None,
    fn_input: dict[str, Any] | None = None,
    *,
    cluster_manifest: dict[str, Any] | None = None,
    observed: dict[str, dict[str, Any]] | None = None,
    required: dict[str, list[dict[str, Any]]] | None = None,
) -> Desired:
    resources = {name: ObservedResource(manifest) for name, manifest in (observed or {}).items()}
    if cluster_manifest is not None:
        resources["cluster"] = ObservedResource(cluster_manifest)
    return compose(
        Observed(
            composite=composite or eks_xr(),
            input=fn_input or eks_input(ARGOCD_ROLE),
            resources=resources,
            required=required or {},
        )
    )


def config(desired: Desired) -> dict[str, Any]:
    return json.loads(data(registration_secret(desired))["config"])


def for_provider(desired: Desired, name: str) -> dict[str, Any]:
    return desired.resources[name]["spec"]["forProvider"]


# --- what is composed, per scope ------------------------------------------------------


@pytest.mark.parametrize("scope", SCOPES)
def test_every_scope_composes_roles_cluster_and_node_group_at_spec_api_versions(
    scope: str,
) -> None:
    make, eks_api, iam_api = SCOPES[scope]
    desired = reconcile(make())

    assert {n: (r["apiVersion"], r["kind"]) for n, r in desired.resources.items()} == {
        **{name: (iam_api, kind) for name, kind in ROLES.items()},
        "cluster": (eks_api, "Cluster"),
        "node-group": (eks_api, "NodeGroup"),
    }
    assert condition(desired) == (False, "WaitingForCluster")
    # Only a LegacyCluster XR has a claim to report to.
    assert desired.to_claim is (scope == "legacy")


@pytest.mark.parametrize("scope", SCOPES)
def test_given_role_arns_compose_no_roles_and_are_used_directly(scope: str) -> None:
    make, eks_api, _ = SCOPES[scope]
    desired = reconcile(make({"clusterRoleArn": CLUSTER_ROLE, "nodeRoleArn": NODE_ROLE}))

    assert {n: (r["apiVersion"], r["kind"]) for n, r in desired.resources.items()} == {
        "cluster": (eks_api, "Cluster"),
        "node-group": (eks_api, "NodeGroup"),
    }
    assert for_provider(desired, "cluster")["roleArn"] == CLUSTER_ROLE
    assert "roleArnSelector" not in for_provider(desired, "cluster")
    assert for_provider(desired, "node-group")["nodeRoleArn"] == NODE_ROLE
    assert "nodeRoleArnSelector" not in for_provider(desired, "node-group")


def test_each_given_role_arn_replaces_only_its_own_role() -> None:
    cluster_role_given = reconcile(eks_xr({"clusterRoleArn": CLUSTER_ROLE}))
    node_role_given = reconcile(eks_xr({"nodeRoleArn": NODE_ROLE}))

    assert set(ROLES) - set(cluster_role_given.resources) == {
        "cluster-role",
        "cluster-role-policy",
    }
    assert set(ROLES) - set(node_role_given.resources) == {
        "node-role",
        "node-role-policy-worker",
        "node-role-policy-cni",
        "node-role-policy-registry",
    }


def test_cluster_shape() -> None:
    desired = reconcile(eks_xr({"version": "1.33"}))

    assert desired.resources["cluster"]["spec"] == {
        "forProvider": {
            "region": "eu-west-1",
            "version": "1.33",
            "vpcConfig": {"subnetIds": EKS_SUBNETS},
            "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"},
            # Two Roles are composed: the label tells the cluster's from the nodes'.
            "roleArnSelector": {"matchControllerRef": True, "matchLabels": {ROLE_LABEL: "cluster"}},
        },
        "providerConfigRef": {"kind": "ClusterProviderConfig", "name": "default"},
    }
    # Registration reads the cluster's status: no connection Secret to write.
    assert "writeConnectionSecretToRef" not in desired.resources["cluster"]["spec"]


def test_the_node_group_follows_the_clusters_version_only_when_one_is_asked_for() -> None:
    pinned = reconcile(eks_xr({"version": "1.33"})).resources["node-group"]
    default = reconcile(eks_xr()).resources["node-group"]

    assert pinned["spec"]["forProvider"]["version"] == "1.33"
    assert "version" not in default["spec"]["forProvider"]


def test_roles_trust_their_service_and_attachments_select_their_role_by_label() -> None:
    desired = reconcile(eks_xr(namespace=None))

    services = {}
    for name, role in (("cluster-role", "cluster"), ("node-role", "node")):
        resource = desired.resources[name]
        assert resource["metadata"]["labels"] == {ROLE_LABEL: role}
        policy = for_provider(desired, name)["assumeRolePolicy"]
        assert isinstance(policy, str)
        trust = json.loads(policy)
        assert trust["Version"] == "2012-10-17"
        (statement,) = trust["Statement"]
        assert (statement["Effect"], statement["Action"]) == ("Allow", "sts:AssumeRole")
        services[name] = statement["Principal"]["Service"]
        assert resource["spec"]["providerConfigRef"] == {"name": "default"}
    assert services == {"cluster-role": "eks.amazonaws.com", "node-role": "ec2.amazonaws.com"}

    attachments = {
        name: (attached["policyArn"], attached["roleSelector"])
        for name, kind in ROLES.items()
        if kind == "RolePolicyAttachment"
        for attached in [for_provider(desired, name)]
    }

    def selector(role: str) -> dict[str, Any]:
        return {"matchControllerRef": True, "matchLabels": {ROLE_LABEL: role}}

    assert attachments == {
        "cluster-role-policy": (
            "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
            selector("cluster"),
        ),
        "node-role-policy-worker": (
            "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
            selector("node"),
        ),
        "node-role-policy-cni": ("arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy", selector("node")),
        "node-role-policy-registry": (
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
            selector("node"),
        ),
    }


def test_trust_policies_are_serialized_the_same_on_every_call() -> None:
    first, second = reconcile(), reconcile()
    for name in ("cluster-role", "node-role"):
        assert first.resources[name] == second.resources[name]


def test_a_fixed_size_node_group_has_every_size_at_count() -> None:
    desired = reconcile(eks_xr({"nodePool": {"size": "m6i.large", "count": 2}}))

    assert desired.resources["node-group"]["spec"] == {
        "forProvider": {
            "region": "eu-west-1",
            "clusterNameSelector": {"matchControllerRef": True},
            "nodeRoleArnSelector": {
                "matchControllerRef": True,
                "matchLabels": {ROLE_LABEL: "node"},
            },
            "subnetIds": EKS_SUBNETS,
            "instanceTypes": ["m6i.large"],
            "scalingConfig": {"desiredSize": 2, "minSize": 2, "maxSize": 2},
        },
        "providerConfigRef": {"kind": "ClusterProviderConfig", "name": "default"},
    }


def test_an_autoscaled_node_group_sets_its_desired_size_only_at_creation() -> None:
    desired = reconcile(eks_xr({"nodePool": {"count": 3, "minCount": 2, "maxCount": 6}}))

    spec = desired.resources["node-group"]["spec"]
    assert spec["forProvider"]["scalingConfig"] == {"minSize": 2, "maxSize": 6}
    assert spec["initProvider"] == {"scalingConfig": {"desiredSize": 3}}
    # No size: EKS picks its default instance type.
    assert "instanceTypes" not in spec["forProvider"]


def test_a_namespaced_provider_config_kind_is_used_everywhere() -> None:
    desired = reconcile(
        eks_xr({"providerConfigName": "aws-team", "providerConfigKind": "ProviderConfig"})
    )
    for name, resource in desired.resources.items():
        assert resource["spec"]["providerConfigRef"] == {
            "kind": "ProviderConfig",
            "name": "aws-team",
        }, name


def test_china_and_govcloud_regions_use_their_partitions_arns() -> None:
    china = reconcile(eks_xr({"location": "cn-north-1"}))
    govcloud = reconcile(eks_xr({"location": "us-gov-west-1"}))

    assert for_provider(china, "cluster-role-policy")["policyArn"] == (
        "arn:aws-cn:iam::aws:policy/AmazonEKSClusterPolicy"
    )
    assert for_provider(govcloud, "node-role-policy-cni")["policyArn"] == (
        "arn:aws-us-gov:iam::aws:policy/AmazonEKS_CNI_Policy"
    )


def test_the_grpc_path_serves_an_eks_request() -> None:
    rsp = asyncio.run(fn.FunctionRunner().RunFunction(request(eks_xr(), EKS_INPUT), None))

    assert [r for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL] == []
    assert set(rsp.desired.resources) == {*ROLES, "cluster", "node-group"}


# --- a bad spec is one Fatal naming the field ---------------------------------------------


@pytest.mark.parametrize(
    ("spec", "field", "says"),
    [
        ({"subnetIds": []}, "spec.subnetIds", "lists 0 subnets; EKS needs at least two"),
        ({"subnetIds": ["subnet-a"]}, "spec.subnetIds", "lists 1 subnet; EKS needs at least two"),
        (
            {"subnetIds": ["subnet-a", "subnet-b", "subnet-a"]},
            "spec.subnetIds",
            "lists subnet-a twice",
        ),
        ({"argocd": {"auth": "ClientCertificate"}}, "spec.argocd.auth", "no client certificates"),
        ({"resourceGroupName": "rg-x"}, "spec.resourceGroupName", "is an AKS field"),
        (
            {"argocd": {"workloadIdentity": {"clientId": "11111111-2222-3333-4444-555555555555"}}},
            "spec.argocd.workloadIdentity",
            "is an AKS field",
        ),
        ({"location": "westeurope"}, "spec.location", "is not an AWS region"),
        ({"clusterRoleArn": "arn:aws:iam::1:role/x"}, "spec.clusterRoleArn", "IAM role ARN"),
        ({"nodeRoleArn": f"arn:aws:iam::{ACCOUNT}:user/x"}, "spec.nodeRoleArn", "IAM role ARN"),
    ],
)
def test_a_bad_spec_is_a_fatal_naming_the_field(
    spec: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(InvalidSpec) as raised:
        reconcile(eks_xr(spec))

    message = str(raised.value)
    assert message.startswith(field), message
    assert says in message


def test_the_subnet_fatal_says_how_to_fix_it() -> None:
    with pytest.raises(InvalidSpec) as raised:
        reconcile(eks_xr({"subnetIds": ["subnet-a"]}))

    assert "at least two subnets" in str(raised.value)
    assert "in two zones" in str(raised.value)


def test_workload_identity_is_argocds_own_iam_role() -> None:
    desired = reconcile(
        eks_xr({"argocd": {"auth": "WorkloadIdentity"}}), cluster_manifest=eks_cluster()
    )
    assert config(desired)["awsAuthConfig"]["roleARN"] == ARGOCD_ROLE


# --- registration from the cluster's status -------------------------------------------------


def test_a_ready_cluster_registers_from_its_status_with_aws_auth_config() -> None:
    desired = reconcile(cluster_manifest=eks_cluster())

    secret = registration_secret(desired)
    assert data(secret)["server"] == ENDPOINT
    assert config(desired) == {
        "awsAuthConfig": {"clusterName": CLUSTER_NAME, "roleARN": ARGOCD_ROLE},
        "tlsClientConfig": {"insecure": False, "caData": PKI.ca_data},
    }
    labels = secret["metadata"]["labels"]
    assert {k: labels[PREFIX + k] for k in ("cloud", "distribution", "region")} == {
        "cloud": "aws",
        "distribution": "eks",
        "region": "eu-west-1",
    }
    annotations = secret["metadata"]["annotations"]
    assert {k: annotations[PREFIX + k] for k in ("kubernetes-version", "platform-version")} == {
        "kubernetes-version": "1.33",
        "platform-version": "eks.9",
    }
    assert annotations[PREFIX + "cluster-arn"] == CLUSTER_ARN
    assert annotations[PREFIX + "account-id"] == ACCOUNT
    assert desired.status.argocd is not None
    assert desired.status.argocd.authMethod == "AWSAuth"
    assert desired.status.argocd.server == ENDPOINT
    assert desired.status.cluster is not None
    assert desired.status.cluster.endpoint == ENDPOINT
    assert condition(desired) == (False, "Registering")


def test_without_argocds_role_argo_cd_signs_in_as_its_own_identity() -> None:
    desired = reconcile(fn_input=EKS_INPUT, cluster_manifest=eks_cluster())

    assert config(desired)["awsAuthConfig"] == {"clusterName": CLUSTER_NAME}


def test_the_cluster_name_is_the_external_name_else_the_id() -> None:
    by_annotation = reconcile(cluster_manifest=eks_cluster(cluster_id="from-the-id"))
    by_id = reconcile(cluster_manifest=eks_cluster(external_name=None, cluster_id="from-the-id"))

    assert config(by_annotation)["awsAuthConfig"]["clusterName"] == CLUSTER_NAME
    assert config(by_id)["awsAuthConfig"]["clusterName"] == "from-the-id"


def test_the_registration_is_registered_once_observed() -> None:
    first = reconcile(cluster_manifest=eks_cluster())
    desired = reconcile(
        cluster_manifest=eks_cluster(),
        observed={name: ready(first.resources[name]) for name in first.resources},
    )
    assert condition(desired) == (True, "Registered")
    assert desired.resources[REGISTRATION] == first.resources[REGISTRATION]


@pytest.mark.parametrize(
    ("manifest", "says"),
    [
        (eks_cluster(ready=False), "not Ready"),
        (eks_cluster(endpoint=None), "endpoint"),
        (eks_cluster(ca=None), "certificate authority"),
        (eks_cluster(ca=""), "certificate authority"),
        (eks_cluster(external_name=None, cluster_id=None), "name"),
    ],
)
def test_waits_until_the_cluster_reports_what_argocd_needs(
    manifest: dict[str, Any], says: str
) -> None:
    desired = reconcile(cluster_manifest=manifest)

    assert REGISTRATION not in desired.resources
    (found,) = [c for c in desired.conditions if c.type == "ArgoCDRegistered"]
    assert (found.status, found.reason) == (False, "WaitingForCluster")
    assert says in found.message
    assert warnings(desired) == []


@pytest.mark.parametrize(
    ("manifest", "reason", "field"),
    [
        (eks_cluster(ca="not base64!"), "InvalidClusterCA", "certificateAuthority[0].data"),
        (
            eks_cluster(ca=base64.b64encode(PKI.ca_data.encode()).decode()),  # twice
            "InvalidClusterCA",
            "certificateAuthority[0].data",
        ),
        (eks_cluster(endpoint="http://insecure.example"), "InvalidClusterEndpoint", "endpoint"),
    ],
)
def test_unusable_status_is_a_warning_and_no_registration(
    manifest: dict[str, Any], reason: str, field: str
) -> None:
    desired = reconcile(cluster_manifest=manifest)

    assert REGISTRATION not in desired.resources
    assert condition(desired) == (False, reason)
    (warning,) = warnings(desired)
    assert f"status.atProvider.{field}" in warning
    # Never the value itself.
    assert "not base64!" not in warning


def test_an_invalid_ca_keeps_an_existing_registration() -> None:
    first = reconcile(cluster_manifest=eks_cluster())
    observed = {name: ready(first.resources[name]) for name in first.resources}

    desired = reconcile(cluster_manifest=eks_cluster(ca="not base64!"), observed=observed)

    assert desired.resources[REGISTRATION]["spec"] == first.resources[REGISTRATION]["spec"]
    assert condition(desired) == (True, "InvalidClusterCA")
    assert any("kept the existing Argo CD registration" in w for w in warnings(desired))
    assert [r.severity for r in desired.results] == [Severity.WARNING]


# --- Argo CD's access: the access entry and its policy ----------------------------------------


@pytest.mark.parametrize("scope", SCOPES)
def test_a_ready_cluster_gets_an_access_entry_and_policy_for_argocds_role(scope: str) -> None:
    make = SCOPES[scope][0]
    desired = reconcile(make(), cluster_manifest=eks_cluster())

    entry, association = (desired.resources[name] for name in GRANTS)
    assert (entry["apiVersion"], entry["kind"]) == (GRANT_APIS[scope], "AccessEntry")
    assert (association["apiVersion"], association["kind"]) == (
        GRANT_APIS[scope],
        "AccessPolicyAssociation",
    )
    assert entry["spec"]["forProvider"] == {
        "region": "eu-west-1",
        "clusterNameSelector": {"matchControllerRef": True},
        "principalArn": ARGOCD_ROLE,
        "type": "STANDARD",
    }
    assert association["spec"]["forProvider"] == {
        "region": "eu-west-1",
        "clusterNameSelector": {"matchControllerRef": True},
        # From the access entry, so AWS has the entry before the association.
        "principalArnSelector": {"matchControllerRef": True},
        "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
        "accessScope": {"type": "cluster"},
    }
    assert desired.ready["argocd-access"] is False


def test_the_grant_does_not_wait_for_the_registration() -> None:
    desired = reconcile(cluster_manifest=eks_cluster(ca=None))

    assert REGISTRATION not in desired.resources
    assert set(GRANTS) <= set(desired.resources)


def test_namespaces_narrow_the_access_policy_to_them() -> None:
    desired = reconcile(
        eks_xr({"argocd": {"namespaces": ["apps", "jobs"]}}), cluster_manifest=eks_cluster()
    )
    assert for_provider(desired, "argocd-access-policy")["accessScope"] == {
        "type": "namespace",
        "namespaces": ["apps", "jobs"],
    }


def test_cluster_resources_keep_the_cluster_scope() -> None:
    """Argo CD manages cluster-scoped resources too, which a namespace scope would deny."""
    desired = reconcile(
        eks_xr({"argocd": {"namespaces": ["apps"], "clusterResources": True}}),
        cluster_manifest=eks_cluster(),
    )
    assert for_provider(desired, "argocd-access-policy")["accessScope"] == {"type": "cluster"}


def test_the_access_policy_is_the_inputs() -> None:
    desired = reconcile(
        fn_input=eks_input(ARGOCD_ROLE, accessPolicy="AmazonEKSAdminPolicy"),
        cluster_manifest=eks_cluster(),
    )
    assert for_provider(desired, "argocd-access-policy")["policyArn"] == (
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy"
    )


def test_no_grant_without_argocds_role() -> None:
    desired = reconcile(fn_input=EKS_INPUT, cluster_manifest=eks_cluster())

    assert REGISTRATION in desired.resources
    assert not [name for name in desired.resources if name.startswith("argocd-access")]


@pytest.mark.parametrize(
    "manifest", [None, eks_cluster(ready=False)], ids=["no cluster", "cluster not ready"]
)
def test_no_grant_before_the_cluster_is_ready(manifest: dict[str, Any] | None) -> None:
    desired = reconcile(cluster_manifest=manifest)

    assert not [name for name in desired.resources if name.startswith("argocd-access")]


def test_grants_are_kept_through_a_gap() -> None:
    first = reconcile(cluster_manifest=eks_cluster())
    observed = {name: ready(first.resources[name]) for name in first.resources}

    # The cluster turns unready and stops reporting its endpoint ...
    unready = reconcile(cluster_manifest=eks_cluster(ready=False, endpoint=None), observed=observed)
    # ... or is missing from the request altogether.
    absent = reconcile(observed={k: v for k, v in observed.items() if k != "cluster"})

    for desired in (unready, absent):
        assert REGISTRATION in desired.resources
        for name in GRANTS:
            assert desired.resources[name]["spec"] == first.resources[name]["spec"]
            assert desired.ready[name] is True


def test_grants_are_kept_while_draining_and_removed_with_the_registration() -> None:
    """Argo CD needs its access to delete the cluster's Applications' objects."""
    first = reconcile(cluster_manifest=eks_cluster())
    observed = {name: ready(first.resources[name]) for name in first.resources}
    leaving = eks_xr({"argocd": {"register": False}})
    remaining = [{"metadata": {"name": "guestbook-team-a-team-a-dev"}}]

    draining = reconcile(
        leaving,
        cluster_manifest=eks_cluster(),
        observed=observed,
        required={APPLICATIONS: remaining},
    )
    drained = reconcile(
        leaving, cluster_manifest=eks_cluster(), observed=observed, required={APPLICATIONS: []}
    )

    assert condition(draining) == (False, "Draining")
    for name in GRANTS:
        assert draining.resources[name] == first.resources[name]
    assert condition(drained) == (False, "Disabled")
    assert REGISTRATION not in drained.resources
    assert not [name for name in drained.resources if name.startswith("argocd-access")]
    # The cluster itself stays.
    assert {"cluster", "node-group"} <= set(drained.resources)


def test_an_empty_workload_identity_is_what_a_shared_xrd_defaults_and_is_accepted() -> None:
    desired = reconcile(eks_xr({"argocd": {"workloadIdentity": {}}}))

    assert "cluster" in desired.resources
