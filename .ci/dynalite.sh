#!/usr/bin/env bash
# Installs dynalite, a DynamoDB-compatible server on Node.js, into
# .cache/dynalite (ignored by git) from the npm registry, once per version,
# and prints the path of its cli.js. Tests run it themselves when needed
# (store/storetest starts the server on 127.0.0.1); CI runs it before the
# tests so that the install is timed and fails on its own line.
# It needs node >= 20 and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.0.0
dir=.cache/dynalite
cli=$dir/node_modules/dynalite/cli.js

mkdir -p "$dir"
# Test binaries of several packages may run this at once: one installs.
exec 9>"$dir.lock"
flock 9
if [ ! -f "$cli" ] || [ "$(cat "$dir/.version" 2>/dev/null)" != "$version" ]; then
  command -v node >/dev/null || { echo "dynalite.sh: node is not installed (node >= 20 and npm are needed)" >&2; exit 1; }
  command -v npm >/dev/null || { echo "dynalite.sh: npm is not installed" >&2; exit 1; }
  start=$(date +%s)
  # In memory, dynalite needs no native module: install scripts are not run.
  npm install --prefix "$dir" --no-audit --no-fund --ignore-scripts --loglevel=error "dynalite@$version" >&2
  echo "$version" >"$dir/.version"
  echo "dynalite.sh: installed dynalite@$version in $(( $(date +%s) - start ))s" >&2
fi
echo "$PWD/$cli"
