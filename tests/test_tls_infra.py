"""Tests of the TLS test infrastructure: PKI, loopback API server and Secret-only client.

The Secrets here are built by hand from Pki values so the infrastructure is proven
independently of the production translator that it will later be used to check.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import stat
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.argocd_client import cluster_from_secret, get_version
from tests.https_server import VERSION, ApiServer
from tests.pki import Pki, kubeconfig, make_pki, write_tls_dir

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

TOKEN = "s3cr3t-token"


def _b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode("ascii")


def secret(server: str, config: dict[str, Any] | str, **data: str) -> dict[str, Any]:
    """A cluster Secret manifest as the function renders it (base64 `data`)."""
    cfg = config if isinstance(config, str) else json.dumps(config)
    values = {"name": "c1", "server": server, "config": cfg, **data}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "c1",
            "namespace": "argocd",
            "labels": {"argocd.argoproj.io/secret-type": "cluster"},
        },
        "type": "Opaque",
        "data": {k: _b64(v) for k, v in values.items()},
    }


def cert_config(pki: Pki, *, ca: Pki | None = None, **tls: Any) -> dict[str, Any]:
    """Client-cert ClusterConfig built from kubeconfig-style base64 strings."""
    return {
        "tlsClientConfig": {
            "insecure": False,
            "caData": (ca or pki).ca_data,
            "certData": pki.client_cert_data,
            "keyData": pki.client_key_data,
            **tls,
        }
    }


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="module")
def other() -> Pki:
    return make_pki(common_name="other")


@pytest.fixture
def mtls(pki: Pki) -> Iterator[ApiServer]:
    with ApiServer(pki) as srv:
        yield srv


# --- PKI ------------------------------------------------------------------------------------


def test_pki_certificates_have_the_expected_roles(pki: Pki) -> None:
    ca = x509.load_pem_x509_certificate(pki.ca_cert)
    server = x509.load_pem_x509_certificate(pki.server_cert)
    client = x509.load_pem_x509_certificate(pki.client_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    server_eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    client_eku = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(server_eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert list(client_eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    org = client.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [a.value for a in org] == ["system:masters"]
    server.verify_directly_issued_by(ca)
    client.verify_directly_issued_by(ca)
    assert base64.b64decode(pki.ca_data) == pki.ca_cert
    assert base64.b64decode(pki.client_key_data) == pki.client_key
    assert make_pki() is pki  # cached
    assert make_pki(common_name="other").ca_cert != pki.ca_cert


def test_write_tls_dir_matches_crossplane_layout(pki: Pki, tmp_path: Path) -> None:
    server_dir = write_tls_dir(pki, tmp_path / "server")
    client_dir = write_tls_dir(pki, tmp_path / "client", for_server=False)
    assert (server_dir / "tls.crt").read_bytes() == pki.server_cert
    assert (client_dir / "tls.crt").read_bytes() == pki.client_cert
    assert (client_dir / "tls.key").read_bytes() == pki.client_key
    assert (server_dir / "ca.crt").read_bytes() == pki.ca_cert
    assert stat.S_IMODE((server_dir / "tls.key").stat().st_mode) == 0o600
    # The files form a usable pair (would raise ssl.SSLError on a mismatch).
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(
        server_dir / "tls.crt", server_dir / "tls.key"
    )


def test_kubeconfig_data_fields_copy_verbatim_into_a_working_secret(
    pki: Pki, mtls: ApiServer
) -> None:
    doc = yaml.safe_load(kubeconfig(pki, mtls.url, cluster_extra={"tls-server-name": "x"}))
    assert doc["current-context"] == "ctx"
    cluster, user = doc["clusters"][0]["cluster"], doc["users"][0]["user"]
    assert cluster["tls-server-name"] == "x"
    config = {
        "tlsClientConfig": {
            "caData": cluster["certificate-authority-data"],
            "certData": user["client-certificate-data"],
            "keyData": user["client-key-data"],
        }
    }
    assert get_version(secret(cluster["server"], config)) == (200, VERSION)
    custom = yaml.safe_load(kubeconfig(pki, mtls.url, user={"token": TOKEN}))
    assert custom["users"][0]["user"] == {"token": TOKEN}


# --- client certificates ----------------------------------------------------------------------


@pytest.mark.parametrize("key_type", ["ec", "rsa"])
def test_client_cert_from_the_ca_is_accepted(key_type: str) -> None:
    pki = make_pki(key_type=key_type)
    with ApiServer(pki) as srv:
        status, body = get_version(secret(srv.url, cert_config(pki)))
        assert (status, body["gitVersion"]) == (200, "v1.33.2")
        assert [r.client_cn for r in srv.requests] == ["argocd"]


def test_trailing_slash_on_server_still_works(pki: Pki, mtls: ApiServer) -> None:
    assert get_version(secret(mtls.url + "/", cert_config(pki)))[0] == 200


def test_wrong_ca_data_fails_server_verification(pki: Pki, other: Pki, mtls: ApiServer) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        get_version(secret(mtls.url, cert_config(pki, ca=other)))
    assert mtls.requests == []


def test_client_cert_from_another_ca_is_rejected_by_the_server(
    pki: Pki, other: Pki, mtls: ApiServer
) -> None:
    config = cert_config(other, ca=pki)  # trusts the server, but presents a foreign cert
    # TLS 1.3: the client may finish its handshake first and see the alert, or a reset, on I/O.
    with pytest.raises((ssl.SSLError, ConnectionError)):
        get_version(secret(mtls.url, config))
    assert isinstance(mtls.wait_tls_error(), ssl.SSLError)
    assert mtls.requests == []


def test_key_that_does_not_match_the_cert_fails_to_load(pki: Pki, other: Pki) -> None:
    config = cert_config(pki)
    config["tlsClientConfig"]["keyData"] = other.client_key_data
    with pytest.raises(ssl.SSLError, match=r"KEY_VALUES_MISMATCH|key values mismatch"):
        get_version(secret("https://127.0.0.1:1", config))


def test_cert_without_key_sends_no_client_cert(pki: Pki, mtls: ApiServer) -> None:
    """client-go only presents a cert when both certData and keyData are set."""
    tls = {"caData": pki.ca_data, "certData": pki.client_cert_data}
    with pytest.raises((ssl.SSLError, ConnectionError)):
        get_version(secret(mtls.url, {"tlsClientConfig": tls}))
    assert mtls.wait_tls_error() is not None

    with ApiServer(pki, require_client_cert=False, bearer_token=TOKEN) as srv:
        config = {"bearerToken": TOKEN, "tlsClientConfig": tls}
        assert get_version(secret(srv.url, config))[0] == 200
        assert [r.client_cn for r in srv.requests] == [None]


# --- bearer token / basic auth ----------------------------------------------------------------


def test_bearer_token(pki: Pki) -> None:
    with ApiServer(pki, require_client_cert=False, bearer_token=TOKEN) as srv:
        tls = {"insecure": False, "caData": pki.ca_data}
        good = secret(srv.url, {"bearerToken": TOKEN, "tlsClientConfig": tls})
        bad = secret(srv.url, {"bearerToken": "nope", "tlsClientConfig": tls})
        missing = secret(srv.url, {"tlsClientConfig": tls})
        assert get_version(good) == (200, VERSION)
        status, body = get_version(bad)
        assert (status, body["reason"]) == (401, "Unauthorized")
        assert get_version(missing)[0] == 401
        assert [r.authorization for r in srv.requests] == [f"Bearer {TOKEN}", "Bearer nope", None]


def test_basic_auth(pki: Pki) -> None:
    with ApiServer(pki, require_client_cert=False, basic_auth=("admin", "pw")) as srv:
        tls = {"caData": pki.ca_data}
        ok = {"username": "admin", "password": "pw", "tlsClientConfig": tls}
        wrong = {"username": "admin", "password": "x", "tlsClientConfig": tls}
        assert get_version(secret(srv.url, ok))[0] == 200
        assert get_version(secret(srv.url, wrong))[0] == 401


def test_token_and_basic_auth_together_are_refused(pki: Pki) -> None:
    config = {"bearerToken": TOKEN, "username": "a", "tlsClientConfig": {"caData": pki.ca_data}}
    with pytest.raises(ValueError, match="but not both"):
        get_version(secret("https://127.0.0.1:1", config))


# --- serverName / connect_to ------------------------------------------------------------------


@pytest.fixture(scope="module")
def named() -> Pki:
    return make_pki(common_name="named", server_names=("kubernetes.test",))


def test_server_name_overrides_verification_host(named: Pki) -> None:
    with ApiServer(named) as srv:
        ok = cert_config(named, serverName="kubernetes.test")
        assert get_version(secret(srv.url, ok))[0] == 200
        with pytest.raises(ssl.SSLCertVerificationError, match=re.escape("127.0.0.1")):
            get_version(secret(srv.url, cert_config(named)))


def test_connect_to_keeps_the_secret_hostname_for_verification(named: Pki) -> None:
    with ApiServer(named) as srv:
        good = secret("https://kubernetes.test:443", cert_config(named))
        assert get_version(good, connect_to=srv.address)[0] == 200
        wrong_host = secret("https://elsewhere.test:443", cert_config(named))
        with pytest.raises(ssl.SSLCertVerificationError, match=re.escape("elsewhere.test")):
            get_version(wrong_host, connect_to=srv.address)


# --- insecure ---------------------------------------------------------------------------------


def test_insecure_without_ca_connects(other: Pki, named: Pki) -> None:
    # Server cert is for kubernetes.test and from a CA the client never sees.
    with ApiServer(named) as srv:
        tls = {
            "insecure": True,
            "certData": named.client_cert_data,
            "keyData": named.client_key_data,
        }
        assert get_version(secret(srv.url, {"tlsClientConfig": tls}))[0] == 200
        tls["caData"] = other.ca_data
        with pytest.raises(ValueError, match="insecure flag is not allowed"):
            get_version(secret(srv.url, {"tlsClientConfig": tls}))
        assert len(srv.requests) == 1


# --- config strictness ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"bearerTokne": "x"}, "bearerTokne"),
        ({"BearerToken": "x"}, "BearerToken"),  # Go would accept; we insist on exact names
        ({"tlsClientConfig": {"cadata": "eA=="}}, "cadata"),
        ({"tlsClientConfig": {"insecure": False, "ServerName": "x"}}, "ServerName"),
    ],
)
def test_unknown_config_keys_are_rejected(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=key):
        cluster_from_secret(secret("https://x", config))


def test_malformed_config_values_are_rejected(pki: Pki) -> None:
    raw_pem = {"tlsClientConfig": {"caData": pki.ca_cert.decode()}}
    with pytest.raises(ValueError, match="base64"):
        cluster_from_secret(secret("https://x", raw_pem))
    with pytest.raises(ValueError, match="insecure"):
        cluster_from_secret(secret("https://x", {"tlsClientConfig": {"insecure": "true"}}))
    with pytest.raises(ValueError, match="not valid JSON"):
        cluster_from_secret(secret("https://x", "{not json"))


def test_double_base64_ca_fails_to_load(pki: Pki) -> None:
    config = {"tlsClientConfig": {"caData": _b64(pki.ca_data)}}
    with pytest.raises(ssl.SSLError):
        get_version(secret("https://127.0.0.1:1", config))


def test_exec_and_aws_auth_cannot_be_exercised(pki: Pki) -> None:
    exec_cfg = {
        "execProviderConfig": {
            "command": "argocd-k8s-auth",
            "args": ["gcp"],
            "apiVersion": "client.authentication.k8s.io/v1beta1",
        },
        "tlsClientConfig": {"caData": pki.ca_data},
    }
    aws_cfg = {"awsAuthConfig": {"clusterName": "c", "roleARN": "arn:aws:iam::1:role/r"}}
    for config in (exec_cfg, aws_cfg):
        with pytest.raises(NotImplementedError):
            get_version(secret("https://127.0.0.1:1", config))
    exec_cfg["execProviderConfig"]["apiVersion"] = ""
    with pytest.raises(ValueError, match="apiVersion"):
        cluster_from_secret(secret("https://x", exec_cfg))


# --- cluster_from_secret ----------------------------------------------------------------------


def test_cluster_from_secret_decodes_like_argocd() -> None:
    s = secret(
        "https://api.example:6443//",
        {"tlsClientConfig": {"insecure": False}},
        namespaces=" a, ,b ,",
        clusterResources="True",
        project="team",
        shard="x",
    )
    s["metadata"]["labels"]["env"] = "prod"
    s["metadata"]["annotations"] = {"managed-by": "argocd.argoproj.io", "keep": "1"}
    cluster = cluster_from_secret(s)
    assert cluster == {
        "name": "c1",
        "server": "https://api.example:6443",
        "config": {"tlsClientConfig": {"insecure": False}},
        "namespaces": ["a", "b"],
        "project": "team",
        "clusterResources": False,  # only the exact string "true"
        "shard": None,
        "labels": {"env": "prod"},
        "annotations": {"keep": "1"},
    }
    s["data"]["clusterResources"] = _b64("true")
    s["data"]["config"] = _b64("")
    cluster = cluster_from_secret(s)
    assert cluster["clusterResources"] is True
    assert cluster["config"] == {}


def test_cluster_from_secret_rejects_string_data_and_unlabelled_secrets() -> None:
    s = secret("https://x", {})
    with_string_data = {**s, "stringData": {"server": "https://x"}}
    with pytest.raises(AssertionError, match="stringData"):
        cluster_from_secret(with_string_data)
    s["metadata"]["labels"] = {}
    with pytest.raises(ValueError, match="secret-type"):
        cluster_from_secret(s)
