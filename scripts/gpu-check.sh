#!/usr/bin/env bash
# One call on a machine with a real GPU: correctness on that adapter first (the conv family including the
# subgroup-matrix / tensor-core passes, the matmuls), then the core, conv, segmenter and flow benchmarks, each into
# its own file, and a short table last. Built to fit a borrowed machine's few minutes: every step has a time limit
# (seconds, overridable: LIMIT_TESTS, LIMIT_CORE, LIMIT_CONV, LIMIT_SEGMENTER, LIMIT_FLOW), a step that runs out
# keeps what it wrote, and the table reads whatever is there.
#
#   bash scripts/gpu-check.sh [results folder]        (default: gpu-results/)
#
# Needs Node >= 20 and node_modules (npm ci) on that machine; the bundle in dist/ is built on first use.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${1:-gpu-results}"
mkdir -p "$out"
t0=$SECONDS
step() { printf '\n==== [%4ds] %s\n' "$((SECONDS - t0))" "$*"; }
quiet() { grep -v 'artificially reduced' || true; }

step "adapter"
if ! node bin/vesselfm.mjs info --json >"$out/info.json" 2>"$out/info.err"; then
  quiet <"$out/info.err"
  echo "gpu-check: no usable WebGPU adapter (see above); nothing else was run" >&2
  exit 1
fi
node -e 'const i = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(JSON.stringify({ adapter: i.adapter, features: i.features }))' "$out/info.json"

step "correctness on this adapter"
timeout "${LIMIT_TESTS:-150}" node node_modules/vitest/vitest.mjs run \
  test/kernels/conv3d_mma.test.ts test/kernels/conv3d.test.ts test/kernels/conv3d_f16.test.ts \
  test/kernels/conv3d_im2col.test.ts test/kernels/convtranspose3d.test.ts test/kernels/matmul.test.ts \
  >"$out/tests.log" 2>&1
echo "tests: exit $?"
grep -E 'Test Files|Tests |FAIL|DynUNet' "$out/tests.log" | sed 's/\x1b\[[0-9;]*m//g' | head -20

for suite in core conv segmenter flow; do
  var="LIMIT_$(echo "$suite" | tr '[:lower:]' '[:upper:]')"
  case $suite in core) dflt=60 ;; conv) dflt=180 ;; *) dflt=120 ;; esac
  step "bench --suite $suite (limit ${!var:-$dflt} s)"
  timeout "${!var:-$dflt}" node bin/vesselfm.mjs bench --suite "$suite" --json >"$out/$suite.jsonl" 2>"$out/$suite.err"
  echo "bench $suite: exit $? ($(wc -l <"$out/$suite.jsonl") rows)"
done

step "summary"
node scripts/gpu-summary.mjs "$out"
