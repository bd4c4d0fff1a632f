#!/usr/bin/env bash
# Vendors the browser builds of htmx and Apache ECharts from npm into
# src/canbao/web/static/vendor/ (issue 20: no CDN at run time, bureau networks are closed).
#
#   bash scripts/vendor-js.sh          # fetch the pinned versions with `npm pack`, (re)write the files
#   bash scripts/vendor-js.sh --check  # offline: the committed files match vendor/SHA256SUMS
#
# Versions are exact and each tarball is checked against the registry's sha512 integrity
# pinned below, so running it again reproduces byte-identical files. To upgrade: change a
# version, take the new integrity from `npm view NAME@VERSION dist.integrity`, run, commit.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=src/canbao/web/static/vendor

HTMX_VERSION=4.0.1
HTMX_INTEGRITY=sha512-oF7JgXhDW9UXCy/k1ZYFUQgzu/rm19ORWPSPNL91vPluB2PB9+MV55tyQdH/w7o2EAbTYUG5SDW1R60mdkdqGg==
ECHARTS_VERSION=6.1.0
ECHARTS_INTEGRITY=sha512-q0yaFPggC9FUdsWH4blavRWFmxdrIodbkoKNAjJudAI6CA9gNPxHtV2RcZNEepZVlk4yvBYkOkbk6HIVpIyHZA==

# Every file this script writes, besides SHA256SUMS itself.
FILES=(
  VERSIONS.txt
  echarts.LICENSE-d3.txt
  echarts.LICENSE.txt
  echarts.NOTICE.txt
  echarts.min.js
  htmx.LICENSE.txt
  htmx.min.js
)

die() { echo "vendor-js: $*" >&2; exit 1; }

if [ "${1:-}" = "--check" ]; then
  (cd "$DEST" && sha256sum --check --strict --quiet SHA256SUMS) || die "vendored files differ from $DEST/SHA256SUMS"
  echo "vendor-js: ${#FILES[@]} files match $DEST/SHA256SUMS"
  exit 0
fi
[ $# -eq 0 ] || die "usage: $0 [--check]"
command -v npm >/dev/null || die "npm is needed (Debian: apt-get install npm)"
command -v python3 >/dev/null || die "python3 is needed"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# fetch NAME VERSION INTEGRITY: npm pack the exact version into $tmp, check the integrity,
# unpack it into $tmp/NAME/package.
fetch() {
  local name=$1 version=$2 integrity=$3 tgz actual
  tgz=$(cd "$tmp" && npm pack --silent --ignore-scripts "$name@$version" | tail -n 1)
  [ -f "$tmp/$tgz" ] || die "npm pack $name@$version produced no tarball"
  actual="sha512-$(python3 -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tmp/$tgz")"
  [ "$actual" = "$integrity" ] || die "$name@$version: integrity $actual, expected $integrity"
  mkdir -p "$tmp/$name"
  tar -xzf "$tmp/$tgz" -C "$tmp/$name"
  local got
  got=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$tmp/$name/package/package.json")
  [ "$got" = "$version" ] || die "$name: package.json says $got, expected $version"
}

fetch htmx.org "$HTMX_VERSION" "$HTMX_INTEGRITY"
fetch echarts "$ECHARTS_VERSION" "$ECHARTS_INTEGRITY"

mkdir -p "$DEST"
put() { install -m 0644 "$1" "$DEST/$2"; }
put "$tmp/htmx.org/package/dist/htmx.min.js" htmx.min.js
put "$tmp/htmx.org/package/LICENSE" htmx.LICENSE.txt
put "$tmp/echarts/package/dist/echarts.min.js" echarts.min.js
put "$tmp/echarts/package/LICENSE" echarts.LICENSE.txt
# Apache-2.0 §4(d): redistributions carry the NOTICE; echarts.min.js embeds d3 code (BSD-3-Clause).
put "$tmp/echarts/package/NOTICE" echarts.NOTICE.txt
put "$tmp/echarts/package/licenses/LICENSE-d3" echarts.LICENSE-d3.txt

cat >"$DEST/VERSIONS.txt" <<EOF
# Vendored from npm by scripts/vendor-js.sh (npm pack NAME@VERSION; integrity = the tarball's dist.integrity). Do not edit.
htmx.org $HTMX_VERSION $HTMX_INTEGRITY dist/htmx.min.js -> htmx.min.js (BSD-0-Clause, htmx.LICENSE.txt)
echarts $ECHARTS_VERSION $ECHARTS_INTEGRITY dist/echarts.min.js -> echarts.min.js (Apache-2.0, echarts.LICENSE.txt, echarts.NOTICE.txt, echarts.LICENSE-d3.txt)
EOF
chmod 0644 "$DEST/VERSIONS.txt"

(cd "$DEST" && LC_ALL=C sha256sum "${FILES[@]}") >"$DEST/SHA256SUMS"
chmod 0644 "$DEST/SHA256SUMS"
echo "vendor-js: htmx.org@$HTMX_VERSION and echarts@$ECHARTS_VERSION in $DEST"
cat "$DEST/SHA256SUMS"
