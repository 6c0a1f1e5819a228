"""Objects as a live API server returns them, which is what Crossplane copies into requests.

Crossplane puts each observed object into the request whole (crossplane-runtime-behaviour.md):
`metadata.managedFields` for every field manager, `uid`, `resourceVersion`, `generation`,
owner references, finalizers, and a provider `status.atProvider` that mirrors the whole
spec, with the spec itself late-initialised from it. Hand-built requests leave all that
out and so understate what a request costs to receive and to read.
"""

import copy
import hashlib
from typing import Any

COMPOSED_MANAGER = "apiextensions.crossplane.io/composed"
COMPOSITE_MANAGER = "apiextensions.crossplane.io/composite"
_TIME = "2026-11-26T08:00:00Z"


def uid(name: str) -> str:
    """A stable UUID-shaped uid for a name."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def fields_v1(value: Any) -> Any:
    """managedFields' fieldsV1 for a value: every key as f:<key>, list items by position."""
    if isinstance(value, dict):
        return {f"f:{key}": fields_v1(item) for key, item in value.items()}
    if isinstance(value, list):
        return {f'k:{{"index":{index}}}': fields_v1(item) for index, item in enumerate(value)}
    return {}


def managed_fields(obj: dict[str, Any], provider: str, time: str = _TIME) -> list[dict[str, Any]]:
    """The field managers of a composed resource: Crossplane's apply, the provider's updates."""
    metadata = obj["metadata"]
    return [
        {
            "manager": COMPOSED_MANAGER,
            "operation": "Apply",
            "apiVersion": obj["apiVersion"],
            "time": time,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": fields_v1(
                    {k: metadata[k] for k in ("labels", "ownerReferences") if k in metadata}
                    | {"annotations": {"crossplane.io/composition-resource-name": ""}}
                ),
                "f:spec": fields_v1(obj.get("spec", {})),
            },
        },
        {
            "manager": provider,
            "operation": "Update",
            "apiVersion": obj["apiVersion"],
            "time": time,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:annotations": fields_v1(metadata.get("annotations", {}))}
                | {
                    "f:finalizers": {".: {}": {}, 'v:"finalizer.managedresource.crossplane.io"': {}}
                },
                "f:spec": {"f:forProvider": fields_v1(obj.get("spec", {}).get("forProvider", {}))},
            },
        },
        {
            "manager": provider,
            "operation": "Update",
            "apiVersion": obj["apiVersion"],
            "time": time,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:status": fields_v1(obj.get("status", {}))},
            "subresource": "status",
        },
    ]


