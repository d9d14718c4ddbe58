// Install dependencies when a fresh clone has none (npm ci when a lockfile exists, npm install otherwise).
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function ensureDeps() {
  if (existsSync(join(root, 'node_modules', 'webgpu')) && existsSync(join(root, 'node_modules', 'vitest'))) return;
  const cmd = existsSync(join(root, 'package-lock.json')) ? 'ci' : 'install';
  console.error(`[vesselfm] installing dependencies (npm ${cmd}) …`);
  const r = spawnSync('npm', [cmd, '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`[vesselfm] npm ${cmd} failed`);
    process.exit(r.status ?? 1);
  }
}
