#!/usr/bin/env bash
# CI for the Expo app: install, typecheck, lint, unit/component tests, bundle iOS, Android and web.
# Needs only node >= 20 and the npm registry. No simulator, no stdin.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

export CI="${CI:-true}"
export EXPO_NO_TELEMETRY=1

step() { printf '\n==> %s\n' "$*"; }

step "npm ci"
npm ci --no-audit --no-fund

step "tsc --noEmit"
npx --no-install tsc --noEmit

step "eslint"
npx --no-install eslint .

step "jest"
results="$(mktemp -t mobile-jest-XXXXXX.json)"
bundles="$(mktemp -d -t mobile-export-XXXXXX)"
trap 'rm -rf "$results" "$bundles"' EXIT
set +e
npx --no-install jest --ci --json --outputFile="$results"
jest_status=$?
set -e
summary="$(node -e '
  const fs = require("fs");
  let r = {};
  try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch (e) {}
  const passed = r.numPassedTests ?? 0;
  const failed = (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0);
  console.log(passed + " " + failed);
' "$results")"
read -r passed failed <<<"$summary"
echo "mobile: ${passed} passed, ${failed} failed"
if [ "$jest_status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  echo "mobile: jest failed (exit ${jest_status}, ${passed} passed, ${failed} failed)" >&2
  exit 1
fi

for platform in android ios web; do
  step "expo export --platform ${platform}"
  npx --no-install expo export --platform "$platform" --output-dir "$bundles/$platform"
done

# Repeat the test summary as the closing line so CI logs end with the count.
echo "mobile: ${passed} passed, ${failed} failed"
