"""No secret byte ever reaches logs, results, conditions, events or the XR status (SPEC §5).

The function runs as its real CLI with --debug, all output captured, and is driven over
gRPC through the success paths and every credential error path with distinctive secrets:
a fresh PKI (PEM and base64), a bearer token, a basic-auth password, an exec client secret
and kubeconfig texts marked with a canary. Only the composed `argocd-cluster` may carry
credentials: delivering them to Argo CD is its job. Each case also asserts its visible
outcome, so no case can pass by the function silently doing nothing.
"""

import base64
import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import json_format

from tests.builders import GKE_INPUT, request, xr
from tests.conftest import CrossplaneCLI, FunctionServer, start_function, stop_function
from tests.crossplane_cli import Example, as_observed, composed, documents, render, results
from tests.grpc_client import run_function
from tests.pki import Pki, make_pki
from tests.secrets_fixture import (
    SecretFixture,
    assert_no_leaks,
    find_leaks,
    pem_fixture,
    pem_material,
    secret_fixture,
    token,
)

REGISTRATION = "argocd-cluster"
# Delivery Object (these XRs are namespaced): the one place credentials may be composed.
CREDENTIALS = "argocd-cluster-credentials"
CONDITION = "ArgoCDRegistered"
HOST = "team-a-dev-hygiene.hcp.westeurope.azmk8s.io"
SERVER = f"https://{HOST}:443"
GKE_ENDPOINT = "203.0.113.10"
READY = {"type": "Ready", "status": "True", "reason": "Available"}
KUBELOGIN_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
MIB = 1024 * 1024


# --- the secrets ------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Secrets:
    """Fresh credentials for this run, and the fixtures that recognise them anywhere.

    repr is redacted: pytest prints test arguments in failure reports.
    """

    pki: Pki  # cluster CA and the user's client certificate
    admin: Pki  # the AKS admin kubeconfig's client certificate
    token: str
    password: str
    client_secret: str  # Entra ID / exec plugin secret
    canary: str  # written into every kubeconfig text, so a dumped kubeconfig shows

    def __repr__(self) -> str:
        return "Secrets(<redacted>)"

    @functools.cached_property
    def fixtures(self) -> tuple[SecretFixture, ...]:
        pem = {
            "CA certificate": self.pki.ca_cert,
            "client certificate": self.pki.client_cert,
            "client key": self.pki.client_key,
            "admin client certificate": self.admin.client_cert,
            "admin client key": self.admin.client_key,
        }
        plain = {
            "bearer token": self.token,
            "basic-auth password": self.password,
            "exec client secret": self.client_secret,
            "kubeconfig text": self.canary,
        }
        return tuple(pem_fixture(n, v) for n, v in pem.items()) + tuple(
            secret_fixture(n, v.encode()) for n, v in plain.items()
        )


@pytest.fixture(scope="module")
def creds() -> Secrets:
    return Secrets(
        pki=make_pki(f"hygiene-{token('ca')[-8:]}", (HOST, GKE_ENDPOINT)),
        admin=make_pki(f"hygiene-admin-{token('ca')[-8:]}", (HOST,)),
        token=token("hygtok"),
        password=token("hygpw"),
        client_secret=token("hygsecret"),
        canary=token("kubeconfig-canary"),
    )


# --- kubeconfigs ------------------------------------------------------------------------------


def cert_user(s: Secrets, pki: Pki | None = None) -> dict[str, Any]:
    """What AKS publishes for clusterUser: a client certificate and a token."""
    pki = pki or s.pki
    return {
        "client-certificate-data": pki.client_cert_data,
        "client-key-data": pki.client_key_data,
        "token": s.token,
    }


def kubelogin_user(s: Secrets) -> dict[str, Any]:
    """An Entra ID user whose plugin arguments and environment carry a client secret."""
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "kubelogin",
            "args": [
                "get-token",
                "--login",
                "spn",
                "--server-id",
                KUBELOGIN_SERVER_ID,
                f"--client-secret={s.client_secret}",
            ],
            "env": [{"name": "AAD_SERVICE_PRINCIPAL_CLIENT_SECRET", "value": s.client_secret}],
        }
    }


