"""The live pipeline: real Kubernetes, Crossplane and Argo CD processes on loopback.

Each module starts one kind of process; `cloud` plays the only thing that cannot run
here (the cloud provider); `stack` starts them in order; the tests read like the
workflow a platform team runs.
"""
