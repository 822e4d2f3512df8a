#!/usr/bin/env bash
# Import circles among lib/'s modules, type imports included (dpdm without --transform). Prints
# "circles: N" and each circle; fails when N > 0.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tmp
if ! npx dpdm --no-warning --no-tree --no-progress --no-circular -o .tmp/dpdm.json 'lib/**/*.ts' 'lib/**/*.mts' \
  >.tmp/dpdm.log 2>&1; then
  cat .tmp/dpdm.log
  exit 1
fi
node -e '
const { circulars } = require("./.tmp/dpdm.json");
console.log(`circles: ${circulars.length}`);
for (const circle of circulars) console.log(`  ${circle.join(" -> ")}`);
process.exit(circulars.length > 0 ? 1 : 0);
'