def kubeconfig_doc(s: Secrets, user: dict[str, Any], pki: Pki | None = None) -> dict[str, Any]:
    pki = pki or s.pki
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": SERVER, "certificate-authority-data": pki.ca_data}}
        ],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
        "users": [{"name": "u", "user": user}],
        "extensions": [{"name": "canary", "extension": {"value": s.canary}}],
    }


def text(s: Secrets, doc: dict[str, Any]) -> bytes:
    """The kubeconfig as the provider writes it, with the canary in a comment too."""
    return f"# {s.canary}\n{yaml.safe_dump(doc, sort_keys=False)}".encode()


def good(s: Secrets, user: dict[str, Any] | None = None, pki: Pki | None = None) -> bytes:
    return text(s, kubeconfig_doc(s, user or cert_user(s, pki), pki))


def without(doc: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != key}


def invalid_yaml(s: Secrets) -> bytes:
    """A YAML error on the line holding the token and password (PyYAML would quote it)."""
    return (
        f"# {s.canary}\ncurrent-context: c\nusers:\n- name: u\n  user:\n"
        f"    client-key-data: {s.pki.client_key_data}\n"
        f"    token: {s.token}: {s.password}\n"
    ).encode()


def alias_bomb(s: Secrets) -> bytes:
    """Billion laughs whose anchored leaf is the credentials."""
    lines = [f"# {s.canary}", f'a: &a ["{s.token}", "{s.password}", "{s.pki.client_key_data}"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    return "\n".join([*lines, "current-context: c", ""]).encode()


def oversized(s: Secrets) -> bytes:
    return good(s) + b"# " + b"x" * MIB + b"\n"


def not_utf8(s: Secrets) -> bytes:
    return good(s) + b"# \xff\xfe not UTF-8\n"


def corrupt_base64(value: str) -> str:
    """The real value with one character base64 does not have, mid-way."""
    middle = len(value) // 2
    return f"{value[:middle]}%{value[middle:]}"


# --- requests ---------------------------------------------------------------------------------


def aks_cluster() -> dict[str, Any]:
    return {
        "apiVersion": "containerservice.azure.m.upbound.io/v1beta1",
        "kind": "KubernetesCluster",
        "metadata": {"name": "team-a-dev-k8s2p", "namespace": "team-a"},
        "status": {"atProvider": {"fqdn": HOST}, "conditions": [READY]},
    }


def gke_cluster(ca: str) -> dict[str, Any]:
    return {
        "apiVersion": "container.gcp.m.upbound.io/v1beta1",
        "kind": "Cluster",
        "metadata": {"name": "team-a-dev-q8w4n", "namespace": "team-a"},
        "status": {
            "atProvider": {"endpoint": GKE_ENDPOINT, "masterAuth": {"clusterCaCertificate": ca}},
            "conditions": [READY],
        },
    }


def connection_secret(data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "team-a-dev-aks-kubeconfig", "namespace": "team-a"},
        "type": "connection.crossplane.io/v1alpha1",
        "data": data,
    }


def aks_request(
    details: dict[str, bytes] | None = None,
    required: list[dict[str, Any]] | None = None,
    registered: dict[str, dict[str, Any]] | None = None,
) -> fnv1.RunFunctionRequest:
    observed = {"cluster": aks_cluster(), **(registered or {})}
    req = request(xr(), observed=observed)
    for key, value in (details or {}).items():
        req.observed.resources["cluster"].connection_details[key] = value
    if required is not None:
        items = req.required_resources["cluster-connection-secret"].items
        for item in required:
            items.add().resource.CopyFrom(resource.dict_to_struct(item))
    return req


def gke_request(ca: str) -> fnv1.RunFunctionRequest:
    return request({**xr(), "kind": "GKECluster"}, GKE_INPUT, observed={"cluster": gke_cluster(ca)})


