"""Throwaway test PKI, generated fresh with `cryptography` for every test session.

Keys are never copied from anywhere: each process makes its own CA, server and client
certificates so TLS tests exercise real chains without shipping secrets in the repo.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import ipaddress
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from pathlib import Path

    from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

CLIENT_COMMON_NAME = "argocd"
CLIENT_ORGANIZATION = "system:masters"


def _b64(data: bytes) -> str:
    """Standard, padded base64: what kubeconfig `*-data` fields and Go's JSON `[]byte` hold."""
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Pki:
    """PEM bytes of one CA plus a server and a client certificate it signed."""

    ca_cert: bytes
    ca_key: bytes
    server_cert: bytes
    server_key: bytes
    client_cert: bytes
    client_key: bytes

    @property
    def ca_data(self) -> str:
        """`certificate-authority-data` / Argo CD `caData`."""
        return _b64(self.ca_cert)

    @property
    def client_cert_data(self) -> str:
        """`client-certificate-data` / Argo CD `certData`."""
        return _b64(self.client_cert)

    @property
    def client_key_data(self) -> str:
        """`client-key-data` / Argo CD `keyData`."""
        return _b64(self.client_key)


def _new_key(key_type: str) -> CertificateIssuerPrivateKeyTypes:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    msg = f"unsupported key_type {key_type!r}; use 'ec' or 'rsa'"
    raise ValueError(msg)


def _key_pem(key: CertificateIssuerPrivateKeyTypes) -> bytes:
    # Traditional OpenSSL encoding ("EC PRIVATE KEY" / "RSA PRIVATE KEY") is what kubeadm
    # and most kubeconfigs carry, so tests see the same PEM flavour as real clusters.
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _san(name: str) -> x509.GeneralName:
    """IP SAN for IP literals (hostname checks on IPs only look there), DNS SAN otherwise."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: CertificateIssuerPrivateKeyTypes, *, ca: bool
) -> x509.CertificateBuilder:
    """What every certificate here shares: a day's validity, constraints, key usage."""
    not_before, not_after = _validity()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=not ca,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _leaf(
    *,
    subject: x509.Name,
    key: CertificateIssuerPrivateKeyTypes,
    ca_cert: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    eku: x509.ObjectIdentifier,
    sans: list[x509.GeneralName],
) -> x509.Certificate:
    builder = (
        _builder(subject, ca_cert.subject, key, ca=False)
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _validity() -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(hours=1), now + dt.timedelta(days=1)


@dataclass(frozen=True)
class Authority:
    """A CA that issues leaf certificates: a test PKI's own, or one a component made."""

    cert: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes
    key_type: str = "ec"

    @classmethod
    def new(cls, common_name: str, key_type: str = "ec") -> Authority:
        """A fresh self-signed CA named `<common_name>-ca`."""
        key = _new_key(key_type)
        name = _name(f"{common_name}-ca")
        cert = _builder(name, name, key, ca=True).sign(key, hashes.SHA256())
        return cls(cert=cert, key=key, key_type=key_type)

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> Authority:
        """A CA someone else made, such as the root CA `crossplane core init` writes."""
        key = serialization.load_pem_private_key(key_pem, password=None)
        with warnings.catch_warnings():  # Crossplane's CA names its country "Earth"
            warnings.simplefilter("ignore", UserWarning)
            cert = x509.load_pem_x509_certificate(cert_pem)
            cert.subject  # noqa: B018 - parsed here, where the warning is silenced
        return cls(cert=cert, key=key)  # type: ignore[arg-type]

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        common_name: str,
        *,
        organizations: tuple[str, ...] = (),
        server_names: tuple[str, ...] = (),
    ) -> tuple[bytes, bytes]:
        """A leaf (PEM cert, PEM key): a server certificate when it has names, else a client's."""
        key = _new_key(self.key_type)
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        cert = _leaf(
            subject=x509.Name(attrs),
            key=key,
            ca_cert=self.cert,
            ca_key=self.key,
            eku=ExtendedKeyUsageOID.SERVER_AUTH
            if server_names
            else ExtendedKeyUsageOID.CLIENT_AUTH,
            sans=[_san(n) for n in server_names],
        )
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


@functools.cache
def make_pki(
    common_name: str = "test",
    server_names: tuple[str, ...] = ("localhost", "127.0.0.1"),
    key_type: str = "ec",
) -> Pki:
    """Build a CA and a server + client certificate; cached so the suite stays fast.

    The cache is unbounded on purpose: tests compare what they built earlier with
    `make_pki(name)` now, so an evicted name would mint a different CA (the suite asks for
    a few dozen names).

    Distinct `common_name`s give distinct, mutually untrusted CAs, which is how tests get
    a "wrong CA" or a "key from another PKI".
    """
    ca = Authority.new(common_name, key_type)
    server_cert, server_key = ca.issue(server_names[0], server_names=server_names)
    client_cert, client_key = ca.issue(CLIENT_COMMON_NAME, organizations=(CLIENT_ORGANIZATION,))
    return Pki(
        ca_cert=ca.cert_pem,
        ca_key=_key_pem(ca.key),
        server_cert=server_cert,
        server_key=server_key,
        client_cert=client_cert,
        client_key=client_key,
    )


def write_tls_dir(pki: Pki, path: Path, *, for_server: bool = True) -> Path:
    """Write `tls.crt`, `tls.key`, `ca.crt` the way Crossplane mounts a function's TLS certs.

    `for_server` picks the server pair (function side) or the client pair (Crossplane side).
    """
    path.mkdir(parents=True, exist_ok=True)
    cert, key = (
        (pki.server_cert, pki.server_key) if for_server else (pki.client_cert, pki.client_key)
    )
    (path / "tls.crt").write_bytes(cert)
    key_path = path / "tls.key"
    key_path.touch(mode=0o600, exist_ok=True)
    key_path.chmod(0o600)
    key_path.write_bytes(key)
    (path / "ca.crt").write_bytes(pki.ca_cert)
    return path


def kubeconfig(
    pki: Pki,
    server: str,
    *,
    user: dict[str, Any] | None = None,
    cluster_extra: dict[str, Any] | None = None,
    context_name: str = "ctx",
) -> bytes:
    """A one-cluster kubeconfig as providers publish it (CA and client cert inline, base64)."""
    cluster: dict[str, Any] = {"server": server, "certificate-authority-data": pki.ca_data}
    cluster.update(cluster_extra or {})
    user_block = (
        user
        if user is not None
        else {
            "client-certificate-data": pki.client_cert_data,
            "client-key-data": pki.client_key_data,
        }
    )
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context_name, "cluster": cluster}],
        "users": [{"name": context_name, "user": user_block}],
        "contexts": [
            {"name": context_name, "context": {"cluster": context_name, "user": context_name}}
        ],
        "current-context": context_name,
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False).encode("utf-8")
