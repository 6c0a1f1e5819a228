"""Translate a kubeconfig into the `config` JSON of an Argo CD cluster Secret.

Argo CD cannot read a kubeconfig, so the fields of the current context's cluster and
user are mapped one by one onto Argo CD's `ClusterConfig`. Interactive exec plugins
(kubelogin, gke-gcloud-auth-plugin, aws) are swapped for what Argo CD runs headless.

The input comes from a cloud provider's connection Secret and this runs inside a
long-lived server, so parsing is defensive (size cap, no YAML aliases, bounded depth)
and no message ever echoes a value from the kubeconfig: names and field paths only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import yaml

from function.errors import FieldProblem
from function.memo import BoundedMemo

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")
AZURE_DEFAULT_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
MAX_KUBECONFIG_BYTES = 1024 * 1024

AUTH_METHODS = (
    "ClientCertificate",
    "BearerToken",
    "BasicAuth",
    "AzureWorkloadIdentity",
    "GCPWorkloadIdentity",
    "AWSAuth",
    "Exec",
    "None",
)

EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"
# client-go dropped v1alpha1; anything else makes Argo CD refuse the transport.
_EXEC_API_VERSIONS = frozenset({EXEC_API_VERSION, "client.authentication.k8s.io/v1"})
_ARGOCD_K8S_AUTH = "argocd-k8s-auth"

# A real kubeconfig nests about 7 deep and has a few thousand nodes at most.
_MAX_DEPTH = 32
_MAX_EVENTS = 50_000
# Longer numbers only serve to make int() quadratic (YAML 1.1 base-60 ints).
_MAX_NUMBER_CHARS = 64
# Cache only inputs of realistic size: a kubeconfig near the 1 MiB cap is rare, and
# parsing it again when the answer memo misses costs milliseconds, not memory.
_CACHEABLE_BYTES = 64 * 1024
# Translations remembered across calls, in bytes of their results: a typical result is
# a few kB, so 4 MiB keeps those of several hundred clusters.
_TRANSLATIONS_BYTES = 4 * 1024 * 1024
_MAX_LABEL_CHARS = 64

_DOCUMENT = "document"
_CERTIFICATE_BLOCK = b"-----BEGIN CERTIFICATE-----"
_KEY_BLOCK = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
# base64 of "-----BEGI": what a twice-encoded PEM decodes to.
_BASE64_PEM_PREFIX = b"LS0tLS1CRUdJ"

# client-go fields that name files: they would be read on Argo CD's pods, where they
# do not exist, so each is refused with the inline field to use instead.
_CLUSTER_PATH_FIELDS = {"certificate-authority": "certificate-authority-data"}
_USER_PATH_FIELDS = {
    "client-certificate": "client-certificate-data",
    "client-key": "client-key-data",
    "tokenFile": "token",
}
# Argo CD's cluster config cannot impersonate; dropping these would silently run with
# the full rights of the underlying credential.
_IMPERSONATION_FIELDS = ("as", "as-uid", "as-groups", "as-user-extra")
# Flags naming the EKS cluster, the role to assume and the AWS profile, per command.
_AWS_FLAGS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "aws": (("--cluster-name",), ("--role-arn",), ("--profile",)),
    "aws-iam-authenticator": (("-i", "--cluster-id"), ("-r", "--role"), ()),
}


class KubeconfigError(FieldProblem):
    """A kubeconfig Argo CD cannot use, named by field path and never by value.

    Not an InvalidSpec: the kubeconfig comes from the provider, not the user, so it
    becomes a condition and a Warning instead of a Fatal that would stop the XR.
    """

    subject = "kubeconfig "
    reason = "InvalidKubeconfig"


class WorkloadIdentityRequired(KubeconfigError):
    """The kubeconfig uses kubelogin (Entra ID) but no Azure client ID was given."""

    reason = "WorkloadIdentityNotConfigured"


@dataclass(frozen=True)
class ClusterConnection:
    """What the Argo CD cluster Secret needs: its `server` and `config` keys."""

    server: str
    config_json: str
    auth_method: str
    warnings: tuple[str, ...] = ()


def config_json(config: dict[str, Any]) -> str:
    """Serialise so that an unchanged cluster never produces a Secret diff."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def translate(
    kubeconfig: bytes,
    azure_client_id: str | None = None,
    azure_tenant_id: str | None = None,
) -> ClusterConnection:
    """Translate the current context into Argo CD's cluster config.

    The same kubeconfig arrives on every reconcile, so results are cached; only
    inputs of realistic size are, so hostile large inputs cannot fill memory.
    """
    return _remembered(
        _translations,
        _as_bytes(kubeconfig),
        (azure_client_id, azure_tenant_id),
        lambda data: _translate(data, azure_client_id, azure_tenant_id),
    )


