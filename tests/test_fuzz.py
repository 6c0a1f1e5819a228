"""Fuzzing: the kubeconfig translator and RunFunction under random and hostile input.

The only allowed outcomes are a well-formed translation or a KubeconfigError that names
the field and echoes no secret; and a well-formed response holding either exactly one
Fatal result or the cloud's cluster. Explicit cases cover what random search would not
find: alias bombs, oversized documents, huge label maps, long names, the gRPC size limit.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import os
import re
import time
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest
import yaml
from crossplane.function import logging
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import json_format
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from function import fn
from function import kubeconfig as kc
from function.kubeconfig import (
    AUTH_METHODS,
    EXEC_API_VERSION,
    MAX_KUBECONFIG_BYTES,
    ClusterConnection,
    KubeconfigError,
    has_kubelogin,
    translate,
)
from tests.builders import CREDENTIALS, argocd_secret
from tests.grpc_client import run_function
from tests.strategies import (
    GUIDS,
    INPUT_API,
    PKI,
    REGISTRATION,
    SECRET_MARK,
    Case,
    b64,
    cases,
    kubeconfigs,
    leaked,
    valid_kubeconfig,
)

if TYPE_CHECKING:
    from tests.conftest import FunctionServer

# CI (FUNCTION_TEST_STRICT=1) replays the same examples on every run and reports a failure
# as found, without minutes of shrinking; locally each run explores new examples, shrinks
# failures and remembers them in the example database.
STRICT = os.environ.get("FUNCTION_TEST_STRICT") == "1"
settings.register_profile(
    "gitopscluster-fuzz",
    deadline=None,
    derandomize=STRICT,
    print_blob=True,
    phases=[Phase.explicit, Phase.generate] if STRICT else list(Phase),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
    **({"database": None} if STRICT else {}),
)
FUZZ = settings.get_profile("gitopscluster-fuzz")

# Argo CD's ClusterConfig JSON field names (pkg/apis/application/v1alpha1/types.go).
ARGOCD_FIELDS = {
    "bearerToken",
    "username",
    "password",
    "tlsClientConfig",
    "execProviderConfig",
    "awsAuthConfig",
    "proxyUrl",
    "disableCompression",
}
TLS_FIELDS = {"insecure", "serverName", "caData", "certData", "keyData"}
EXEC_FIELDS = {"command", "args", "env", "apiVersion", "installHint"}
AWS_FIELDS = {"clusterName", "roleARN", "profile"}
EXEC_API_VERSIONS = {EXEC_API_VERSION, "client.authentication.k8s.io/v1"}
SECRET_DATA_KEYS = {"name", "server", "config", "project", "namespaces", "clusterResources"}

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
AKS_DNS_PREFIX = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9]{0,52}[A-Za-z0-9])?$")

FATAL = fnv1.SEVERITY_FATAL
CONDITION = "ArgoCDRegistered"
# 'lol' nine levels deep: a billion strings from a few hundred bytes.
BOMB = "\n".join(
    ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
).encode()


# --- helpers --------------------------------------------------------------------------


def run(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
    """RunFunction called directly, as Crossplane's gRPC call would end up calling it."""
    logging.configure(level=logging.Level.DISABLED)
    return asyncio.run(fn.FunctionRunner().RunFunction(req, None))


def is_label_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and bool(LABEL_NAME.match(value)))


def is_label_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    prefix_ok = not prefix or (len(prefix) <= 253 and bool(DNS_SUBDOMAIN.match(prefix)))
    return prefix_ok and 0 < len(name) <= 63 and bool(LABEL_NAME.match(name))


def is_dns_subdomain(name: str) -> bool:
    return len(name) <= 253 and bool(DNS_SUBDOMAIN.match(name))


def check_message(message: str) -> None:
    """A message for people: present and free of secrets."""
    assert message.strip(), "empty message"
    assert not leaked(message), f"secret in message: {message!r}"


def check_kubeconfig_message(message: str) -> None:
    """Kubeconfig messages quote names only through a printable, bounded label."""
    check_message(message)
    assert message.startswith("kubeconfig "), message
    assert message.isprintable(), f"unprintable message: {message!r}"
    assert len(message) < 1000, f"unbounded message ({len(message)} chars)"


def check_error(exc: KubeconfigError) -> None:
    check_kubeconfig_message(str(exc))
    assert exc.field, "error names no field"


