// `npm run web [-- --port N] [-- --host H]`: build the browser bundle into dist/browser and serve it with
// browser/server.ts, then print the address of the segmentation page (browser/segment.html). Browsers offer WebGPU
// only to secure contexts, which is why the default host is 127.0.0.1 (http on localhost counts as secure).
import { build } from 'esbuild';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BrowserBuildError, buildBrowser, root } from './build.mjs';

function option(name, fallback) {
  const args = process.argv.slice(2);
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return fallback;
  const a = args[i];
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[i + 1];
}

function fail(msg) {
  process.stderr.write(`web: ${msg}\n`);
  process.exit(1);
}

const portArg = option('port', '8765');
const port = Number(portArg);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be a port number (0 to 65535), got "${portArg}"`);
const host = option('host', '127.0.0.1');

let out;
try {
  out = await buildBrowser('dist/browser');
} catch (e) {
  if (e instanceof BrowserBuildError) fail(`the browser bundle did not build: ${e.message}`);
  throw e;
}

// browser/server.ts is TypeScript: bundle it for Node (under a temporary name, renamed when whole).
const serverJs = join(root, 'dist', 'web-server.mjs');
const tmp = join(root, 'dist', `.web-server.${process.pid}.mjs`);
await build({ entryPoints: ['browser/server.ts'], outfile: tmp, bundle: true, platform: 'node', target: 'node20', format: 'esm', absWorkingDir: root, logLevel: 'warning' });
renameSync(tmp, serverJs);
const { serveStatic } = await import(pathToFileURL(serverJs).href);

let server;
try {
  server = await serveStatic(out, { port, host });
} catch (e) {
  if (e && e.code === 'EADDRINUSE') fail(`port ${port} on ${host} is in use; choose another with: npm run web -- --port <n>`);
  if (e && e.code === 'EADDRNOTAVAIL') fail(`${host} is not an address of this machine`);
  throw e;
}
const secure = host === '127.0.0.1' || host === 'localhost' || host === '::1';
process.stdout.write(
  `vesselFM segmentation page: ${server.url}segment.html\n` +
    (secure ? '' : `note: browsers enable WebGPU only on localhost or https; open it through an SSH tunnel or on this machine\n`) +
    'Files you open there stay in the browser; this server only sends the page. Stop it with Ctrl+C.\n',
);
const stop = () => server.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