def has_kubelogin(kubeconfig: bytes) -> bool:
    """Whether the current user is an Entra ID (kubelogin) user, for choosing the admin config."""
    return _remembered(_kubelogin, _as_bytes(kubeconfig), (), _has_kubelogin)


# --- translation ----------------------------------------------------------------------


def _translate(
    kubeconfig: bytes, azure_client_id: str | None, azure_tenant_id: str | None
) -> ClusterConnection:
    doc = _parse(kubeconfig)
    cluster, cluster_field, user, user_field = _current(doc)
    warnings: list[str] = []
    server = _server(cluster, cluster_field, warnings)
    config: dict[str, Any] = {"tlsClientConfig": _server_tls(cluster, cluster_field, warnings)}
    proxy = _proxy_url(cluster, cluster_field)
    if proxy:
        config["proxyUrl"] = proxy
    if _bool(cluster, "disable-compression", cluster_field):
        config["disableCompression"] = True
    auth, client_tls, method = _user_auth(
        user, user_field, azure_client_id, azure_tenant_id, warnings
    )
    config.update(auth)
    config["tlsClientConfig"].update(client_tls)
    return ClusterConnection(server, config_json(config), method, tuple(warnings))


def _has_kubelogin(kubeconfig: bytes) -> bool:
    doc = _parse(kubeconfig)
    _, _, user, user_field = _current(doc)
    exec_ = _map(user, "exec", user_field)
    if exec_ is None:
        return False
    field = f"{user_field}.exec"
    return _exec_kind(_required_str(exec_, "command", field), _args(exec_, field)) == "kubelogin"


def _connection_bytes(connection: ClusterConnection) -> int:
    return (
        len(connection.server)
        + len(connection.config_json)
        + sum(len(w) for w in connection.warnings)
    )


def _remembered(
    memo: BoundedMemo[tuple[Any, ...], T],
    data: bytes,
    extra: tuple[Any, ...],
    compute: Callable[[bytes], T],
) -> T:
    """compute(data), remembered for inputs of realistic size so hostile large ones cannot
    fill memory; keyed by a digest, so the memo never holds the kubeconfig (or its keys)."""
    if len(data) > _CACHEABLE_BYTES:
        return compute(data)
    key = (hashlib.sha256(data).digest(), *extra)
    found = memo.get(key)
    if found is None:
        found = compute(data)
        memo.put(key, found)
    return found


_translations: BoundedMemo[tuple[Any, ...], ClusterConnection] = BoundedMemo(
    _TRANSLATIONS_BYTES, _connection_bytes
)
_kubelogin: BoundedMemo[tuple[Any, ...], bool] = BoundedMemo(256 * 1024, lambda _: 0)


