"""Write the examples' connection Secrets and GKE and EKS CAs from freshly generated test PKI.

    python hack/example_credentials.py

The certificates and keys are throwaway ones made here with `cryptography`; they
only let `crossplane render` show a real registration. Tests that prove a
registration works generate their own PKI instead of trusting these files.
"""

import base64
import re
from pathlib import Path

import yaml

from tests.pki import make_pki

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# (example, connection Secret name, namespace, AKS API server host)
AKS = (
    (
        "aks-namespaced",
        "team-a-dev-aks-kubeconfig",
        "team-a",
        "team-a-dev-4f2a9c1b.hcp.westeurope.azmk8s.io",
    ),
    (
        "aks-legacy-claim",
        "payments-prod-h4c9z-aks-kubeconfig",
        "crossplane-system",
        "payments-prod-7d1e3a5f.hcp.northeurope.azmk8s.io",
    ),
)
GKE = ("gke-namespaced", "gke-cluster")
EKS = ("eks-namespaced", "eks-cluster")


def aks_kubeconfig(host: str, cluster: str, ca: str, cert: str, key: str, token: str) -> str:
    """The shape azurerm's kube_config_raw has for a cluster with local accounts."""
    user = f"clusterUser_{cluster}"
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster,
                    "cluster": {"certificate-authority-data": ca, "server": f"https://{host}:443"},
                }
            ],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
            "current-context": cluster,
            "preferences": {},
            "users": [
                {
                    "name": user,
                    "user": {
                        "client-certificate-data": cert,
                        "client-key-data": key,
                        "token": token,
                    },
                }
            ],
        },
        sort_keys=False,
    )


def connection_secret(name: str, namespace: str, data: dict[str, bytes]) -> str:
    """The Secret provider-upjet-azure writes for the cluster (writeConnectionSecretToRef)."""
    header = "# The provider's connection Secret; throwaway PKI from hack/example_credentials.py\n"
    return header + yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "type": "connection.crossplane.io/v1alpha1",
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
        },
        sort_keys=False,
    )


def main() -> None:
    """Rewrite every example's credentials."""
    for folder, name, namespace, host in AKS:
        pki = make_pki(f"example-{folder}", server_names=(host,), key_type="rsa")
        token = base64.b16encode(name.encode()).decode().lower()[:32]
        kubeconfig = aks_kubeconfig(
            host,
            name.removesuffix("-aks-kubeconfig"),
            pki.ca_data,
            pki.client_cert_data,
            pki.client_key_data,
            token,
        )
        data = {
            "kubeconfig": kubeconfig.encode(),
            "kubeconfig.clustercacertificate": pki.ca_cert,
            "kubeconfig.clientcertificate": pki.client_cert,
            "kubeconfig.clientkey": pki.client_key,
        }
        (EXAMPLES / folder / "connection-secret.yaml").write_text(
            connection_secret(name, namespace, data)
        )
    for folder in GKE:
        observed_ca(folder, "clusterCaCertificate: ")
    for folder in EKS:
        # The data of status.atProvider.certificateAuthority[0] is the only "- data:" there.
        observed_ca(folder, "- data: ")


def observed_ca(folder: str, key: str) -> None:
    """Put a fresh CA (base64 PEM) after key in the example's observed cluster."""
    observed = EXAMPLES / folder / "observed.yaml"
    pki = make_pki(f"example-{folder}")
    text = re.sub(re.escape(key) + r"\S+", key + pki.ca_data, observed.read_text())
    observed.write_text(text)


if __name__ == "__main__":
    main()
