#!/usr/bin/env bash
# Fetch the C2SP CCTV age test vectors (the npm package cctv-age) into
# .cache/cctv-age/testdata, one file per vector, for tests/test_age_cctv.py.
# The version and its sha512 are pinned: a changed package is refused, not used.
# Does nothing when the vectors are already there.
set -euo pipefail

VERSION=0.2.0
INTEGRITY="sha512-1fiGAaWr+snqgu8+uCC7qPeApAuueOESET2npKe0FVLY+Huf+Kkia89Rybx/uoGNCml31SgAjiQIeFOY4K3New=="
cd "$(dirname "$0")/.."
dest=.cache/cctv-age
stamp="$dest/testdata/.complete-$VERSION"
[ -f "$stamp" ] && exit 0

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "fetch-test-vectors: npm and node are needed for the age test vectors (scripts/install-tools.sh installs them)" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "cctv-age@$VERSION" >/dev/null)
tarball="$work/cctv-age-$VERSION.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$got" != "$INTEGRITY" ]; then
    echo "fetch-test-vectors: cctv-age@$VERSION does not match its pinned sha512; refusing it" >&2
    exit 1
fi
tar -xzf "$tarball" -C "$work"
mkdir -p "$work/testdata"
# The package exports each vector as a Uint8Array named after its file.
node --input-type=module -e '
import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const vectors = await import(pathToFileURL(process.argv[1]).href);
for (const [name, bytes] of Object.entries(vectors)) {
    if (!/^[a-z0-9_]+$/.test(name)) throw new Error("unexpected vector name " + name);
    writeFileSync(process.argv[2] + "/" + name, bytes);
}' "$work/package/index.js" "$work/testdata"
touch "$work/testdata/.complete-$VERSION"
mkdir -p "$dest"
rm -rf "$dest/testdata"
mv "$work/testdata" "$dest/testdata"
echo "fetched $(ls "$dest/testdata" | wc -l) age test vectors (cctv-age@$VERSION)"
