// Shared by `npm test` and `npm start` on a fresh clone: check Node, install dependencies when some are missing
// (npm ci when a lockfile exists, npm install otherwise), and check that WebGPU finds an adapter, reporting a
// missing one as one line that names the command installing a software driver.
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Print one line to stderr and exit with `code`. */
export function fail(line, code = 1) {
  process.stderr.write(`${line}\n`);
  process.exit(code);
}

/** Packages named in package.json that node_modules lacks. */
export function missingPackages() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const names = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
  return names.filter((n) => !existsSync(join(root, 'node_modules', n, 'package.json')));
}

export function ensureDeps() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) fail(`[vesselfm] Node ${process.versions.node} is too old: this project needs Node 20 or newer`);
  const missing = missingPackages();
  if (missing.length === 0) return;
  const cmd = existsSync(join(root, 'package-lock.json')) ? 'ci' : 'install';
  const what = missing.length > 4 ? `${missing.length} packages` : missing.join(', ');
  console.error(`[vesselfm] installing dependencies (npm ${cmd}; missing: ${what}) …`);
  const r = spawnSync('npm', [cmd, '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.error) fail(`[vesselfm] could not run npm (${r.error.message}); install npm, then run: npm ${cmd}`);
  if (r.status !== 0) fail(`[vesselfm] npm ${cmd} failed (exit ${r.status})`, r.status ?? 1);
  const still = missingPackages();
  if (still.length) fail(`[vesselfm] npm ${cmd} finished but these packages are still missing: ${still.join(', ')}`);
}

// Dawn prints these on every adapter request; they say nothing the user can act on.
const HARMLESS = [/artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit/];

/**
 * `vesselfm info --quiet` with its output tidied: on success the adapter line (stdout) is printed; on failure
 * only the CLI's one-line error, without the Vulkan loader's and Dawn's own stderr chatter. Returns the exit code.
 */
export function checkAdapter(extraArgs = []) {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'vesselfm.mjs'), 'info', '--quiet', ...extraArgs], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  const err = (r.stderr ?? '').split('\n').filter((l) => l.trim() && !HARMLESS.some((h) => h.test(l)));
  if (r.status === 0) {
    process.stdout.write(r.stdout);
    if (err.length) process.stderr.write(err.join('\n') + '\n');
    return 0;
  }
  const line = err.find((l) => l.startsWith('vesselfm: '));
  if (line) process.stderr.write(`${line}\n`);
  else {
    // Not the CLI's own error (a build failure or a crash): show everything.
    process.stderr.write(`vesselfm: the WebGPU check failed (exit ${r.status ?? r.signal})\n${r.stdout ?? ''}${err.join('\n')}\n`);
  }
  return r.status || 1;
}