# --- the running function ---------------------------------------------------------------------


@dataclass(repr=False)
class Hygiene:
    """The function under test with every log line it writes (repr redacted, as Secrets)."""

    server: FunctionServer
    registrations: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Hygiene({self.server.address})"

    def call(self, req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
        return run_function(self.server.address, req)

    def registered(self, s: Secrets) -> dict[str, dict[str, Any]]:
        """The registration (Object and credentials Secret) as Crossplane observes it after
        a successful registration, by composition resource name."""
        if "aks" not in self.registrations:
            rsp = self.call(aks_request({"kubeconfig": good(s)}))
            observed = {}
            for name in (REGISTRATION, CREDENTIALS):
                desired = resource.struct_to_dict(rsp.desired.resources[name].resource)
                observed[name] = as_observed(desired)
                observed[name]["metadata"] = {
                    "name": desired.get("metadata", {}).get("name", "team-a-dev-c08606ff90b5"),
                    "namespace": "team-a",
                    "annotations": {"crossplane.io/composition-resource-name": name},
                }
            self.registrations["aks"] = observed
        return self.registrations["aks"]


@pytest.fixture(scope="module")
def hygiene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hygiene]:
    """Our own server with --debug: the shared one's log mixes in other tests' requests."""
    log = tmp_path_factory.mktemp("hygiene") / "function.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = start_function(log, "--insecure", "--debug", env=env)
    yield Hygiene(server)
    stop_function(server)


def log_since(server: FunctionServer, offset: int, marker: str) -> bytes:
    """The log written since offset, once the marker shows this call was logged."""
    deadline = time.monotonic() + 5
    while True:
        written = server.output()[offset:]
        if marker.encode() in written or time.monotonic() > deadline:
            return written
        time.sleep(0.02)


# --- the cases --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """The outcome a case must visibly produce."""

    reason: str  # of the ArgoCDRegistered condition
    status: bool
    warnings: tuple[str, ...] = ()  # reasons of the Warning results
    # Fixtures that must be in the credentials Secret (proves detection).
    carries: tuple[str, ...] = ()


Build = Callable[[Secrets, Hygiene], fnv1.RunFunctionRequest]
CERT_CREDS = ("client certificate", "client key", "bearer token", "CA certificate")
REGISTERING = Expect("Registering", status=False, carries=CERT_CREDS)
INVALID = Expect("InvalidKubeconfig", status=False, warnings=("InvalidKubeconfig",))
INVALID_CA = Expect("InvalidClusterCA", status=False, warnings=("InvalidClusterCA",))


def kubeconfig_case(make: Callable[[Secrets], bytes]) -> Build:
    return lambda s, _: aks_request({"kubeconfig": make(s)})


def user_case(make_user: Callable[[Secrets], dict[str, Any]]) -> Build:
    return kubeconfig_case(lambda s: good(s, make_user(s)))


