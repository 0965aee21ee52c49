#!/usr/bin/env bash
# Make `promtool` and `prometheus` available under .venv/tools/prometheus/ without
# installing anything system-wide: download Debian's `prometheus` package and unpack it.
# Idempotent: does nothing when both binaries are already there.
#
#   deploy/scripts/ensure-prometheus.sh [DEST]     (default DEST: .venv/tools/prometheus)
#
# The tests in tests/deploy/ run the binaries from DEST/usr/bin/.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dest="${1:-$repo/.venv/tools/prometheus}"
bin="$dest/usr/bin"

if [[ -x "$bin/promtool" && -x "$bin/prometheus" ]]; then
    exit 0
fi

for tool in apt-get dpkg-deb; do
    command -v "$tool" >/dev/null || {
        echo "ensure-prometheus: $tool not found: this script needs a Debian or Ubuntu machine" >&2
        exit 1
    }
done

# Lists older than this are refreshed before downloading (as root only).
max_list_age_s=$((7 * 24 * 3600))

lists_fresh() {
    local newest
    newest="$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -printf '%T@\n' 2>/dev/null \
        | sort -n | tail -1)"
    [[ -n "$newest" ]] && (($(date +%s) - ${newest%.*} < max_list_age_s))
}

update_lists() {
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "ensure-prometheus: the apt package lists are missing or stale and only root can" \
            "refresh them: run 'sudo apt-get update' and try again" >&2
        return 1
    fi
    echo "ensure-prometheus: refreshing the apt package lists (apt-get update)" >&2
    apt-get update -qq
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
apt_opts=(-qq)
# As root apt downloads as the `_apt` user, who cannot write to a private temp dir.
[[ "$(id -u)" -ne 0 ]] || apt_opts+=(-o APT::Sandbox::User=root)

if ! lists_fresh && [[ "$(id -u)" -eq 0 ]]; then
    update_lists
fi
# A stale list names a version the mirror no longer has: refresh once and retry.
if ! (cd "$work" && apt-get download "${apt_opts[@]}" prometheus); then
    update_lists
    (cd "$work" && apt-get download "${apt_opts[@]}" prometheus)
fi

shopt -s nullglob
debs=("$work"/prometheus_*.deb)
if [[ ${#debs[@]} -ne 1 ]]; then
    echo "ensure-prometheus: apt-get download prometheus produced no single .deb in $work" >&2
    exit 1
fi

# Unpack next to DEST first, then move into place: an interrupted run leaves no half tree.
mkdir -p "$(dirname "$dest")"
staging="$(mktemp -d "$(dirname "$dest")/.prometheus.XXXXXX")"
dpkg-deb -x "${debs[0]}" "$staging"
rm -rf "$dest"
mv "$staging" "$dest"

for tool in promtool prometheus; do
    [[ -x "$bin/$tool" ]] || {
        echo "ensure-prometheus: $bin/$tool missing after unpacking ${debs[0]##*/}" >&2
        exit 1
    }
done
echo "ensure-prometheus: $("$bin/promtool" --version 2>&1 | head -1) in $bin" >&2
