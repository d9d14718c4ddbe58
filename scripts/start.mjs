// `npm start`: install dependencies if missing, then run the main job.
import { spawnSync } from 'node:child_process';
import { ensureDeps, root } from './ensure-deps.mjs';

ensureDeps();
const args = process.argv.length > 2 ? process.argv.slice(2) : ['demo'];
process.exit(spawnSync(process.execPath, ['bin/vesselfm.mjs', ...args], { cwd: root, stdio: 'inherit' }).status ?? 1);