CASES: dict[str, tuple[Build, Expect]] = {
    # success paths: credentials go to argocd-cluster and nowhere else
    "client-cert-and-token": (kubeconfig_case(good), REGISTERING),
    "basic-auth": (
        user_case(lambda s: {"username": "admin", "password": s.password}),
        Expect("Registering", status=False, carries=("basic-auth password", "CA certificate")),
    ),
    "from-required-connection-secret": (
        lambda s, _: aks_request(
            required=[
                connection_secret(
                    {
                        "kubeconfig": base64.b64encode(good(s)).decode(),
                        "kubeconfig.clientkey": s.pki.client_key_data,
                        "kubeconfig.clientcertificate": s.pki.client_cert_data,
                    }
                )
            ]
        ),
        REGISTERING,
    ),
    "entra-id-user-with-admin-kubeconfig": (
        lambda s, _: aks_request(
            {
                "kubeconfig": good(s, kubelogin_user(s)),
                "attribute.kube_admin_config_raw": good(s, pki=s.admin),
            }
        ),
        Expect("Registering", status=False, carries=("admin client key",)),
    ),
    "generic-exec-with-secret-args-and-env": (
        user_case(
            lambda s: {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "command": "corp-auth-helper",
                    "args": ["--client-secret", s.client_secret],
                    "env": [{"name": "HELPER_TOKEN", "value": s.token}],
                }
            }
        ),
        Expect(
            "Registering",
            status=False,
            warnings=("ArgoCDConfig",),
            carries=("exec client secret", "bearer token"),
        ),
    ),
    "gke-fresh-ca": (
        lambda s, _: gke_request(s.pki.ca_data),
        Expect("Registering", status=False, carries=("CA certificate",)),
    ),
    # error paths: a clear outcome, and no value from the input in it
    "invalid-yaml": (kubeconfig_case(invalid_yaml), INVALID),
    "yaml-alias-bomb": (kubeconfig_case(alias_bomb), INVALID),
    "over-1-mib": (kubeconfig_case(oversized), INVALID),
    "not-utf-8": (kubeconfig_case(not_utf8), INVALID),
    "no-current-context": (
        kubeconfig_case(
            lambda s: text(s, without(kubeconfig_doc(s, cert_user(s)), "current-context"))
        ),
        INVALID,
    ),
    "current-context-not-in-contexts": (
        kubeconfig_case(
            lambda s: text(s, {**kubeconfig_doc(s, cert_user(s)), "current-context": "gone"})
        ),
        INVALID,
    ),
    "client-key-file-path": (
        user_case(lambda s: {**without(cert_user(s), "client-key-data"), "client-key": "/k.pem"}),
        INVALID,
    ),
    "legacy-auth-provider": (
        user_case(
            lambda s: {
                "auth-provider": {
                    "name": "azure",
                    "config": {
                        "access-token": s.token,
                        "refresh-token": s.password,
                        "client-secret": s.client_secret,
                    },
                }
            }
        ),
        INVALID,
    ),
    "kubelogin-without-client-id": (
        user_case(kubelogin_user),
        Expect(
            "WorkloadIdentityNotConfigured",
            status=False,
            warnings=("WorkloadIdentityNotConfigured",),
        ),
    ),
    "token-and-basic-auth": (
        user_case(lambda s: {"token": s.token, "username": "admin", "password": s.password}),
        INVALID,
    ),
    "bad-base64-client-key-data": (
        user_case(
            lambda s: {**cert_user(s), "client-key-data": corrupt_base64(s.pki.client_key_data)}
        ),
        INVALID,
    ),
    "pem-text-in-client-key-data": (
        user_case(lambda s: {**cert_user(s), "client-key-data": s.pki.client_key.decode()}),
        INVALID,
    ),
    "bad-base64-in-required-connection-secret": (
        lambda s, _: aks_request(
            required=[
                connection_secret(
                    {"kubeconfig": corrupt_base64(base64.b64encode(good(s)).decode())}
                )
            ]
        ),
        INVALID,
    ),
    "registered-then-credentials-missing": (
        lambda s, h: aks_request(registered=h.registered(s)),
        Expect(
            "WaitingForCredentials",
            status=True,
            warnings=("WaitingForCredentials",),
            carries=CERT_CREDS,
        ),
    ),
    "registered-then-kubeconfig-invalid": (
        lambda s, h: aks_request({"kubeconfig": invalid_yaml(s)}, registered=h.registered(s)),
        Expect(
            "InvalidKubeconfig", status=True, warnings=("InvalidKubeconfig",), carries=CERT_CREDS
        ),
    ),
    "gke-ca-is-a-private-key": (
        lambda s, _: gke_request(s.pki.client_key_data),
        INVALID_CA,
    ),
    "gke-ca-is-pem-text": (
        lambda s, _: gke_request(s.pki.client_key.decode()),
        INVALID_CA,
    ),
    "gke-ca-bad-base64": (
        lambda s, _: gke_request(corrupt_base64(s.pki.ca_data)),
        INVALID_CA,
    ),
}


