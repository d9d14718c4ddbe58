// Bundle the CLI for Node (and, with --browser, the engine for browsers) with esbuild. WGSL files load as text.
import { build } from 'esbuild';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const common = { bundle: true, format: 'esm', loader: { '.wgsl': 'text' }, sourcemap: true, logLevel: 'warning', absWorkingDir: root };

await build({
  ...common,
  entryPoints: ['cli/vesselfm.ts'],
  outfile: 'dist/vesselfm.js',
  platform: 'node',
  target: 'node20',
  packages: 'external',
});
if (process.argv.includes('--browser')) {
  await build({ ...common, entryPoints: ['src/browser.ts'], outfile: 'dist/browser/vesselfm.js', platform: 'browser', target: 'chrome120' });
}
