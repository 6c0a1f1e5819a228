"""The rendered Argo CD cluster Secret really connects, not just looks right.

Every example is rendered by the real `crossplane render` against the function over gRPC,
with a PKI made fresh for this run in place of the example's throwaway credentials. The
composed `argocd-cluster` is then used exactly as Argo CD would use it: AKS Secrets do
`GET /version` against a loopback API server that demands the client certificate; GKE
Secrets (argocd-k8s-auth gcp, an exec plugin that cannot run here) and EKS Secrets
(awsAuthConfig, from which Argo CD runs argocd-k8s-auth aws) prove the TLS half,
verifying the server with the Secret's caData for the Secret's host.
"""

import base64
import dataclasses
import secrets
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.argocd_client import cluster_from_secret, get_version
from tests.builders import argocd_secret
from tests.conftest import CrossplaneCLI, FunctionServer
from tests.crossplane_cli import EXAMPLE_FOLDERS, Example, composed, documents, render
from tests.https_server import ApiServer
from tests.pki import Pki, make_pki
from tests.secrets_fixture import token

PREFIX = "gitopscluster.fn.crossplane.io/"
SECRET_TYPE = "argocd.argoproj.io/secret-type"
EXEC_GCP = {
    "command": "argocd-k8s-auth",
    "args": ["gcp"],
    "apiVersion": "client.authentication.k8s.io/v1beta1",
}
TIMEOUT = 5.0


@dataclass(frozen=True)
class Expected:
    """What SPEC §2/§4 say the example's Secret must hold, worked out from the example."""

    cloud: str
    distribution: str
    region: str
    name: str  # spec.argocd.name, else "<namespace>-<name>" / "<claim ns>-<claim name>"


EXPECTED = {
    "aks-namespaced": Expected("azure", "aks", "westeurope", "team-a-team-a-dev"),
    "gke-namespaced": Expected("gcp", "gke", "europe-west1", "team-b-team-b-staging"),
    "aks-legacy-claim": Expected("azure", "aks", "northeurope", "payments-prod"),
    # A zone's region: us-central1-a is in us-central1.
    "gke-cluster": Expected("gcp", "gke", "us-central1", "shared-tools"),
    "eks-namespaced": Expected("aws", "eks", "eu-west-1", "team-c-team-c-prod"),
    "eks-cluster": Expected("aws", "eks", "us-east-2", "data-platform"),
}
AKS = [f for f in EXAMPLE_FOLDERS if EXPECTED[f].distribution == "aks"]
GKE = [f for f in EXAMPLE_FOLDERS if EXPECTED[f].distribution == "gke"]
EKS = [f for f in EXAMPLE_FOLDERS if EXPECTED[f].distribution == "eks"]
# Both reach the API server over TLS, verified with the Secret's caData, and sign in with
# an identity Argo CD has of its own.
STATUS_ONLY = GKE + EKS


@dataclass(frozen=True)
class Registration:
    """One example rendered with fresh credentials."""

    folder: str
    pki: Pki
    server: str  # the API server URL the example names
    host: str
    token: str | None  # the fresh bearer token, where the example's kubeconfig has one
    resources: dict[str, Any]  # every composed resource as rendered, by name

    @property
    def secret(self) -> dict[str, Any]:
        """The Argo CD cluster Secret as it lands, whichever way it is delivered."""
        return argocd_secret(self.resources)


Registered = Callable[[str], Registration]


