// Bundle with esbuild. WGSL files load as text, so Node and browsers run the very same kernel sources.
//
//   node scripts/build.mjs                      the CLI for Node: dist/vesselfm.js (bin/vesselfm.mjs runs this on demand)
//   node scripts/build.mjs --browser            the CLI, plus the browser bundle in dist/browser/
//   node scripts/build.mjs --browser-only [--outdir=DIR]
//                                               only the browser bundle (the browser test builds into a temp dir)
//
// The browser bundle: vesselfm.js (the library: src/browser.ts, createEngine on navigator.gpu), page.js (the test
// page module, browser/page.ts) sharing one chunk with it, and index.html. A module that pulls a Node-only import
// into the browser bundle fails the build with one line naming the module and the import.
import { build } from 'esbuild';
import { builtinModules } from 'node:module';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const common = { bundle: true, format: 'esm', loader: { '.wgsl': 'text' }, sourcemap: true, logLevel: 'warning', absWorkingDir: root };

export async function buildCli() {
  await build({
    ...common,
    entryPoints: ['cli/vesselfm.ts'],
    outfile: 'dist/vesselfm.js',
    platform: 'node',
    target: 'node20',
    packages: 'external',
  });
}

// Packages that only exist in Node: the built-ins and Dawn's Node bindings.
const NODE_ONLY = new Set([...builtinModules, 'webgpu']);
const ALLOWED = 'only src/gpu/node*.ts, src/io, src/train and cli/ may use Node modules';

/** An esbuild plugin that rejects Node-only imports with a message naming the importing module. */
const browserGuard = {
  name: 'browser-guard',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const spec = args.path.startsWith('node:') ? args.path.slice(5) : args.path;
      const top = spec.split('/')[0];
      if (!NODE_ONLY.has(top) && !NODE_ONLY.has(spec)) return undefined;
      const who = args.importer ? relative(root, args.importer) : '(unknown module)';
      return { errors: [{ text: `browser bundle: ${who} imports "${args.path}", which exists only in Node (${ALLOWED})` }] };
    });
  },
};

export class BrowserBuildError extends Error {}

/** Build the browser bundle into `outdir` (absolute, or relative to the repository root); returns its absolute path. */
export async function buildBrowser(outdir = 'dist/browser') {
  const out = resolve(root, outdir);
  mkdirSync(out, { recursive: true });
  try {
    await build({
      ...common,
      logLevel: 'silent',
      entryPoints: { vesselfm: 'src/browser.ts', page: 'browser/page.ts' },
      outdir: out,
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      platform: 'browser',
      target: 'chrome120',
      plugins: [browserGuard],
    });
  } catch (e) {
    const msgs = (e.errors ?? []).map((m) => (m.location ? `${m.location.file}:${m.location.line}: ${m.text}` : m.text));
    throw new BrowserBuildError(msgs.length ? msgs.join('\n') : String(e.message ?? e));
  }
  copyFileSync(join(root, 'browser', 'index.html'), join(out, 'index.html'));
  return out;
}

async function main(argv) {
  const outArg = argv.find((a) => a.startsWith('--outdir='));
  const browserOnly = argv.includes('--browser-only');
  if (!browserOnly) await buildCli();
  if (browserOnly || argv.includes('--browser')) {
    try {
      const out = await buildBrowser(outArg ? outArg.slice('--outdir='.length) : 'dist/browser');
      if (browserOnly) process.stdout.write(`${out}\n`);
    } catch (e) {
      if (!(e instanceof BrowserBuildError)) throw e;
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main(process.argv.slice(2));
}