def carrier(rsp: fnv1.RunFunctionResponse) -> str:
    """The composed resource credentials may be in: the credentials Secret beside a delivery
    Object, or the delivered Argo CD Secret itself. Never the Object."""
    return CREDENTIALS if CREDENTIALS in rsp.desired.resources else REGISTRATION


def places(rsp: fnv1.RunFunctionResponse) -> dict[str, bytes | str]:
    """Everything a response shows people, except where credentials belong (carrier)."""
    shown: dict[str, bytes | str] = {}
    for i, result in enumerate(rsp.results):
        shown[f"results[{i}].message"] = result.message
        shown[f"results[{i}].reason"] = result.reason
    for i, condition in enumerate(rsp.conditions):
        shown[f"conditions[{i}].message"] = condition.message
        shown[f"conditions[{i}].reason"] = condition.reason
    shown["desired XR (status)"] = json_format.MessageToJson(rsp.desired.composite)
    rest = fnv1.RunFunctionResponse()
    rest.CopyFrom(rsp)
    if carrier(rsp) in rest.desired.resources:
        del rest.desired.resources[carrier(rsp)]
    shown["rest of the response"] = json_format.MessageToJson(rest)
    return shown


def check_outcome(case: str, rsp: fnv1.RunFunctionResponse, expect: Expect) -> None:
    conditions = [(c.reason, c.status) for c in rsp.conditions if c.type == CONDITION]
    status = fnv1.STATUS_CONDITION_TRUE if expect.status else fnv1.STATUS_CONDITION_FALSE
    assert conditions == [(expect.reason, status)], f"{case}: ArgoCDRegistered condition"
    warnings = tuple(r.reason for r in rsp.results if r.severity == fnv1.SEVERITY_WARNING)
    assert warnings == expect.warnings, f"{case}: Warning results"
    assert not [r for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL], f"{case}: Fatal"
    assert (REGISTRATION in rsp.desired.resources) == bool(expect.carries), f"{case}: registration"


@pytest.mark.parametrize("case", CASES)
def test_no_secret_leaves_through_grpc(hygiene: Hygiene, creds: Secrets, case: str) -> None:
    build, expect = CASES[case]
    offset = len(hygiene.server.output())
    req = build(creds, hygiene)
    req.meta.tag = f"hygiene-{case}"
    rsp = hygiene.call(req)
    log = log_since(hygiene.server, offset, req.meta.tag)

    assert req.meta.tag.encode() in log, f"{case}: the --debug log did not capture this call"
    check_outcome(case, rsp, expect)
    assert_no_leaks(creds.fixtures, {"server log": log, **places(rsp)}, case)
    if expect.carries:
        assert carrier(rsp) == CREDENTIALS, f"{case}: a namespaced XR's credentials Secret"
        carried = json_format.MessageToJson(rsp.desired.resources[CREDENTIALS])
        found = {leak.split(" (")[0] for leak in find_leaks(creds.fixtures, {"": carried})}
        assert set(expect.carries) <= found, f"{case}: fixtures not detected in {CREDENTIALS}"


# --- through the real `crossplane render` -----------------------------------------------------


def _render_with_kubeconfig(
    crossplane: CrossplaneCLI, hygiene: Hygiene, kubeconfig: bytes, workdir: Path
) -> tuple[str, str, bytes]:
    """Render aks-namespaced with the given kubeconfig in its connection Secret."""
    example = Example("aks-namespaced")
    secret = yaml.safe_load(example.path.joinpath("connection-secret.yaml").read_text())
    secret["data"] = {"kubeconfig": base64.b64encode(kubeconfig).decode()}
    required = workdir / "connection-secret.yaml"
    required.write_text(yaml.safe_dump(secret))
    offset = len(hygiene.server.output())
    proc = render(
        crossplane,
        example,
        hygiene.server.address,
        observed=[example.path / "observed.yaml"],
        required=[required],
    )
    assert proc.returncode == 0, f"render failed:\n{proc.stderr[-2000:]}"
    return proc.stdout, proc.stderr, log_since(hygiene.server, offset, "composed")


