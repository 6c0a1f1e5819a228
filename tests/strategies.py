"""Hypothesis strategies for the fuzz tests: kubeconfigs, XRs, inputs and observed state.

Every secret value drawn here (token, password, exec argument or env value, private key)
contains SECRET_MARK or is the fuzz PKI's key, and no name or other field ever does, so a
test can tell whether a secret leaked into a message by looking for the mark alone.
"""

from __future__ import annotations

import base64
import json
import string
from dataclasses import dataclass, field
from typing import Any

import yaml
from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from hypothesis import strategies as st

from function.kubeconfig import AZURE_DEFAULT_SERVER_ID, EXEC_API_VERSION
from tests.pki import make_pki

SECRET_MARK = "S3CR3T-"
PKI = make_pki("fuzz")
OTHER_PKI = make_pki("fuzz-other")
INPUT_API = "gitopscluster.fn.crossplane.io/v1beta1"
REGISTRATION = "argocd-cluster"
CONNECTION_SECRET = "cluster-connection-secret"
ADMIN_KUBECONFIG = "attribute.kube_admin_config_raw"


def b64(data: bytes | str) -> str:
    """Standard padded base64, as Kubernetes and kubeconfig `*-data` fields hold it."""
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def key_windows(pem: bytes) -> list[str]:
    """16-character windows of a key, raw and base64: none may appear in any message."""
    body = "".join(line for line in pem.decode().splitlines() if not line.startswith("-----"))
    encoded = b64(pem)
    return [text[i : i + 16] for text in (body, encoded) for i in range(0, len(text) - 16, 8)]


SECRET_WINDOWS = tuple(key_windows(PKI.client_key) + key_windows(OTHER_PKI.client_key))


def leaked(text: str) -> list[str]:
    """The secret marks or key fragments found in text (empty when it is clean)."""
    found = [SECRET_MARK] if SECRET_MARK in text else []
    return found + [window for window in SECRET_WINDOWS if window in text]


# --- scalars and junk -----------------------------------------------------------------

UNICODE = st.characters(blacklist_categories=("Cs",))
TEXT = st.text(UNICODE, max_size=24)
SECRETS = st.text(alphabet="abcdefghij0123456789", min_size=6, max_size=16).map(
    lambda s: SECRET_MARK + s
)
# Protobuf Struct numbers are doubles: integers beyond 2**53 do not survive a round trip.
NUMBERS = st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT
JUNK = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
GUIDS = st.uuids().map(str)
DNS_LABELS = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
# RFC 1123 subdomains up to 253 characters: what the API server allows as an XR name.
DNS_SUBDOMAINS = (
    st.lists(DNS_LABELS, min_size=1, max_size=6)
    .map(".".join)
    .map(lambda name: name[:253].rstrip("-.") or "x")
)


def mostly(
    good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], one_in: int = 4
) -> st.SearchStrategy[Any]:
    """good, except one draw in one_in from bad (one_of would weigh them equally)."""
    # The rare branch is the last value, not 0, which hypothesis draws far more often.
    return st.integers(0, one_in - 1).flatmap(lambda roll: bad if roll == one_in - 1 else good)


def fields(
    spec: dict[str, tuple[st.SearchStrategy[Any], float]], junk: int | None = 20
) -> st.SearchStrategy[dict]:
    """A mapping whose keys are each present with a probability, one in `junk` junk-valued.

    Hypothesis draws 0 more often than other rolls, so 0 means present.
    """
    values = {
        key: good if junk is None else mostly(good, JUNK, one_in=junk)
        for key, (good, _) in spec.items()
    }

    @st.composite
    def build(draw: st.DrawFn) -> dict:
        out: dict[str, Any] = {}
        for key, (_, present) in spec.items():
            if draw(st.integers(0, 99)) < present * 100:
                out[key] = draw(values[key])
        return out

    return build()


# --- PEM-ish *-data values ------------------------------------------------------------


def _wrapped(text: str) -> str:
    """base64 broken into lines, as `base64` without -w0 prints it: still valid."""
    return "\n".join(text[i : i + 64] for i in range(0, len(text), 64))


def pem_values(pem: bytes, wrong: bytes) -> st.SearchStrategy[str]:
    """Right, and every way a `*-data` value is found to be wrong in the field."""
    good = b64(pem)
    return mostly(st.sampled_from([good, _wrapped(good)]), _bad_pem_values(pem, wrong), one_in=6)


