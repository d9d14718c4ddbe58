// Bundle with esbuild. WGSL files load as text, so Node and browsers run the very same kernel sources.
//
//   node scripts/build.mjs                      the CLI for Node: dist/vesselfm.js (bin/vesselfm.mjs runs this on demand)
//   node scripts/build.mjs --browser            the CLI, plus the browser bundle in dist/browser/
//   node scripts/build.mjs --browser-only [--outdir=DIR]
//                                               only the browser bundle (the browser test builds into a temp dir)
//   node scripts/build.mjs --check-browser-safe check that no module of src/ or kernels/ outside the Node-only
//                                               areas imports a Node-only module (writes nothing)
//
// The browser bundle: vesselfm.js (the library: src/browser.ts, createEngine on navigator.gpu), page.js (the test
// page module, browser/page.ts) and segment.js (the segmentation page, browser/segment-page.ts) sharing chunks with it,
// index.html and segment.html. A module that pulls a Node-only import
// into the browser bundle fails the build with one line naming the module and the import.
import { build } from 'esbuild';
import { builtinModules } from 'node:module';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const common = { bundle: true, format: 'esm', loader: { '.wgsl': 'text' }, sourcemap: true, logLevel: 'warning', absWorkingDir: root };

// Written under a temporary name and renamed: several `vesselfm` processes may rebuild at once, and none may ever
// load a half-written bundle.
export async function buildCli() {
  const tmp = `dist/.vesselfm.${process.pid}.${Date.now()}.js`;
  await build({
    ...common,
    entryPoints: ['cli/vesselfm.ts'],
    outfile: tmp,
    sourcemap: 'inline',
    platform: 'node',
    target: 'node20',
    packages: 'external',
  });
  renameSync(join(root, tmp), join(root, 'dist/vesselfm.js'));
}

// Packages that only exist in Node: the built-ins and Dawn's Node bindings.
const NODE_ONLY = new Set([...builtinModules, 'webgpu']);
const ALLOWED = 'only src/gpu/node*.ts, src/io, src/train, Node adapters named *-node.ts and cli/ may use Node modules';

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
  rmSync(join(out, 'chunks'), { recursive: true, force: true }); // chunk names carry hashes: drop the old ones
  mkdirSync(out, { recursive: true });
  try {
    await build({
      ...common,
      logLevel: 'silent',
      entryPoints: { vesselfm: 'src/browser.ts', page: 'browser/page.ts', segment: 'browser/segment-page.ts' },
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
  copyFileSync(join(root, 'browser', 'segment.html'), join(out, 'segment.html'));
  return out;
}

/** Node modules may be imported directly only here (relative to the repository root). */
export function nodeAllowed(file) {
  return (
    /^src\/gpu\/node[^/]*\.ts$/.test(file) ||
    /^src\/(io|train)\//.test(file) ||
    /^src\/.*-node\.ts$/.test(file) ||
    file === 'src/node.ts' ||
    /^(cli|scripts|test|benchmarks)\//.test(file)
  );
}

function listTs(dir) {
  const out = [];
  if (!existsSync(join(root, dir))) return out;
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/**
 * Check the layout rule: no module under src/ or kernels/ outside the Node-only areas imports a Node-only module.
 * Bundles every such module for the browser without writing anything. Returns { direct, transitive, modules }:
 * `direct` are rule violations (the module itself imports node:…/webgpu), `transitive` are modules that pull a
 * Node-only module in through an allowed Node-only module (e.g. src/io file access), so they cannot run in a browser.
 */
export async function checkBrowserSafe() {
  const entries = [...listTs('src'), ...listTs('kernels')].filter((f) => !nodeAllowed(f));
  const direct = [];
  const nodeUses = new Map(); // importer -> Node-only specifiers
  const r = await build({
    ...common,
    sourcemap: false,
    logLevel: 'silent',
    entryPoints: entries,
    outdir: 'dist/browser-check',
    write: false,
    metafile: true,
    platform: 'browser',
    target: 'chrome120',
    plugins: [
      {
        name: 'node-import-scan',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === 'entry-point') return undefined;
            const spec = args.path.startsWith('node:') ? args.path.slice(5) : args.path;
            if (!NODE_ONLY.has(spec.split('/')[0]) && !NODE_ONLY.has(spec)) return undefined;
            const who = relative(root, args.importer);
            if (!nodeUses.has(who)) nodeUses.set(who, new Set());
            nodeUses.get(who).add(args.path);
            if (!nodeAllowed(who)) direct.push(`${who} imports "${args.path}"`);
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  // Which entries reach a Node-only module through allowed modules: walk the import graph from each.
  const inputs = r.metafile.inputs;
  const transitive = [];
  for (const entry of entries) {
    const seen = new Set([entry]);
    const queue = [[entry]];
    let chain = null;
    while (queue.length && !chain) {
      const path = queue.shift();
      const f = path[path.length - 1];
      if (nodeUses.has(f) && nodeAllowed(f)) chain = [...path, [...nodeUses.get(f)].join(', ')];
      for (const imp of inputs[f]?.imports ?? []) {
        if (imp.external || seen.has(imp.path)) continue;
        seen.add(imp.path);
        queue.push([...path, imp.path]);
      }
    }
    if (chain) transitive.push(chain.join(' -> '));
  }
  return { direct: [...new Set(direct)], transitive, modules: entries.length };
}

async function main(argv) {
  if (argv.includes('--check-browser-safe')) {
    let res;
    try {
      res = await checkBrowserSafe();
    } catch (e) {
      const msgs = (e.errors ?? []).map((m) => (m.location ? `${m.location.file}:${m.location.line}: ${m.text}` : m.text));
      process.stderr.write(`browser-safety: could not bundle the modules:\n${msgs.join('\n') || e.message}\n`);
      process.exit(1);
    }
    const { direct, transitive, modules } = res;
    for (const t of transitive) process.stdout.write(`note: cannot run in a browser (pulls a Node-only module): ${t}\n`);
    for (const d of direct) process.stderr.write(`browser-safety: ${d}; ${ALLOWED}\n`);
    process.stdout.write(`${modules} modules checked: ${direct.length} direct Node-only imports, ${transitive.length} modules pulling one in\n`);
    process.exit(direct.length ? 1 : 0);
  }
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
