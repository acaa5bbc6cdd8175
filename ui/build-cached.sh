#!/usr/bin/env bash
# Build the web UI into ui/dist, cached outside the clone.
#
# Key: sha256 over package-lock.json, the build config and every file under src/ and
# public/. A hit copies ~/.cache/pyxis/ui/<key>/dist into ui/dist; a miss runs
# `npm ci` (npm's own cache, ~/.npm, keeps re-installs offline-fast) when node_modules
# does not match the lockfile, then `npm run build` (tsc --noEmit + vite build), and
# stores the result (text assets gzipped beside the originals). PYXIS_CACHE overrides ~/.cache/pyxis.
set -euo pipefail
cd "$(dirname "$0")"

CACHE_ROOT="${PYXIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pyxis}/ui"
inputs() {
  printf '%s\n' package-lock.json package.json tsconfig.json vite.config.ts index.html
  find src $( [ -d public ] && echo public ) -type f | LC_ALL=C sort
}
key=$(inputs | while read -r f; do [ -f "$f" ] && { echo "== $f"; cat "$f"; }; done | sha256sum | cut -c1-16)
cached="$CACHE_ROOT/$key/dist"

if [ -f "$cached/index.html" ]; then
  if [ ! -f dist/.key ] || [ "$(cat dist/.key)" != "$key" ]; then
    rm -rf dist
    cp -a "$cached" dist
  fi
  echo "ui: dist up to date (cache $key)"
  exit 0
fi

lock_key=$(sha256sum package-lock.json | cut -c1-16)
if [ ! -f node_modules/.pyxis-lock ] || [ "$(cat node_modules/.pyxis-lock)" != "$lock_key" ]; then
  echo "ui: npm ci"
  npm ci --no-audit --no-fund --prefer-offline --loglevel=error
  echo "$lock_key" > node_modules/.pyxis-lock
fi
echo "ui: building (cache miss $key)"
npm run build --silent
# precompressed siblings: pyxisd serves file.gz to clients that accept gzip
find dist -type f \( -name '*.js' -o -name '*.css' -o -name '*.html' -o -name '*.svg' -o -name '*.json' \) \
  -size +1k -exec gzip -k -9 -n {} +
echo "$key" > dist/.key
mkdir -p "$CACHE_ROOT/$key"
rm -rf "$cached.tmp"
cp -a dist "$cached.tmp"
mv "$cached.tmp" "$cached"
# keep the 5 newest builds
ls -1dt "$CACHE_ROOT"/*/ 2>/dev/null | tail -n +6 | xargs -r rm -rf
echo "ui: built and cached in $cached"