def _bad_pem_values(pem: bytes, wrong: bytes) -> st.SearchStrategy[str]:
    good = b64(pem)
    return st.sampled_from(
        [
            pem.decode(),
            b64(good),
            good[:-4] + "!!!=",
            good[:-1],
            b64(b"not a pem file"),
            b64(b"-----BEGIN NOTHING-----\n\xff\xfe\x00"),
            b64(wrong),
            b64(
                b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----"
            ),
            "",
        ]
    ) | st.binary(max_size=64).map(b64)


CA_DATA = pem_values(PKI.ca_cert, PKI.client_key)
CERT_DATA = pem_values(PKI.client_cert, OTHER_PKI.client_key)
KEY_DATA = pem_values(PKI.client_key, PKI.client_cert)


# --- kubeconfig -----------------------------------------------------------------------

NAME_POOL = ("dev", "prod", "clusterAdmin_rg_aks")
OTHER_NAMES = st.text(string.ascii_lowercase + string.digits + "-_.:@", max_size=70) | st.text(
    UNICODE, max_size=8
)
NAMES = mostly(OTHER_NAMES, st.sampled_from(NAME_POOL), one_in=3)
HOSTS = st.sampled_from(
    ["127.0.0.1:6443", "aks-x.hcp.westeurope.azmk8s.io:443", "[::1]:443", "34.1.2.3", "h"]
)
SERVERS = mostly(
    st.builds("https://{}".format, HOSTS) | st.builds("http://{}".format, HOSTS),
    SECRETS.map(lambda s: f"https://admin:{s}@example.com")
    | st.sampled_from(
        ["ftp://x", "https://", "not a url", "https://[::1", "https://ä.example", "https://h:99999"]
    )
    | TEXT,
    one_in=8,
)
PROXIES = mostly(
    st.sampled_from(["http://proxy:3128", "socks5://proxy:1080"])
    | SECRETS.map(lambda s: f"http://u:{s}@proxy.example.com"),
    st.sampled_from(["gopher://x", "https://"]) | TEXT,
)
# Plugins as the clouds' tooling writes them, each with the arguments it expects.
PLUGINS = st.sampled_from(
    [
        ("kubelogin", ["get-token", "--server-id", AZURE_DEFAULT_SERVER_ID, "-l", "azurecli"]),
        ("/usr/local/bin/kubelogin", ["get-token", "--server-id=app", "-e", "AzureChinaCloud"]),
        ("C:\\bin\\kubelogin.exe", ["get-token", "--environment", "AzurePublicCloud"]),
        ("gke-gcloud-auth-plugin", []),
        ("aws", ["--region", "eu-west-1", "eks", "get-token", "--cluster-name", "demo"]),
        ("aws", ["eks", "get-token", "--cluster-name=demo", "--role-arn", "arn:aws:iam::1:role/r"]),
        ("aws-iam-authenticator", ["token", "-i", "demo", "-r", "arn:aws:iam::1:role/r"]),
        ("argocd-k8s-auth", ["gcp"]),
        ("my-plugin", ["login"]),
    ]
)
COMMANDS = st.sampled_from(
    ["kubelogin", "aws", "aws-iam-authenticator", "argocd-k8s-auth", "my-plugin"]
) | st.text(string.ascii_letters + "/-_.", max_size=20)
ARG_TOKENS = (
    st.sampled_from(
        ["get-token", "eks", "token", "--server-id", "--cluster-name", "-i", "--profile", "-e"]
    )
    | SECRETS
)
# A known plugin with its arguments, now and then with arguments appended (a secret, or a
# flag left without its value), or any command with any arguments.
COMMAND_LINES = mostly(
    st.builds(
        lambda plugin, tail: (plugin[0], plugin[1] + tail),
        PLUGINS,
        mostly(st.just([]), st.lists(ARG_TOKENS, min_size=1, max_size=3), one_in=4),
    ),
    st.tuples(COMMANDS, st.lists(ARG_TOKENS, max_size=4)),
)
ENV_ITEMS = (
    st.fixed_dictionaries(
        {"name": st.sampled_from(["AWS_PROFILE", "AWS_SECRET_ACCESS_KEY", "A"]) | TEXT},
        optional={"value": SECRETS | st.none() | JUNK},
    )
    | JUNK
)
EXEC_FIELDS = fields(
    {
        "env": (st.lists(ENV_ITEMS, max_size=3), 0.4),
        "apiVersion": (
            st.sampled_from(
                [
                    EXEC_API_VERSION,
                    "client.authentication.k8s.io/v1",
                    "client.authentication.k8s.io/v1alpha1",
                    "",
                ]
            ),
            0.8,
        ),
        "installHint": (TEXT, 0.2),
        "provideClusterInfo": (st.booleans(), 0.2),
        "interactiveMode": (st.sampled_from(["Never", "IfAvailable"]), 0.2),
    }
)


