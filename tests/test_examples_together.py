"""Every example installs side by side on one control plane, as a user trying them would.

Crossplane turns each XRD into a CustomResourceDefinition for its XR, and a LegacyCluster
XRD into a second one for its claim. The API server accepts a CRD's names only when no
other CRD of the same group already holds them (apiextensions-apiserver
pkg/controller/status/naming_controller.go): plural, singular and short names share one
namespace, kind and listKind another. A CRD that loses stays NamesAccepted=False and its
XRD never becomes Established.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hack import generate
from tests.conftest import EXAMPLES
from tests.crossplane_cli import EXAMPLE_FOLDERS, Example, documents


@dataclass(frozen=True)
class CRD:
    """The names of one CRD an XRD makes, with the API server's defaults filled in."""

    source: str
    group: str
    plural: str
    singular: str
    kind: str
    list_kind: str
    short_names: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.plural}.{self.group}"

    @classmethod
    def of(cls, source: str, group: str, names: dict[str, Any]) -> "CRD":
        kind = names["kind"]
        return cls(
            source=source,
            group=group,
            plural=names["plural"],
            singular=names.get("singular") or kind.lower(),
            kind=kind,
            list_kind=names.get("listKind") or f"{kind}List",
            short_names=tuple(names.get("shortNames") or ()),
        )


def crds_of(source: str, xrd: dict[str, Any]) -> list[CRD]:
    """The XR's CRD and, for a LegacyCluster XRD, the claim's."""
    spec = xrd["spec"]
    crds = [CRD.of(source, spec["group"], spec["names"])]
    if claim_names := spec.get("claimNames"):
        crds.append(CRD.of(f"{source} (claim)", spec["group"], claim_names))
    return crds


def name_conflicts(crds: Iterable[CRD]) -> list[str]:
    """Every name two CRDs of one group both ask for, as the naming controller sees it."""
    holders: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for crd in crds:
        for resource in {crd.plural, crd.singular, *crd.short_names}:
            holders[crd.group, "resource", resource].add(crd.source)
        for kind in {crd.kind, crd.list_kind}:
            holders[crd.group, "kind", kind].add(crd.source)
    return [
        f"{group}: {what} {name!r} wanted by {sorted(sources)}"
        for (group, what, name), sources in sorted(holders.items())
        if len(sources) > 1
    ]


def _load(folder: str, name: str) -> list[dict[str, Any]]:
    return documents((EXAMPLES / folder / name).read_text())


def _identity(doc: dict[str, Any]) -> tuple[str, str, str, str]:
    group = doc["apiVersion"].rpartition("/")[0]
    meta = doc["metadata"]
    return (group, doc["kind"], meta.get("namespace", ""), meta["name"])


def test_every_example_is_installable() -> None:
    """The folders the other tests render are exactly the generated XRDs' folders."""
    assert set(EXAMPLE_FOLDERS) == {e.folder for e in generate.EXAMPLES}


def test_example_xrds_install_together_without_name_conflicts() -> None:
    crds = [
        crd
        for folder in EXAMPLE_FOLDERS
        for xrd in _load(folder, "definition.yaml")
        for crd in crds_of(folder, xrd)
    ]
    assert name_conflicts(crds) == []
    assert len({c.name for c in crds}) == len(crds)
    # Crossplane requires an XRD's name to be its XR CRD's name.
    for folder in EXAMPLE_FOLDERS:
        (xrd,) = _load(folder, "definition.yaml")
        assert xrd["metadata"]["name"] == crds_of(folder, xrd)[0].name


def test_the_example_kinds() -> None:
    """The names a user (and the live suite) applies, in one place."""
    kinds = {
        folder: [(c.group, c.kind, c.plural) for c in crds_of(folder, xrd)]
        for folder in EXAMPLE_FOLDERS
        for xrd in _load(folder, "definition.yaml")
    }
    assert kinds == {
        "aks-namespaced": [("platform.example.org", "AKSCluster", "aksclusters")],
        "gke-namespaced": [("platform.example.org", "GKECluster", "gkeclusters")],
        "aks-legacy-claim": [
            ("platform.example.org", "XAKSCluster", "xaksclusters"),
            ("platform.example.org", "AKSClusterClaim", "aksclusterclaims"),
        ],
        "gke-cluster": [("platform.example.org", "XGKECluster", "xgkeclusters")],
        "eks-namespaced": [("platform.example.org", "EKSCluster", "eksclusters")],
        "eks-cluster": [("platform.example.org", "XEKSCluster", "xeksclusters")],
    }


def _xrd(group: str, kind: str, claim: str | None = None, **names: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"group": group, "names": {"kind": kind, "plural": f"{kind.lower()}s"}}
    spec["names"] |= names
    if claim:
        spec["claimNames"] = {"kind": claim, "plural": f"{claim.lower()}s"}
    return {"spec": spec}


def test_the_check_finds_the_conflict_it_guards_against() -> None:
    """A namespaced XR and another XRD's claim of the same kind cannot both be accepted."""
    group = "platform.example.org"
    namespaced = _xrd(group, "AKSCluster")
    legacy = _xrd(group, "XAKSCluster", claim="AKSCluster")
    conflicts = name_conflicts([*crds_of("namespaced", namespaced), *crds_of("legacy", legacy)])
    assert conflicts == [
        f"{group}: kind 'AKSCluster' wanted by ['legacy (claim)', 'namespaced']",
        f"{group}: kind 'AKSClusterList' wanted by ['legacy (claim)', 'namespaced']",
        f"{group}: resource 'akscluster' wanted by ['legacy (claim)', 'namespaced']",
        f"{group}: resource 'aksclusters' wanted by ['legacy (claim)', 'namespaced']",
    ]
    # The same names in another group do not conflict ...
    other = _xrd("other.example.org", "AKSCluster")
    assert name_conflicts([*crds_of("other", other), *crds_of("legacy", legacy)]) == []
    # ... and one short name in common does.
    a, b = _xrd(group, "A", shortNames=["aks"]), _xrd(group, "B", shortNames=["aks"])
    assert name_conflicts([*crds_of("a", a), *crds_of("b", b)]) == [
        f"{group}: resource 'aks' wanted by ['a', 'b']"
    ]


def test_compositions_select_their_own_xrd_and_have_distinct_names() -> None:
    names = []
    for folder in EXAMPLE_FOLDERS:
        (xrd,) = _load(folder, "definition.yaml")
        (composition,) = _load(folder, "composition.yaml")
        version = xrd["spec"]["versions"][0]["name"]
        assert composition["spec"]["compositeTypeRef"] == {
            "apiVersion": f"{xrd['spec']['group']}/{version}",
            "kind": xrd["spec"]["names"]["kind"],
        }
        names.append(composition["metadata"]["name"])
    assert len(set(names)) == len(names), names


def test_what_a_user_applies_has_distinct_identities() -> None:
    """The claim (else the XR) of each example, and the Secrets render reads, don't clash."""
    objects = []
    for folder in EXAMPLE_FOLDERS:
        example = Example(folder)
        applied = example.files("claim.yaml") or example.files("xr.yaml")
        for path in [*applied, *example.connection_secrets]:
            objects += [_identity(d) for d in documents(path.read_text())]
    assert len(set(objects)) == len(objects), objects
