"""Names and labels that the clouds and Kubernetes accept, derived from user input."""

import hashlib
import re

from function.errors import FieldError

_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_.-]+")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")

AKS_DNS_PREFIX_MAX = 54
DNS_LABEL_MAX = 63
DNS_SUBDOMAIN_MAX = 253
LABEL_PREFIX_MAX = 253
LABEL_NAME_MAX = 63
_HASH_LEN = 5


def short_hash(text: str) -> str:
    """Five hex characters of sha256: enough to tell similar names apart."""
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_LEN]


def dns_label(text: str, limit: int = DNS_LABEL_MAX, fallback: str = "x") -> str:
    """Lower-case, hyphenate and trim text into a DNS label of at most limit chars.

    When text has to be shortened, a short hash of the original keeps two long
    inputs with a common prefix from collapsing into the same label.
    """
    label = _NOT_DNS.sub("-", text.lower()).strip("-")
    label = re.sub(r"-{2,}", "-", label) or fallback
    if len(label) <= limit:
        return label
    suffix = short_hash(text)
    return f"{label[: limit - len(suffix) - 1].rstrip('-')}-{suffix}"


def label_value(text: str) -> str:
    """text as a Kubernetes label value: itself when it is one, else a readable prefix
    of it (invalid characters as '-') and a short hash of the whole, at most 63 chars.

    Argo CD cluster names may be up to 253 characters; label values only 63.
    """
    if len(text) <= LABEL_NAME_MAX and _LABEL_NAME.match(text):
        return text
    suffix = short_hash(text)
    cleaned = _NOT_LABEL.sub("-", text)
    head = cleaned[: LABEL_NAME_MAX - len(suffix) - 1].strip("-_.")
    return f"{head}-{suffix}" if head else suffix


def aks_dns_prefix(xr_name: str) -> str:
    """AKS dnsPrefix: 1-54 alphanumerics and hyphens, alphanumeric at both ends."""
    return dns_label(xr_name, AKS_DNS_PREFIX_MAX, fallback="aks")


def bounded_name(*parts: str, limit: int = DNS_SUBDOMAIN_MAX) -> str:
    """Join parts with '-', shortening with a hash suffix when over limit."""
    name = "-".join(p for p in parts if p)
    if len(name) <= limit:
        return name
    suffix = short_hash(name)
    return f"{name[: limit - len(suffix) - 1].rstrip('-.')}-{suffix}"


def is_dns_label(text: str) -> bool:
    """Is text a valid RFC 1123 label (namespaces, most resource names)."""
    return len(text) <= DNS_LABEL_MAX and bool(_DNS_LABEL.match(text))


def is_dns_subdomain(text: str) -> bool:
    """Is text a valid RFC 1123 subdomain (Secret names and the like)."""
    return len(text) <= DNS_SUBDOMAIN_MAX and bool(_DNS_SUBDOMAIN.match(text))


def check_label_key(field: str, key: str) -> None:
    """Raise FieldError unless key is a valid Kubernetes label or annotation key."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > LABEL_PREFIX_MAX or not _DNS_SUBDOMAIN.match(prefix)):
        raise FieldError(
            f"{field}[{key[:80]}]",
            "the key's prefix is not a DNS subdomain",
            "Use lower-case alphanumerics, '-' and '.' before the '/'.",
        )
    if not name or len(name) > LABEL_NAME_MAX or not _LABEL_NAME.match(name):
        raise FieldError(
            f"{field}[{key[:80]}]",
            "the key is not a valid label name",
            "Use at most 63 alphanumerics, '-', '_' or '.', "
            "starting and ending with an alphanumeric.",
        )


def check_labels(field: str, labels: dict[str, str]) -> None:
    """Raise FieldError unless every key and value is a valid Kubernetes label."""
    for key, value in labels.items():
        check_label_key(field, key)
        if value and (len(value) > LABEL_NAME_MAX or not _LABEL_NAME.match(value)):
            raise FieldError(
                f"{field}[{key}]",
                "the value is not a valid label value",
                "Use at most 63 alphanumerics, '-', '_' or '.', "
                "starting and ending with an alphanumeric, or move it to annotations.",
            )


def check_annotations(field: str, annotations: dict[str, str]) -> None:
    """Raise FieldError unless every key is valid and the total size fits (256 KiB)."""
    total = 0
    for key, value in annotations.items():
        check_label_key(field, key)
        total += len(key) + len(value)
    if total > 256 * 1024:
        raise FieldError(
            field,
            f"annotations total {total} bytes, over Kubernetes' 262144",
            "Keep annotations small; put large data elsewhere.",
        )