@st.composite
def execs(draw: st.DrawFn) -> dict[str, Any]:
    """A user's exec block; command or args rarely missing or junk."""
    command, args = draw(COMMAND_LINES)
    line: dict[str, Any] = {}
    for key, value, percent in (("command", command, 97), ("args", args, 90)):
        if draw(st.integers(0, 99)) < percent:
            line[key] = draw(JUNK) if draw(st.integers(0, 39)) == 39 else value
    return line | draw(EXEC_FIELDS)


EXEC = execs()
_CLUSTER_FIELDS = {
    "server": (SERVERS, 0.99),
    "certificate-authority-data": (CA_DATA, 0.7),
    "certificate-authority": (st.just("/etc/ca.crt"), 0.02),
    "insecure-skip-tls-verify": (st.booleans(), 0.2),
    "tls-server-name": (st.sampled_from(["api.internal", "h"]) | TEXT, 0.2),
    "proxy-url": (PROXIES, 0.15),
    "disable-compression": (st.booleans(), 0.15),
    "extensions": (JUNK, 0.05),
}
_USER_EXTRAS = {
    "tokenFile": (st.just("/var/run/token"), 0.02),
    "client-key": (st.just("/etc/client.key"), 0.02),
    "auth-provider": (SECRETS.map(lambda s: {"name": "azure", "config": {"t": s}}), 0.02),
    "as": (st.just("admin"), 0.02),
    "as-groups": (st.just(["system:masters"]), 0.02),
}
_USER_MODES = [
    {"client-certificate-data": (CERT_DATA, 0.95), "client-key-data": (KEY_DATA, 0.95)},
    {"token": (SECRETS, 0.95)},
    {"username": (SECRETS, 0.95), "password": (SECRETS, 0.95)},
    {"exec": (EXEC, 0.95)},
    {
        "client-certificate-data": (CERT_DATA, 0.3),
        "client-key-data": (KEY_DATA, 0.3),
        "token": (SECRETS, 0.3),
        "username": (SECRETS, 0.2),
        "password": (SECRETS, 0.2),
        "exec": (EXEC, 0.3),
    },
]


def _user_bodies(junk: int) -> st.SearchStrategy[dict]:
    """One auth method as a provider writes it, or a random mix of them."""
    return st.one_of([fields(mode | _USER_EXTRAS, junk) for mode in _USER_MODES])


def _entries(
    item: str, bodies: st.SearchStrategy[dict], names: st.SearchStrategy[str]
) -> st.SearchStrategy[list]:
    """A kubeconfig list section; one entry in ten is not even a mapping."""
    entry = st.fixed_dictionaries({"name": names, item: bodies})
    return st.lists(
        st.integers(0, 9).flatmap(lambda roll: JUNK if roll == 9 else entry), max_size=2
    )


CLUSTER_BODIES = fields(_CLUSTER_FIELDS)
RARE_JUNK_CLUSTER_BODIES = fields(_CLUSTER_FIELDS, junk=60)
USER_BODIES = _user_bodies(20)
RARE_JUNK_USER_BODIES = _user_bodies(60)
# Decoys share a name with the real entries now and then: a duplicate client-go refuses.
DECOY_NAMES = mostly(OTHER_NAMES, st.sampled_from(NAME_POOL), one_in=8)
DECOYS = (
    _entries("cluster", CLUSTER_BODIES, DECOY_NAMES),
    _entries("user", USER_BODIES, DECOY_NAMES),
    _entries("context", st.just({"cluster": "decoy", "user": "decoy"}), DECOY_NAMES),
)


