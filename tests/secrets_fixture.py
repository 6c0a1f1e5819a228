"""Distinctive secrets, every form they could leak in, and a leak finder that never prints them.

A secret can escape as it was given (a PEM line, a token), as base64 of a text holding it
(a `*-data` field, a Secret's `data`), or as base64 of that again (a base64 kubeconfig that
holds `*-data` fields). Each secret is turned into fixed-size chunks of all those forms, so
a partial leak (a YAML error snippet quoting half a line) is caught too.

PEM blocks contribute only the characters that encode their random fields (private scalar,
primes, public key, serial, signature): the rest is ASN.1 framing, names and validity dates
shared by every certificate of a test run, which would match where nothing leaked.
"""

import base64
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_private_key

# A leak of at least 2 * CHUNK - 1 contiguous characters of any form is always caught;
# 16 random base64 characters are 96 bits, so a chance match is out of the question.
CHUNK = 16
# Shorter pieces (a random field cut by a PEM line break) are kept down to this length.
MIN_PIECE = 12
FORMS = ("as given", "base64", "base64 of base64")


@dataclass(frozen=True)
class Needle:
    """One chunk to look for, and which form of the secret it comes from."""

    form: str
    text: bytes


@dataclass(frozen=True)
class SecretFixture:
    """A named secret and the needles that betray it."""

    name: str
    needles: tuple[Needle, ...]


def token(prefix: str) -> str:
    """A fresh secret string that nothing else in a test run can contain by chance."""
    return f"{prefix}-{secrets.token_hex(20)}"


def secret_fixture(name: str, *cores: bytes) -> SecretFixture:
    """Needles for each core (a substring of the secret text) in every form."""
    needles: list[Needle] = []
    for core in cores:
        level = [core]
        for form in FORMS:
            needles += [Needle(form, chunk) for text in level for chunk in _chunks(text)]
            level = [encoded for text in level for encoded in aligned_base64(text)]
    found = {n.form for n in needles}
    assert found == set(FORMS), f"{name}: no needles for {set(FORMS) - found}"
    return SecretFixture(name, tuple(dict.fromkeys(needles)))


def pem_fixture(name: str, pem: bytes) -> SecretFixture:
    """A certificate or private key, recognised by its random fields only."""
    return secret_fixture(name, *pem_material(pem))


def pem_material(pem: bytes) -> list[bytes]:
    """The stretches of the PEM text that encode nothing but one random field each.

    Private keys yield their private values only, so a leaked certificate is never
    reported as a leaked key.
    """
    lines = [ln for ln in pem.strip().splitlines() if not ln.startswith(b"-----")]
    width = len(lines[0])
    body = b"".join(lines)
    text = b"\n".join(lines)
    der = base64.b64decode(body)
    stretches = []
    for part in _random_fields(pem):
        start = der.find(part)
        assert start >= 0, "random field not found in the DER"
        # Base64 characters that depend on the field's bytes alone.
        first, last = -(-start // 3) * 4, (start + len(part)) // 3 * 4
        stretches.append(text[first + first // width : last + (last - 1) // width])
    return stretches


def _random_fields(pem: bytes) -> list[bytes]:
    if b"CERTIFICATE" in pem:
        cert = x509.load_pem_x509_certificate(pem)
        return [
            _int_bytes(cert.serial_number),
            *_public_fields(cert.public_key()),
            *_signature_fields(cert),
        ]
    key = load_pem_private_key(pem, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return [_int_bytes(key.private_numbers().private_value)]
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        return [_int_bytes(v) for v in (numbers.d, numbers.p, numbers.q)]
    msg = f"unsupported key type {type(key).__name__}"
    raise TypeError(msg)


def _public_fields(key: object) -> list[bytes]:
    if isinstance(key, ec.EllipticCurvePublicKey):
        numbers = key.public_numbers()
        return [_int_bytes(numbers.x), _int_bytes(numbers.y)]
    if isinstance(key, rsa.RSAPublicKey):
        return [_int_bytes(key.public_numbers().n)]
    msg = f"unsupported public key type {type(key).__name__}"
    raise TypeError(msg)


def _signature_fields(cert: x509.Certificate) -> list[bytes]:
    try:
        r, s = decode_dss_signature(cert.signature)
    except ValueError:  # RSA: the signature is one random-looking block
        return [cert.signature]
    return [_int_bytes(r), _int_bytes(s)]


def _int_bytes(value: int) -> bytes:
    """The big-endian magnitude: a contiguous run of the DER whatever its padding."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def aligned_base64(core: bytes) -> list[bytes]:
    """What `core` looks like inside base64 of any text containing it.

    Base64 works on 3-byte groups, so the encoding of `core` depends on its offset mod 3;
    for each offset keep only the characters that come from `core`'s bytes alone.
    """
    out = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + core)
        first_group = (offset + 2) // 3
        last_group = (offset + len(core)) // 3
        if last_group > first_group:
            out.append(encoded[4 * first_group : 4 * last_group])
    return out


def _chunks(text: bytes) -> list[bytes]:
    """Chunks per line (JSON and repr() escape newlines differently), the tail included."""
    out = []
    for line in text.splitlines():
        piece = line.strip()
        out += [piece[i : i + CHUNK] for i in range(0, len(piece) - CHUNK + 1, CHUNK)]
        if len(piece) % CHUNK and len(piece) >= MIN_PIECE:
            out.append(piece[-CHUNK:])
    return out


def find_leaks(fixtures: Iterable[SecretFixture], places: Mapping[str, bytes | str]) -> list[str]:
    """'<fixture> (<form>) in <place>' for each leak; the secret itself is never included."""
    leaks = []
    for where, haystack in places.items():
        data = haystack.encode() if isinstance(haystack, str) else haystack
        for fixture in fixtures:
            forms = sorted({n.form for n in fixture.needles if n.text in data})
            leaks += [f"{fixture.name} ({form}) in {where}" for form in forms]
    return leaks


def assert_no_leaks(
    fixtures: Iterable[SecretFixture], places: Mapping[str, bytes | str], case: str
) -> None:
    """Fail naming what leaked where; pytest.fail keeps the haystacks out of the report."""
    leaks = find_leaks(fixtures, places)
    if leaks:
        pytest.fail(f"{case}: secret bytes leaked: " + "; ".join(leaks), pytrace=False)
