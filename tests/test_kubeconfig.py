"""Table tests for the kubeconfig -> Argo CD ClusterConfig translation.

Certificates are generated here with `cryptography` so that no key material is copied
from anywhere; expected JSON is computed from the fixture inputs, never from the code
under test.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import time
import tracemalloc
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from function import kubeconfig as kc
from function.errors import InvalidSpec
from function.kubeconfig import (
    AUTH_METHODS,
    AZURE_DEFAULT_SERVER_ID,
    MAX_KUBECONFIG_BYTES,
    ClusterConnection,
    KubeconfigError,
    WorkloadIdentityRequired,
    config_json,
    has_kubelogin,
    translate,
)

# --- PKI (local on purpose: generated per test run) -----------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _cert(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: Any, *, ca: bool
) -> bytes:
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _make_pki() -> dict[str, bytes]:
    """A CA and a client certificate signed by it, as a cloud provider would publish."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    client_key = ec.generate_private_key(ec.SECP256R1())

    def key_pem(fmt: serialization.PrivateFormat, password: bytes | None = None) -> bytes:
        encryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        return client_key.private_bytes(serialization.Encoding.PEM, fmt, encryption)

    return {
        "ca": _cert("test-ca", ca_key, "test-ca", ca_key, ca=True),
        "cert": _cert("admin", client_key, "test-ca", ca_key, ca=False),
        "key": key_pem(serialization.PrivateFormat.TraditionalOpenSSL),
        "key_pkcs8": key_pem(serialization.PrivateFormat.PKCS8),
        "key_encrypted": key_pem(serialization.PrivateFormat.PKCS8, b"pw"),
    }


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


PKI = _make_pki()
CA_B64 = b64(PKI["ca"])
CERT_B64 = b64(PKI["cert"])
KEY_B64 = b64(PKI["key"])
KEY8_B64 = b64(PKI["key_pkcs8"])

# Every secret-looking fixture value carries the marker "SECRET" so that leak checks
# can look for it; key material is checked separately.
SERVER = "https://dev.example.com:443"
TOKEN = "tok-SECRET-7f3a9c"
USERNAME = "admin-SECRET-user"
PASSWORD = "pw-SECRET-41c2"
ENV_SECRET = "env-SECRET-9d1e"
ARG_SECRET = "--token=arg-SECRET-55aa"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
TENANT_ID = "66666666-7777-8888-9999-000000000000"
CUSTOM_SERVER_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
DROP = object()


# --- builders -------------------------------------------------------------------------