# Chaos: any structure at all, names drawn independently (references rarely resolve).
CHAOTIC_DOCS = fields(
    {
        "apiVersion": (st.just("v1"), 0.8),
        "kind": (st.just("Config"), 0.8),
        "clusters": (_entries("cluster", CLUSTER_BODIES, NAMES), 0.95),
        "users": (_entries("user", USER_BODIES, NAMES), 0.95),
        "contexts": (
            _entries(
                "context",
                fields({"cluster": (NAMES, 0.95), "user": (NAMES, 0.85)}),
                NAMES,
            ),
            0.95,
        ),
        "current-context": (NAMES, 0.9),
        "preferences": (st.just({}), 0.3),
    }
)
POOL_NAMES = st.sampled_from(NAME_POOL)


@st.composite
def coherent_docs(draw: st.DrawFn) -> dict[str, Any]:
    """A kubeconfig whose current context resolves, amid decoys, with rare junk values."""
    context, cluster, user = draw(POOL_NAMES), draw(POOL_NAMES), draw(POOL_NAMES)
    with_user = draw(st.integers(0, 9)) > 0
    ref = {"cluster": cluster, **({"user": user} if with_user else {})}
    own = (
        {"name": cluster, "cluster": draw(RARE_JUNK_CLUSTER_BODIES)},
        {"name": user, "user": draw(RARE_JUNK_USER_BODIES)},
        {"name": context, "context": ref},
    )
    sections = {}
    for key, entry, decoy in zip(("clusters", "users", "contexts"), own, DECOYS, strict=True):
        entries = draw(decoy)
        entries.insert(draw(st.integers(0, len(entries))), entry)
        sections[key] = entries
    return {"apiVersion": "v1", "kind": "Config", **sections, "current-context": context}


COHERENT_DOCS = coherent_docs()


class _Dumper(yaml.SafeDumper):
    """Writes shared objects out in full: aliases are tested on purpose, not by accident."""

    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002 - PyYAML's signature
        return True


def _encode(doc: dict, how: str) -> bytes:
    if how == "json":
        return json.dumps(doc).encode()
    flow = how == "flow"
    return yaml.dump(doc, Dumper=_Dumper, default_flow_style=flow, allow_unicode=True).encode()


@st.composite
def kubeconfigs(draw: st.DrawFn) -> bytes:
    """Kubeconfig bytes: mostly well-formed YAML of random documents, sometimes damaged."""
    doc = draw(COHERENT_DOCS if draw(st.integers(0, 4)) else CHAOTIC_DOCS)
    data = _encode(doc, draw(st.sampled_from(["block", "flow", "json"])))
    damage = draw(st.integers(0, 19))
    if damage == 1 and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == 2:
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\x00", b"\t", b"&a "]))
            + data[at:]
        )
    return data


