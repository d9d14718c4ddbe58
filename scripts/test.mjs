// `npm test`: install dependencies if missing, type-check, then run the whole vitest suite.
import { spawnSync } from 'node:child_process';
import { ensureDeps, root } from './ensure-deps.mjs';

ensureDeps();
const run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit' }).status ?? 1;
let rc = run(process.execPath, ['bin/vesselfm.mjs', 'info', '--quiet']);
if (rc !== 0) process.exit(rc);
rc = run('npx', ['tsc', '-p', '.']);
if (rc !== 0) {
  console.error('type check failed');
  process.exit(rc);
}
process.exit(run('npx', ['vitest', 'run', ...process.argv.slice(2)]));