def _current(doc: dict[str, Any]) -> tuple[dict[str, Any], str, dict[str, Any], str]:
    """Follow current-context, never the first entry: a guess could register the wrong cluster."""
    name = _str(doc, "current-context", "")
    if name is None:
        raise KubeconfigError(
            "current-context",
            "is missing or empty",
            "Set it to the context Argo CD should use; the first context is never guessed.",
        )
    context, context_field = _entry(doc, "contexts", "context", name, "current-context")
    cluster_name = _str(context, "cluster", context_field)
    if cluster_name is None:
        raise KubeconfigError(
            f"{context_field}.cluster", "is missing or empty", "Name an entry of clusters."
        )
    cluster, cluster_field = _entry(
        doc, "clusters", "cluster", cluster_name, f"{context_field}.cluster"
    )
    user_name = _str(context, "user", context_field)
    if user_name is None:
        # client-go treats a context without a user as anonymous; so do we.
        return cluster, cluster_field, {}, f"{context_field}.user"
    user, user_field = _entry(doc, "users", "user", user_name, f"{context_field}.user")
    return cluster, cluster_field, user, user_field


def _entry(
    doc: dict[str, Any], section: str, item: str, name: str, ref_field: str
) -> tuple[dict[str, Any], str]:
    """Look a name up in a kubeconfig list, refusing duplicates as client-go does."""
    entries = _list(doc, section, "") or []
    matches = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise KubeconfigError(
                f"{section}[{index}]",
                f"must be a mapping, not {_kind(entry)}",
                f"Give each entry a name and a {item}.",
            )
        if entry.get("name") == name:
            matches.append(entry)
    field = f"{section}[{_label(name)}]"
    if not matches:
        raise KubeconfigError(
            ref_field,
            f"names {item} {_label(name)!r}, which is not in {section}",
            f"Add it to {section} or fix the name.",
        )
    if len(matches) > 1:
        raise KubeconfigError(field, "appears more than once", "Keep one entry per name.")
    body = matches[0].get(item)
    if body is None:
        raise KubeconfigError(f"{field}.{item}", "is missing", f"Add the {item} settings.")
    if not isinstance(body, dict):
        raise KubeconfigError(f"{field}.{item}", f"must be a mapping, not {_kind(body)}")
    return body, f"{field}.{item}"


# --- cluster side ---------------------------------------------------------------------


def _server(cluster: dict[str, Any], field: str, warnings: list[str]) -> str:
    """The URL Argo CD keys the cluster by; kept verbatim so it matches the kubeconfig."""
    server = _str(cluster, "server", field)
    name = f"{field}.server"
    fix = "Set it to the API server URL, e.g. https://example.com:443."
    if server is None:
        raise KubeconfigError(name, "is missing or empty", fix)
    parts = _url(server, name, fix, ("http", "https"), "must be an http or https URL")
    if parts.username is not None or parts.password is not None:
        raise KubeconfigError(
            name,
            "must not carry credentials (user:password@)",
            "Put them in the user's username and password; the server URL is not secret.",
        )
    if parts.scheme == "http":
        warnings.append(
            f"kubeconfig {name} uses plain http: credentials and traffic to the API server "
            "are not encrypted."
        )
    return server


def _server_tls(cluster: dict[str, Any], field: str, warnings: list[str]) -> dict[str, Any]:
    """Argo CD always marshals tlsClientConfig and insecure; mirror it so diffs stay quiet."""
    for key, instead in _CLUSTER_PATH_FIELDS.items():
        _refuse_path(cluster, key, instead, field)
    tls: dict[str, Any] = {"insecure": False}
    ca = pem_data(cluster, "certificate-authority-data", field, "a certificate")
    if _bool(cluster, "insecure-skip-tls-verify", field):
        tls["insecure"] = True
        dropped = (
            " certificate-authority-data is dropped, because client-go refuses it together "
            "with insecure."
            if ca
            else ""
        )
        warnings.append(
            f"kubeconfig {field}.insecure-skip-tls-verify is true: TLS verification is off, so "
            f"Argo CD will not check the API server's certificate.{dropped}"
        )
    elif ca:
        tls["caData"] = ca
    server_name = _str(cluster, "tls-server-name", field)
    if server_name:
        tls["serverName"] = server_name
    return tls