def check_pem_data(value: Any) -> None:
    assert isinstance(value, str)
    decoded = base64.b64decode(value, validate=True)
    assert decoded.lstrip().startswith(b"-----BEGIN"), "*Data is not base64 of PEM"


def check_argocd_config(text: str) -> dict[str, Any]:
    """Argo CD's ClusterConfig: its field names only, canonical JSON, consistent TLS."""
    config = json.loads(text)
    assert isinstance(config, dict)
    assert text == json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert set(config) <= ARGOCD_FIELDS, set(config) - ARGOCD_FIELDS
    tls = config["tlsClientConfig"]
    assert set(tls) <= TLS_FIELDS, set(tls) - TLS_FIELDS
    assert isinstance(tls["insecure"], bool)
    assert not (tls["insecure"] and "caData" in tls), "insecure together with caData"
    assert ("certData" in tls) == ("keyData" in tls), "half a client certificate"
    for key in TLS_FIELDS & {"caData", "certData", "keyData"} & set(tls):
        check_pem_data(tls[key])
    assert not ("execProviderConfig" in config and "awsAuthConfig" in config)
    if "execProviderConfig" in config:
        exec_ = config["execProviderConfig"]
        assert set(exec_) <= EXEC_FIELDS, set(exec_) - EXEC_FIELDS
        assert isinstance(exec_["command"], str)
        assert exec_["command"]
        assert exec_["apiVersion"] in EXEC_API_VERSIONS
        assert all(isinstance(arg, str) for arg in exec_.get("args", []))
        assert all(isinstance(v, str) for v in exec_.get("env", {}).values())
    if "awsAuthConfig" in config:
        aws = config["awsAuthConfig"]
        assert set(aws) <= AWS_FIELDS, set(aws) - AWS_FIELDS
        assert isinstance(aws["clusterName"], str)
        assert aws["clusterName"]
    for key in ("bearerToken", "username", "password", "proxyUrl"):
        if key in config:
            assert isinstance(config[key], str)
            assert config[key]
    assert config.get("disableCompression", True) is True
    return config


def check_auth_method(method: str, config: dict[str, Any]) -> None:
    """The reported method is the credential Argo CD will actually use."""
    assert method in AUTH_METHODS
    exec_ = config.get("execProviderConfig", {})
    k8s_auth = exec_.get("args", [None])[:1] if exec_.get("command") == "argocd-k8s-auth" else []
    uses = {
        "AWSAuth": "awsAuthConfig" in config,
        "AzureWorkloadIdentity": k8s_auth == ["azure"],
        "GCPWorkloadIdentity": k8s_auth == ["gcp"],
        "Exec": bool(exec_),
        "ClientCertificate": "certData" in config["tlsClientConfig"],
        "BearerToken": "bearerToken" in config,
        "BasicAuth": "username" in config,
        "None": True,
    }
    assert uses[method], f"{method} reported for {sorted(config)}"


def servers_in(data: bytes) -> set[Any]:
    """Every cluster server the document names: the translation must pick one of them."""
    try:
        doc = yaml.safe_load(data)
    except (yaml.YAMLError, ValueError, RecursionError):
        return set()
    clusters = doc.get("clusters") if isinstance(doc, dict) else None
    return {
        str(entry["cluster"].get("server"))
        for entry in clusters or []
        if isinstance(entry, dict) and isinstance(entry.get("cluster"), dict)
    }


def check_translation(got: ClusterConnection, data: bytes) -> dict[str, Any]:
    config = check_argocd_config(got.config_json)
    check_auth_method(got.auth_method, config)
    assert got.server.startswith(("https://", "http://"))
    if servers := servers_in(data):
        assert got.server in servers
    for warning in got.warnings:
        check_kubeconfig_message(warning)
    return config


def translate_outcome(data: bytes, client_id: str | None, tenant_id: str | None) -> str:
    """Translate, allowing only the two documented outcomes; name the one that happened."""
    try:
        got = translate(data, client_id, tenant_id)
    except KubeconfigError as exc:
        check_error(exc)
        outcome = "error"
    else:
        check_translation(got, data)
        outcome = got.auth_method
    try:
        assert isinstance(has_kubelogin(data), bool)
    except KubeconfigError as exc:
        check_error(exc)
    return outcome


# --- translate under random input -----------------------------------------------------


