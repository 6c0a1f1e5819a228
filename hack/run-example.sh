#!/usr/bin/env bash
# Serve the function and render one example with Crossplane's real reconciler
# (no Docker: the core binary from `make tools` is render's engine).
#   hack/run-example.sh [aks-namespaced|gke-namespaced|eks-namespaced|aks-legacy-claim|gke-cluster|eks-cluster]
set -euo pipefail
cd "$(dirname "$0")/.."
example=${1:-aks-namespaced}
dir=examples/$example
if [ ! -f "$dir/xr.yaml" ]; then
  echo "no example $dir; choose one of: $(dirname examples/*/xr.yaml | xargs -n1 basename | tr '\n' ' ')" >&2
  exit 2
fi
hatch=${HATCH:-hatch}
bin=.tools/bin

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
# A session of its own, so that stopping it stops hatch's child processes too.
setsid "$hatch" run function --insecure --address "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
cleanup() {
  kill -- "-$pid" 2>/dev/null || true
  # The server drains for up to 5 s on SIGTERM; wait for the whole group to go.
  for _ in $(seq 1 100); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

for _ in $(seq 1 600); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  kill -0 $pid 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done

args=()
for f in observed.yaml; do [ -f "$dir/$f" ] && args+=(--observed-resources "$dir/$f"); done
for f in connection-secret.yaml; do [ -f "$dir/$f" ] && args+=(--required-resources "$dir/$f"); done

echo "# crossplane render $dir (function at 127.0.0.1:$port)" >&2
"$bin/crossplane" render "$dir/xr.yaml" "$dir/composition.yaml" examples/functions.yaml \
  --crossplane-binary="$bin/crossplane-core" \
  --xrd="$dir/definition.yaml" \
  --function-annotations="render.crossplane.io/runtime-development-target=127.0.0.1:$port" \
  --include-function-results "${args[@]}"
