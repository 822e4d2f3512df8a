#!/usr/bin/env bash
# Runs `npm test` on every Node.js major the package supports (default: 20 22 24 26), each binary
# from the npm registry (scripts/node-bin.sh), and prints one line per major. 20 is this machine's
# own Node when it is a 20. Usage: npm run test:matrix [-- 22 26]
set -uo pipefail
cd "$(dirname "$0")/.."
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(20 22 24 26)
mkdir -p .tmp
summary=()
status=0
for major in "${majors[@]}"; do
  if [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
    path="$PATH"
  else
    bin=$(scripts/node-bin.sh "$major") || { summary+=("node $major: could not install"); status=1; continue; }
    path="$bin:$PATH"
  fi
  log=".tmp/test-node-$major.log"
  echo "test-matrix: node $(PATH="$path" node --version)"
  PATH="$path" npm test >"$log" 2>&1
  code=$?
  passed=$(grep -Eo '^ +[0-9]+ passing' "$log" | grep -Eo '[0-9]+' | tail -1)
  failed=$(grep -Eo '^ +[0-9]+ failing' "$log" | grep -Eo '[0-9]+' | tail -1)
  summary+=("node $(PATH="$path" node --version): ${passed:-0} passed, ${failed:-0} failed (exit $code; $log)")
  [ "$code" -eq 0 ] || status=1
done
printf '%s\n' "${summary[@]}"
exit $status