def test_fuzz_translate_structured_kubeconfigs() -> None:
    outcomes: collections.Counter[str] = collections.Counter()

    @settings(FUZZ, max_examples=400)
    @given(data=kubeconfigs(), client_id=st.none() | GUIDS, tenant_id=st.none() | GUIDS)
    def fuzz(data: bytes, client_id: str | None, tenant_id: str | None) -> None:
        outcomes[translate_outcome(data, client_id, tenant_id)] += 1

    fuzz()
    # The strategy must reach translations, not only the parser's early refusals.
    assert outcomes["error"] < sum(outcomes.values()) * 0.95, outcomes
    assert len(outcomes) >= 4, outcomes


MUTATIONS = st.sampled_from([b"\xff", b"\x00", b"&x ", b"*x", b"{", b"- ", b"!!binary ", b"\n"])


@st.composite
def damaged_kubeconfigs(draw: st.DrawFn) -> bytes:
    """A correct kubeconfig with a few random bytes inserted or overwritten."""
    data = bytearray(valid_kubeconfig())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        data[at : at + draw(st.integers(0, 2))] = draw(
            MUTATIONS | st.binary(min_size=1, max_size=3)
        )
    return bytes(data)


@settings(FUZZ, max_examples=300)
@given(
    data=st.binary(max_size=512)
    | st.text(max_size=256).map(lambda s: s.encode("utf-8", "surrogatepass"))
    | damaged_kubeconfigs()
)
def test_fuzz_translate_arbitrary_bytes(data: bytes) -> None:
    translate_outcome(data, None, None)


# --- RunFunction under random requests ------------------------------------------------


def spec_of(case: Case) -> dict[str, Any]:
    spec = case.composite.get("spec")
    return spec if isinstance(spec, dict) else {}


def check_rendered_registration(resources: dict[str, dict[str, Any]]) -> None:
    """A freshly rendered Argo CD cluster Secret (or the Object carrying it) Kubernetes accepts."""
    secret = argocd_secret(resources)
    if resources[REGISTRATION]["kind"] == "Object":
        # The Object carries no credentials: they come from the Secret beside it.
        assert resources[REGISTRATION]["spec"]["forProvider"]["manifest"]["data"]["config"] == ""
        assert set(resources[CREDENTIALS]["data"]) == {"config"}
    assert secret["kind"] == "Secret"
    assert secret["type"] == "Opaque"
    assert "stringData" not in secret
    metadata = secret["metadata"]
    assert is_dns_subdomain(metadata["name"]), metadata["name"]
    for key, value in metadata["labels"].items():
        assert is_label_key(key), key
        assert is_label_value(value), (key, value)
    assert metadata["labels"]["argocd.argoproj.io/secret-type"] == "cluster"
    assert all(is_label_key(key) for key in metadata.get("annotations", {}))
    data = {k: base64.b64decode(v, validate=True).decode() for k, v in secret["data"].items()}
    assert {"name", "server", "config"} <= set(data) <= SECRET_DATA_KEYS
    check_argocd_config(data["config"])


def check_rendered_names(case: Case, resources: dict[str, Any]) -> None:
    """Names derived from the XR's name fit the cloud's and Kubernetes' limits."""
    cluster = resources["cluster"]
    if cluster["kind"] == "KubernetesCluster":
        prefix = cluster["spec"]["forProvider"]["dnsPrefix"]
        assert AKS_DNS_PREFIX.match(prefix), prefix
    # EKS registers from the cluster's status and asks for no connection Secret.
    secret_ref = cluster["spec"].get("writeConnectionSecretToRef")
    if secret_ref and is_dns_subdomain(case.composite["metadata"]["name"]):
        assert is_dns_subdomain(secret_ref["name"]), secret_ref["name"]


