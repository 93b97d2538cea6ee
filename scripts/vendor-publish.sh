#!/usr/bin/env bash
# Vendor the public site's third-party files from their npm packages (never a CDN):
# Natural Earth country boundaries (world-atlas, public domain data, ISC package)
# for the map's outline, and the Noto Naskh Arabic webfont (SIL OFL 1.1) the site
# serves itself. They go to src/sijil/publish/static/vendor/ (not committed;
# `make tools` runs this). Pinned versions; does nothing when they are already there.
set -euo pipefail

ATLAS_VERSION=2.0.2
FONT_VERSION=5.3.0
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/src/sijil/publish/static/vendor"
stamp="$dest/.versions"
want="world-atlas@$ATLAS_VERSION @fontsource/noto-naskh-arabic@$FONT_VERSION"
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && exit 0

command -v npm >/dev/null 2>&1 || { echo "vendor-publish: npm is needed (scripts/install-tools.sh)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "world-atlas@$ATLAS_VERSION" "@fontsource/noto-naskh-arabic@$FONT_VERSION" >/dev/null)
mkdir -p "$work/atlas" "$work/font" "$dest"
tar -xzf "$work/world-atlas-$ATLAS_VERSION.tgz" -C "$work/atlas"
tar -xzf "$work/fontsource-noto-naskh-arabic-$FONT_VERSION.tgz" -C "$work/font"
# 1:50m is detailed enough for one country on a page, and a tenth of 1:10m's size
cp "$work/atlas/package/countries-50m.json" "$dest/countries-50m.json"
cp "$work/atlas/package/LICENSE" "$dest/world-atlas.LICENSE"
for weight in 400 700; do
  cp "$work/font/package/files/noto-naskh-arabic-arabic-$weight-normal.woff2" \
     "$dest/noto-naskh-arabic-$weight.woff2"
done
cp "$work/font/package/LICENSE" "$dest/noto-naskh-arabic.LICENSE"
echo "$want" > "$stamp"
echo "vendored $want into src/sijil/publish/static/vendor"