def valid_kubeconfig(user: dict[str, Any] | None = None, server: str = "https://h:443") -> bytes:
    """A correct one-cluster kubeconfig from the fuzz PKI (client certificate by default)."""
    body = user or {
        "client-certificate-data": b64(PKI.client_cert),
        "client-key-data": b64(PKI.client_key),
    }
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c",
                "cluster": {"server": server, "certificate-authority-data": b64(PKI.ca_cert)},
            }
        ],
        "users": [{"name": "u", "user": body}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    return yaml.safe_dump(doc).encode()


GOOD_KUBECONFIGS = st.sampled_from(
    [
        valid_kubeconfig(),
        valid_kubeconfig({"token": SECRET_MARK + "tok"}),
        valid_kubeconfig(
            {"exec": {"command": "kubelogin", "args": ["get-token", "--server-id", "x"]}}
        ),
    ]
)
ANY_KUBECONFIG = GOOD_KUBECONFIGS | kubeconfigs() | st.binary(max_size=64)


# --- composite resource, input, observed state ----------------------------------------

# Each spec and input field is valid most of the time and wrong now and then, so that
# about half of the requests get past validation and reach the registration lifecycle.
RARE = 30
GOOD_LABEL_KEYS = st.from_regex(r"\A[a-z0-9]([-a-z0-9_.]{0,20}[a-z0-9])?\Z") | st.just(
    "example.org/team"
)
BAD_LABEL_KEYS = st.sampled_from(
    [
        "gitopscluster.fn.crossplane.io/cloud",
        "argocd.argoproj.io/secret-type",
        "bad key!",
        "a/b/c",
        "x" * 64,
        "Upper.Example.org/k",
        "",
    ]
)
LABEL_KEYS = mostly(GOOD_LABEL_KEYS, BAD_LABEL_KEYS, one_in=RARE)
GOOD_LABEL_VALUES = st.from_regex(
    r"\A([A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?)?\Z"
) | st.just("v" * 63)
LABEL_VALUES = mostly(
    GOOD_LABEL_VALUES, st.sampled_from(["v" * 64, "-bad", "sp ace", "ü"]), one_in=RARE
)
SMALL_LABELS = st.dictionaries(LABEL_KEYS, LABEL_VALUES, max_size=4)
# Thousands of valid entries: built, not drawn, so that generation stays cheap.
HUGE_LABELS = st.integers(1000, 5000).map(
    lambda n: {f"l{i}.example.org/k": f"v{i}" for i in range(n)}
)
LABELS = mostly(SMALL_LABELS, HUGE_LABELS, one_in=10)
ANNOTATIONS = st.dictionaries(LABEL_KEYS, TEXT, max_size=3)


@st.composite
def node_pools(draw: st.DrawFn) -> dict[str, Any]:
    """A fixed or autoscaling pool; counts are wrong (and floats, strings) now and then."""
    pool: dict[str, Any] = {}
    if draw(st.booleans()):
        pool["size"] = draw(st.sampled_from(["Standard_D4s_v5", "e2-standard-4"]))
    low, high = sorted(draw(st.lists(st.integers(1, 10), min_size=2, max_size=2)))
    if draw(st.booleans()):
        pool |= {"minCount": low, "maxCount": high, "count": draw(st.integers(low, high))}
    elif draw(st.booleans()):
        pool["count"] = draw(st.integers(1, 10))
    if draw(st.integers(0, RARE - 1)) == RARE - 1:
        bad = st.sampled_from([0, -1, 2.5, "3", True, None]) | NUMBERS
        pool[draw(st.sampled_from(["count", "minCount", "maxCount", "size"]))] = draw(bad)
    return pool


def valid_or(good: st.SearchStrategy[Any], *bad: Any) -> st.SearchStrategy[Any]:
    """good, or rarely one of the bad values."""
    return mostly(good, st.sampled_from(bad), one_in=RARE)


ARGOCD_SPECS = fields(
    {
        # Wrong values are limited to ones that can never read as a boolean.
        "register": (
            valid_or(mostly(st.just(True), st.just(False), one_in=3), "maybe", 2.5, [True]),
            0.6,
        ),
        "name": (valid_or(st.sampled_from(["team-a-dev", "Team_A.dev"]), "-bad", "ü"), 0.3),
        "project": (valid_or(st.just("team-a"), "Team A"), 0.2),
        "namespaces": (
            st.lists(valid_or(st.sampled_from(["apps", "kube-system"]), "Apps"), max_size=3),
            0.2,
        ),
        "clusterResources": (st.booleans(), 0.2),
        "labels": (LABELS, 0.4),
        "annotations": (ANNOTATIONS, 0.3),
        "auth": (
            valid_or(st.sampled_from(["Auto", "ClientCertificate", "WorkloadIdentity"]), "Token"),
            0.4,
        ),
        "workloadIdentity": (
            fields({"clientId": (valid_or(GUIDS, "not-a-guid"), 0.8), "tenantId": (GUIDS, 0.5)}),
            0.3,
        ),
    },
    junk=RARE * 2,
)
CLUSTER_SPECS = fields(
    {
        "location": (
            valid_or(
                st.sampled_from(["westeurope", "us-central1-a", "europe-west4", "eu-west-1"]), "", 1
            ),
            0.97,
        ),
        "version": (valid_or(st.sampled_from(["1.33", "1.33.2"]), 1.33, "latest"), 0.4),
        "nodePool": (node_pools(), 0.5),
        "resourceGroupName": (valid_or(st.just("rg-shared"), "", "r" * 91), 0.2),
        # EKS: at least two distinct subnets; the others refuse them.
        "subnetIds": (
            valid_or(
                st.lists(st.sampled_from(["subnet-a", "subnet-b", "subnet-c"]), max_size=3),
                "subnet-a",
                [""],
            ),
            0.6,
        ),
        "clusterRoleArn": (valid_or(st.just("arn:aws:iam::123456789012:role/eks"), "x"), 0.1),
        "nodeRoleArn": (valid_or(st.just("arn:aws:iam::123456789012:role/node"), "x"), 0.1),
        "providerConfigName": (valid_or(st.sampled_from(["default", "azure"]), ""), 0.2),
        "providerConfigKind": (
            valid_or(st.sampled_from(["ClusterProviderConfig", "ProviderConfig"]), "X"),
            0.1,
        ),
        "argocd": (ARGOCD_SPECS, 0.8),
    },
    junk=RARE * 2,
)
XR_NAMES = mostly(
    st.sampled_from(["team-a-dev", "x" * 64, "a" * 253]) | DNS_SUBDOMAINS,
    st.text(UNICODE, min_size=1, max_size=300) | st.just(""),
    one_in=10,
)


@st.composite
def composites(draw: st.DrawFn) -> dict[str, Any]:
    """An XR as the API server could hold it: real metadata, any spec (garbage included)."""
    metadata: dict[str, Any] = {"name": draw(XR_NAMES)}
    namespace = draw(st.none() | st.just("argocd") | DNS_LABELS)
    if namespace:
        metadata["namespace"] = namespace
    spec = draw(mostly(CLUSTER_SPECS, SCALARS | JUNK, one_in=RARE // 2))
    if isinstance(spec, dict) and not namespace and draw(st.booleans()):
        # A legacy (claim-based) XR: Crossplane v1 fields at the top of spec.
        spec["claimRef"] = {"namespace": "team-a", "name": "dev"}
        spec["compositionRef"] = {"name": "aks"}
    return {
        "apiVersion": "platform.example.org/v1alpha1",
        "kind": draw(st.sampled_from(["AKSCluster", "XAKSCluster", "GKECluster", "EKSCluster"])),
        "metadata": metadata,
        "spec": spec,
    }


INPUT_ARGOCD = fields(
    {
        "namespace": (valid_or(st.sampled_from(["argocd", "gitops"]), "Argo CD"), 0.4),
        # Secret is refused for namespaced XRs outside Argo CD's namespace: Object is safer.
        "delivery": (
            valid_or(st.sampled_from(["Auto", "Object", "Object", "Secret"]), "Helm"),
            0.5,
        ),
        "objectProviderConfigRef": (
            fields(
                {
                    "name": (valid_or(st.just("default"), ""), 0.5),
                    "kind": (st.sampled_from(["ClusterProviderConfig", "ProviderConfig"]), 0.5),
                }
            ),
            0.2,
        ),
        "commonLabels": (SMALL_LABELS, 0.3),
        "commonAnnotations": (ANNOTATIONS, 0.2),
        "identity": (
            fields(
                {
                    "aws": (
                        fields(
                            {
                                "roleArn": (
                                    valid_or(st.just("arn:aws:iam::123456789012:role/argocd"), "x"),
                                    0.7,
                                ),
                                "accessPolicy": (valid_or(st.just("AmazonEKSViewPolicy"), ""), 0.2),
                            }
                        ),
                        0.9,
                    )
                }
            ),
            0.5,
        ),
    },
    junk=RARE * 2,
)
INPUT_FIELDS = fields(
    {
        "argocd": (INPUT_ARGOCD, 0.6),
        "connectionSecretNamespace": (valid_or(st.just("platform-secrets"), "-x"), 0.2),
    },
    junk=RARE * 2,
)


@st.composite
def inputs(draw: st.DrawFn) -> dict[str, Any] | None:
    """The step's input: mostly valid AKS, GKE or EKS, sometimes missing or malformed."""
    if draw(st.integers(0, RARE - 1)) == RARE - 1:
        return draw(st.none() | st.dictionaries(TEXT, JUNK, max_size=3))
    cloud = draw(valid_or(st.sampled_from(["AKS", "GKE", "EKS"]), "OKE", None))
    return {"apiVersion": INPUT_API, "kind": "Input", "cloud": cloud} | draw(INPUT_FIELDS)


CONDITIONS = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["Ready", "Synced"]),
            "status": st.sampled_from(["True", "False", "Unknown"]),
        },
        optional={"reason": st.sampled_from(["Available", "Creating"])},
    ),
    max_size=2,
)
# The providers' CRDs fix these types; the values are what a cloud could report.
AT_PROVIDER = fields(
    {
        "fqdn": (st.sampled_from(["aks-x.hcp.westeurope.azmk8s.io"]) | TEXT, 0.6),
        "endpoint": (
            st.sampled_from(
                ["34.1.2.3", "gke.example", "https://x.gr7.eu-west-1.eks.amazonaws.com"]
            )
            | TEXT,
            0.6,
        ),
        # EKS: a list of one {data}; anything else must read as not reported yet.
        "certificateAuthority": (
            st.lists(fields({"data": (CA_DATA, 0.8)}, junk=None), max_size=2) | JUNK,
            0.5,
        ),
        "arn": (st.sampled_from(["arn:aws:eks:eu-west-1:123456789012:cluster/c", "x"]), 0.2),
        "version": (st.sampled_from(["1.33"]), 0.2),
        "platformVersion": (st.sampled_from(["eks.9"]), 0.2),
        "masterAuth": (fields({"clusterCaCertificate": (CA_DATA, 0.8)}, junk=None), 0.6),
        "currentKubernetesVersion": (st.sampled_from(["1.33.2"]), 0.3),
        "masterVersion": (st.sampled_from(["1.33.2-gke.1"]), 0.3),
        "project": (st.sampled_from(["my-project"]), 0.2),
        "id": (st.sampled_from(["projects/p/locations/l/clusters/c", "x"]), 0.2),
    },
    junk=None,
)
READY = [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "True"}]
OBSERVED_CLUSTERS = st.builds(
    lambda conditions, at_provider, annotations: {
        "apiVersion": "containerservice.azure.m.upbound.io/v1beta1",
        "kind": "KubernetesCluster",
        "metadata": {"name": "team-a-dev-k8s2p", "annotations": annotations},
        "status": {"conditions": conditions, "atProvider": at_provider},
    },
    mostly(st.just(READY), CONDITIONS, one_in=3),
    AT_PROVIDER,
    # The external name EKS registers by (awsAuthConfig.clusterName).
    st.just({}) | st.just({"crossplane.io/external-name": "team-a-dev-k8s2p"}) | JUNK,
)
# Half the time what provider-upjet-azure publishes; otherwise any keys, any bytes.
CONNECTION_DETAILS = mostly(
    st.fixed_dictionaries({"kubeconfig": GOOD_KUBECONFIGS}),
    st.dictionaries(
        st.sampled_from(["kubeconfig", ADMIN_KUBECONFIG, "endpoint"]), ANY_KUBECONFIG, max_size=2
    ),
    one_in=2,
)
ARGOCD_CONFIGS = mostly(
    st.sampled_from(
        [
            {"tlsClientConfig": {"insecure": False, "certData": "eA==", "keyData": "eA=="}},
            {"execProviderConfig": {"command": "argocd-k8s-auth", "args": ["gcp"]}},
            {"awsAuthConfig": {"clusterName": "c"}},
            {"bearerToken": SECRET_MARK + "observed"},
        ]
    ),
    # Hand edits: valid JSON, wrong shapes.
    st.sampled_from(
        [
            {"execProviderConfig": "argocd-k8s-auth"},
            {"tlsClientConfig": ["insecure"]},
            {"execProviderConfig": {"command": "argocd-k8s-auth", "args": "gcp"}},
        ]
    )
    | JUNK,
    one_in=2,
)
# Broken values a hand-edited Secret could hold, for any key.
BROKEN_DATA = st.sampled_from(["not base64!", "/w==", ""])
OBSERVED_SECRET_DATA = fields(
    {
        "name": (mostly(st.just(b64("team-a-dev")), BROKEN_DATA), 0.9),
        "server": (mostly(st.just(b64("https://h:443")), BROKEN_DATA), 0.9),
        "config": (mostly(ARGOCD_CONFIGS.map(lambda c: b64(json.dumps(c))), BROKEN_DATA), 0.9),
        "project": (st.just(b64("team-a")), 0.2),
    },
    junk=None,  # the API server stores only base64 strings in a Secret's data
)