def _patched(base: dict[str, Any], changes: dict[str, Any] | None) -> dict[str, Any]:
    result = dict(base)
    for key, value in (changes or {}).items():
        if value is DROP:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def cluster(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    return _patched({"server": SERVER, "certificate-authority-data": CA_B64}, changes)


def doc(
    cluster_body: Any = None,
    user: Any = None,
    *,
    context: Any = None,
    current: Any = "dev",
    top: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A kubeconfig whose current context is NOT the first entry of any list."""
    return _patched(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": current,
            "contexts": [
                {"name": "other", "context": {"cluster": "other", "user": "other"}},
                {
                    "name": "dev",
                    "context": {"cluster": "dev-cluster", "user": "dev-user"}
                    if context is None
                    else context,
                },
            ],
            "clusters": [
                {"name": "other", "cluster": {"server": "https://other.example.com"}},
                {
                    "name": "dev-cluster",
                    "cluster": cluster() if cluster_body is None else cluster_body,
                },
            ],
            "users": [
                {"name": "other", "user": {"token": "other-token"}},
                {"name": "dev-user", "user": {} if user is None else user},
            ],
        },
        top,
    )


def kubeconfig(*args: Any, **kwargs: Any) -> bytes:
    return yaml.safe_dump(doc(*args, **kwargs), sort_keys=False).encode()


def expected(tls: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    return {"tlsClientConfig": _patched({"insecure": False, "caData": CA_B64}, tls), **top}


def exec_user(command: str, args: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": command,
    }
    if args is not None:
        body["args"] = args
    body.update(extra)
    return {"exec": body}


def kubelogin(*extra: str) -> dict[str, Any]:
    return exec_user(
        "kubelogin",
        ["get-token", "--login", "devicecode", "--server-id", AZURE_DEFAULT_SERVER_ID, *extra],
    )


def azure_exec(env: dict[str, str]) -> dict[str, Any]:
    return {
        "execProviderConfig": {
            "command": "argocd-k8s-auth",
            "args": ["azure"],
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "env": {"AAD_LOGIN_METHOD": "workloadidentity", "AZURE_CLIENT_ID": CLIENT_ID, **env},
        }
    }


GCP_EXEC = {
    "execProviderConfig": {
        "command": "argocd-k8s-auth",
        "args": ["gcp"],
        "apiVersion": "client.authentication.k8s.io/v1beta1",
    }
}
CLIENT_CERT = {"client-certificate-data": CERT_B64, "client-key-data": KEY_B64}
AZ = {"azure_client_id": CLIENT_ID}
TLS_OFF = "TLS verification is off"
IMAGE = "must exist in the Argo CD image (application-controller and server)"


# --- the translation table ------------------------------------------------------------

SUCCESS = [
    pytest.param(
        cluster(),
        CLIENT_CERT,
        {},
        expected({"certData": CERT_B64, "keyData": KEY_B64}),
        "ClientCertificate",
        [],
        id="client-certificate",
    ),
    pytest.param(
        cluster(),
        {**CLIENT_CERT, "token": TOKEN},
        {},
        expected({"certData": CERT_B64, "keyData": KEY_B64}, bearerToken=TOKEN),
        "ClientCertificate",
        [],
        id="aks-local-account-cert-and-token",
    ),
    pytest.param(
        cluster(),
        {"client-certificate-data": CERT_B64, "client-key-data": KEY8_B64},
        {},
        expected({"certData": CERT_B64, "keyData": KEY8_B64}),
        "ClientCertificate",
        [],
        id="pkcs8-key",
    ),
    pytest.param(
        cluster(
            {
                "certificate-authority-data": "\n".join(
                    CA_B64[i : i + 64] for i in range(0, len(CA_B64), 64)
                )
                + "\n"
            }
        ),
        {
            "client-certificate-data": f"  {CERT_B64[:40]}\n{CERT_B64[40:]}  ",
            "client-key-data": KEY_B64,
        },
        {},
        expected({"certData": CERT_B64, "keyData": KEY_B64}),
        "ClientCertificate",
        [],
        id="wrapped-base64-is-canonicalised",
    ),
    pytest.param(
        cluster(),
        {"token": TOKEN},
        {},
        expected(bearerToken=TOKEN),
        "BearerToken",
        [],
        id="bearer-token",
    ),
    pytest.param(
        cluster(),
        {"username": USERNAME, "password": PASSWORD},
        {},
        expected(username=USERNAME, password=PASSWORD),
        "BasicAuth",
        [],
        id="basic-auth",
    ),
    pytest.param(cluster(), {}, {}, expected(), "None", [], id="gke-empty-user"),
    pytest.param(
        cluster({"certificate-authority-data": DROP}),
        None,
        {},
        expected({"caData": DROP}),
        "None",
        [],
        id="no-ca-no-user",
    ),
    pytest.param(
        cluster({"insecure-skip-tls-verify": True}),
        {"token": TOKEN},
        {},
        expected({"insecure": True, "caData": DROP}, bearerToken=TOKEN),
        "BearerToken",
        [TLS_OFF, "certificate-authority-data is dropped"],
        id="insecure-drops-ca",
    ),
    pytest.param(
        cluster({"insecure-skip-tls-verify": True, "certificate-authority-data": DROP}),
        {},
        {},
        expected({"insecure": True, "caData": DROP}),
        "None",
        [TLS_OFF],
        id="insecure-without-ca",
    ),
    pytest.param(
        cluster({"insecure-skip-tls-verify": False}),
        {},
        {},
        expected(),
        "None",
        [],
        id="insecure-false",
    ),
    pytest.param(
        cluster({"tls-server-name": "kubernetes.default"}),
        {},
        {},
        expected({"serverName": "kubernetes.default"}),
        "None",
        [],
        id="tls-server-name",
    ),
    pytest.param(
        cluster({"proxy-url": "http://proxy.example.com:3128"}),
        {},
        {},
        expected(proxyUrl="http://proxy.example.com:3128"),
        "None",
        [],
        id="proxy-http",
    ),
    pytest.param(
        cluster({"proxy-url": "socks5://127.0.0.1:1080"}),
        {},
        {},
        expected(proxyUrl="socks5://127.0.0.1:1080"),
        "None",
        [],
        id="proxy-socks5",
    ),
    pytest.param(
        cluster({"proxy-url": "https://user:proxy-SECRET@proxy.example.com"}),
        {},
        {},
        expected(proxyUrl="https://user:proxy-SECRET@proxy.example.com"),
        "None",
        [],
        id="proxy-https-with-credentials",
    ),
    pytest.param(
        cluster({"disable-compression": True}),
        {},
        {},
        expected(disableCompression=True),
        "None",
        [],
        id="disable-compression",
    ),
    pytest.param(
        cluster({"disable-compression": False, "proxy-url": "", "tls-server-name": ""}),
        {},
        {},
        expected(),
        "None",
        [],
        id="empty-optionals-omitted",
    ),
    pytest.param(
        cluster({"server": "https://rancher.example.com/k8s/clusters/c-m-abc"}),
        {},
        {},
        expected(),
        "None",
        [],
        id="server-with-path",
    ),
    pytest.param(
        cluster({"server": "http://10.0.0.1:8080"}),
        {"token": TOKEN},
        {},
        expected(bearerToken=TOKEN),
        "BearerToken",
        ["plain http"],
        id="plain-http-server-warns",
    ),
    pytest.param(
        cluster({"extensions": [{"name": "x", "extension": {"a": 1}}]}),
        {"extensions": [], "token": TOKEN},
        {},
        expected(bearerToken=TOKEN),
        "BearerToken",
        [],
        id="extensions-ignored",
    ),
    # Entra ID / kubelogin
    pytest.param(
        cluster(),
        kubelogin("--environment", "AzurePublicCloud", "--tenant-id", TENANT_ID),
        AZ,
        expected(**azure_exec({})),
        "AzureWorkloadIdentity",
        [],
        id="kubelogin-default-server-id",
    ),
    pytest.param(
        cluster(),
        kubelogin(),
        {**AZ, "azure_tenant_id": TENANT_ID},
        expected(**azure_exec({"AZURE_TENANT_ID": TENANT_ID})),
        "AzureWorkloadIdentity",
        [],
        id="kubelogin-with-tenant",
    ),
    pytest.param(
        cluster(),
        exec_user("kubelogin", ["get-token", f"--server-id={CUSTOM_SERVER_ID}", "-l", "spn"]),
        AZ,
        expected(**azure_exec({"AAD_SERVER_APPLICATION_ID": CUSTOM_SERVER_ID})),
        "AzureWorkloadIdentity",
        [],
        id="kubelogin-custom-server-id-equals-form",
    ),
    pytest.param(
        cluster(),
        exec_user("kubelogin", ["get-token", "--server-id", CUSTOM_SERVER_ID]),
        AZ,
        expected(**azure_exec({"AAD_SERVER_APPLICATION_ID": CUSTOM_SERVER_ID})),
        "AzureWorkloadIdentity",
        [],
        id="kubelogin-custom-server-id-space-form",
    ),
    pytest.param(
        cluster(),
        kubelogin("--environment", "AzureUSGovernmentCloud"),
        AZ,
        expected(**azure_exec({"AAD_ENVIRONMENT_NAME": "AzureUSGovernmentCloud"})),
        "AzureWorkloadIdentity",
        [],
        id="kubelogin-sovereign-cloud",
    ),
    pytest.param(
        cluster(),
        exec_user(
            "/usr/local/bin/kubelogin",
            ["get-token", "--server-id", AZURE_DEFAULT_SERVER_ID.upper()],
            env=[{"name": "AAD_SERVICE_PRINCIPAL_CLIENT_SECRET", "value": ENV_SECRET}],
        ),
        AZ,
        expected(**azure_exec({})),
        "AzureWorkloadIdentity",
        [],
        id="kubelogin-by-path-env-dropped",
    ),
    # GKE
    pytest.param(
        cluster(),
        exec_user(
            "gke-gcloud-auth-plugin",
            installHint="Install gke-gcloud-auth-plugin",
            provideClusterInfo=True,
        ),
        {},
        expected(**GCP_EXEC),
        "GCPWorkloadIdentity",
        [],
        id="gke-gcloud-auth-plugin",
    ),
    # AWS
    pytest.param(
        cluster(),
        exec_user(
            "aws",
            [
                "--region",
                "eu-west-1",
                "eks",
                "get-token",
                "--cluster-name",
                "prod",
                "--output",
                "json",
            ],
        ),
        {},
        expected(awsAuthConfig={"clusterName": "prod"}),
        "AWSAuth",
        [],
        id="aws-eks-get-token",
    ),
    pytest.param(
        cluster(),
        exec_user(
            "aws",
            [
                "eks",
                "get-token",
                "--cluster-name=prod",
                "--role-arn",
                "arn:aws:iam::123456789012:role/argocd",
                "--profile",
                "deploy",
            ],
        ),
        {},
        expected(
            awsAuthConfig={
                "clusterName": "prod",
                "roleARN": "arn:aws:iam::123456789012:role/argocd",
                "profile": "deploy",
            }
        ),
        "AWSAuth",
        [],
        id="aws-eks-role-and-profile",
    ),
    pytest.param(
        cluster(),
        exec_user(
            "aws",
            ["eks", "get-token", "--cluster-name", "prod"],
            env=[{"name": "AWS_PROFILE", "value": "from-env"}],
        ),
        {},
        expected(awsAuthConfig={"clusterName": "prod", "profile": "from-env"}),
        "AWSAuth",
        [],
        id="aws-profile-from-env",
    ),
    pytest.param(
        cluster(),
        exec_user("aws-iam-authenticator", ["token", "-i", "prod", "-r", "arn:aws:iam::1:role/r"]),
        {},
        expected(awsAuthConfig={"clusterName": "prod", "roleARN": "arn:aws:iam::1:role/r"}),
        "AWSAuth",
        [],
        id="aws-iam-authenticator-short",
    ),
    pytest.param(
        cluster(),
        exec_user(
            "aws-iam-authenticator", ["token", "--cluster-id=prod", "--role=arn:aws:iam::1:role/r"]
        ),
        {},
        expected(awsAuthConfig={"clusterName": "prod", "roleARN": "arn:aws:iam::1:role/r"}),
        "AWSAuth",
        [],
        id="aws-iam-authenticator-long",
    ),
    # Other exec plugins
    pytest.param(
        cluster(),
        exec_user(
            "my-auth",
            ["login", ARG_SECRET],
            apiVersion="client.authentication.k8s.io/v1",
            env=[
                {"name": "A", "value": ENV_SECRET},
                {"name": "B", "value": None},
                {"name": "A", "value": "later-wins"},
            ],
            installHint="see https://example.com",
        ),
        {},
        expected(
            execProviderConfig={
                "command": "my-auth",
                "args": ["login", ARG_SECRET],
                "env": {"A": "later-wins", "B": ""},
                "apiVersion": "client.authentication.k8s.io/v1",
                "installHint": "see https://example.com",
            }
        ),
        "Exec",
        [IMAGE, "'my-auth'"],
        id="generic-exec",
    ),
    pytest.param(
        cluster(),
        {"exec": {"command": "my-auth"}},
        {},
        expected(
            execProviderConfig={
                "command": "my-auth",
                "apiVersion": "client.authentication.k8s.io/v1beta1",
            }
        ),
        "Exec",
        [IMAGE],
        id="generic-exec-default-api-version",
    ),
    pytest.param(
        cluster(),
        {"exec": {"command": "my-auth", "provideClusterInfo": True}},
        {},
        expected(
            execProviderConfig={
                "command": "my-auth",
                "apiVersion": "client.authentication.k8s.io/v1beta1",
            }
        ),
        "Exec",
        [IMAGE, "provideClusterInfo is dropped"],
        id="generic-exec-provide-cluster-info",
    ),
    pytest.param(
        cluster(),
        exec_user("kubelogin", ["convert-kubeconfig"]),
        {},
        expected(
            execProviderConfig={
                "command": "kubelogin",
                "args": ["convert-kubeconfig"],
                "apiVersion": "client.authentication.k8s.io/v1beta1",
            }
        ),
        "Exec",
        [IMAGE],
        id="kubelogin-without-get-token-is-generic",
    ),
    pytest.param(
        cluster(),
        exec_user("argocd-k8s-auth", ["gcp"]),
        {},
        expected(**GCP_EXEC),
        "Exec",
        [],
        id="argocd-k8s-auth-needs-no-warning",
    ),
    # Precedence
    pytest.param(
        cluster(),
        {**kubelogin(), "token": TOKEN, **CLIENT_CERT},
        AZ,
        expected(**azure_exec({})),
        "AzureWorkloadIdentity",
        ["client-certificate-data/client-key-data, token next to exec"],
        id="exec-beats-token-and-cert",
    ),
    pytest.param(
        cluster(),
        {
            **exec_user("aws", ["eks", "get-token", "--cluster-name", "prod"]),
            "username": USERNAME,
            "password": PASSWORD,
        },
        {},
        expected(awsAuthConfig={"clusterName": "prod"}),
        "AWSAuth",
        ["username/password next to exec"],
        id="aws-beats-basic-auth",
    ),
]


@pytest.mark.parametrize(("cluster_body", "user", "kwargs", "want", "method", "warns"), SUCCESS)
def test_translate(
    cluster_body: dict[str, Any],
    user: dict[str, Any] | None,
    kwargs: dict[str, str],
    want: dict[str, Any],
    method: str,
    warns: list[str],
) -> None:
    got = translate(kubeconfig(cluster_body, user), **kwargs)

    assert isinstance(got, ClusterConnection)
    assert json.loads(got.config_json) == want
    assert got.server == cluster_body["server"]
    assert got.auth_method == method
    assert got.auth_method in AUTH_METHODS
    for fragment in warns:
        assert any(fragment in w for w in got.warnings), (fragment, got.warnings)
    if not warns:
        assert got.warnings == ()
    for warning in got.warnings:
        assert_no_secret(warning)


def test_current_context_is_honoured_not_the_first_entry() -> None:
    both = doc(top={"current-context": "other"})
    got = translate(yaml.safe_dump(both).encode())
    assert got.server == "https://other.example.com"
    assert json.loads(got.config_json) == {
        "bearerToken": "other-token",
        "tlsClientConfig": {"insecure": False},
    }


def test_context_without_user_is_anonymous() -> None:
    got = translate(kubeconfig(context={"cluster": "dev-cluster"}))
    assert got.auth_method == "None"
    assert json.loads(got.config_json) == expected()


def test_json_kubeconfig_is_accepted() -> None:
    got = translate(json.dumps(doc(user={"token": TOKEN})).encode())
    assert json.loads(got.config_json) == expected(bearerToken=TOKEN)


# --- errors ---------------------------------------------------------------------------


def _users(users: Any) -> bytes:
    return kubeconfig(top={"users": users})


NOT_PEM = b64(b"just some bytes, SECRET-notpem")
BOMB = "\n".join(
    ['a0: &a0 ["lol-SECRET", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
).encode()

ERRORS = [
    # current-context and lookups
    pytest.param(
        kubeconfig(top={"current-context": DROP}),
        {},
        KubeconfigError,
        "current-context",
        "is missing",
        id="current-context-missing",
    ),
    pytest.param(
        kubeconfig(current=""),
        {},
        KubeconfigError,
        "current-context",
        "is missing",
        id="current-context-empty",
    ),
    pytest.param(
        kubeconfig(current=["dev"]),
        {},
        KubeconfigError,
        "current-context",
        "must be a string, not a list",
        id="current-context-list",
    ),
    pytest.param(
        kubeconfig(current="prod"),
        {},
        KubeconfigError,
        "current-context",
        "names context 'prod', which is not in contexts",
        id="current-context-unknown",
    ),
    pytest.param(
        kubeconfig(top={"contexts": DROP}),
        {},
        KubeconfigError,
        "current-context",
        "which is not in contexts",
        id="contexts-missing",
    ),
    pytest.param(
        kubeconfig(top={"contexts": {"dev": {}}}),
        {},
        KubeconfigError,
        "contexts",
        "must be a list, not a mapping",
        id="contexts-not-a-list",
    ),
    pytest.param(
        kubeconfig(top={"contexts": ["dev"]}),
        {},
        KubeconfigError,
        "contexts[0]",
        "must be a mapping, not a string",
        id="context-entry-not-a-map",
    ),
    pytest.param(
        kubeconfig(
            top={"contexts": [{"name": "dev", "context": {"cluster": "dev-cluster"}} for _ in "ab"]}
        ),
        {},
        KubeconfigError,
        "contexts[dev]",
        "appears more than once",
        id="context-duplicate",
    ),
    pytest.param(
        kubeconfig(context=["dev-cluster"]),
        {},
        KubeconfigError,
        "contexts[dev].context",
        "must be a mapping",
        id="context-body-list",
    ),
    pytest.param(
        kubeconfig(top={"contexts": [{"name": "dev"}]}),
        {},
        KubeconfigError,
        "contexts[dev].context",
        "is missing",
        id="context-body-missing",
    ),
    pytest.param(
        kubeconfig(context={"user": "dev-user"}),
        {},
        KubeconfigError,
        "contexts[dev].context.cluster",
        "is missing",
        id="context-cluster-missing",
    ),
    pytest.param(
        kubeconfig(context={"cluster": "nope", "user": "dev-user"}),
        {},
        KubeconfigError,
        "contexts[dev].context.cluster",
        "names cluster 'nope'",
        id="context-cluster-unknown",
    ),
    pytest.param(
        kubeconfig(context={"cluster": "dev-cluster", "user": "nope"}),
        {},
        KubeconfigError,
        "contexts[dev].context.user",
        "names user 'nope'",
        id="context-user-unknown",
    ),
    pytest.param(
        kubeconfig(context={"cluster": "dev-cluster", "user": 7}),
        {},
        KubeconfigError,
        "contexts[dev].context.user",
        "must be a string, not a number",
        id="context-user-number",
    ),
    pytest.param(
        kubeconfig(user=["token", TOKEN]),
        {},
        KubeconfigError,
        "users[dev-user].user",
        "must be a mapping, not a list",
        id="user-body-list",
    ),
    pytest.param(
        kubeconfig(cluster_body="https://x"),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster",
        "must be a mapping, not a string",
        id="cluster-body-string",
    ),
    # server
    pytest.param(
        kubeconfig(cluster({"server": DROP})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.server",
        "is missing",
        id="server-missing",
    ),
    pytest.param(
        kubeconfig(cluster({"server": "ftp://host"})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.server",
        "http or https",
        id="server-ftp",
    ),
    pytest.param(
        kubeconfig(cluster({"server": "dev.example.com:443"})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.server",
        "http or https",
        id="server-no-scheme",
    ),
    pytest.param(
        kubeconfig(cluster({"server": "https://"})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.server",
        "has no host",
        id="server-no-host",
    ),
    pytest.param(
        kubeconfig(cluster({"server": "https://host:99999"})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.server",
        "not a valid URL",
        id="server-bad-port",
    ),
    pytest.param(
        kubeconfig(cluster({"server": "https://[::1"})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.server",
        "not a valid URL",
        id="server-bad-ipv6",
    ),
    pytest.param(
        kubeconfig(cluster({"server": "https://host /SECRET"})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.server",
        "spaces",
        id="server-space",
    ),
    pytest.param(
        kubeconfig(cluster({"server": "https://u:srv-SECRET@host"})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.server",
        "must not carry credentials",
        id="server-userinfo",
    ),
    pytest.param(
        kubeconfig(cluster({"server": 443})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.server",
        "must be a string, not a number",
        id="server-number",
    ),
    # cluster options
    pytest.param(
        kubeconfig(cluster({"proxy-url": "ftp://proxy-SECRET@proxy"})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.proxy-url",
        "http, https or socks5",
        id="proxy-bad-scheme",
    ),
    pytest.param(
        kubeconfig(cluster({"proxy-url": "socks4://proxy"})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.proxy-url",
        "http, https or socks5",
        id="proxy-socks4",
    ),
    pytest.param(
        kubeconfig(cluster({"proxy-url": "http://"})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.proxy-url",
        "has no host",
        id="proxy-no-host",
    ),
    pytest.param(
        kubeconfig(cluster({"insecure-skip-tls-verify": "true"})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.insecure-skip-tls-verify",
        "must be true or false, not a string",
        id="insecure-string",
    ),
    pytest.param(
        kubeconfig(cluster({"disable-compression": 1})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.disable-compression",
        "must be true or false, not a number",
        id="disable-compression-number",
    ),
    pytest.param(
        kubeconfig(cluster({"tls-server-name": ["a"]})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.tls-server-name",
        "must be a string, not a list",
        id="tls-server-name-list",
    ),
    # *-data
    pytest.param(
        kubeconfig(cluster({"certificate-authority-data": "not base64 SECRET!!"})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.certificate-authority-data",
        "is not valid base64",
        id="ca-bad-base64",
    ),
    pytest.param(
        kubeconfig(cluster({"certificate-authority-data": CA_B64[:-1]})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.certificate-authority-data",
        "is not valid base64",
        id="ca-truncated",
    ),
    pytest.param(
        kubeconfig(cluster({"certificate-authority-data": b64(CA_B64.encode())})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.certificate-authority-data",
        "is base64-encoded twice",
        id="ca-base64-twice",
    ),
    pytest.param(
        kubeconfig(cluster({"certificate-authority-data": PKI["ca"].decode()})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.certificate-authority-data",
        "holds PEM text",
        id="ca-raw-pem",
    ),
    pytest.param(
        kubeconfig(cluster({"certificate-authority-data": NOT_PEM})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.certificate-authority-data",
        "does not decode to PEM",
        id="ca-not-pem",
    ),
    pytest.param(
        kubeconfig(cluster({"certificate-authority-data": KEY_B64})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.certificate-authority-data",
        "does not hold a PEM certificate",
        id="ca-holds-key",
    ),
    pytest.param(
        kubeconfig(user={"client-certificate-data": CERT_B64, "client-key-data": CERT_B64}),
        {},
        KubeconfigError,
        "users[dev-user].user.client-key-data",
        "does not hold a PEM private key",
        id="key-holds-cert",
    ),
    pytest.param(
        kubeconfig(
            user={"client-certificate-data": CERT_B64, "client-key-data": b64(PKI["key_encrypted"])}
        ),
        {},
        KubeconfigError,
        "users[dev-user].user.client-key-data",
        "encrypted",
        id="key-encrypted",
    ),
    pytest.param(
        kubeconfig(
            user={"client-certificate-data": CERT_B64, "client-key-data": PKI["key"].decode()}
        ),
        {},
        KubeconfigError,
        "users[dev-user].user.client-key-data",
        "holds PEM text",
        id="key-raw-pem",
    ),
    pytest.param(
        kubeconfig(
            user={"client-certificate-data": CERT_B64, "client-key-data": b64(KEY_B64.encode())}
        ),
        {},
        KubeconfigError,
        "users[dev-user].user.client-key-data",
        "base64-encoded twice",
        id="key-base64-twice",
    ),
    pytest.param(
        kubeconfig(user={"client-certificate-data": CERT_B64}),
        {},
        KubeconfigError,
        "users[dev-user].user.client-key-data",
        "is missing",
        id="cert-without-key",
    ),
    pytest.param(
        kubeconfig(user={"client-key-data": KEY_B64, "token": TOKEN}),
        {},
        KubeconfigError,
        "users[dev-user].user.client-certificate-data",
        "is missing",
        id="key-without-cert",
    ),
    pytest.param(
        kubeconfig(user={"client-certificate-data": 12, "client-key-data": KEY_B64}),
        {},
        KubeconfigError,
        "users[dev-user].user.client-certificate-data",
        "must be a string, not a number",
        id="cert-number",
    ),
    # static credentials
    pytest.param(
        kubeconfig(user={"token": 123456}),
        {},
        KubeconfigError,
        "users[dev-user].user.token",
        "must be a string, not a number",
        id="token-number",
    ),
    pytest.param(
        kubeconfig(user={"token": [TOKEN]}),
        {},
        KubeconfigError,
        "users[dev-user].user.token",
        "must be a string, not a list",
        id="token-list",
    ),
    pytest.param(
        kubeconfig(user={"token": TOKEN, "username": USERNAME, "password": PASSWORD}),
        {},
        KubeconfigError,
        "users[dev-user].user.token",
        "together with username",
        id="token-and-basic",
    ),
    pytest.param(
        kubeconfig(user={"username": USERNAME}),
        {},
        KubeconfigError,
        "users[dev-user].user.password",
        "is missing",
        id="username-without-password",
    ),
    pytest.param(
        kubeconfig(user={"password": PASSWORD}),
        {},
        KubeconfigError,
        "users[dev-user].user.username",
        "is missing",
        id="password-without-username",
    ),
    pytest.param(
        kubeconfig(user={"username": {"a": USERNAME}, "password": PASSWORD}),
        {},
        KubeconfigError,
        "users[dev-user].user.username",
        "must be a string, not a mapping",
        id="username-map",
    ),
    # file paths, legacy, impersonation
    pytest.param(
        kubeconfig(cluster({"certificate-authority": "/etc/SECRET/ca.crt"})),
        {},
        KubeconfigError,
        "clusters[dev-cluster].cluster.certificate-authority",
        "use certificate-authority-data",
        id="path-certificate-authority",
    ),
    pytest.param(
        kubeconfig(
            user={"client-certificate": "/etc/kubernetes/pki/c.crt", "client-key-data": KEY_B64}
        ),
        {},
        KubeconfigError,
        "users[dev-user].user.client-certificate",
        "use client-certificate-data",
        id="path-client-certificate",
    ),
    pytest.param(
        kubeconfig(user={"client-key": "/etc/kubernetes/pki/c.key"}),
        {},
        KubeconfigError,
        "users[dev-user].user.client-key",
        "use client-key-data",
        id="path-client-key",
    ),
    pytest.param(
        kubeconfig(user={"tokenFile": "/var/run/SECRET/token"}),
        {},
        KubeconfigError,
        "users[dev-user].user.tokenFile",
        "use token",
        id="path-token-file",
    ),
    pytest.param(
        kubeconfig(user={"auth-provider": {"name": "azure", "config": {"access-token": TOKEN}}}),
        {},
        KubeconfigError,
        "users[dev-user].user.auth-provider",
        "kubelogin",
        id="legacy-auth-provider",
    ),
    pytest.param(
        kubeconfig(user={"token": TOKEN, "as": "system:admin"}),
        {},
        KubeconfigError,
        "users[dev-user].user.as",
        "impersonation",
        id="impersonate-user",
    ),
    pytest.param(
        kubeconfig(user={"token": TOKEN, "as-groups": ["system:masters"]}),
        {},
        KubeconfigError,
        "users[dev-user].user.as-groups",
        "impersonation",
        id="impersonate-groups",
    ),
    # exec
    pytest.param(
        kubeconfig(user=kubelogin()),
        {},
        WorkloadIdentityRequired,
        "users[dev-user].user.exec",
        "spec.argocd.workloadIdentity.clientId",
        id="kubelogin-needs-client-id",
    ),
    pytest.param(
        kubeconfig(user=kubelogin()),
        {"azure_client_id": ""},
        WorkloadIdentityRequired,
        "users[dev-user].user.exec",
        "no Azure client ID",
        id="kubelogin-empty-client-id",
    ),
    pytest.param(
        kubeconfig(user=exec_user("kubelogin", ["get-token", "--server-id"])),
        AZ,
        KubeconfigError,
        "users[dev-user].user.exec.args",
        "--server-id and no value",
        id="kubelogin-server-id-without-value",
    ),
    pytest.param(
        kubeconfig(user=exec_user("aws", ["eks", "get-token", "--region", "x"])),
        {},
        KubeconfigError,
        "users[dev-user].user.exec.args",
        "--cluster-name",
        id="aws-without-cluster-name",
    ),
    pytest.param(
        kubeconfig(user=exec_user("aws", ["eks", "get-token", "--cluster-name"])),
        {},
        KubeconfigError,
        "users[dev-user].user.exec.args",
        "and no value",
        id="aws-cluster-name-without-value",
    ),
    pytest.param(
        kubeconfig(user=exec_user("aws-iam-authenticator", ["token", "-r", "role"])),
        {},
        KubeconfigError,
        "users[dev-user].user.exec.args",
        "--cluster-id",
        id="aws-iam-authenticator-without-cluster",
    ),
    pytest.param(
        kubeconfig(user={"exec": "kubelogin"}),
        {},
        KubeconfigError,
        "users[dev-user].user.exec",
        "must be a mapping, not a string",
        id="exec-not-a-map",
    ),
    pytest.param(
        kubeconfig(user={"exec": {"args": [ARG_SECRET]}}),
        {},
        KubeconfigError,
        "users[dev-user].user.exec.command",
        "is missing",
        id="exec-command-missing",
    ),
    pytest.param(
        kubeconfig(user={"exec": {"command": ["my-auth"]}}),
        {},
        KubeconfigError,
        "users[dev-user].user.exec.command",
        "must be a string, not a list",
        id="exec-command-list",
    ),
    pytest.param(
        kubeconfig(user={"exec": {"command": "x", "args": ARG_SECRET}}),
        {},
        KubeconfigError,
        "users[dev-user].user.exec.args",
        "must be a list, not a string",
        id="exec-args-string",
    ),
    pytest.param(
        kubeconfig(user={"exec": {"command": "x", "args": ["a", 5]}}),
        {},
        KubeconfigError,
        "users[dev-user].user.exec.args[1]",
        "must be a string, not a number",
        id="exec-arg-number",
    ),
    pytest.param(
        kubeconfig(user={"exec": {"command": "x", "env": {"A": ENV_SECRET}}}),
        {},
        KubeconfigError,
        "users[dev-user].user.exec.env",
        "must be a list, not a mapping",
        id="exec-env-map",
    ),
    pytest.param(
        kubeconfig(user={"exec": {"command": "x", "env": [ENV_SECRET]}}),
        {},
        KubeconfigError,
        "users[dev-user].user.exec.env[0]",
        "must be a mapping, not a string",
        id="exec-env-entry-string",
    ),
    pytest.param(
        kubeconfig(user={"exec": {"command": "x", "env": [{"value": ENV_SECRET}]}}),
        {},
        KubeconfigError,
        "users[dev-user].user.exec.env[0].name",
        "is missing",
        id="exec-env-name-missing",
    ),
    pytest.param(
        kubeconfig(user={"exec": {"command": "x", "env": [{"name": "A", "value": 1}]}}),
        {},
        KubeconfigError,
        "users[dev-user].user.exec.env[0].value",
        "must be a string, not a number",
        id="exec-env-value-number",
    ),
    pytest.param(
        kubeconfig(
            user={"exec": {"command": "x", "apiVersion": "client.authentication.k8s.io/v1alpha1"}}
        ),
        {},
        KubeconfigError,
        "users[dev-user].user.exec.apiVersion",
        "v1beta1",
        id="exec-api-version-v1alpha1",
    ),
    pytest.param(
        kubeconfig(user={"exec": {"command": "x", "installHint": ["a"]}}),
        {},
        KubeconfigError,
        "users[dev-user].user.exec.installHint",
        "must be a string",
        id="exec-install-hint-list",
    ),
    pytest.param(
        kubeconfig(user={"exec": {"command": "x", "provideClusterInfo": "yes"}}),
        {},
        KubeconfigError,
        "users[dev-user].user.exec.provideClusterInfo",
        "must be true or false",
        id="exec-provide-cluster-info-string",
    ),
    # the document itself
    pytest.param(
        b"a" * (MAX_KUBECONFIG_BYTES + 1),
        {},
        KubeconfigError,
        "document",
        "over the 1048576-byte limit",
        id="too-large",
    ),
    pytest.param(
        b"token: \xffSECRET\xfe", {}, KubeconfigError, "document", "is not UTF-8", id="not-utf8"
    ),
    pytest.param(
        f'current-context: dev\ntoken: "{TOKEN}\n'.encode(),
        {},
        KubeconfigError,
        "document",
        "is not valid YAML (line",
        id="yaml-unterminated-quote",
    ),
    pytest.param(
        f"users:\n- name: x\n   token: {TOKEN}\n  bad".encode(),
        {},
        KubeconfigError,
        "document",
        "is not valid YAML (line",
        id="yaml-bad-indent",
    ),
    pytest.param(
        f"token: {TOKEN}\x00".encode(),
        {},
        KubeconfigError,
        "document",
        "is not valid YAML",
        id="yaml-control-character",
    ),
    pytest.param(
        b"a: !!python/object:os.system SECRET",
        {},
        KubeconfigError,
        "document",
        "is not valid YAML",
        id="yaml-python-tag",
    ),
    pytest.param(
        b"a: !custom SECRET",
        {},
        KubeconfigError,
        "document",
        "is not valid YAML",
        id="yaml-unknown-tag",
    ),
    pytest.param(
        b"a: " + b"1:" * 200 + b"1",
        {},
        KubeconfigError,
        "document",
        "is not valid YAML",
        id="yaml-huge-base60-number",
    ),
    pytest.param(
        b"a: " + b"9" * 5000,
        {},
        KubeconfigError,
        "document",
        "is not valid YAML",
        id="yaml-huge-int",
    ),
    pytest.param(
        b"a: 1\n---\nb: 2\n",
        {},
        KubeconfigError,
        "document",
        "more than one YAML document",
        id="yaml-two-documents",
    ),
    pytest.param(BOMB, {}, KubeconfigError, "document", "anchor or alias", id="billion-laughs"),
    pytest.param(
        b"token: &t SECRET\n",
        {},
        KubeconfigError,
        "document",
        "anchor or alias",
        id="yaml-anchor-alone",
    ),
    pytest.param(
        b"a: " + b"[" * 40 + b"]" * 40,
        {},
        KubeconfigError,
        "document",
        "nests deeper than",
        id="yaml-deep",
    ),
    pytest.param(
        b"a: " + b"[" * 5000 + b"]" * 5000, {}, KubeconfigError, "document", "", id="yaml-very-deep"
    ),
    pytest.param(
        b"a: [" + b"1," * 60000 + b"1]",
        {},
        KubeconfigError,
        "document",
        "YAML nodes",
        id="yaml-too-many-nodes",
    ),
    pytest.param(b"", {}, KubeconfigError, "document", "is empty", id="empty"),
    pytest.param(
        b"# only a comment\n", {}, KubeconfigError, "document", "is empty", id="only-comment"
    ),
    pytest.param(
        b"- a\n- b\n",
        {},
        KubeconfigError,
        "document",
        "must be a mapping, not a list",
        id="top-level-list",
    ),
    pytest.param(
        f"{TOKEN}".encode(),
        {},
        KubeconfigError,
        "document",
        "must be a mapping, not a string",
        id="top-level-string",
    ),
]


@pytest.mark.parametrize(("data", "kwargs", "error", "field", "fragment"), ERRORS)
def test_translate_errors(
    data: bytes, kwargs: dict[str, str], error: type[KubeconfigError], field: str, fragment: str
) -> None:
    with pytest.raises(error) as info:
        translate(data, **kwargs)

    assert type(info.value) is error
    assert info.value.field == field
    message = str(info.value)
    assert message.startswith(f"kubeconfig {field}: ")
    assert fragment in message
    assert_no_secret(message)
    assert_no_secret(repr(info.value))
    assert info.value.__cause__ is None


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "field", "fragment"),
    [case for case in ERRORS if case.values[1] == {}],
)
def test_has_kubelogin_raises_the_same_way(
    data: bytes, kwargs: dict[str, str], error: type[KubeconfigError], field: str, fragment: str
) -> None:
    """has_kubelogin parses the same input; only errors past the user lookup may differ."""
    if field.startswith(("document", "current-context", "contexts")):
        with pytest.raises(KubeconfigError) as info:
            has_kubelogin(data)
        assert info.value.field == field
        assert_no_secret(str(info.value))
    else:
        with contextlib.suppress(KubeconfigError):
            has_kubelogin(data)


def test_error_format_and_reasons() -> None:
    assert str(KubeconfigError("a.b", "is bad", "Fix it.")) == "kubeconfig a.b: is bad. Fix it"
    assert str(KubeconfigError("a.b", "is bad")) == "kubeconfig a.b: is bad"
    # The provider's kubeconfig is no user input: never a Fatal for the whole XR.
    assert not issubclass(KubeconfigError, InvalidSpec)
    assert KubeconfigError.reason == "InvalidKubeconfig"
    assert WorkloadIdentityRequired.reason == "WorkloadIdentityNotConfigured"
    assert issubclass(WorkloadIdentityRequired, KubeconfigError)


def test_too_large_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parsing(*_: Any, **__: Any) -> None:
        pytest.fail("the YAML parser ran on an oversized input")

    monkeypatch.setattr(kc.yaml, "parse", no_parsing)
    monkeypatch.setattr(kc.yaml, "load", no_parsing)
    with pytest.raises(KubeconfigError, match="limit"):
        translate(b" " * (MAX_KUBECONFIG_BYTES + 1))


def test_exactly_max_size_is_accepted() -> None:
    data = kubeconfig(user={"token": TOKEN})
    padded = data + b"#" + b"x" * (MAX_KUBECONFIG_BYTES - len(data) - 2) + b"\n"
    assert len(padded) == MAX_KUBECONFIG_BYTES
    assert json.loads(translate(padded).config_json) == expected(bearerToken=TOKEN)


def test_billion_laughs_is_refused_fast_with_bounded_memory() -> None:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(KubeconfigError, match="anchor or alias"):
            translate(BOMB)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 5 * 1024 * 1024


def test_worst_case_input_is_refused_quickly() -> None:
    start = time.perf_counter()
    for data in (b"a: [" + b"1," * 500_000 + b"1]", b"[" * 500_000):
        with pytest.raises(KubeconfigError):
            translate(data)
    assert time.perf_counter() - start < 2.0


# --- no secret ever reaches a message -------------------------------------------------


def _chunks(material: str) -> list[str]:
    """16-character windows of key material, PEM armour lines left out."""
    lines = [line for line in material.splitlines() if not line.startswith("-----")]
    body = "".join("".join(lines).split())
    return [body[i : i + 16] for i in range(0, len(body) - 16, 8)]


_SECRET_CHUNKS = [
    chunk
    for pem in PKI.values()
    for material in (pem.decode(), b64(pem))
    for chunk in _chunks(material)
]


def assert_no_secret(text: str) -> None:
    assert "SECRET" not in text, text
    assert "other-token" not in text
    leaked = [chunk for chunk in _SECRET_CHUNKS if chunk in text]
    assert not leaked, "key material in message"


def _leaky_user() -> dict[str, Any]:
    return {
        "client-certificate-data": CERT_B64,
        "client-key-data": KEY_B64,
        "token": TOKEN,
        "exec": {
            "command": "my-auth",
            "args": [ARG_SECRET],
            "env": [{"name": "AWS_SECRET_ACCESS_KEY", "value": ENV_SECRET}],
        },
    }


def test_warnings_never_carry_secrets() -> None:
    got = translate(
        kubeconfig(
            cluster(
                {
                    "insecure-skip-tls-verify": True,
                    "proxy-url": "http://u:proxy-SECRET@proxy.example.com",
                    "server": "http://dev.example.com",
                }
            ),
            _leaky_user(),
        )
    )
    assert len(got.warnings) == 4
    for warning in got.warnings:
        assert_no_secret(warning)
    assert ENV_SECRET in got.config_json  # it belongs in the config, not in messages


@pytest.mark.parametrize(
    "mistake",
    [
        pytest.param({"client-key-data": b64(b"-----BEGIN SECRET-----")}, id="key-not-a-key"),
        pytest.param({"client-key-data": KEY_B64 + "SECRET"}, id="key-bad-base64"),
        pytest.param({"client-key-data": b64(KEY_B64.encode())}, id="key-twice"),
        pytest.param({"client-key-data": PKI["key"].decode()}, id="key-raw"),
        pytest.param({"client-certificate-data": PKI["cert"].decode()}, id="cert-raw"),
        pytest.param({"client-certificate-data": KEY_B64}, id="cert-is-key"),
        pytest.param({"password": PASSWORD}, id="token-and-password"),
        pytest.param({"tokenFile": f"/{TOKEN}"}, id="token-file"),
        pytest.param({"as": TOKEN}, id="impersonate"),
        pytest.param({"token": {"v": TOKEN}}, id="token-map"),
        pytest.param(
            {"exec": {"command": "aws", "args": ["eks", "get-token", ARG_SECRET]}},
            id="aws-no-cluster",
        ),
        pytest.param(
            {"exec": {"command": "x", "env": [{"name": "A", "value": [ENV_SECRET]}]}}, id="env-list"
        ),
        pytest.param(
            {"exec": {"command": "kubelogin", "args": ["get-token", ARG_SECRET]}},
            id="kubelogin-no-client-id",
        ),
        pytest.param(
            {"auth-provider": {"config": {"client-secret": ENV_SECRET}}}, id="auth-provider"
        ),
    ],
)
def test_errors_never_carry_secrets(mistake: dict[str, Any]) -> None:
    user = {**_leaky_user(), **mistake}
    if "exec" not in mistake:
        user.pop("exec")
    with pytest.raises(KubeconfigError) as info:
        translate(
            kubeconfig(cluster({"proxy-url": "http://u:proxy-SECRET@proxy.example.com"}), user)
        )
    assert_no_secret(str(info.value))
    assert_no_secret(repr(info.value.args))


def test_yaml_errors_do_not_quote_the_input() -> None:
    data = kubeconfig(user={"token": TOKEN, "client-key-data": KEY_B64})
    broken = data.replace(b"client-key-data:", b"client-key-data: [", 1)
    with pytest.raises(KubeconfigError) as info:
        translate(broken)
    assert "line" in str(info.value)
    assert_no_secret(str(info.value))


# --- determinism and caching ----------------------------------------------------------


def _reversed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed(v) for k, v in reversed(value.items())}
    if isinstance(value, list):
        return [_reversed(v) for v in value]
    return value


def test_output_is_deterministic_and_independent_of_key_order() -> None:
    source = doc(
        cluster({"tls-server-name": "n", "proxy-url": "http://p", "disable-compression": True}),
        {**CLIENT_CERT, "token": TOKEN},
    )
    data = yaml.safe_dump(source, sort_keys=False).encode()
    first = translate(data)
    kc._translations.clear()
    fresh = translate(data)
    reordered = translate(yaml.safe_dump(_reversed(source), sort_keys=False).encode())
    as_json = translate(json.dumps(source, indent=4).encode())

    assert first.config_json == fresh.config_json == reordered.config_json == as_json.config_json
    assert first == fresh == reordered == as_json
    want = expected(
        {"serverName": "n", "certData": CERT_B64, "keyData": KEY_B64},
        bearerToken=TOKEN,
        proxyUrl="http://p",
        disableCompression=True,
    )
    assert first.config_json == json.dumps(want, sort_keys=True, separators=(",", ":"))


def test_config_json_is_canonical() -> None:
    one = {"b": 1, "a": {"d": [1, "é"], "c": True}}
    two = {"a": {"c": True, "d": [1, "é"]}, "b": 1}
    assert config_json(one) == config_json(two) == '{"a":{"c":true,"d":[1,"é"]},"b":1}'


def test_translate_is_cached_for_equal_bytes() -> None:
    data = kubeconfig(user={**CLIENT_CERT, "token": TOKEN})
    copy = bytes(bytearray(data))
    assert copy is not data
    first = translate(data, **AZ)
    hits = kc._translations.hits
    start = time.perf_counter()
    second = translate(copy, **AZ)
    assert time.perf_counter() - start < 0.01
    assert second is first
    assert kc._translations.hits == hits + 1
    assert translate(data) == first  # different arguments, equal result


def test_large_inputs_are_translated_but_not_cached() -> None:
    data = kubeconfig(user={"token": TOKEN}) + b"#" + b"x" * (128 * 1024) + b"\n"
    first = translate(data)
    second = translate(data)
    assert first == second
    assert first is not second


def test_bytearray_is_accepted_and_str_is_a_programming_error() -> None:
    data = kubeconfig(user={"token": TOKEN})
    assert translate(bytearray(data)) == translate(data)
    with pytest.raises(TypeError):
        translate(data.decode())  # type: ignore[arg-type]


# --- has_kubelogin --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "want"),
    [
        pytest.param(kubeconfig(user=kubelogin()), True, id="kubelogin"),
        pytest.param(
            kubeconfig(user=exec_user("C:\\bin\\kubelogin.exe", ["get-token"])),
            True,
            id="kubelogin-windows-path",
        ),
        pytest.param(kubeconfig(user=CLIENT_CERT), False, id="client-certificate"),
        pytest.param(kubeconfig(user=exec_user("gke-gcloud-auth-plugin")), False, id="gke"),
        pytest.param(
            kubeconfig(user=exec_user("kubelogin", ["convert-kubeconfig"])),
            False,
            id="kubelogin-other-subcommand",
        ),
        pytest.param(kubeconfig(context={"cluster": "dev-cluster"}), False, id="no-user"),
        pytest.param(
            yaml.safe_dump(doc(user=kubelogin(), top={"current-context": "other"})).encode(),
            False,
            id="follows-current-context",
        ),
    ],
)
def test_has_kubelogin(data: bytes, want: bool) -> None:
    assert has_kubelogin(data) is want


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xff", id="not-utf8"),
        pytest.param(b"a: [", id="bad-yaml"),
        pytest.param(kubeconfig(current="nope"), id="unknown-context"),
        pytest.param(kubeconfig(user={"exec": {"command": 1}}), id="bad-exec"),
    ],
)
def test_has_kubelogin_errors(data: bytes) -> None:
    with pytest.raises(KubeconfigError):
        has_kubelogin(data)


# --- fuzz: nothing but KubeconfigError escapes ----------------------------------------

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_FIELDS = st.sampled_from(
    [
        ("cluster", "server"),
        ("cluster", "certificate-authority-data"),
        ("cluster", "insecure-skip-tls-verify"),
        ("cluster", "proxy-url"),
        ("cluster", "tls-server-name"),
        ("cluster", "disable-compression"),
        ("user", "token"),
        ("user", "username"),
        ("user", "client-key-data"),
        ("user", "exec"),
        ("user", "auth-provider"),
        ("exec", "args"),
        ("exec", "env"),
        ("exec", "command"),
        ("exec", "apiVersion"),
        ("top", "contexts"),
        ("top", "clusters"),
        ("top", "users"),
        ("top", "current-context"),
        ("context", "cluster"),
        ("context", "user"),
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=_FIELDS, value=_VALUES)
def test_fuzz_wrong_types_only_raise_kubeconfig_error(field: tuple[str, str], value: Any) -> None:
    where, key = field
    body = {
        "cluster": cluster(),
        "user": {**CLIENT_CERT},
        "context": {"cluster": "dev-cluster", "user": "dev-user"},
    }
    exec_ = {"command": "my-auth", "args": ["a"], "env": [{"name": "A", "value": "b"}]}
    if where == "exec":
        exec_[key] = value
        body["user"] = {"exec": exec_}
    elif where != "top":
        body[where][key] = value
    source = doc(
        body["cluster"],
        body["user"],
        context=body["context"],
        top={key: value} if where == "top" else None,
    )
    try:
        data = yaml.safe_dump(source).encode()
    except yaml.YAMLError:
        return
    try:
        got = translate(data, **AZ)
    except KubeconfigError as exc:
        message = str(exc)
    else:
        assert got.auth_method in AUTH_METHODS
        json.loads(got.config_json)
        return
    assert message.startswith("kubeconfig ")


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_fuzz_arbitrary_bytes_only_raise_kubeconfig_error(data: bytes) -> None:
    try:
        translate(data)
        has_kubelogin(data)
    except KubeconfigError:
        pass