def as_live(
    obj: dict[str, Any],
    *,
    owner: dict[str, Any],
    provider: str,
    at_provider: dict[str, Any] | None = None,
    version: int = 4711,
) -> dict[str, Any]:
    """obj as read back from the API server once its provider has reconciled it."""
    live = copy.deepcopy(obj)
    metadata = live["metadata"]
    name = metadata["name"]
    metadata |= {
        "uid": uid(name),
        "resourceVersion": str(version),
        "generation": 3,
        "creationTimestamp": _TIME,
        "finalizers": ["finalizer.managedresource.crossplane.io"],
    }
    metadata.setdefault("labels", {})["crossplane.io/composite"] = owner["metadata"]["name"]
    metadata.setdefault("annotations", {}).update(
        {
            "crossplane.io/external-name": name,
            "crossplane.io/external-create-pending": "2026-11-26T08:00:01Z",
            "crossplane.io/external-create-succeeded": "2026-11-26T08:00:02Z",
        }
    )
    metadata["ownerReferences"] = [
        {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    status = live.setdefault("status", {})
    if at_provider is not None:
        # The provider reports every attribute, and late-initialises the spec from them.
        status["atProvider"] = copy.deepcopy(status.get("atProvider", {})) | at_provider
        for_provider = live.setdefault("spec", {}).setdefault("forProvider", {})
        for key, value in at_provider.items():
            if key not in ("id", "fqdn", "endpoint", "masterAuth"):
                for_provider.setdefault(key, copy.deepcopy(value))
    status.setdefault("conditions", [])
    for condition in status["conditions"]:
        condition.setdefault("observedGeneration", 3)
    metadata["managedFields"] = managed_fields(live, provider)
    return live


def composite_live(xr: dict[str, Any], version: int = 4712) -> dict[str, Any]:
    """The XR as read back: applied by a GitOps tool, with Crossplane's own status writes."""
    live = copy.deepcopy(xr)
    metadata = live["metadata"]
    metadata |= {
        "resourceVersion": str(version),
        "generation": 2,
        "creationTimestamp": _TIME,
        "finalizers": ["composite.apiextensions.crossplane.io"],
    }
    metadata.setdefault("labels", {})["crossplane.io/composite"] = metadata["name"]
    applied = {k: xr[k] for k in ("apiVersion", "kind", "spec")}
    metadata["managedFields"] = [
        {
            "manager": "argocd-controller",
            "operation": "Apply",
            "apiVersion": xr["apiVersion"],
            "time": _TIME,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": fields_v1(applied["spec"])},
        },
        {
            "manager": COMPOSITE_MANAGER,
            "operation": "Apply",
            "apiVersion": xr["apiVersion"],
            "time": _TIME,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:finalizers": {'v:"composite.apiextensions.crossplane.io"': {}}},
                "f:spec": {"f:crossplane": fields_v1(live["spec"].get("crossplane", {}))},
            },
        },
        {
            "manager": COMPOSITE_MANAGER,
            "operation": "Apply",
            "apiVersion": xr["apiVersion"],
            "time": _TIME,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:status": fields_v1(live.get("status", {}))},
            "subresource": "status",
        },
    ]
    return live


def _node_pool_attributes(name: str, size: str) -> dict[str, Any]:
    return {
        "name": name,
        "vmSize": size,
        "autoScalingEnabled": True,
        "minCount": 1,
        "maxCount": 5,
        "nodeCount": 3,
        "maxPods": 110,
        "osDiskSizeGb": 128,
        "osDiskType": "Managed",
        "osSku": "Ubuntu",
        "type": "VirtualMachineScaleSets",
        "orchestratorVersion": "1.33.2",
        "kubeletDiskType": "OS",
        "scaleDownMode": "Delete",
        "fipsEnabled": False,
        "hostEncryptionEnabled": False,
        "nodePublicIpEnabled": False,
        "onlyCriticalAddonsEnabled": False,
        "ultraSsdEnabled": False,
        "workloadRuntime": "OCIContainer",
        "zones": ["1", "2", "3"],
        "nodeLabels": {},
        "tags": {},
        "upgradeSettings": [
            {"drainTimeoutInMinutes": 0, "maxSurge": "10%", "nodeSoakDurationInMinutes": 0}
        ],
    }


def aks_at_provider(cluster: dict[str, Any]) -> dict[str, Any]:
    """What provider-upjet-azure reports for a KubernetesCluster (abridged, real size)."""
    at = cluster["status"]["atProvider"]
    rg = at["id"].split("/providers/")[0]
    node_rg = f"MC_{rg.rsplit('/', 1)[-1]}_{cluster['metadata']['name']}_westeurope"
    identity = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
    outbound_ip = (
        f"{identity}{node_rg}/providers/Microsoft.Network/publicIPAddresses/{uid('outbound-ip')}"
    )
    return {
        "apiServerAccessProfile": [{"authorizedIpRanges": [], "vnetIntegrationEnabled": False}],
        "automaticUpgradeChannel": "patch",
        "autoScalerProfile": [
            {
                "balanceSimilarNodeGroups": False,
                "emptyBulkDeleteMax": "10",
                "expander": "random",
                "maxGracefulTerminationSec": "600",
                "maxNodeProvisioningTime": "15m",
                "maxUnreadyNodes": 3,
                "maxUnreadyPercentage": 45,
                "newPodScaleUpDelay": "0s",
                "scaleDownDelayAfterAdd": "10m",
                "scaleDownDelayAfterDelete": "10s",
                "scaleDownDelayAfterFailure": "3m",
                "scaleDownUnneeded": "10m",
                "scaleDownUnready": "20m",
                "scaleDownUtilizationThreshold": "0.5",
                "scanInterval": "10s",
                "skipNodesWithLocalStorage": False,
                "skipNodesWithSystemPods": True,
            }
        ],
        "azurePolicyEnabled": False,
        "costAnalysisEnabled": False,
        "currentKubernetesVersion": at.get("currentKubernetesVersion", "1.33.2"),
        "defaultNodePool": [_node_pool_attributes("default", "Standard_D4s_v5")],
        "dnsPrefix": cluster["spec"]["forProvider"].get("dnsPrefix", ""),
        "fqdn": at["fqdn"],
        "httpApplicationRoutingEnabled": False,
        "identity": [
            {
                "principalId": uid("principal"),
                "tenantId": uid("tenant"),
                "type": "SystemAssigned",
                "identityIds": [],
            }
        ],
        "imageCleanerEnabled": False,
        "imageCleanerIntervalHours": 48,
        "kubeletIdentity": [
            {
                "clientId": uid("kubelet-client"),
                "objectId": uid("kubelet-object"),
                "userAssignedIdentityId": f"{identity}{node_rg}/providers/"
                "Microsoft.ManagedIdentity/userAssignedIdentities/agentpool",
            }
        ],
        "kubernetesVersion": "1.33",
        "localAccountDisabled": False,
        "location": "westeurope",
        "networkProfile": [
            {
                "dnsServiceIp": "10.0.0.10",
                "ipVersions": ["IPv4"],
                "loadBalancerProfile": [
                    {
                        "effectiveOutboundIps": [outbound_ip],
                        "idleTimeoutInMinutes": 0,
                        "managedOutboundIpCount": 1,
                        "managedOutboundIpv6Count": 0,
                        "outboundPortsAllocated": 0,
                    }
                ],
                "loadBalancerSku": "standard",
                "networkDataPlane": "azure",
                "networkPlugin": "azure",
                "networkPluginMode": "overlay",
                "networkPolicy": "",
                "outboundType": "loadBalancer",
                "podCidr": "10.244.0.0/16",
                "podCidrs": ["10.244.0.0/16"],
                "serviceCidr": "10.0.0.0/16",
                "serviceCidrs": ["10.0.0.0/16"],
            }
        ],
        "nodeResourceGroup": node_rg,
        "nodeResourceGroupId": f"{identity}{node_rg}",
        "oidcIssuerEnabled": True,
        "oidcIssuerUrl": f"https://westeurope.oic.prod-aks.azure.com/{uid('tenant')}/{uid('oidc')}/",
        "openServiceMeshEnabled": False,
        "portalFqdn": f"portal-{at['fqdn']}",
        "privateClusterEnabled": False,
        "privateClusterPublicFqdnEnabled": False,
        "resourceGroupName": rg.rsplit("/", 1)[-1],
        "roleBasedAccessControlEnabled": True,
        "runCommandEnabled": True,
        "skuTier": "Free",
        "supportPlan": "KubernetesOfficial",
        "tags": {"managed-by": "crossplane", "team": "platform"},
        "workloadIdentityEnabled": True,
    }


def gke_at_provider(cluster: dict[str, Any]) -> dict[str, Any]:
    """The attributes provider-upjet-gcp reports for a container Cluster (abridged to real size)."""
    at = cluster["status"]["atProvider"]
    project = at["id"].split("/")[1]
    return {
        "addonsConfig": [
            {
                "dnsCacheConfig": [{"enabled": False}],
                "gcePersistentDiskCsiDriverConfig": [{"enabled": True}],
                "gcsFuseCsiDriverConfig": [{"enabled": False}],
                "horizontalPodAutoscaling": [{"disabled": False}],
                "httpLoadBalancing": [{"disabled": False}],
                "networkPolicyConfig": [{"disabled": True}],
            }
        ],
        "clusterIpv4Cidr": "10.8.0.0/14",
        "databaseEncryption": [{"state": "DECRYPTED"}],
        "datapathProvider": "LEGACY_DATAPATH",
        "defaultMaxPodsPerNode": 110,
        "defaultSnatStatus": [{"disabled": False}],
        "effectiveLabels": {"goog-managed-by": "crossplane"},
        "enableIntranodeVisibility": False,
        "enableKubernetesAlpha": False,
        "enableLegacyAbac": False,
        "enableShieldedNodes": True,
        "endpoint": at["endpoint"],
        "id": at["id"],
        "ipAllocationPolicy": [
            {
                "clusterIpv4CidrBlock": "10.8.0.0/14",
                "servicesIpv4CidrBlock": "34.118.224.0/20",
                "stackType": "IPV4",
                "podCidrOverprovisionConfig": [{"disabled": False}],
            }
        ],
        "labelFingerprint": "a9dc16a7",
        "location": "europe-west1",
        "loggingConfig": [{"enableComponents": ["SYSTEM_COMPONENTS", "WORKLOADS"]}],
        "loggingService": "logging.googleapis.com/kubernetes",
        "maintenancePolicy": [],
        "masterAuth": at["masterAuth"]
        | {"clientCertificateConfig": [{"issueClientCertificate": False}]},
        "masterAuthorizedNetworksConfig": [],
        "masterVersion": "1.33.2-gke.1000000",
        "monitoringConfig": [
            {
                "enableComponents": ["SYSTEM_COMPONENTS"],
                "managedPrometheus": [{"enabled": True}],
            }
        ],
        "monitoringService": "monitoring.googleapis.com/kubernetes",
        "network": f"projects/{project}/global/networks/default",
        "networkingMode": "VPC_NATIVE",
        "nodeConfig": [
            {
                "diskSizeGb": 100,
                "diskType": "pd-balanced",
                "imageType": "COS_CONTAINERD",
                "machineType": "e2-medium",
                "metadata": {"disable-legacy-endpoints": "true"},
                "oauthScopes": [
                    "https://www.googleapis.com/auth/devstorage.read_only",
                    "https://www.googleapis.com/auth/logging.write",
                    "https://www.googleapis.com/auth/monitoring",
                    "https://www.googleapis.com/auth/service.management.readonly",
                    "https://www.googleapis.com/auth/servicecontrol",
                    "https://www.googleapis.com/auth/trace.append",
                ],
                "serviceAccount": "default",
                "shieldedInstanceConfig": [
                    {"enableIntegrityMonitoring": True, "enableSecureBoot": False}
                ],
                "workloadMetadataConfig": [{"mode": "GKE_METADATA"}],
            }
        ],
        "nodeLocations": ["europe-west1-b", "europe-west1-c", "europe-west1-d"],
        "nodeVersion": "1.33.2-gke.1000000",
        "notificationConfig": [{"pubsub": [{"enabled": False}]}],
        "privateClusterConfig": [
            {
                "enablePrivateEndpoint": False,
                "masterGlobalAccessConfig": [{"enabled": False}],
                "privateEndpoint": "10.132.0.2",
                "publicEndpoint": at["endpoint"],
            }
        ],
        "project": project,
        "releaseChannel": [{"channel": "REGULAR"}],
        "selfLink": f"https://container.googleapis.com/v1/{at['id']}",
        "servicesIpv4Cidr": "34.118.224.0/20",
        "subnetwork": f"projects/{project}/regions/europe-west1/subnetworks/default",
        "terraformLabels": {"goog-managed-by": "crossplane"},
        "verticalPodAutoscaling": [{"enabled": False}],
        "workloadIdentityConfig": [{"workloadPool": f"{project}.svc.id.goog"}],
    }


def gke_node_pool_at_provider(node_pool: dict[str, Any]) -> dict[str, Any]:
    """The attributes provider-upjet-gcp reports for a NodePool (abridged to real size)."""
    name = node_pool["metadata"]["name"]
    return {
        "autoscaling": [],
        "id": f"projects/example-project/locations/europe-west1/clusters/c/nodePools/{name}",
        "instanceGroupUrls": [
            f"https://www.googleapis.com/compute/v1/projects/example-project/zones/"
            f"europe-west1-{zone}/instanceGroupManagers/gke-{name}-{uid(zone)[:8]}-grp"
            for zone in "bcd"
        ],
        "location": "europe-west1",
        "management": [{"autoRepair": True, "autoUpgrade": True}],
        "maxPodsPerNode": 110,
        "nodeConfig": [
            {
                "diskSizeGb": 100,
                "diskType": "pd-balanced",
                "imageType": "COS_CONTAINERD",
                "machineType": "e2-standard-4",
                "metadata": {"disable-legacy-endpoints": "true"},
                "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
                "serviceAccount": "default",
                "shieldedInstanceConfig": [
                    {"enableIntegrityMonitoring": True, "enableSecureBoot": False}
                ],
            }
        ],
        "nodeCount": 2,
        "nodeLocations": ["europe-west1-b", "europe-west1-c", "europe-west1-d"],
        "upgradeSettings": [{"maxSurge": 1, "maxUnavailable": 0, "strategy": "SURGE"}],
        "version": "1.33.2-gke.1000000",
    }


def resource_group_at_provider(group: dict[str, Any]) -> dict[str, Any]:
    """The attributes provider-upjet-azure reports for a ResourceGroup."""
    return {"id": group["status"]["atProvider"]["id"], "location": "westeurope", "tags": {}}