def _secret(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "cluster-team-a-dev-1a2b3", "namespace": "argocd"},
        "type": "Opaque",
        "data": data,
    }


def _object(manifest: Any, conditions: list) -> dict[str, Any]:
    return {
        "apiVersion": "kubernetes.m.crossplane.io/v1alpha1",
        "kind": "Object",
        "metadata": {"name": "team-a-dev-8x2kq"},
        "spec": {"forProvider": {"manifest": manifest}},
        "status": {"conditions": conditions},
    }


# An Object's manifest is schemaless in its CRD: a hand edit can put anything there.
OBJECT_MANIFESTS = mostly(
    OBSERVED_SECRET_DATA.map(_secret),
    st.dictionaries(TEXT, JUNK, max_size=2)
    | st.dictionaries(st.sampled_from(["name", "server", "config"]), JUNK, max_size=3).map(_secret),
)
OBSERVED_REGISTRATIONS = OBSERVED_SECRET_DATA.map(_secret) | st.builds(
    _object, OBJECT_MANIFESTS, CONDITIONS
)
REQUIRED_SECRETS = st.lists(
    st.builds(
        _secret,
        st.dictionaries(
            st.sampled_from(["kubeconfig", ADMIN_KUBECONFIG]),
            ANY_KUBECONFIG.map(b64) | st.sampled_from(["not base64!", "QQ"]),
            max_size=2,
        ),
    ),
    max_size=2,
)