def check_response(case: Case, rsp: fnv1.RunFunctionResponse) -> str:
    """The response invariants of the brief; returns what kind of outcome it was."""
    wire = fnv1.RunFunctionResponse.FromString(rsp.SerializeToString())
    assert wire == rsp
    assert rsp.meta.tag == case.tag
    assert not leaked(json_format.MessageToJson(rsp)), "secret outside base64 Secret data"
    for result in rsp.results:
        assert result.severity != fnv1.SEVERITY_UNSPECIFIED
        check_message(result.message)
    for condition in rsp.conditions:
        assert condition.reason, f"condition {condition.type} without a reason"
    fatals = [r.message for r in rsp.results if r.severity == FATAL]
    if fatals:
        assert len(fatals) == 1, fatals
        assert not fatals[0].startswith("internal error"), fatals[0]
        return "fatal"

    resources = json_format.MessageToDict(rsp.desired)["resources"]
    assert "cluster" in resources, sorted(resources)
    for name, item in resources.items():
        assert item["ready"] in ("READY_TRUE", "READY_FALSE"), name
        assert item["resource"]["apiVersion"]
        assert item["resource"]["kind"]
    check_rendered_names(case, {k: v["resource"] for k, v in resources.items()})

    (condition,) = [c for c in rsp.conditions if c.type == CONDITION]
    status = json_format.MessageToDict(rsp.desired.composite.resource)["status"]["argocd"]
    observed = REGISTRATION in case.observed
    if spec_of(case).get("argocd", {}).get("register", True) is False:
        assert condition.status == fnv1.STATUS_CONDITION_FALSE
        if condition.reason == "Draining":
            # Withdrawn first: kept, marked draining, until Argo CD has no Application left.
            assert observed
            assert REGISTRATION in resources
            assert status["registered"] is True
            return "disabled"
        assert condition.reason == "Disabled"
        assert REGISTRATION not in resources
        return "disabled"
    if observed:
        # A registration is never dropped by a transient gap.
        assert REGISTRATION in resources
        assert condition.status == fnv1.STATUS_CONDITION_TRUE
        assert status["registered"] is True
        if condition.reason == "Registered":
            check_rendered_registration({n: r["resource"] for n, r in resources.items()})
        return "kept-or-updated"
    assert status["registered"] is False
    assert condition.status == fnv1.STATUS_CONDITION_FALSE
    if REGISTRATION in resources:
        check_rendered_registration({n: r["resource"] for n, r in resources.items()})
        return "registering"
    return "waiting"


def test_fuzz_run_function() -> None:
    outcomes: collections.Counter[str] = collections.Counter()

    @settings(FUZZ, max_examples=400)
    @given(case=cases())
    def fuzz(case: Case) -> None:
        outcomes[check_response(case, run(case.request()))] += 1

    fuzz()
    # Every branch of the lifecycle must have been reached, not only the Fatal one.
    assert set(outcomes) == {"fatal", "disabled", "kept-or-updated", "registering", "waiting"}, (
        outcomes
    )


# --- explicit hostile cases -----------------------------------------------------------

XR_API = "platform.example.org/v1alpha1"
READY = [{"type": "Ready", "status": "True"}]
AKS_CLUSTER = {
    "apiVersion": "containerservice.azure.m.upbound.io/v1beta1",
    "kind": "KubernetesCluster",
    "status": {"conditions": READY, "atProvider": {"fqdn": "aks.example.io"}},
}
GKE_CLUSTER = {
    "apiVersion": "container.gcp.m.upbound.io/v1beta1",
    "kind": "Cluster",
    "status": {
        "conditions": READY,
        "atProvider": {
            "endpoint": "34.1.2.3",
            "masterAuth": {"clusterCaCertificate": b64(PKI.ca_cert)},
        },
    },
}
TOKEN_KUBECONFIG = valid_kubeconfig({"token": SECRET_MARK + "explicit"})


def composite(
    spec: dict[str, Any] | None = None,
    name: str = "team-a-dev",
    namespace: str | None = "team-a",
    kind: str = "AKSCluster",
) -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    spec = {"location": "westeurope", **(spec or {})}
    return {"apiVersion": XR_API, "kind": kind, "metadata": metadata, "spec": spec}


def fn_input(cloud: str = "AKS", **argocd: Any) -> dict[str, Any]:
    return {"apiVersion": INPUT_API, "kind": "Input", "cloud": cloud, "argocd": argocd}


def aks_case(
    details: dict[str, bytes] | None = None,
    *,
    spec: dict[str, Any] | None = None,
    name: str = "team-a-dev",
    namespace: str | None = "team-a",
    required: list[dict[str, Any]] | None = None,
    registered: dict[str, Any] | None = None,
    tag: str = "explicit",
) -> Case:
    """A ready AKS cluster whose credentials are the given connection details."""
    observed = {"cluster": AKS_CLUSTER, **({REGISTRATION: registered} if registered else {})}
    return Case(
        composite=composite(spec, name, namespace),
        fn_input=fn_input(),
        tag=tag,
        observed=observed,
        connection_details={"kubeconfig": TOKEN_KUBECONFIG} if details is None else details,
        required=required,
    )


