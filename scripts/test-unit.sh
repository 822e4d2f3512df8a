#!/usr/bin/env bash
# npm run test:unit: the fast subset for the edit-test loop (no Redis, Postgres or Chromium; the
# files are chosen by .mocharc.unit.cjs). Builds incrementally, then prints how long each part took.
# `npm test` stays the whole suite, from clean builds.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
start=$(date +%s%N)
npx tsc -p tsconfig.json --incremental --tsBuildInfoFile dist/.tsbuildinfo || exit 1
npx tsc -p tsconfig.dev.json --incremental --tsBuildInfoFile build/.tsbuildinfo || exit 1
built=$(date +%s%N)
npx mocha --config .mocharc.unit.cjs "$@"
status=$?
end=$(date +%s%N)
echo "test:unit: build $(seconds "$start" "$built") s, tests $(seconds "$built" "$end") s, total $(seconds "$start" "$end") s"
exit $status
