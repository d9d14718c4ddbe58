// `npm test`: install dependencies if missing, check that WebGPU has an adapter (one clear line if not), type-check
// (tsc -p .), then run the whole vitest suite (extra arguments go to vitest, e.g. `npm test -- test/browser`).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { checkAdapter, ensureDeps, root } from './ensure-deps.mjs';

const t0 = performance.now();
const secs = (t) => `${((performance.now() - t) / 1000).toFixed(1)} s`;
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error) throw r.error;
  return r.status ?? 1;
};

ensureDeps();
let rc = checkAdapter();
if (rc !== 0) process.exit(rc);

let t = performance.now();
rc = run(bin('tsc'), ['-p', '.']);
if (rc !== 0) {
  console.error(`[vesselfm] type check failed (tsc -p .)`);
  process.exit(rc);
}
console.log(`[vesselfm] type check clean (${secs(t)})`);

t = performance.now();
rc = run(bin('vitest'), ['run', ...process.argv.slice(2)]);
console.log(`[vesselfm] vitest ${rc === 0 ? 'passed' : 'FAILED'} (${secs(t)}; npm test ${secs(t0)} in all)`);
process.exit(rc);
