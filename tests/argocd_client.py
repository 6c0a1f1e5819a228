"""A client built only from an Argo CD cluster Secret, mimicking Argo CD + client-go.

It follows `util/db.SecretToCluster` and `(*Cluster).RawRestConfig()` closely enough that a
`GET /version` which succeeds here would succeed for Argo CD's own connection check, and it
is stricter where Argo CD is silently lenient (misspelled JSON keys are dropped by Go, so
we reject them). See /work/shared/reference/argocd-cluster-registration.md §1.2, §1.3, §1.5a.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import socket
import ssl
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"

# Exactly the JSON names of Argo CD's ClusterConfig (types.go). Go matches keys
# case-insensitively and drops unknown ones, so anything else is a silent bug.
CONFIG_KEYS = frozenset(
    {
        "username",
        "password",
        "bearerToken",
        "tlsClientConfig",
        "awsAuthConfig",
        "execProviderConfig",
        "disableCompression",
        "proxyUrl",
    }
)
TLS_KEYS = frozenset({"insecure", "serverName", "caData", "certData", "keyData"})
AWS_KEYS = frozenset({"clusterName", "roleARN", "profile"})
# `provideClusterInfo` and `config` only exist from Argo CD v3.5.0 (older versions drop them).
EXEC_KEYS = frozenset(
    {"command", "args", "env", "apiVersion", "installHint", "provideClusterInfo", "config"}
)
EXEC_API_VERSIONS = frozenset(
    {"client.authentication.k8s.io/v1beta1", "client.authentication.k8s.io/v1"}
)
PROXY_SCHEMES = frozenset({"http", "https", "socks5"})

_STRING_FIELDS = {"username", "password", "bearerToken", "proxyUrl"}
_BYTES_FIELDS = {"caData", "certData", "keyData"}


# --- Secret -> cluster (SecretToCluster) ----------------------------------------------------


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            msg = f"config JSON has duplicate key {key!r}"
            raise ValueError(msg)
        out[key] = value
    return out


def _check_keys(obj: Any, allowed: frozenset[str], where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        msg = f"{where} must be a JSON object, got {type(obj).__name__}"
        raise ValueError(msg)  # Go's json.Unmarshal fails -> Argo CD drops the cluster
    for key in obj:
        if key not in allowed:
            msg = f"unknown key {key!r} in {where}; Argo CD would silently drop it"
            raise ValueError(msg)
    return obj


def _check_type(value: Any, kind: type | tuple[type, ...], where: str) -> None:
    # JSON null leaves the Go field at its zero value, so it is always acceptable.
    if value is None:
        return
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        msg = f"{where} has the wrong JSON type ({type(value).__name__})"
        raise ValueError(msg)


def _go_bytes(value: str, where: str) -> bytes:
    """Decode a Go `[]byte` JSON value: standard padded base64 (Go skips CR/LF)."""
    try:
        return base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError) as exc:
        msg = f"{where} is not standard base64 (raw PEM?): {exc}"
        raise ValueError(msg) from exc


def validate_config(config: Any) -> dict[str, Any]:
    """Check a decoded ClusterConfig against Argo CD's exact key names and Go JSON types."""
    cfg = _check_keys(config, CONFIG_KEYS, "config")
    for key in _STRING_FIELDS:
        _check_type(cfg.get(key), str, f"config.{key}")
    _check_type(cfg.get("disableCompression"), bool, "config.disableCompression")

    tls = cfg.get("tlsClientConfig")
    if tls is not None:
        _check_keys(tls, TLS_KEYS, "config.tlsClientConfig")
        _check_type(tls.get("insecure"), bool, "tlsClientConfig.insecure")
        _check_type(tls.get("serverName"), str, "tlsClientConfig.serverName")
        for key in _BYTES_FIELDS:
            _check_type(tls.get(key), str, f"tlsClientConfig.{key}")
            if tls.get(key):
                _go_bytes(tls[key], f"tlsClientConfig.{key}")

    aws = cfg.get("awsAuthConfig")
    if aws is not None:
        _check_keys(aws, AWS_KEYS, "config.awsAuthConfig")
        for key in AWS_KEYS:
            _check_type(aws.get(key), str, f"awsAuthConfig.{key}")

    exe = cfg.get("execProviderConfig")
    if exe is not None:
        _check_keys(exe, EXEC_KEYS, "config.execProviderConfig")
        for key in ("command", "apiVersion", "installHint"):
            _check_type(exe.get(key), str, f"execProviderConfig.{key}")
        _check_type(exe.get("args"), list, "execProviderConfig.args")
        _check_type(exe.get("env"), dict, "execProviderConfig.env")
        _check_type(exe.get("provideClusterInfo"), bool, "execProviderConfig.provideClusterInfo")
        if not all(isinstance(a, str) for a in exe.get("args") or []):
            msg = "execProviderConfig.args must be strings"
            raise ValueError(msg)
        if not all(isinstance(v, str) for v in (exe.get("env") or {}).values()):
            msg = "execProviderConfig.env values must be strings"
            raise ValueError(msg)
        # Argo CD passes apiVersion through; client-go refuses anything it does not know.
        if exe.get("apiVersion") not in EXEC_API_VERSIONS:
            msg = f"execProviderConfig.apiVersion {exe.get('apiVersion')!r} is refused by client-go"
            raise ValueError(msg)

    proxy = cfg.get("proxyUrl")
    if proxy and urlsplit(proxy).scheme not in PROXY_SCHEMES:
        msg = f"proxyUrl scheme must be one of {sorted(PROXY_SCHEMES)} (Argo CD ParseProxyUrl)"
        raise ValueError(msg)
    return cfg


