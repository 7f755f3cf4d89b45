# The control-plane versions, read from the go.mod files that pin them (one place).
_cluster_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_modver() { awk -v m="$2" '$1==m || ($1=="require" && $2==m) {for(i=1;i<=NF;i++) if ($i ~ /^v[0-9]/) {print $i; exit}}' "$_cluster_dir/$1/go.mod"; }
K8S_VERSION="$(_modver k8s k8s.io/kubernetes)"
ETCD_VERSION="$(_modver etcd go.etcd.io/etcd/server/v3)"
KWOK_VERSION="$(_modver kwok sigs.k8s.io/kwok)"
HELM_VERSION="$(_modver helm helm.sh/helm/v4)"
K8S_MAJOR="$(echo "$K8S_VERSION" | sed -E 's/^v([0-9]+)\..*/\1/')"
K8S_MINOR="$(echo "$K8S_VERSION" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')"
KGQL_CLUSTER_CACHE="${KGQL_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kgql/k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}}"
KGQL_CLUSTER_BIN="$KGQL_CLUSTER_CACHE/bin"
# helm renders the chart in its tests; it is versioned apart from the control plane, so a new
# helm does not rebuild the cluster (and the reverse).
KGQL_HELM_BIN="${KGQL_HELM_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/kgql/helm-${HELM_VERSION}/bin/helm}"
