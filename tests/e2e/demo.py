"""`make demo`: the live stack with the examples applied, left running to explore.

Prints the kubeconfigs and a few kubectl commands, then waits; Ctrl-C (or SIGTERM to
this process) stops every process it started.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

from tests.e2e.components import BIN, ROOT, missing
from tests.e2e.pipeline import Pipeline, example
from tests.e2e.process import stop_all_on_signals
from tests.e2e.stack import Stack

CLUSTER_SECRETS = "argocd.argoproj.io/secret-type=cluster"
EXAMPLES = (
    ("aks-legacy-claim", "claim.yaml", "payments-prod"),
    ("aks-namespaced", "xr.yaml", "team-a-dev"),
    ("gke-cluster", "xr.yaml", "shared-tools"),
    ("eks-namespaced", "xr.yaml", "team-c-prod"),
)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if gone := missing():
        print(f"missing: {', '.join(gone)}; run `make e2e-tools`", file=sys.stderr)
        return 1
    crds = Path(os.environ.get("SHARED_CRDS", ROOT.parent / "shared" / "crds"))
    if not crds.is_dir():
        print(f"no upstream CRDs at {crds}: set SHARED_CRDS", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="gitops-cluster-demo-"))
    stack = Stack.up(workdir, crds)
    stop_all_on_signals()  # also when started with SIGINT ignored
    try:
        clusters = []
        for folder, file, name in EXAMPLES:
            run = Pipeline(stack, example(folder, file, name), name)
            run.through_to_apps()
            clusters.append((name, run.cluster.admin_kubeconfig))
        kubectl = BIN / "kubectl"
        print(f"\nThe stack is up (logs in {workdir}). Try:\n")
        print(f"  export KUBECONFIG={stack.hub.admin_kubeconfig}")
        print(f"  {kubectl} get aksclusterclaims,aksclusters,xgkeclusters -A")
        print(f"  {kubectl} get secrets -n argocd -l {CLUSTER_SECRETS} --show-labels")
        print(f"  {kubectl} get applicationsets,applications -n argocd")
        for name, kubeconfig in clusters:
            print(f"  {kubectl} --kubeconfig {kubeconfig} get all -A   # the new cluster of {name}")
        print("\nCtrl-C stops everything.")
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stack.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
