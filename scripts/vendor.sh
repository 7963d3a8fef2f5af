#!/usr/bin/env bash
# Refreshes the front-end assets vendored from npm into static/vendor/ (no CDN at run time).
# The versions are pinned here; run this, check the result in a browser, and commit static/vendor/.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

PDFJS_VERSION=4.10.38

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
