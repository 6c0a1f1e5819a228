"""The app repository Argo CD deploys from: a local bare git repository (`file://`).

The example ApplicationSets install charts from the internet; this machine has none,
so each ApplicationSet's `source` is pointed at a folder of this repository named
after it, holding plain manifests that stand in for the chart. Nothing else in the
ApplicationSets changes: their generators, selectors and templates are the examples'.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from tests.e2e.components import ROOT
from tests.e2e.kube import load_yaml

if TYPE_CHECKING:
    from pathlib import Path

APPLICATIONSETS = ROOT / "examples" / "applicationsets"
GUESTBOOK_CONFIG = "guestbook-ui-config"


def _stand_in(name: str, namespace_hint: str) -> list[dict]:
    """Manifests standing in for a baseline app: what the test looks for on the cluster."""
    labels = {"app.kubernetes.io/name": name}
    if name == "guestbook":
        return [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": GUESTBOOK_CONFIG, "labels": labels},
                "data": {"release": "1"},
            },
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "guestbook-ui", "labels": labels},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [
                                {
                                    "name": "ui",
                                    "image": "gcr.io/heptio-images/ks-guestbook-demo:0.2",
                                }
                            ]
                        },
                    },
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "guestbook-ui", "labels": labels},
                "spec": {"ports": [{"port": 80, "targetPort": 80}], "selector": labels},
            },
        ]
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-stand-in", "labels": labels},
            "data": {"stands-in-for": f"the {name} chart ({namespace_hint})"},
        }
    ]


@dataclass
class AppRepository:
    bare: Path
    work: Path

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    @classmethod
    def create(cls, workdir: Path) -> AppRepository:
        workdir.mkdir(parents=True, exist_ok=True)
        repo = cls(bare=workdir / "apps.git", work=workdir / "apps")
        _git(workdir, "init", "--quiet", "--bare", "--initial-branch=main", str(repo.bare))
        _git(workdir, "clone", "--quiet", str(repo.bare), str(repo.work))
        files = {}
        for appset in load_yaml(APPLICATIONSETS):
            name = appset["metadata"]["name"]
            namespace = appset["spec"]["template"]["spec"]["destination"]["namespace"]
            files[f"{name}/manifests.yaml"] = yaml.safe_dump_all(_stand_in(name, namespace))
        repo.commit("Baseline apps", files)
        return repo

    def commit(self, message: str, files: dict[str, str]) -> str:
        """Commit and push; the new revision."""
        for path, text in files.items():
            target = self.work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        _git(self.work, "add", "--all")
        _git(
            self.work,
            "-c",
            "user.name=platform",
            "-c",
            "user.email=platform@example.org",
            "commit",
            "--quiet",
            "-m",
            message,
        )
        _git(self.work, "push", "--quiet", "origin", "HEAD:main")
        return _git(self.work, "rev-parse", "HEAD").strip()

    def guestbook_release(self, release: str) -> str:
        """A new guestbook release: the ConfigMap's `release` changes."""
        docs = list(yaml.safe_load_all((self.work / "guestbook" / "manifests.yaml").read_text()))
        for doc in docs:
            if doc["metadata"]["name"] == GUESTBOOK_CONFIG:
                doc["data"]["release"] = release
        return self.commit(
            f"guestbook release {release}", {"guestbook/manifests.yaml": yaml.safe_dump_all(docs)}
        )

    def applicationsets(self) -> list[dict]:
        """The example ApplicationSets, each with its source pointed at this repository."""
        appsets = load_yaml(APPLICATIONSETS)
        for appset in appsets:
            appset["spec"]["template"]["spec"]["source"] = {
                "repoURL": self.url,
                "targetRevision": "main",
                "path": appset["metadata"]["name"],
            }
        return appsets


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=60
    ).stdout
