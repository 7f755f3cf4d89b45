#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kube-controller-manager, etcd, kwok) and helm from
# the Go modules pinned in ./k8s, ./etcd, ./kwok and ./helm, into a cache outside the repository
# keyed by their versions. A cached build is reused; a failed step is named and exits non-zero.
# Prints the bin directory on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/versions.sh"
bin="$KGQL_CLUSTER_BIN"

step() { echo "[cluster build] $*" >&2; }
fail() { echo "[cluster build] FAILED at step: $1 (see output above)" >&2; exit 1; }

if ! command -v go >/dev/null 2>&1; then
  echo "[cluster build] FAILED at step: find go: Go is not on PATH (needed to build the control plane)" >&2
  exit 1
fi

mkdir -p "$bin"
# One build at a time per cache (clusters in several directories share it).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$KGQL_CLUSTER_CACHE/.build.lock"
  flock -n 9 || { step "waiting for another build of $KGQL_CLUSTER_CACHE"; flock 9; }
fi
export CGO_ENABLED=0
k8s_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=${K8S_MAJOR} -X k8s.io/component-base/version.gitMinor=${K8S_MINOR} -X k8s.io/component-base/version.gitTreeState=clean"

build() { # name module-dir package ldflags
  local name="$1" dir="$2" pkg="$3" ldflags="$4"
  if [ -x "$bin/$name" ]; then step "$name: cached"; return; fi
  step "$name: building $pkg"
  local start=$SECONDS
  (cd "$here/$dir" && go build -trimpath -ldflags "$ldflags" -o "$bin/$name.tmp" "$pkg") || fail "go build $name"
  mv "$bin/$name.tmp" "$bin/$name"
  step "$name: built in $((SECONDS - start)) s"
}

build etcd etcd go.etcd.io/etcd/server/v3 "-s -w"
build kwok kwok sigs.k8s.io/kwok/cmd/kwok "-s -w"
build kube-apiserver k8s k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags"
build kube-controller-manager k8s k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_ldflags"

# helm (for the chart tests), in its own version-keyed directory.
helm_dir="$(dirname "$KGQL_HELM_BIN")"
if [ -x "$KGQL_HELM_BIN" ]; then step "helm: cached"; else
  step "helm: building helm.sh/helm/v4/cmd/helm"
  start=$SECONDS
  mkdir -p "$helm_dir"
  (cd "$here/helm" && go build -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=${HELM_VERSION}" -o "$KGQL_HELM_BIN.tmp" helm.sh/helm/v4/cmd/helm) || fail "go build helm"
  mv "$KGQL_HELM_BIN.tmp" "$KGQL_HELM_BIN"
  step "helm: built in $((SECONDS - start)) s"
fi

# kwok's stage definitions (node heartbeat, pod ready...) ship inside its module source.
if [ ! -d "$bin/../stages" ]; then
  step "kwok stages: copying from module source"
  src="$(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)" || fail "locate kwok module"
  [ -n "$src" ] && [ -d "$src/kustomize/stage" ] || { (cd "$here/kwok" && go mod download sigs.k8s.io/kwok) || fail "download kwok module"; src="$(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"; }
  mkdir -p "$bin/../stages.tmp"
  cp -r "$src/kustomize/stage/." "$bin/../stages.tmp/" || fail "copy kwok stages"
  chmod -R u+w "$bin/../stages.tmp"
  mv "$bin/../stages.tmp" "$bin/../stages"
fi
step "ready in $bin"
echo "$bin"
