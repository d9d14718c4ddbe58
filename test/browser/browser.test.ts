// The same engine in headless Chromium: bundle src/browser.ts + the check page with esbuild (the very same WGSL
// files), serve it from 127.0.0.1, run the check cases of browser/cases.ts on navigator.gpu (SwiftShader), and
// require the results to equal the Node (Dawn) results of the same cases.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare, defaultCases, runCases, type CheckResult } from '../../browser/cases.js';
import type { PageInfo, VesselfmPage } from '../../browser/page.js';
import { serveStatic, type StaticServer } from '../../browser/server.js';
import { getEngine } from '../helpers.js';

const CHROMIUM = process.env.VESSELFM_CHROMIUM ?? '/usr/bin/chromium';
const INSTALL = 'sudo bash scripts/install-software-gpu.sh (or: sudo apt-get install -y chromium)';
// webgpu-notes.md §4: these flags keep Chromium off the network; --use-vulkan=native would make the adapter null.
const ARGS = ['--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

const root = process.cwd();
let work = '';
let server: StaticServer | null = null;
let ctx: BrowserContext | null = null;
let page: Page | null = null;
const pageErrors: string[] = [];

type PageWindow = { vesselfmPage: VesselfmPage; vesselfmPageReady?: boolean };

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed (${CHROMIUM} is missing); the browser test needs it. Install it with: ${INSTALL}`);
  }
  work = mkdtempSync(join(tmpdir(), 'vesselfm-browser-'));
  const out = join(work, 'site');
  const b = spawnSync(process.execPath, ['scripts/build.mjs', '--browser-only', `--outdir=${out}`], { cwd: root, encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`browser bundle failed:\n${b.stderr || b.stdout}`);
  server = await serveStatic(out);
  ctx = await chromium.launchPersistentContext(join(work, 'profile'), { executablePath: CHROMIUM, headless: true, args: ARGS });
  page = ctx.pages()[0] ?? (await ctx.newPage());
  page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console error: ${m.text()} (${m.location().url})`);
  });
  await page.goto(`${server.url}index.html?driven`);
  await page.waitForFunction(() => (window as unknown as PageWindow).vesselfmPageReady === true, undefined, { timeout: 30_000 });
});

afterAll(async () => {
  await ctx?.close();
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the browser/Node comparison', () => {
  const result = (values: number[], exact: boolean): CheckResult => ({ name: 'x', dtype: 'f32', shape: [values.length], exact, values, ms: 0 });
  const bits = (xs: number[]) => Array.from(new Uint32Array(Float32Array.from(xs).buffer));
  it('flags a one-ulp difference in a bit-exact case and a 1e-4 difference in a float case', () => {
    const a = bits([1, 2, 3]);
    const b = [...a];
    b[1] += 1; // the next float after 2
    expect(compare(result(a, true), result(a, true))).toBeNull();
    expect(compare(result(b, true), result(a, true))).toMatch(/element 1 differs/);
    expect(compare(result(b, false), result(a, false))).toBeNull();
    expect(compare(result(bits([1, 2.0005, 3]), false), result(a, false))).toMatch(/relative error 1\.3\de-4/);
    expect(compare({ ...result(a, true), error: 'boom' }, result(a, true))).toMatch(/browser failed: boom/);
  });
});

describe('the engine in headless Chromium', () => {
  it('has no module outside src/gpu/node*, src/io, src/train and *-node.ts adapters that imports a Node-only module', () => {
    const r = spawnSync(process.execPath, ['scripts/build.mjs', '--check-browser-safe'], { cwd: root, encoding: 'utf8' });
    console.log(r.stdout.trim());
    expect(r.stderr.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('gets a WebGPU device with the adapter’s (browser-sized) limits', async () => {
    const info: PageInfo = await page!.evaluate(() => (window as unknown as PageWindow).vesselfmPage.info());
    const l = info.limits;
    console.log(
      `browser adapter: ${info.adapter.vendor} ${info.adapter.architecture} ${info.adapter.description}`.trim() +
        ` | ${info.userAgent.match(/(HeadlessChrome|Chrome)\/[\d.]+/)?.[0] ?? info.userAgent}\n` +
        `  maxComputeInvocationsPerWorkgroup ${l.maxComputeInvocationsPerWorkgroup}, maxStorageBuffersPerShaderStage ${l.maxStorageBuffersPerShaderStage}, ` +
        `maxComputeWorkgroupSizeZ ${l.maxComputeWorkgroupSizeZ}, maxComputeWorkgroupStorageSize ${l.maxComputeWorkgroupStorageSize}, ` +
        `maxStorageBufferBindingSize ${l.maxStorageBufferBindingSize}\n  features: ${info.features.join(', ')}`,
    );
    // The engine asks for the adapter's maximum limits: every limit of the device equals the adapter's.
    for (const [k, v] of Object.entries(info.adapterLimits)) expect.soft(l[k], k).toBe(v);
    // The browser limits kernels must fit (SwiftShader in Chromium; smaller than lavapipe's 1024 and 16).
    expect(l.maxComputeInvocationsPerWorkgroup).toBe(256);
    expect(l.maxStorageBuffersPerShaderStage).toBe(10);
    expect(l.maxComputeWorkgroupSizeZ).toBe(64);
    expect(pageErrors).toEqual([]);
  });

  // VESSELFM_BROWSER_ALL=1 adds the cases that are slow to compile on SwiftShader (workgroup-tiled matmuls).
  it('runs the check kernels with the same results as Node', async () => {
    const cases = defaultCases(process.env.VESSELFM_BROWSER_ALL === '1');
    const engine = await getEngine();
    // Both sides at once: Chromium compiles and runs in its own processes while Dawn works in this one.
    const t0 = performance.now();
    let tb = 0;
    const [browser, node] = await Promise.all([
      page!.evaluate((cs) => (window as unknown as PageWindow).vesselfmPage.run(cs), cases).then((r: CheckResult[]) => {
        tb = performance.now() - t0;
        return r;
      }),
      runCases(engine, cases),
    ]);
    const rows: string[] = [];
    const problems: string[] = [];
    for (let i = 0; i < cases.length; i++) {
      const [b, n] = [browser[i], node[i]];
      rows.push(
        `  ${(cases[i].exact ? 'bit-exact' : `rel<${cases[i].tol ?? 1e-5}`).padEnd(11)} ${cases[i].name.padEnd(44)} browser ${b.ms.toFixed(1).padStart(7)} ms, node ${n.ms.toFixed(1).padStart(7)} ms` +
          (n.refErr !== undefined ? `, vs float64 ref: node ${n.refErr.toExponential(1)} browser ${b.refErr?.toExponential(1)}` : '') +
          (!cases[i].exact && b.values.length === n.values.length && b.values.every((v, j) => v === n.values[j]) ? ', bit-identical' : ''),
      );
      const diff = compare(b, n);
      if (diff) problems.push(diff);
      // Where a case has a float64 CPU reference, both sides must also be right, not only equal.
      for (const r of [b, n]) {
        const bound = cases[i].exact ? 1e-12 : Math.max(cases[i].tol ?? 0, 1e-4);
        if (r.refErr !== undefined && !(r.refErr < bound)) problems.push(`${r.name}: relative error ${r.refErr} against the CPU reference (limit ${bound})`);
      }
    }
    console.log(`${cases.length} cases, browser ${tb.toFixed(0)} ms in all:\n${rows.join('\n')}`);
    expect(problems).toEqual([]);
    expect(browser.length).toBe(cases.length);
    expect(pageErrors).toEqual([]);
  });
});