def _proxy_url(cluster: dict[str, Any], field: str) -> str | None:
    """Argo CD's ParseProxyUrl accepts only these schemes; fail here, not at sync time."""
    proxy = _str(cluster, "proxy-url", field)
    if proxy is None:
        return None
    name = f"{field}.proxy-url"
    fix = "Use an http://, https:// or socks5:// proxy URL."
    _url(proxy, name, fix, ("http", "https", "socks5"), "must use the http, https or socks5 scheme")
    return proxy


def _url(value: str, name: str, fix: str, schemes: tuple[str, ...], wrong_scheme: str) -> Any:
    # Printable ASCII only: the URL becomes a Secret value and a label-like key.
    if not (value.isascii() and value.isprintable()) or " " in value:
        raise KubeconfigError(name, "contains spaces or characters not allowed in a URL", fix)
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        raise KubeconfigError(name, "is not a valid URL", fix) from None
    if parts.scheme not in schemes:
        raise KubeconfigError(name, wrong_scheme, fix)
    if not parts.hostname:
        raise KubeconfigError(name, "has no host", fix)
    return parts


# --- user side ------------------------------------------------------------------------


def _user_auth(
    user: dict[str, Any],
    field: str,
    azure_client_id: str | None,
    azure_tenant_id: str | None,
    warnings: list[str],
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Pick one method with Argo CD's precedence: aws > exec > token / basic auth."""
    _refuse_unsupported(user, field)
    auth, tls, method, present = _static_credentials(user, field)
    exec_ = _map(user, "exec", field)
    if exec_ is None:
        return auth, tls, method
    exec_auth, exec_method = _exec(
        exec_, f"{field}.exec", azure_client_id, azure_tenant_id, warnings
    )
    if present:
        # Argo CD would drop a token next to exec, but a client certificate would make
        # client-go skip the plugin; copying neither keeps the choice explicit.
        warnings.append(
            f"kubeconfig {field} sets {', '.join(present)} next to exec; only the exec "
            "plugin is used, so they are not copied."
        )
    return exec_auth, {}, exec_method


def _refuse_unsupported(user: dict[str, Any], field: str) -> None:
    if user.get("auth-provider") is not None:
        raise KubeconfigError(
            f"{field}.auth-provider",
            "uses a legacy auth provider, which client-go and Argo CD no longer run",
            "Use an exec plugin such as kubelogin or gke-gcloud-auth-plugin.",
        )
    for key, instead in _USER_PATH_FIELDS.items():
        _refuse_path(user, key, instead, field)
    for key in _IMPERSONATION_FIELDS:
        if user.get(key) not in (None, "", [], {}):
            raise KubeconfigError(
                f"{field}.{key}",
                "asks for impersonation, which Argo CD's cluster config cannot express",
                "Remove it, and use Argo CD's destination service account impersonation if needed.",
            )


def _static_credentials(
    user: dict[str, Any], field: str
) -> tuple[dict[str, Any], dict[str, Any], str, list[str]]:
    """Client certificate, token and basic auth, checked as client-go would at connect time."""
    cert = pem_data(user, "client-certificate-data", field, "a certificate")
    key = pem_data(user, "client-key-data", field, "a private key")
    if cert and not key:
        raise KubeconfigError(
            f"{field}.client-key-data",
            "is missing while client-certificate-data is set",
            "Add the client key, or remove the certificate.",
        )
    if key and not cert:
        raise KubeconfigError(
            f"{field}.client-certificate-data",
            "is missing while client-key-data is set",
            "Add the client certificate, or remove the key.",
        )
    token = _str(user, "token", field)
    username = _str(user, "username", field)
    password = _str(user, "password", field)
    if (username is None) != (password is None):
        missing = "username" if username is None else "password"
        raise KubeconfigError(
            f"{field}.{missing}", "is missing while the other half of basic auth is set"
        )
    if token and username:
        raise KubeconfigError(
            f"{field}.token",
            "is set together with username and password",
            "Keep one of them; client-go refuses both.",
        )
    auth: dict[str, Any] = {}
    tls: dict[str, Any] = {}
    present = []
    method = "None"
    if token:
        auth["bearerToken"] = token
        present.append("token")
        method = "BearerToken"
    if username and password:
        auth |= {"username": username, "password": password}
        present.append("username/password")
        method = "BasicAuth"
    if cert and key:
        tls = {"certData": cert, "keyData": key}
        present.append("client-certificate-data/client-key-data")
        method = "ClientCertificate"
    return auth, tls, method, sorted(present)


def _exec(
    exec_: dict[str, Any],
    field: str,
    azure_client_id: str | None,
    azure_tenant_id: str | None,
    warnings: list[str],
) -> tuple[dict[str, Any], str]:
    command = _required_str(exec_, "command", field)
    args = _args(exec_, field)
    env = _env(exec_, field)
    api_version = _str(exec_, "apiVersion", field) or EXEC_API_VERSION
    if api_version not in _EXEC_API_VERSIONS:
        raise KubeconfigError(
            f"{field}.apiVersion",
            "is not an exec credential version client-go accepts",
            f"Use {EXEC_API_VERSION}.",
        )
    kind = _exec_kind(command, args)
    if kind == "kubelogin":
        return _azure(args, field, azure_client_id, azure_tenant_id), "AzureWorkloadIdentity"
    if kind == "gcp":
        return {"execProviderConfig": _argocd_k8s_auth("gcp")}, "GCPWorkloadIdentity"
    if kind in ("aws", "aws-iam-authenticator"):
        return {"awsAuthConfig": _aws(kind, args, env, field)}, "AWSAuth"
    return _generic_exec(exec_, command, args, env, api_version, field, warnings), "Exec"


def _exec_kind(command: str, args: list[str]) -> str:
    """Recognise the plugins that have a headless Argo CD equivalent."""
    name = re.split(r"[\\/]", command)[-1].removesuffix(".exe")
    if name == "kubelogin" and args[:1] == ["get-token"]:
        return "kubelogin"
    if name == "gke-gcloud-auth-plugin":
        return "gcp"
    if name == "aws" and any(args[i : i + 2] == ["eks", "get-token"] for i in range(len(args))):
        return "aws"
    if name == "aws-iam-authenticator" and args[:1] == ["token"]:
        return "aws-iam-authenticator"
    if name == _ARGOCD_K8S_AUTH:
        return _ARGOCD_K8S_AUTH
    return "exec"


def _argocd_k8s_auth(provider: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "command": _ARGOCD_K8S_AUTH,
        "args": [provider],
        "apiVersion": EXEC_API_VERSION,
    }
    if env:
        config["env"] = env
    return config


def _azure(
    args: list[str], field: str, azure_client_id: str | None, azure_tenant_id: str | None
) -> dict[str, Any]:
    """kubelogin logs in interactively; argocd-k8s-auth azure does the same headless."""
    if not azure_client_id:
        raise WorkloadIdentityRequired(
            field,
            "runs kubelogin (Entra ID), which Argo CD can only use through workload identity, "
            "and no Azure client ID is configured",
            "Set spec.argocd.workloadIdentity.clientId (or, for every cluster, the "
            "Composition's input argocd.identity.azure.clientId) to the client ID of the "
            "managed identity federated with Argo CD's service accounts.",
        )
    env = {"AAD_LOGIN_METHOD": "workloadidentity", "AZURE_CLIENT_ID": azure_client_id}
    if azure_tenant_id:
        env["AZURE_TENANT_ID"] = azure_tenant_id
    args_field = f"{field}.args"
    server_id = _flag(args, ("--server-id",), args_field)
    if server_id and server_id.lower() != AZURE_DEFAULT_SERVER_ID:
        env["AAD_SERVER_APPLICATION_ID"] = server_id
    environment = _flag(args, ("--environment", "-e"), args_field)
    if environment and environment.lower() != "azurepubliccloud":
        env["AAD_ENVIRONMENT_NAME"] = environment
    return {"execProviderConfig": _argocd_k8s_auth("azure", env)}


def _aws(kind: str, args: list[str], env: dict[str, str], field: str) -> dict[str, Any]:
    """Argo CD signs EKS tokens itself from awsAuthConfig; no aws CLI in its image."""
    args_field = f"{field}.args"
    cluster_flags, role_flags, profile_flags = _AWS_FLAGS[kind]
    cluster = _flag(args, cluster_flags, args_field)
    if not cluster:
        raise KubeconfigError(
            args_field,
            f"has no {cluster_flags[-1]}, so the EKS cluster name is unknown",
            f"Add {cluster_flags[-1]} <cluster name>.",
        )
    config = {"clusterName": cluster}
    role = _flag(args, role_flags, args_field)
    if role:
        config["roleARN"] = role
    # `aws eks update-kubeconfig --profile` writes AWS_PROFILE into env, not an argument.
    profile = _flag(args, profile_flags, args_field) or env.get("AWS_PROFILE")
    if profile:
        config["profile"] = profile
    return config


def _generic_exec(
    exec_: dict[str, Any],
    command: str,
    args: list[str],
    env: dict[str, str],
    api_version: str,
    field: str,
    warnings: list[str],
) -> dict[str, Any]:
    config: dict[str, Any] = {"command": command, "apiVersion": api_version}
    if args:
        config["args"] = args
    if env:
        config["env"] = env
    install_hint = _str(exec_, "installHint", field)
    if install_hint:
        config["installHint"] = install_hint
    if _exec_kind(command, args) != _ARGOCD_K8S_AUTH:
        warnings.append(
            f"kubeconfig {field}.command runs {_label(command)!r}: that binary must exist in the "
            "Argo CD image (application-controller and server); the stock image ships only "
            "argocd-k8s-auth."
        )
    if _bool(exec_, "provideClusterInfo", field):
        warnings.append(
            f"kubeconfig {field}.provideClusterInfo is dropped: Argo CD's execProviderConfig "
            "does not pass cluster info to the plugin."
        )
    return {"execProviderConfig": config}


def _flag(args: list[str], names: tuple[str, ...], field: str) -> str | None:
    """Read `--flag value` or `--flag=value`; the last one wins, as with pflag."""
    value = None
    for index, arg in enumerate(args):
        for name in names:
            if arg == name:
                if index + 1 >= len(args):
                    raise KubeconfigError(field, f"ends with {name} and no value after it")
                value = args[index + 1]
            elif arg.startswith(f"{name}="):
                value = arg[len(name) + 1 :]
    return value


def _args(exec_: dict[str, Any], field: str) -> list[str]:
    args = _list(exec_, "args", field) or []
    for index, arg in enumerate(args):
        if not isinstance(arg, str):
            raise KubeconfigError(
                f"{field}.args[{index}]", f"must be a string, not {_kind(arg)}", "Quote it."
            )
    return list(args)


def _env(exec_: dict[str, Any], field: str) -> dict[str, str]:
    """kubeconfig lists {name, value} pairs; Argo CD wants a map. Later names win."""
    env: dict[str, str] = {}
    for index, item in enumerate(_list(exec_, "env", field) or []):
        item_field = f"{field}.env[{index}]"
        if not isinstance(item, dict):
            raise KubeconfigError(item_field, f"must be a mapping, not {_kind(item)}")
        name = _required_str(item, "name", item_field)
        value = item.get("value", "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise KubeconfigError(
                f"{item_field}.value", f"must be a string, not {_kind(value)}", "Quote it."
            )
        env[name] = value
    return env


# --- field readers --------------------------------------------------------------------


def _refuse_path(obj: dict[str, Any], key: str, instead: str, field: str) -> None:
    if obj.get(key) not in (None, ""):
        raise KubeconfigError(
            f"{field}.{key}",
            "names a file, which does not exist on Argo CD's pods",
            f"Embed the content instead: use {instead}.",
        )


def pem_data(obj: dict[str, Any], key: str, field: str, what: str) -> str | None:
    """Check a `*-data` value is base64 of PEM and re-encode it canonically.

    Argo CD accepts any base64 here and only fails later at connect time, silently
    (raw PEM, or base64 applied twice), so those mistakes are caught now.
    """
    value = _str(obj, key, field)
    if value is None:
        return None
    name = f"{field}.{key}"
    fix = "Use the base64 of the PEM file, e.g. the output of `base64 -w0 file.pem`."
    compact = "".join(value.split())
    if compact.startswith("-----BEGIN"):
        raise KubeconfigError(name, "holds PEM text where base64 of the PEM was expected", fix)
    try:
        decoded = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise KubeconfigError(name, "is not valid base64", fix) from None
    head = decoded.lstrip()
    if head.startswith(_BASE64_PEM_PREFIX):
        raise KubeconfigError(name, "is base64-encoded twice", "Decode it once.")
    if not head.startswith(b"-----BEGIN"):
        raise KubeconfigError(name, "does not decode to PEM (no -----BEGIN line)", fix)
    if what == "a private key":
        if not _KEY_BLOCK.search(decoded):
            raise KubeconfigError(name, "does not hold a PEM private key", fix)
        if b"ENCRYPTED" in decoded:
            raise KubeconfigError(
                name, "holds an encrypted private key", "Use the unencrypted key."
            )
    elif _CERTIFICATE_BLOCK not in decoded:
        raise KubeconfigError(name, "does not hold a PEM certificate", fix)
    return base64.b64encode(decoded).decode("ascii")


def _str(obj: dict[str, Any], key: str, field: str) -> str | None:
    """An optional string field; empty counts as unset, as with Go's omitempty."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise KubeconfigError(
            _join(field, key), f"must be a string, not {_kind(value)}", "Quote it in YAML."
        )
    return value


def _required_str(obj: dict[str, Any], key: str, field: str) -> str:
    value = _str(obj, key, field)
    if value is None:
        raise KubeconfigError(_join(field, key), "is missing or empty")
    return value


def _bool(obj: dict[str, Any], key: str, field: str) -> bool:
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise KubeconfigError(
            _join(field, key), f"must be true or false, not {_kind(value)}", "Remove the quotes."
        )
    return value


def _map(obj: dict[str, Any], key: str, field: str) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise KubeconfigError(_join(field, key), f"must be a mapping, not {_kind(value)}")


def _list(obj: dict[str, Any], key: str, field: str) -> list[Any] | None:
    value = obj.get(key)
    if value is None or isinstance(value, list):
        return value
    raise KubeconfigError(_join(field, key), f"must be a list, not {_kind(value)}")


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


def _kind(value: Any) -> str:
    """Describe a value by type only, so that a misplaced secret is never echoed."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bytes):
        return "binary data"
    return f"a {type(value).__name__}"


def _label(name: str) -> str:
    """A name fit for a message: printable and short (names are not secret, but unbounded)."""
    text = "".join(ch if ch.isprintable() else "?" for ch in name[: _MAX_LABEL_CHARS + 1])
    return text if len(text) <= _MAX_LABEL_CHARS else text[: _MAX_LABEL_CHARS - 3] + "..."


# --- parsing --------------------------------------------------------------------------


def _as_bytes(kubeconfig: bytes) -> bytes:
    if isinstance(kubeconfig, bytes):
        return kubeconfig
    if isinstance(kubeconfig, bytearray | memoryview):
        return bytes(kubeconfig)
    msg = f"kubeconfig must be bytes, not {type(kubeconfig).__name__}"
    raise TypeError(msg)


def _parse(kubeconfig: bytes) -> dict[str, Any]:
    if len(kubeconfig) > MAX_KUBECONFIG_BYTES:
        raise KubeconfigError(
            _DOCUMENT,
            f"is {len(kubeconfig)} bytes, over the {MAX_KUBECONFIG_BYTES}-byte limit",
            "A kubeconfig for one cluster is a few kilobytes; publish only that.",
        )
    try:
        text = kubeconfig.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KubeconfigError(
            _DOCUMENT, f"is not UTF-8 text (bad byte at offset {exc.start})"
        ) from None
    _check_events(text)
    try:
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        raise KubeconfigError(_DOCUMENT, f"is not valid YAML{_where(exc)}") from None
    except (ValueError, OverflowError, RecursionError):
        raise KubeconfigError(_DOCUMENT, "is not valid YAML") from None
    if doc is None:
        raise KubeconfigError(_DOCUMENT, "is empty")
    if not isinstance(doc, dict):
        raise KubeconfigError(_DOCUMENT, f"must be a mapping, not {_kind(doc)}")
    return doc


def _check_events(text: str) -> None:
    """Refuse aliases, deep nesting and huge node counts before anything is built.

    Scanning the event stream is cheap and allocates nothing that grows with an alias
    expansion, so a billion-laughs document is refused at its first anchor.
    """
    depth = 0
    documents = 0
    try:
        for count, event in enumerate(yaml.parse(text, Loader=_Loader)):
            if count > _MAX_EVENTS:
                raise KubeconfigError(
                    _DOCUMENT, f"has more than {_MAX_EVENTS} YAML nodes", "Publish one cluster."
                )
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise KubeconfigError(
                    _DOCUMENT,
                    f"uses a YAML anchor or alias{_at(event.start_mark)}",
                    "Write the values out; anchors are refused so a small input cannot expand.",
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > _MAX_DEPTH:
                    raise KubeconfigError(
                        _DOCUMENT, f"nests deeper than {_MAX_DEPTH} levels{_at(event.start_mark)}"
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise KubeconfigError(
                        _DOCUMENT,
                        f"holds more than one YAML document{_at(event.start_mark)}",
                        "Keep a single document.",
                    )
    except yaml.YAMLError as exc:
        raise KubeconfigError(_DOCUMENT, f"is not valid YAML{_where(exc)}") from None


def _where(exc: yaml.YAMLError) -> str:
    """Only the position: PyYAML's own message quotes input lines, which may hold keys."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return _at(mark)
    position = getattr(exc, "position", None)
    return f" (at character {position})" if isinstance(position, int) else ""


def _at(mark: Any) -> str:
    line, column = getattr(mark, "line", None), getattr(mark, "column", None)
    if isinstance(line, int) and isinstance(column, int):
        return f" (line {line + 1}, column {column + 1})"
    return ""


_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader (libyaml when present) with bounded number and string construction."""


def _construct_number(loader: Any, node: yaml.ScalarNode) -> Any:
    if len(node.value) > _MAX_NUMBER_CHARS:
        raise yaml.constructor.ConstructorError(None, None, "number too long", node.start_mark)
    construct = {
        "tag:yaml.org,2002:int": yaml.constructor.SafeConstructor.construct_yaml_int,
        "tag:yaml.org,2002:float": yaml.constructor.SafeConstructor.construct_yaml_float,
    }[node.tag]
    return construct(loader, node)


def _construct_str(loader: Any, node: yaml.ScalarNode) -> str:
    """Refuse lone surrogates (only the pure-Python parser lets "\\ud800" through)."""
    value = yaml.constructor.SafeConstructor.construct_yaml_str(loader, node)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise yaml.constructor.ConstructorError(
            None, None, "invalid unicode escape", node.start_mark
        ) from None
    return value


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_number)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_number)
_Loader.add_constructor("tag:yaml.org,2002:str", _construct_str)
