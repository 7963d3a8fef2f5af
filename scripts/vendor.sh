#!/usr/bin/env bash
# Refreshes the front-end assets vendored from npm into static/vendor/ (no CDN at run time), and
# the test-only ones into tests/e2e/vendor/ (never served by the app).
# The versions are pinned here; run this, check the result in a browser, and commit both folders.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

PDFJS_VERSION=4.10.38
AXE_CORE_VERSION=4.14.1

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
say "pdfjs-dist@$PDFJS_VERSION (the coach's in-page PDF view)"
(cd "$work" && npm pack --silent "pdfjs-dist@$PDFJS_VERSION" >/dev/null && tar xzf "pdfjs-dist-$PDFJS_VERSION.tgz")
dest=static/vendor/pdfjs
rm -rf "$dest"
mkdir -p "$dest"
cp "$work/package/build/pdf.min.mjs" "$work/package/build/pdf.worker.min.mjs" "$work/package/LICENSE" "$dest/"
cp -r "$work/package/standard_fonts" "$dest/standard_fonts"
echo "pdfjs-dist $PDFJS_VERSION" >"$dest/VERSION"

say "axe-core@$AXE_CORE_VERSION (the browser tests' accessibility audit; tests only)"
mkdir "$work/axe-core"
(cd "$work/axe-core" && npm pack --silent "axe-core@$AXE_CORE_VERSION" >/dev/null && tar xzf "axe-core-$AXE_CORE_VERSION.tgz")
dest=tests/e2e/vendor/axe-core
rm -rf "$dest"
mkdir -p "$dest"
cp "$work/axe-core/package/axe.min.js" "$work/axe-core/package/LICENSE" "$work/axe-core/package/LICENSE-3RD-PARTY.txt" "$dest/"
echo "axe-core $AXE_CORE_VERSION" >"$dest/VERSION"