@pytest.fixture(scope="module")
def registered(
    crossplane: CrossplaneCLI,
    function_server: FunctionServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Registered:
    """Render each example once, with fresh credentials, and keep its argocd-cluster."""
    cache: dict[str, Registration] = {}

    def get(folder: str) -> Registration:
        if folder not in cache:
            workdir = tmp_path_factory.mktemp(folder)
            cache[folder] = _register(crossplane, function_server.address, folder, workdir)
        return cache[folder]

    return get


def _register(crossplane: CrossplaneCLI, address: str, folder: str, workdir: Path) -> Registration:
    example = Example(folder)
    if EXPECTED[folder].distribution == "aks":
        secret = yaml.safe_load(example.path.joinpath("connection-secret.yaml").read_text())
        server = _kubeconfig_server(secret)
        host = _host(server)
        pki = _fresh_pki(folder, host)
        fresh_token = token("bearer") if _current_user(secret).get("token") else None
        required = [_write(workdir / "connection-secret.yaml", [_fresh(secret, pki, fresh_token)])]
        observed = example.path / "observed.yaml"
    else:
        docs = documents(example.path.joinpath("observed.yaml").read_text())
        at_provider = _observed_cluster(docs)["status"]["atProvider"]
        endpoint = at_provider["endpoint"]
        if EXPECTED[folder].distribution == "eks":  # an https:// URL already
            server, host, fresh_token = endpoint, _host(endpoint), None
            pki = _fresh_pki(folder, host)
            at_provider["certificateAuthority"] = [{"data": pki.ca_data}]
        else:
            server, host, fresh_token = f"https://{endpoint}", endpoint, None
            pki = _fresh_pki(folder, host)
            at_provider["masterAuth"]["clusterCaCertificate"] = pki.ca_data
        required = []
        observed = _write(workdir / "observed.yaml", docs)
    proc = render(crossplane, example, address, observed=[observed], required=required)
    assert proc.returncode == 0, f"render {folder} failed:\n{proc.stderr}"
    resources = composed(documents(proc.stdout))
    assert "argocd-cluster" in resources, f"{folder}: no argocd-cluster was composed"
    return Registration(folder, pki, server, host, fresh_token, resources)


# --- the example's inputs with fresh credentials ------------------------------------------------


def _fresh_pki(label: str, host: str) -> Pki:
    """A new CA (make_pki caches by name) whose server certificate is valid for host."""
    return make_pki(f"{label}-{secrets.token_hex(4)}", (host,))


def _write(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _kubeconfig(secret: dict[str, Any]) -> dict[str, Any]:
    return yaml.safe_load(base64.b64decode(secret["data"]["kubeconfig"]))


def _named(entries: list[dict[str, Any]], name: str, body: str) -> dict[str, Any]:
    return next(e[body] for e in entries if e["name"] == name)


def _current(kubeconfig: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    context = _named(kubeconfig["contexts"], kubeconfig["current-context"], "context")
    return (
        _named(kubeconfig["clusters"], context["cluster"], "cluster"),
        _named(kubeconfig["users"], context["user"], "user"),
    )


def _current_user(secret: dict[str, Any]) -> dict[str, Any]:
    return _current(_kubeconfig(secret))[1]


def _kubeconfig_server(secret: dict[str, Any]) -> str:
    return _current(_kubeconfig(secret))[0]["server"]


def _host(url: str) -> str:
    host = urlsplit(url).hostname
    assert host, f"no host in {url}"
    return host


def _fresh(secret: dict[str, Any], pki: Pki, bearer: str | None) -> dict[str, Any]:
    """The example's connection Secret (same name, namespace, keys, server) with fresh PKI."""
    kubeconfig = _kubeconfig(secret)
    cluster, user = _current(kubeconfig)
    cluster["certificate-authority-data"] = pki.ca_data
    user["client-certificate-data"] = pki.client_cert_data
    user["client-key-data"] = pki.client_key_data
    if bearer:
        user["token"] = bearer
    fresh_values = {
        "kubeconfig": _b64(yaml.safe_dump(kubeconfig, sort_keys=False).encode()),
        "kubeconfig.clustercacertificate": pki.ca_data,
        "kubeconfig.clientcertificate": pki.client_cert_data,
        "kubeconfig.clientkey": pki.client_key_data,
    }
    unknown = set(secret["data"]) - set(fresh_values)
    assert not unknown, f"example connection Secret has keys this test does not refresh: {unknown}"
    return {**secret, "data": {k: fresh_values[k] for k in secret["data"]}}


def _observed_cluster(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(
        d
        for d in docs
        if d["metadata"]["annotations"]["crossplane.io/composition-resource-name"] == "cluster"
    )


# --- SPEC §4: the Secret's shape ----------------------------------------------------------------


def _example_inputs(folder: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The example's XR and its Composition's function input."""
    example = Example(folder)
    xr = yaml.safe_load(example.xr.read_text())
    composition = yaml.safe_load(example.path.joinpath("composition.yaml").read_text())
    return xr, composition["spec"]["pipeline"][0]["input"]


def _decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v, validate=True).decode() for k, v in secret["data"].items()}


@pytest.mark.parametrize("folder", EXAMPLE_FOLDERS)
def test_secret_follows_spec(registered: Registered, folder: str) -> None:
    reg = registered(folder)
    xr, fn_input = _example_inputs(folder)
    expected = EXPECTED[folder]
    namespace = xr["metadata"].get("namespace")
    argocd = xr["spec"].get("argocd", {})
    secret = reg.secret

    # Delivery (SPEC §4): a namespaced XR outside Argo CD's namespace needs an Object,
    # whose config comes from a Secret in the XR's namespace, never from the Object.
    composed = reg.resources["argocd-cluster"]
    if namespace:
        assert (composed["apiVersion"], composed["kind"]) == (
            "kubernetes.m.crossplane.io/v1alpha1",
            "Object",
        )
        assert composed["spec"]["forProvider"]["manifest"]["data"]["config"] == ""
        credentials = reg.resources["argocd-cluster-credentials"]
        assert credentials["metadata"]["namespace"] == namespace
        assert credentials["data"]["config"] == secret["data"]["config"]
    else:
        assert composed is secret
        assert "argocd-cluster-credentials" not in reg.resources
    assert (secret["apiVersion"], secret["kind"]) == ("v1", "Secret")
    assert secret["metadata"]["namespace"] == fn_input["argocd"]["namespace"]

    standard = {
        f"{PREFIX}cloud": expected.cloud,
        f"{PREFIX}distribution": expected.distribution,
        f"{PREFIX}region": expected.region,
        f"{PREFIX}composite-name": xr["metadata"]["name"],
        **({f"{PREFIX}composite-namespace": namespace} if namespace else {}),
        # The Argo CD name (a valid label value here), for ApplicationSets to copy onto
        # the Applications they generate.
        f"{PREFIX}cluster": expected.name,
    }
    # Crossplane labels what it composes (crossplane.io/composite, claim-*): not the function's.
    labels = {
        k: v for k, v in secret["metadata"]["labels"].items() if not k.startswith("crossplane.io/")
    }
    assert {k: v for k, v in labels.items() if k.startswith(PREFIX)} == standard
    assert labels == {
        **fn_input["argocd"].get("commonLabels", {}),
        **argocd.get("labels", {}),
        SECRET_TYPE: "cluster",
        # Not in SPEC §4's list: the well-known label the function adds to what it owns.
        "app.kubernetes.io/managed-by": "function-gitops-cluster",
        **standard,
    }

    assert secret["type"] == "Opaque"
    assert "stringData" not in secret
    data = _decoded(secret)
    optional = {
        "project": argocd.get("project"),
        "namespaces": ",".join(argocd.get("namespaces", [])) or None,
        "clusterResources": "true" if argocd.get("clusterResources") else None,
    }
    wanted = {"name": expected.name, "server": reg.server} | {
        k: v for k, v in optional.items() if v is not None
    }
    assert set(data) == {"config", *wanted}
    assert {k: data[k] for k in wanted} == wanted

    cluster = cluster_from_secret(secret)  # rejects config keys Argo CD does not know
    assert (cluster["name"], cluster["server"]) == (expected.name, reg.server)
    assert cluster["config"]["tlsClientConfig"]["caData"] == reg.pki.ca_data
    assert cluster["config"]["tlsClientConfig"].get("insecure") is False


# --- AKS: GET /version with the Secret alone ----------------------------------------------------


@pytest.mark.parametrize("folder", AKS)
def test_aks_secret_authenticates_to_the_api_server(registered: Registered, folder: str) -> None:
    reg = registered(folder)
    with ApiServer(reg.pki, bearer_token=reg.token) as server:
        status, body = get_version(reg.secret, connect_to=server.address, timeout=TIMEOUT)
        seen = server.requests
    assert (status, body.get("gitVersion")) == (200, "v1.33.2")
    # The server demanded the client certificate in the handshake; it also saw the token
    # wherever the example's kubeconfig has one.
    assert [r.client_cn for r in seen] == ["argocd"]
    assert [r.authorization for r in seen] == [f"Bearer {reg.token}" if reg.token else None]


@pytest.mark.parametrize("folder", AKS)
def test_aks_secret_refuses_a_server_from_another_ca(registered: Registered, folder: str) -> None:
    reg = registered(folder)
    impostor = _fresh_pki("impostor", reg.host)
    with ApiServer(impostor, require_client_cert=False) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            get_version(reg.secret, connect_to=server.address, timeout=TIMEOUT)
        assert server.requests == []


@pytest.mark.parametrize("folder", AKS)
def test_aks_client_cert_is_refused_by_a_server_trusting_another_ca(
    registered: Registered, folder: str
) -> None:
    reg = registered(folder)
    foreign = _fresh_pki("foreign-clients", reg.host)
    # The genuine server certificate (so the Secret trusts the server), but client certs
    # are only accepted from another CA.
    picky = dataclasses.replace(reg.pki, ca_cert=foreign.ca_cert)
    with ApiServer(picky, bearer_token=reg.token) as server:
        # TLS 1.3: the client may see the alert, or a reset, only on its first read.
        with pytest.raises((ssl.SSLError, ConnectionError)):
            get_version(reg.secret, connect_to=server.address, timeout=TIMEOUT)
        assert isinstance(server.wait_tls_error(), ssl.SSLError)
        assert server.requests == []


# --- GKE: argocd-k8s-auth gcp, and the TLS half -------------------------------------------------


def tls_handshake(secret: dict[str, Any], connect_to: str) -> dict[str, Any]:
    """Handshake as client-go would for the Secret: its caData, its host (or serverName).

    Returns the verified peer certificate; raises ssl errors when verification fails.
    """
    cluster = cluster_from_secret(secret)
    tls = cluster["config"]["tlsClientConfig"]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies chain and host name
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cadata=base64.b64decode(tls["caData"], validate=True).decode())
    host, port = connect_to.rsplit(":", 1)
    with (
        socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock,
        ctx.wrap_socket(
            sock, server_hostname=tls.get("serverName") or _host(cluster["server"])
        ) as conn,
    ):
        return conn.getpeercert()


@pytest.mark.parametrize("folder", GKE)
def test_gke_secret_uses_argocd_k8s_auth_gcp(registered: Registered, folder: str) -> None:
    config = cluster_from_secret(registered(folder).secret)["config"]
    assert config["execProviderConfig"] == EXEC_GCP
    # Nothing else authenticates: the exec plugin is the only credential.
    assert set(config) == {"execProviderConfig", "tlsClientConfig"}
    assert set(config["tlsClientConfig"]) == {"insecure", "caData"}
    with pytest.raises(NotImplementedError):
        get_version(registered(folder).secret)


@pytest.mark.parametrize("folder", STATUS_ONLY)
def test_status_only_secret_verifies_the_api_server(registered: Registered, folder: str) -> None:
    reg = registered(folder)
    with ApiServer(reg.pki, require_client_cert=False) as server:
        peer = tls_handshake(reg.secret, server.address)
    # GKE's endpoint is an IP address, EKS's a host name.
    assert (("IP Address" if folder in GKE else "DNS"), reg.host) in peer["subjectAltName"]


@pytest.mark.parametrize("folder", STATUS_ONLY)
def test_status_only_secret_refuses_a_server_from_another_ca(
    registered: Registered, folder: str
) -> None:
    reg = registered(folder)
    impostor = _fresh_pki("impostor", reg.host)
    with (
        ApiServer(impostor, require_client_cert=False) as server,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        tls_handshake(reg.secret, server.address)


# --- EKS: awsAuthConfig, read by Argo CD without connecting -------------------------------------


@pytest.mark.parametrize("folder", EKS)
def test_eks_secret_uses_aws_auth_config(registered: Registered, folder: str) -> None:
    reg = registered(folder)
    _, fn_input = _example_inputs(folder)
    docs = documents(Example(folder).path.joinpath("observed.yaml").read_text())
    annotations = _observed_cluster(docs)["metadata"]["annotations"]
    external_name = annotations["crossplane.io/external-name"]
    # cluster_from_secret is Argo CD's SecretToCluster: it accepts only its own field names.
    config = cluster_from_secret(reg.secret)["config"]
    assert config["awsAuthConfig"] == {
        "clusterName": external_name,
        "roleARN": fn_input["argocd"]["identity"]["aws"]["roleArn"],
    }
    # Nothing else authenticates: Argo CD signs a token for its own IAM role.
    assert set(config) == {"awsAuthConfig", "tlsClientConfig"}
    assert set(config["tlsClientConfig"]) == {"insecure", "caData"}
    with pytest.raises(NotImplementedError):
        get_version(reg.secret)