def _decode_data(secret: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (secret.get("data") or {}).items():
        if not isinstance(value, str):
            msg = f"data.{key} must be a base64 string"
            raise ValueError(msg)
        try:
            out[key] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            msg = f"data.{key} is not base64 of UTF-8 text: {exc}"
            raise ValueError(msg) from exc
    return out


def cluster_from_secret(secret: dict[str, Any]) -> dict[str, Any]:
    """Decode a cluster Secret manifest the way Argo CD's `SecretToCluster` does.

    Also insists on the `argocd.argoproj.io/secret-type: cluster` label, without which Argo
    CD's informer never sees the Secret, and on `data` (our renders must not use stringData).
    """
    if "stringData" in secret:
        msg = "cluster Secret uses stringData; the function must render base64 `data`"
        raise AssertionError(msg)
    if secret.get("kind", "Secret") != "Secret":
        msg = f"not a Secret: kind {secret.get('kind')!r}"
        raise ValueError(msg)
    meta = secret.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    if labels.get(SECRET_TYPE_LABEL) != "cluster":
        msg = f"missing label {SECRET_TYPE_LABEL}=cluster; Argo CD would ignore this Secret"
        raise ValueError(msg)

    data = _decode_data(secret)
    raw_config = data.get("config", "")
    config: dict[str, Any] = {}
    if raw_config:
        try:
            parsed = json.loads(raw_config, object_pairs_hook=_reject_duplicates)
        except json.JSONDecodeError as exc:
            msg = f"config is not valid JSON: {exc}"
            raise ValueError(msg) from exc
        config = validate_config(parsed)

    shard: int | None
    try:
        shard = int(data["shard"]) if data.get("shard") else None
    except ValueError:
        shard = None  # Argo CD only logs a warning
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k not in {"kubectl.kubernetes.io/last-applied-configuration", "managed-by"}
    }
    labels.pop(SECRET_TYPE_LABEL, None)
    return {
        "name": data.get("name", ""),
        "server": data.get("server", "").rstrip("/"),
        "config": config,
        "namespaces": [ns.strip() for ns in data.get("namespaces", "").split(",") if ns.strip()],
        "project": data.get("project", ""),
        "clusterResources": data.get("clusterResources") == "true",
        "shard": shard,
        "labels": labels,
        "annotations": annotations,
    }


# --- cluster -> TLS + HTTP (RawRestConfig + client-go transport) ----------------------------


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed TCP destination while Host/SNI/verification use the Secret's names."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        dest: tuple[str, int],
        server_hostname: str,
        context: ssl.SSLContext,
        timeout: float,
    ) -> None:
        super().__init__(host, port, context=context, timeout=timeout)
        self._dest = dest
        self._sni = server_hostname
        self._tls_context = context

    def connect(self) -> None:
        sock = socket.create_connection(self._dest, self.timeout)
        try:
            self.sock = self._tls_context.wrap_socket(sock, server_hostname=self._sni)
        except BaseException:
            sock.close()
            raise