def gke_case(name: str, namespace: str | None) -> Case:
    return Case(
        composite=composite(name=name, namespace=namespace, kind="GKECluster"),
        fn_input=fn_input("GKE"),
        tag="explicit",
        observed={"cluster": GKE_CLUSTER},
    )


def resources_of(rsp: fnv1.RunFunctionResponse) -> dict[str, dict[str, Any]]:
    desired = json_format.MessageToDict(rsp.desired).get("resources", {})
    return {name: item["resource"] for name, item in desired.items()}


def registration_condition(rsp: fnv1.RunFunctionResponse) -> fnv1.Condition:
    (condition,) = [c for c in rsp.conditions if c.type == CONDITION]
    return condition


def fatal_messages(rsp: fnv1.RunFunctionResponse) -> list[str]:
    return [r.message for r in rsp.results if r.severity == FATAL]


def registered_manifest() -> dict[str, Any]:
    """The registration this function writes for aks_case(), as Crossplane then observes it."""
    desired = resources_of(run(aks_case().request()))[REGISTRATION]
    return desired | {"metadata": {"name": "team-a-dev-x8k2q"}, "status": {"conditions": READY}}


def measured(call: Any, *args: Any) -> tuple[Any, float, int]:
    """Result, seconds and peak traced bytes of one call."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        try:
            result: Any = call(*args)
        except KubeconfigError as exc:
            result = exc
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, elapsed, peak


def user_alias_bomb() -> bytes:
    """A correct kubeconfig whose token is the top of an alias pyramid."""
    layers = [f"x0: &x0 ['{SECRET_MARK}lol', lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    layers += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10)}]" for i in range(1, 9)]
    text = TOKEN_KUBECONFIG.decode().replace(f"token: {SECRET_MARK}explicit", "token: *x8")
    return ("\n".join(layers) + "\n" + text).encode()


BOMBS = {
    "block": BOMB,
    "flow": (
        "{"
        + ", ".join(
            ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
            + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
        )
        + "}"
    ).encode(),
    "merge keys": b"\n".join(
        [b"a0: &a0 {k0: lol, k1: lol}"]
        + [
            f"a{i}: &a{i} {{{', '.join(f'<<{j}: *a{i - 1}' for j in range(10))}}}".encode()
            for i in range(1, 10)
        ]
    ),
    "inside a kubeconfig": user_alias_bomb(),
}


@pytest.mark.parametrize("bomb", BOMBS.values(), ids=BOMBS.keys())
def test_alias_bombs_are_refused_fast_with_bounded_memory(bomb: bytes) -> None:
    error, elapsed, peak = measured(translate, bomb)
    assert isinstance(error, KubeconfigError), error
    assert "anchor or alias" in str(error)
    check_error(error)
    assert elapsed < 1.0, f"took {elapsed:.2f}s"
    assert peak < 20 * 1024 * 1024, f"peak {peak} bytes"

    rsp, elapsed, peak = measured(run, aks_case({"kubeconfig": bomb}).request())
    check_response(aks_case({"kubeconfig": bomb}), rsp)
    assert elapsed < 1.0, f"RunFunction took {elapsed:.2f}s"
    assert peak < 20 * 1024 * 1024, f"RunFunction peak {peak} bytes"
    condition = registration_condition(rsp)
    assert (condition.status, condition.reason) == (
        fnv1.STATUS_CONDITION_FALSE,
        "InvalidKubeconfig",
    )


def oversized(size: int = MAX_KUBECONFIG_BYTES + 1) -> bytes:
    """A correct kubeconfig padded with a YAML comment: only its size is wrong."""
    data = TOKEN_KUBECONFIG + b"#"
    return data + b"x" * (size - len(data))


def test_oversized_kubeconfig_is_refused_fast_without_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert translate(oversized(MAX_KUBECONFIG_BYTES)).auth_method == "BearerToken"
    parsed: list[str] = []
    for name in ("parse", "load"):
        real = getattr(kc.yaml, name)
        monkeypatch.setattr(
            kc.yaml,
            name,
            lambda *a, _real=real, _name=name, **k: parsed.append(_name) or _real(*a, **k),
        )
    error, elapsed, peak = measured(translate, oversized())
    assert isinstance(error, KubeconfigError), error
    assert f"over the {MAX_KUBECONFIG_BYTES}-byte limit" in str(error)
    assert parsed == [], "the parser ran on an oversized kubeconfig"
    assert elapsed < 1.0
    assert peak < 20 * 1024 * 1024

    case = aks_case({"kubeconfig": oversized()})
    start = time.perf_counter()
    rsp = run(case.request())
    assert time.perf_counter() - start < 1.0
    check_response(case, rsp)
    assert parsed == []
    assert registration_condition(rsp).reason == "InvalidKubeconfig"


def without(data: bytes, key: str) -> bytes:
    doc = yaml.safe_load(data)
    del doc[key]
    return yaml.safe_dump(doc).encode()


def with_ca(value: str) -> bytes:
    doc = yaml.safe_load(TOKEN_KUBECONFIG)
    doc["clusters"][0]["cluster"]["certificate-authority-data"] = value
    return yaml.safe_dump(doc).encode()


def connection_secret(**data: str) -> list[dict[str, Any]]:
    return [{"apiVersion": "v1", "kind": "Secret", "data": data}]


BAD_CREDENTIALS = {
    "non-UTF-8 kubeconfig": ({"kubeconfig": b"\xff\xfe" + TOKEN_KUBECONFIG}, None, "not UTF-8"),
    "invalid base64 CA": ({"kubeconfig": with_ca("not*base64!")}, None, "not valid base64"),
    "CA base64 of non-UTF-8 bytes": ({"kubeconfig": with_ca(b64(b"\xff\xfe\xfd"))}, None, "PEM"),
    "no contexts": ({"kubeconfig": without(TOKEN_KUBECONFIG, "contexts")}, None, "contexts"),
    "no current-context": (
        {"kubeconfig": without(TOKEN_KUBECONFIG, "current-context")},
        None,
        "current-context",
    ),
    "invalid base64 in the connection Secret": (
        {},
        connection_secret(kubeconfig="not base64!"),
        "connection Secret data: is not valid base64",
    ),
    "non-UTF-8 in the connection Secret": (
        {},
        connection_secret(kubeconfig=b64(b"\xc3\x28" + TOKEN_KUBECONFIG)),
        "not UTF-8",
    ),
}


@pytest.mark.parametrize(
    ("details", "required", "problem"), BAD_CREDENTIALS.values(), ids=BAD_CREDENTIALS.keys()
)
def test_bad_credentials_are_a_warning_and_false_condition(
    details: dict[str, bytes], required: list[dict[str, Any]] | None, problem: str
) -> None:
    case = aks_case(details, required=required)
    rsp = run(case.request())
    assert check_response(case, rsp) == "waiting"
    (warning,) = [r for r in rsp.results if r.severity == fnv1.SEVERITY_WARNING]
    assert problem in warning.message
    assert warning.reason == "InvalidKubeconfig"
    condition = registration_condition(rsp)
    assert (condition.status, condition.reason) == (
        fnv1.STATUS_CONDITION_FALSE,
        "InvalidKubeconfig",
    )
    assert REGISTRATION not in resources_of(rsp)


@pytest.mark.parametrize(
    ("details", "required", "problem"), BAD_CREDENTIALS.values(), ids=BAD_CREDENTIALS.keys()
)
def test_bad_credentials_keep_an_existing_registration(
    details: dict[str, bytes], required: list[dict[str, Any]] | None, problem: str
) -> None:
    registered = registered_manifest()
    case = aks_case(details, required=required, registered=registered)
    rsp = run(case.request())
    assert check_response(case, rsp) == "kept-or-updated"
    # Kept as observed: only the status, which Crossplane owns, is left out.
    assert resources_of(rsp)[REGISTRATION] == {k: v for k, v in registered.items() if k != "status"}
    (warning,) = [r for r in rsp.results if r.severity == fnv1.SEVERITY_WARNING]
    assert warning.message.startswith("kept the existing Argo CD registration unchanged")
    assert problem in warning.message


def many_labels(count: int, last: tuple[str, str] | None = None) -> dict[str, str]:
    labels = {f"l{i}.example.org/key-{i}": f"value-{i}" for i in range(count - bool(last))}
    return labels | dict([last] if last else [])


def test_ten_thousand_labels_are_rendered_quickly() -> None:
    labels = many_labels(10_000)
    case = aks_case(spec={"argocd": {"labels": labels}})
    start = time.perf_counter()
    rsp = run(case.request())
    elapsed = time.perf_counter() - start
    assert check_response(case, rsp) == "registering"
    secret = argocd_secret(resources_of(rsp))
    assert labels.items() <= secret["metadata"]["labels"].items()
    assert elapsed < 2.0, f"took {elapsed:.2f}s"


def test_ten_thousand_labels_with_one_invalid_value_is_one_fatal_quickly() -> None:
    labels = many_labels(10_000, ("team", "v" * 64))
    start = time.perf_counter()
    rsp = run(aks_case(spec={"argocd": {"labels": labels}}).request())
    elapsed = time.perf_counter() - start
    (fatal,) = fatal_messages(rsp)
    assert fatal.startswith("spec.argocd.labels[team]: the value is not a valid label value")
    assert elapsed < 2.0, f"took {elapsed:.2f}s"


LABEL_VALUE_CASES = {
    "spec.argocd.labels": (composite({"argocd": {"labels": {"env": "v" * 64}}}), fn_input()),
    "input.argocd.commonLabels": (composite(), fn_input(commonLabels={"env": "v" * 64})),
}


@pytest.mark.parametrize(("xr", "step_input"), LABEL_VALUE_CASES.values(), ids=LABEL_VALUE_CASES)
def test_label_values_over_63_characters_are_fatal_naming_the_field(
    request: pytest.FixtureRequest, xr: dict[str, Any], step_input: dict[str, Any]
) -> None:
    field = request.node.callspec.id
    case = Case(composite=xr, fn_input=step_input, tag="t", observed={"cluster": AKS_CLUSTER})
    (fatal,) = fatal_messages(run(case.request()))
    assert fatal.startswith(f"{field}[env]: the value is not a valid label value"), fatal


def test_label_values_of_63_characters_are_accepted() -> None:
    case = aks_case(spec={"argocd": {"labels": {"env": "v" * 63}}})
    rsp = run(case.request())
    assert check_response(case, rsp) == "registering"


LONG_NAMES = {
    "64": "a" * 64,
    "64 with hyphens": "team-" + "a-" * 29 + "a",
    "253": "a" * 253,
    "253 with dots": ".".join(["a" * 63] * 4)[:253].rstrip("."),
}


@pytest.mark.parametrize("name", LONG_NAMES.values(), ids=LONG_NAMES.keys())
@pytest.mark.parametrize("namespace", ["team-a", None])
@pytest.mark.parametrize("cloud", ["AKS", "GKE"])
def test_long_xr_names_render_valid_resources(name: str, namespace: str | None, cloud: str) -> None:
    assert len(name) in (64, 253)
    case = aks_case(name=name, namespace=namespace) if cloud == "AKS" else gke_case(name, namespace)
    rsp = run(case.request())
    assert check_response(case, rsp) == "registering"
    resources = resources_of(rsp)
    secret = argocd_secret(resources)
    check_rendered_registration(resources)
    composite_label = secret["metadata"]["labels"]["gitopscluster.fn.crossplane.io/composite-name"]
    assert composite_label.startswith(name[:40].replace(".", "-"))
    ref = resources["cluster"]["spec"]["writeConnectionSecretToRef"]["name"]
    assert is_dns_subdomain(ref)
    if cloud == "AKS":
        prefix = resources["cluster"]["spec"]["forProvider"]["dnsPrefix"]
        assert len(prefix) <= 54
        assert AKS_DNS_PREFIX.match(prefix), prefix


def test_long_names_differing_only_at_the_end_stay_distinct() -> None:
    first, second = "a" * 252 + "b", "a" * 252 + "c"
    rendered = [resources_of(run(aks_case(name=n).request())) for n in (first, second)]
    for path in (
        ("cluster", "spec", "forProvider", "dnsPrefix"),
        ("cluster", "spec", "writeConnectionSecretToRef", "name"),
        (REGISTRATION, "spec", "forProvider", "manifest", "metadata", "name"),
    ):
        values = []
        for resources in rendered:
            value: Any = resources
            for key in path:
                value = value[key]
            values.append(value)
        assert values[0] != values[1], path


# --- known bugs: minimal reproducers (fail until function/*.py is fixed) ---------------


@pytest.mark.parametrize("spec", [True, 5, 2.5], ids=["bool", "int", "float"])
def test_non_object_spec_is_a_fatal_result_not_an_exception(spec: Any) -> None:
    """BUG: fn.py's InvalidSpec handler calls scope_of(), which assumes spec is a mapping."""
    case = Case(
        composite={"apiVersion": XR_API, "kind": "AKSCluster", "metadata": {"name": "x"}},
        fn_input=fn_input(),
        tag="t",
    )
    case.composite["spec"] = spec
    try:
        rsp = run(case.request())
    except TypeError as exc:
        pytest.fail(
            f"RunFunction raised {exc!r} for spec={spec!r}: function/fn.py's InvalidSpec handler "
            "calls xr.scope_of(), whose `'crossplane' not in spec` fails on a non-object spec"
        )
    (fatal,) = fatal_messages(rsp)
    assert fatal.startswith("spec"), fatal


