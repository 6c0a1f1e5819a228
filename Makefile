# Two commands do all set-up on a fresh machine (Python 3.11, Go 1.26):
#   make run    serve the function and render an example (EXAMPLE=aks-namespaced)
#   make test   lint, then every test, with the real Crossplane CLI, then the live
#               pipeline (make e2e) on real Kubernetes, Crossplane and Argo CD
SHELL := /bin/bash
PYTHON ?= python3
BIN := .tools/bin
HATCH := .tools/venv/bin/hatch
EXAMPLE ?= aks-namespaced

.PHONY: run test tools e2e-tools redis e2e demo lint generate image package

$(HATCH):
	$(PYTHON) -m venv .tools/venv
	.tools/venv/bin/pip install --quiet --disable-pip-version-check hatch==1.18.2

# Go programs are pinned in modules under tools/ (one per dependency graph that
# conflicts with the others) and built into .tools/bin; make rebuilds one only when
# its module's go.sum changes. Crossplane refuses FunctionRevisions from a core
# without a version, so the version goes in as Crossplane's own build sets it.
XP_VERSION := -X=github.com/crossplane/crossplane-runtime/v2/pkg/version.version
KUBE_VERSION := -X=k8s.io/component-base/version.gitVersion=v1.34.2 \
  -X=k8s.io/component-base/version.gitMajor=1 -X=k8s.io/component-base/version.gitMinor=34

# The Crossplane CLI (render, validate, xpkg) and the core binary that render runs
# as its engine instead of Docker, and that the live suite runs as Crossplane.
$(BIN)/crossplane: tools/go.mod tools/go.sum
	cd tools && go build -ldflags="$(XP_VERSION)=v2.5.0" -o ../$@ github.com/crossplane/cli/v2/cmd/crossplane

$(BIN)/crossplane-core: tools/go.mod tools/go.sum
	cd tools && go build -ldflags="$(XP_VERSION)=v2.4.0" -o ../$@ github.com/crossplane/crossplane/v2/cmd/crossplane

tools: $(BIN)/crossplane $(BIN)/crossplane-core

# The live suite's other components (tests/e2e): etcd and Kubernetes v1.34.2, an
# in-memory OCI registry, provider-kubernetes v1.2.1, Argo CD v3.2.11; Redis from Debian.
$(BIN)/oci-registry: tools/go.mod tools/go.sum tools/oci-registry/main.go
	cd tools && go build -o ../$@ ./oci-registry

KUBE_BINS := $(addprefix $(BIN)/,etcd kube-apiserver kube-controller-manager kubectl)
$(KUBE_BINS) &: tools/kube/go.mod tools/kube/go.sum tools/kube/etcd/main.go
	cd tools/kube && go build -ldflags="$(KUBE_VERSION)" -o ../../$(BIN)/ ./etcd \
	  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
	  k8s.io/kubernetes/cmd/kubectl

$(BIN)/provider-kubernetes: tools/provider-kubernetes/go.mod tools/provider-kubernetes/go.sum
	cd tools/provider-kubernetes && go build -o ../../$@ github.com/crossplane-contrib/provider-kubernetes/cmd/provider

$(BIN)/argocd: tools/argocd/go.mod tools/argocd/go.sum tools/argocd/main.go
	cd tools/argocd && go build -o ../../$@ .

# Redis (Argo CD's cache) comes from Debian, installed here when absent and root.
redis:
	@command -v redis-server >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; } || \
	  echo "redis-server is missing and this is not root: install redis-server, or the live suite skips"

e2e-tools: tools redis $(BIN)/oci-registry $(KUBE_BINS) $(BIN)/provider-kubernetes $(BIN)/argocd

run: $(HATCH) tools
	HATCH=$(HATCH) hack/run-example.sh $(EXAMPLE)

lint: $(HATCH)
	$(HATCH) fmt --check

# Unit, render and validation tests first; then the live pipeline (tests/e2e).
test: lint tools e2e-tools
	$(HATCH) test --randomize --ignore=tests/e2e
	$(MAKE) --no-print-directory e2e

# The live pipeline on real Crossplane, Argo CD and Kubernetes processes, printing
# each cluster's milestones as they happen.
e2e: $(HATCH) e2e-tools
	$(HATCH) test tests/e2e -o log_cli=true --log-cli-level=INFO --log-cli-format="%(asctime)s %(message)s"

# The same stack with the examples applied, left running until Ctrl-C.
demo: $(HATCH) e2e-tools
	$(HATCH) run live:demo

generate: $(HATCH)
	$(HATCH) run python hack/generate.py

# The runtime image and the Crossplane package with it embedded (needs Docker).
image:
	docker build . --tag=function-gitops-cluster-runtime

package: image $(BIN)/crossplane
	$(BIN)/crossplane xpkg build --package-root=package --examples-root=examples \
	  --embed-runtime-image=function-gitops-cluster-runtime -o function.xpkg
