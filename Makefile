# Two commands do all set-up on a fresh machine (Python 3.11, Go 1.26):
#   make run    serve the function and render an example (EXAMPLE=aks-namespaced)
#   make test   lint, then every test, with the real Crossplane CLI
SHELL := /bin/bash
PYTHON ?= python3
BIN := .tools/bin
HATCH := .tools/venv/bin/hatch
EXAMPLE ?= aks-namespaced

.PHONY: run test tools lint generate image package

$(HATCH):
	$(PYTHON) -m venv .tools/venv
	.tools/venv/bin/pip install --quiet --disable-pip-version-check hatch==1.18.2

# The Crossplane CLI (render, validate, xpkg) and the core binary that render
# runs as its engine instead of Docker, pinned in tools/go.mod.
$(BIN)/crossplane: tools/go.mod tools/go.sum
	cd tools && go build -o ../$@ github.com/crossplane/cli/v2/cmd/crossplane

$(BIN)/crossplane-core: tools/go.mod tools/go.sum
	cd tools && go build -o ../$@ github.com/crossplane/crossplane/v2/cmd/crossplane

tools: $(BIN)/crossplane $(BIN)/crossplane-core

run: $(HATCH) tools
	HATCH=$(HATCH) hack/run-example.sh $(EXAMPLE)

lint: $(HATCH)
	$(HATCH) fmt --check

test: lint tools
	$(HATCH) test --randomize

generate: $(HATCH)
	$(HATCH) run python hack/generate.py

# The runtime image and the Crossplane package with it embedded (needs Docker).
image:
	docker build . --tag=function-gitops-cluster-runtime

package: image $(BIN)/crossplane
	$(BIN)/crossplane xpkg build --package-root=package --examples-root=examples \
	  --embed-runtime-image=function-gitops-cluster-runtime -o function.xpkg