HAND_EDITED = {
    "Object manifest data not a string": {
        "apiVersion": "kubernetes.m.crossplane.io/v1alpha1",
        "kind": "Object",
        "spec": {"forProvider": {"manifest": {"kind": "Secret", "data": {"config": {"a": 1}}}}},
    },
    "config execProviderConfig not an object": {
        "apiVersion": "v1",
        "kind": "Secret",
        "data": {"config": b64(json.dumps({"execProviderConfig": "argocd-k8s-auth"}))},
    },
}


@pytest.mark.parametrize("registered", HAND_EDITED.values(), ids=HAND_EDITED.keys())
def test_hand_edited_registration_is_kept_not_an_internal_error(registered: dict) -> None:
    """BUG: argocd.secret_field / auth_method assume observed data has the shapes we write."""
    case = aks_case({}, namespace=None, registered=registered)
    rsp = run(case.request())
    fatals = fatal_messages(rsp)
    assert not fatals, (
        f"{fatals}: an observed registration with unexpected shapes (function/argocd.py "
        "secret_field() base64-decodes non-strings; auth_method() calls .get on non-objects) "
        "must be kept with a Warning during a credential gap, not end in an internal error"
    )
    assert check_response(case, rsp) == "kept-or-updated"


# --- through the real gRPC server -----------------------------------------------------


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    msg = f"no VmRSS for {pid}"
    raise AssertionError(msg)