def _split_hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        msg = f"connect_to must be host:port, got {value!r}"
        raise ValueError(msg)
    return host.strip("[]"), int(port)


def _ssl_context(tls: dict[str, Any], tmp: Path) -> ssl.SSLContext:
    ca = _go_bytes(tls["caData"], "caData") if tls.get("caData") else b""
    cert = _go_bytes(tls["certData"], "certData") if tls.get("certData") else b""
    key = _go_bytes(tls["keyData"], "keyData") if tls.get("keyData") else b""
    insecure = bool(tls.get("insecure"))
    if insecure and ca:
        # client-go transport.TLSConfigFor
        msg = "specifying a root certificates file with the insecure flag is not allowed"
        raise ValueError(msg)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # client-go's floor
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca:
        # Non-PEM bytes (e.g. base64 applied twice) raise ssl.SSLError here, as client-go
        # fails with "unable to load root certificates".
        ctx.load_verify_locations(cadata=ca.decode("ascii", errors="replace"))
    else:
        ctx.load_default_certs()
    # client-go HasCertAuth: both halves needed, otherwise no client cert is presented.
    if cert and key:
        cert_path, key_path = tmp / "client.crt", tmp / "client.key"
        cert_path.write_bytes(cert)
        key_path.touch(mode=0o600)
        key_path.chmod(0o600)
        key_path.write_bytes(key)
        ctx.load_cert_chain(cert_path, key_path)  # ssl.SSLError on a cert/key mismatch
    return ctx


def _authorization(config: dict[str, Any]) -> str | None:
    token = config.get("bearerToken") or ""
    username = config.get("username") or ""
    if token and username:
        # client-go transport.New
        msg = "username/password or bearer token may be set, but not both"
        raise ValueError(msg)
    if token:
        return f"Bearer {token}"
    if username:  # client-go HasBasicAuth looks at the username only
        pair = f"{username}:{config.get('password') or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")
    return None


def get_version(
    secret: dict[str, Any], *, connect_to: str | None = None, timeout: float = 5
) -> tuple[int, dict[str, Any]]:
    """`GET <server>/version` using only the Secret, as Argo CD's connection check does.

    `connect_to` ("host:port") redirects the TCP connection only; SNI and certificate
    verification still use the Secret's server host (or `serverName`).
    Returns (HTTP status, JSON body or {}).
    """
    cluster = cluster_from_secret(secret)
    config = cluster["config"]
    server = cluster["server"]
    if config.get("awsAuthConfig") or config.get("execProviderConfig"):
        msg = "awsAuthConfig/execProviderConfig need an exec plugin, which cannot run here"
        raise NotImplementedError(msg)
    if server == IN_CLUSTER_SERVER:
        msg = "Argo CD ignores the Secret's TLS config for the in-cluster server"
        raise NotImplementedError(msg)
    if config.get("proxyUrl"):
        msg = "proxyUrl is not emulated"
        raise NotImplementedError(msg)

    url = urlsplit(server)
    if url.scheme != "https" or not url.hostname:
        msg = f"only https:// servers are supported, got {server!r}"
        raise NotImplementedError(msg)
    host, port = url.hostname, url.port or 443
    tls = config.get("tlsClientConfig") or {}
    authorization = _authorization(config)

    with tempfile.TemporaryDirectory(prefix="argocd-client-") as tmp:
        ctx = _ssl_context(tls, Path(tmp))
    conn = _PinnedHTTPSConnection(
        host,
        port,
        dest=_split_hostport(connect_to) if connect_to else (host, port),
        server_hostname=tls.get("serverName") or host,
        context=ctx,
        timeout=timeout,
    )
    headers = {"Accept": "application/json", "User-Agent": "argocd-secret-check"}
    if authorization:
        headers["Authorization"] = authorization
    try:
        conn.request("GET", url.path.rstrip("/") + "/version", headers=headers)
        resp = conn.getresponse()
        status, body = resp.status, resp.read()
    finally:
        conn.close()
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {}
    return status, parsed if isinstance(parsed, dict) else {}