@dataclass
class Case:
    """One RunFunction request as plain data, so tests can state expectations about it."""

    composite: dict[str, Any]
    fn_input: dict[str, Any] | None
    tag: str
    observed: dict[str, dict[str, Any]] = field(default_factory=dict)
    connection_details: dict[str, bytes] = field(default_factory=dict)
    required: list[dict[str, Any]] | None = None

    def request(self) -> fnv1.RunFunctionRequest:
        """The request as Crossplane would send it."""
        req = fnv1.RunFunctionRequest(meta=fnv1.RequestMeta(tag=self.tag))
        req.observed.composite.resource.CopyFrom(resource.dict_to_struct(self.composite))
        if self.fn_input is not None:
            req.input.CopyFrom(resource.dict_to_struct(self.fn_input))
        for name, manifest in self.observed.items():
            req.observed.resources[name].resource.CopyFrom(resource.dict_to_struct(manifest))
        for key, value in self.connection_details.items():
            req.observed.resources["cluster"].connection_details[key] = value
        if self.required is not None:
            found = req.required_resources[CONNECTION_SECRET]
            for item in self.required:
                found.items.add().resource.CopyFrom(resource.dict_to_struct(item))
        return req


def _drop_other_clouds_fields(spec: dict[str, Any], cloud: Any) -> None:
    if cloud != "EKS":
        for field in ("subnetIds", "clusterRoleArn", "nodeRoleArn"):
            spec.pop(field, None)
    if cloud != "AKS":
        spec.pop("resourceGroupName", None)
        if isinstance(spec.get("argocd"), dict):
            spec["argocd"].pop("workloadIdentity", None)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A RunFunction request with random XR, input and observed state."""
    case = Case(
        composite=draw(composites()),
        fn_input=draw(inputs()),
        tag=draw(st.text(UNICODE, max_size=12) | st.uuids().map(str)),
    )
    spec = case.composite.get("spec")
    cloud = case.fn_input.get("cloud") if isinstance(case.fn_input, dict) else None
    if isinstance(spec, dict) and draw(st.integers(0, 3)) != 3:
        # Mostly what the cloud's own XRD admits, so each cloud reaches registration, not
        # only the Fatals for another cloud's fields.
        _drop_other_clouds_fields(spec, cloud)
    if cloud == "EKS" and isinstance(spec, dict) and draw(st.integers(0, 3)) != 3:
        spec["location"] = "eu-west-1"
        subnets = spec.get("subnetIds")
        distinct = isinstance(subnets, list) and len(set(map(str, subnets))) == len(subnets)
        if not distinct or len(subnets) < 2:
            spec["subnetIds"] = ["subnet-a", "subnet-b"]
    # Rare branches sit on the last roll: hypothesis draws 0 far more often than 1/n.
    if draw(st.integers(0, 4)) != 4:
        case.observed["cluster"] = draw(OBSERVED_CLUSTERS)
        case.connection_details = draw(CONNECTION_DETAILS)
    if draw(st.booleans()):
        case.observed[REGISTRATION] = draw(OBSERVED_REGISTRATIONS)
    if draw(st.integers(0, 3)) == 3:
        case.observed["resource-group"] = {"metadata": {"name": "rg", "annotations": {}}}
    if draw(st.booleans()):
        case.required = draw(REQUIRED_SECRETS)
    return case
