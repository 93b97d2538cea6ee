#!/usr/bin/env bash
# Vendor the desk web app's browser assets from their npm packages (never a CDN):
# HTMX and the Noto Naskh Arabic webfont (SIL OFL 1.1). The app serves them itself
# from src/sijil/web/static/vendor/ (not committed; `make tools` runs this).
# Pinned versions; does nothing when they are already there.
set -euo pipefail

HTMX_VERSION=2.0.11
FONT_VERSION=5.3.0
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/src/sijil/web/static/vendor"
stamp="$dest/.versions"
want="htmx.org@$HTMX_VERSION @fontsource/noto-naskh-arabic@$FONT_VERSION"
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && exit 0

command -v npm >/dev/null 2>&1 || { echo "vendor-web: npm is needed (scripts/install-tools.sh)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "htmx.org@$HTMX_VERSION" "@fontsource/noto-naskh-arabic@$FONT_VERSION" >/dev/null)
mkdir -p "$work/htmx" "$work/font" "$dest"
tar -xzf "$work/htmx.org-$HTMX_VERSION.tgz" -C "$work/htmx"
tar -xzf "$work/fontsource-noto-naskh-arabic-$FONT_VERSION.tgz" -C "$work/font"
cp "$work/htmx/package/dist/htmx.min.js" "$dest/htmx.min.js"
cp "$work/htmx/package/LICENSE" "$dest/htmx.LICENSE"
for weight in 400 700; do
  cp "$work/font/package/files/noto-naskh-arabic-arabic-$weight-normal.woff2" \
     "$dest/noto-naskh-arabic-$weight.woff2"
done
cp "$work/font/package/LICENSE" "$dest/noto-naskh-arabic.LICENSE"
echo "$want" > "$stamp"
echo "vendored $want into src/sijil/web/static/vendor"