def timed_call(address: str, case: Case) -> tuple[fnv1.RunFunctionResponse, float]:
    start = time.perf_counter()
    rsp = run_function(address, case.request(), timeout=10)
    return rsp, time.perf_counter() - start


def test_grpc_server_refuses_hostile_kubeconfigs_and_keeps_serving(
    function_server: FunctionServer,
) -> None:
    address, pid = function_server.address, function_server.process.pid
    run_function(address, aks_case(tag="warm-up").request())
    before = rss_bytes(pid)
    for name, bomb in BOMBS.items():
        case = aks_case({"kubeconfig": bomb}, tag=f"bomb {name}")
        rsp, elapsed = timed_call(address, case)
        check_response(case, rsp)
        assert registration_condition(rsp).reason == "InvalidKubeconfig", name
        assert elapsed < 1.0, f"{name}: {elapsed:.2f}s"
    assert rss_bytes(pid) - before < 20 * 1024 * 1024, "alias bombs grew the server's memory"

    # Over 1 MiB but under gRPC's 4 MiB message limit: refused by the function itself.
    case = aks_case({"kubeconfig": oversized()}, tag="oversized")
    rsp, elapsed = timed_call(address, case)
    check_response(case, rsp)
    assert "-byte limit" in registration_condition(rsp).message
    assert elapsed < 1.0, f"{elapsed:.2f}s"

    # Over the 4 MiB limit: gRPC refuses the message before the function sees it.
    with pytest.raises(grpc.RpcError) as refused:
        run_function(address, aks_case({"kubeconfig": oversized(5 * 1024 * 1024)}).request())
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    case = aks_case(tag="after")
    rsp, _ = timed_call(address, case)
    assert check_response(case, rsp) == "registering"
    assert function_server.process.poll() is None
    assert SECRET_MARK.encode() not in function_server.output(), "secret in the server's log"


def test_grpc_server_handles_ten_thousand_labels_quickly(function_server: FunctionServer) -> None:
    for labels, want in (
        (many_labels(10_000), "registering"),
        (many_labels(10_000, ("team", "v" * 64)), "fatal"),
    ):
        case = aks_case(spec={"argocd": {"labels": labels}})
        rsp, elapsed = timed_call(function_server.address, case)
        assert check_response(case, rsp) == want
        assert elapsed < 2.0, f"{want}: {elapsed:.2f}s"