RENDER_CASES = {
    # the connection Secret's kubeconfig, and the ArgoCDRegistered reason it must give
    "valid": (good, "Registering"),
    "invalid-yaml": (invalid_yaml, "InvalidKubeconfig"),
}


@pytest.mark.parametrize("case", RENDER_CASES)
def test_no_secret_leaves_through_crossplane_render(
    crossplane: CrossplaneCLI, hygiene: Hygiene, creds: Secrets, tmp_path: Path, case: str
) -> None:
    make, reason = RENDER_CASES[case]
    stdout, stderr, log = _render_with_kubeconfig(crossplane, hygiene, make(creds), tmp_path)
    docs = documents(stdout)
    xr_status = docs[0]["status"]
    conditions = {c["type"]: c for c in xr_status["conditions"]}
    assert conditions[CONDITION]["reason"] == reason
    resources = composed(docs)
    events = results(docs)
    if reason == "Registering":
        assert not [e for e in events if e["severity"] == "Warning"]
        # The credentials did go somewhere, and the finder sees them there.
        carried = find_leaks(creds.fixtures, {"": json.dumps(resources[CREDENTIALS])})
        assert {leak.split(" (")[0] for leak in carried} >= set(CERT_CREDS)
    else:
        assert REGISTRATION not in resources
        assert CREDENTIALS not in resources
        warnings = [e for e in events if e["severity"] == "Warning"]
        assert len(warnings) == 1, "the function's Warning result became one Warning event"
        assert warnings[0]["reason"] == reason
        assert "kubeconfig" in warnings[0]["message"]

    shown: dict[str, bytes | str] = {
        "server log": log,
        "render stderr": stderr,
        "XR": json.dumps(docs[0]),
        **{f"event[{i}]": json.dumps(e) for i, e in enumerate(events)},
        **{
            f"composed {name}": json.dumps(r)
            for name, r in resources.items()
            if name != CREDENTIALS  # the Object (argocd-cluster) is scanned: it carries none
        },
    }
    assert b"composed" in log, "the --debug log did not capture the render's calls"
    assert_no_leaks(creds.fixtures, shown, f"render {case}")


# --- the leak finder itself -------------------------------------------------------------------


def test_leak_finder_sees_partial_and_encoded_leaks_and_names_no_secret(creds: Secrets) -> None:
    key_data = creds.pki.client_key_data
    # PyYAML-style snippet: part of the PEM line that holds the private scalar.
    scalar = pem_material(creds.pki.client_key)[0].decode().splitlines()[0]
    line = next(ln for ln in creds.pki.client_key.decode().splitlines() if scalar in ln)
    planted = {
        "pem line fragment": (f"near '{line[5:55]}' here", "client key (as given)"),
        "base64 of the PEM": (f'{{"keyData": "{key_data}"}}', "client key (base64)"),
        "base64 of base64": (
            base64.b64encode(f'{{"keyData":"{key_data}"}}'.encode()),
            "client key (base64 of base64)",
        ),
        "a header": (f"Authorization: Bearer {creds.token}", "bearer token (as given)"),
        "basic auth": (
            base64.b64encode(f"admin:{creds.password}".encode()),
            "basic-auth password (base64)",
        ),
        "a kubeconfig dump": (repr(good(creds)), "kubeconfig text (as given)"),
        "a certificate": (creds.pki.client_cert, "client certificate (as given)"),
    }
    leaks = find_leaks(creds.fixtures, {where: text for where, (text, _) in planted.items()})
    for where, (_, expected) in planted.items():
        assert f"{expected} in {where}" in leaks
    # A certificate is not its key: the public half never counts as the private one.
    assert not [leak for leak in leaks if leak.startswith("client key") and "certificate" in leak]
    assert not [leak for leak in leaks if creds.token in leak or key_data[80:120] in leak]
    assert find_leaks(creds.fixtures, {"clean": "kubeconfig document: is not valid YAML"}) == []
