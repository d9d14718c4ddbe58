// `npm start`: install dependencies if missing, check that WebGPU has an adapter (one clear line if not), then run
// the main job: the `demo` command once the CLI has one; until then the adapter report (`vesselfm info`) and the
// core benchmark (`vesselfm bench --suite core`). Arguments replace the job: `npm start -- bench --suite core --json`.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { checkAdapter, ensureDeps, root } from './ensure-deps.mjs';

const cli = join(root, 'bin', 'vesselfm.mjs');
const vesselfm = (args) => spawnSync(process.execPath, [cli, ...args], { cwd: root, stdio: 'inherit' }).status ?? 1;

ensureDeps();
const rc = checkAdapter();
if (rc !== 0) process.exit(rc);

if (process.argv.length > 2) process.exit(vesselfm(process.argv.slice(2)));

const help = spawnSync(process.execPath, [cli, '--help'], { cwd: root, encoding: 'utf8' }).stdout ?? '';
const has = (cmd) => new RegExp(`^\\s+${cmd}\\b`, 'm').test(help);
if (has('demo')) process.exit(vesselfm(['demo']));
const jobs = [['info']];
if (has('bench')) jobs.push(['bench', '--suite', 'core']);
for (const job of jobs) {
  console.log(`\n$ vesselfm ${job.join(' ')}`);
  const r = vesselfm(job);
  if (r !== 0) process.exit(r);
}
