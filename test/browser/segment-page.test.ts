// The segmentation page (browser/segment.html) in headless Chromium (WebGPU on SwiftShader), driven like a person
// would: choose an image and the small PyTorch DynUNet (dynunet_small.pt, filters 4-8-8-16-16-16, divisor 32), set
// the options, press Segment, download the mask and the probability map. They must equal what the Node library call
// (src/segment-node.ts on Dawn) gives for the same bytes and options, keep the input's geometry, and bad files must
// end in one line on the page.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, type StaticServer } from '../../browser/server.js';
import { removeSmallObjects } from '../../src/eval/components.js';
import { affineFrom, decodeVolume, encodeVolume, makeVolume, readVolume, type Volume } from '../../src/io/volume.js';
import type { DynUNet } from '../../src/models/dynunet.js';
import { loadWeights } from '../../src/io/checkpoint.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { loadSegmenter, segment } from '../../src/segment-node.js';
import { getEngine } from '../helpers.js';

const CHROMIUM = process.env.VESSELFM_CHROMIUM ?? '/usr/bin/chromium';
const INSTALL = 'sudo bash scripts/install-software-gpu.sh (or: sudo apt-get install -y chromium)';
// webgpu-notes.md §4: WebGPU on, no network chatter.
const ARGS = ['--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

const root = process.cwd();
const pt = resolve(root, '../shared/fixtures/torch/dynunet_small.pt');
const octa = resolve(root, 'test/fixtures/data/octa/OCTA-Data.tif');
// Probabilities may differ between SwiftShader and Dawn's driver by float rounding (different kernel variants);
// a voxel whose probability is this close to the threshold may fall on either side.
const NEAR = 1e-4;

let work = '';
let server: StaticServer | null = null;
let ctx: BrowserContext | null = null;
let page: Page | null = null;
const pageErrors: string[] = [];

let input = ''; // the image file the page is given (.nii.gz)
let vol: Volume; // that file as Node decodes it
let net: DynUNet | null = null;
// The Node result the page must reproduce, and the options that made it.
let ref: { mask: Uint8Array; prob: Float32Array; threshold: number; minSize: number } | null = null;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed (${CHROMIUM} is missing); the browser test needs it. Install it with: ${INSTALL}`);
  }
  work = mkdtempSync(join(tmpdir(), 'vesselfm-segpage-'));
  const out = join(work, 'site');
  const b = spawnSync(process.execPath, ['scripts/build.mjs', '--browser-only', `--outdir=${out}`], { cwd: root, encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`browser bundle failed:\n${b.stderr || b.stdout}`);

  // A 40×30×27 crop of the OCTA fixture (vessels in it), stored as NIfTI with anisotropic spacing, an origin and
  // a flipped x axis, so that geometry has something to keep. 40 along z with 32³ windows: two overlapping windows;
  // 30 and 27 are shorter than the window: zero padding.
  const full = readVolume(octa);
  const [Z, Y, X] = [40, 30, 27];
  const [z0, y0, x0] = [0, Math.floor((full.shape[1] - Y) / 2), Math.floor((full.shape[2] - X) / 2)];
  const crop = new Float32Array(Z * Y * X);
  for (let z = 0; z < Z; z++) {
    for (let y = 0; y < Y; y++) {
      for (let x = 0; x < X; x++) crop[(z * Y + y) * X + x] = full.data[((z0 + z) * full.shape[1] + y0 + y) * full.shape[2] + x0 + x];
    }
  }
  const v = makeVolume(crop, [Z, Y, X], [0.9, 0.6, 0.5]);
  v.direction = [-1, 0, 0, 0, 1, 0, 0, 0, 1];
  v.origin = [12.5, -3, 40];
  v.affine = affineFrom(v.direction, v.spacing, v.origin);
  input = join(work, 'octa crop.nii.gz');
  writeFileSync(input, encodeVolume(v, 'nifti', { gzip: true }).bytes);
  vol = decodeVolume(new Uint8Array(readFileSync(input)), 'nifti', input);

  server = await serveStatic(out);
  ctx = await chromium.launchPersistentContext(join(work, 'profile'), { executablePath: CHROMIUM, headless: true, args: ARGS, acceptDownloads: true });
  page = ctx.pages()[0] ?? (await ctx.newPage());
  page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console error: ${m.text()}`);
  });
  await page.goto(`${server.url}segment.html`);
  await page.waitForFunction(() => ['idle', 'no-gpu'].includes(document.body.dataset.state ?? ''), undefined, { timeout: 30_000 });
}, 60_000);

afterAll(async () => {
  net?.dispose();
  await ctx?.close();
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Wait until the page has finished (done or an error) and return its state and the error line. */
async function settle(p: Page, timeout = 90_000): Promise<{ state: string; error: string }> {
  await p.waitForFunction(() => ['idle', 'done', 'error'].includes(document.body.dataset.state ?? ''), undefined, { timeout });
  return p.evaluate(() => ({ state: document.body.dataset.state ?? '', error: document.getElementById('error')?.textContent ?? '' }));
}

async function downloadOf(p: Page, selector: string): Promise<{ name: string; bytes: Uint8Array }> {
  const [dl] = await Promise.all([p.waitForEvent('download'), p.click(selector)]);
  const path = join(work, `dl-${Date.now()}-${dl.suggestedFilename()}`);
  await dl.saveAs(path);
  return { name: dl.suggestedFilename(), bytes: new Uint8Array(readFileSync(path)) };
}

function expectOneLine(error: string, mentions: RegExp): void {
  expect(error).toMatch(mentions);
  expect(error).not.toMatch(/\n/);
  expect(error).not.toMatch(/\bat .*:\d+:\d+/); // no stack frames
  expect(error.length).toBeLessThan(400);
}

describe('the segmentation page in headless Chromium', () => {
  it('shows the adapter and its shader-f16 and subgroups support', async () => {
    const gpu = await page!.evaluate(() => {
      const el = document.getElementById('gpu')!;
      const half = document.getElementById('half') as HTMLInputElement;
      return {
        text: el.textContent ?? '',
        f16: el.dataset.f16,
        subgroups: el.dataset.subgroups,
        state: document.body.dataset.state,
        halfDisabled: half.disabled,
        halfHint: document.getElementById('half-hint')?.textContent ?? '',
      };
    });
    console.log(`page GPU line: ${gpu.text}`);
    expect(gpu.state).toBe('idle');
    expect(gpu.text).toMatch(/^GPU: .+ · half-precision shaders \(shader-f16\): (yes|no) · subgroups: (yes|no)/);
    expect(['true', 'false']).toContain(gpu.f16);
    expect(['true', 'false']).toContain(gpu.subgroups);
    // The half-precision option follows shader-f16: usable with it, disabled and saying why without it.
    expect(gpu.halfDisabled).toBe(gpu.f16 === 'false');
    if (gpu.f16 === 'false') expect(gpu.halfHint).toMatch(/no shader-f16/);
  });

  it('segments a NIfTI volume with the PyTorch checkpoint: the downloaded mask equals the Node library call, geometry kept', async () => {
    const engine = await getEngine();
    net = loadSegmenter(engine, pt);
    const base = { weights: net, patch: 32, overlap: 0.5, probabilities: true } as const;

    // Threshold and minimum size chosen from Node's probabilities so that the mask is mixed (about a fifth vessel),
    // no probability lies near the threshold when avoidable, and the size filter removes something.
    const tn = performance.now();
    const first = await segment(engine, vol, { ...base, threshold: 0.5 });
    const p = first.probabilities!.data as Float32Array;
    const sorted = Float32Array.from(p).sort();
    let threshold = 0.5;
    let gap = -1;
    for (let i = Math.floor(0.78 * sorted.length); i < Math.floor(0.82 * sorted.length); i++) {
      if (sorted[i + 1] - sorted[i] > gap) [gap, threshold] = [sorted[i + 1] - sorted[i], (sorted[i] + sorted[i + 1]) / 2];
    }
    const unfiltered = Uint8Array.from(p, (x) => (x > threshold ? 1 : 0));
    let minSize = 0;
    for (const m of [2, 3, 5, 8, 13, 21, 34, 55, 89]) {
      const kept = removeSmallObjects(unfiltered, vol.shape, m);
      const removed = unfiltered.reduce((s, x) => s + x, 0) - kept.reduce((s, x) => s + x, 0);
      if (removed > 0 && removed < 0.5 * unfiltered.reduce((s, x) => s + x, 0)) {
        minSize = m;
        break;
      }
    }
    const r = await segment(engine, vol, { ...base, threshold, minSize });
    const nodeSeconds = (performance.now() - tn) / 1000;
    const refMask = r.mask.data as Uint8Array;
    const refProb = r.probabilities!.data as Float32Array;
    ref = { mask: refMask, prob: refProb, threshold, minSize };
    const vessel = refMask.reduce((s, x) => s + x, 0);
    expect(vessel).toBeGreaterThan(0.05 * refMask.length);
    expect(vessel).toBeLessThan(0.5 * refMask.length);

    // The page, as a person would use it.
    const pg = page!;
    await pg.setInputFiles('#volume', input);
    expect((await settle(pg)).state).toBe('idle');
    expect(await pg.textContent('#volume-info')).toContain('40 × 30 × 27 voxels');
    await pg.setInputFiles('#weights', pt);
    await pg.fill('#patch', '32');
    await pg.fill('#overlap', '0.5');
    await pg.fill('#threshold', String(threshold));
    await pg.fill('#min-size', String(minSize));
    await pg.check('#want-prob');
    const tb = performance.now();
    await pg.click('#run');
    const done = await settle(pg);
    const browserSeconds = (performance.now() - tb) / 1000;
    expect(done.error).toBe('');
    expect(done.state).toBe('done');

    const maskFile = await downloadOf(pg, '#download-mask');
    const probFile = await downloadOf(pg, '#download-prob');
    expect(maskFile.name).toBe('octa crop_pred.nii.gz');
    expect(probFile.name).toBe('octa crop_prob.nii.gz');
    const mask = decodeVolume(maskFile.bytes, 'nifti', maskFile.name);
    const prob = decodeVolume(probFile.bytes, 'nifti', probFile.name);

    // Geometry: the input's shape, spacing, origin, direction and affine.
    for (const out of [mask, prob]) {
      expect(out.shape).toEqual(vol.shape);
      for (const k of ['spacing', 'origin', 'direction', 'affine'] as const) {
        for (let i = 0; i < vol[k].length; i++) expect(Math.abs(out[k][i] - vol[k][i]), `${k}[${i}]`).toBeLessThan(1e-6);
      }
    }
    expect(mask.dtype).toBe('uint8');
    expect(prob.dtype).toBe('float32');

    // The mask: equal to Node's, except where Node's probability is within NEAR of the threshold.
    let differ = 0;
    let near = 0;
    const unexplained: string[] = [];
    let maxDp = 0;
    for (let i = 0; i < refMask.length; i++) {
      const isNear = Math.abs(refProb[i] - threshold) <= NEAR;
      if (isNear) near++;
      if (mask.data[i] !== refMask[i]) {
        differ++;
        if (!isNear && unexplained.length < 5) unexplained.push(`voxel ${i}: browser ${mask.data[i]}, node ${refMask[i]} (p ${refProb[i]})`);
      }
      maxDp = Math.max(maxDp, Math.abs(prob.data[i] - refProb[i]));
    }
    console.log(
      `segment page: ${vol.shape.join('×')} volume, patch 32, overlap 0.5 (${r.stats.windows} windows), threshold ${threshold.toPrecision(6)} ` +
        `(gap ${gap.toExponential(1)}), min size ${minSize}; vessel ${vessel} voxels; browser run ${browserSeconds.toFixed(1)} s (SwiftShader), ` +
        `Node two runs ${nodeSeconds.toFixed(1)} s; masks differ at ${differ} voxel(s), ${near} within ${NEAR} of the threshold; ` +
        `max |p_browser − p_node| ${maxDp.toExponential(2)}`,
    );
    expect(unexplained).toEqual([]);
    expect(maxDp).toBeLessThan(1e-4);
    expect(await pg.textContent('#summary')).toMatch(/Vessels: [\d.]+ % of the image/);
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('segments a NumPy volume with safetensors weights (the 91 canonical keys): the downloaded .npy mask is the same', async () => {
    expect(ref, 'the NIfTI case runs first').not.toBeNull();
    const pg = page!;
    const npy = join(work, 'crop.npy');
    writeFileSync(npy, encodeVolume(vol, 'npy').bytes);
    const st = join(work, 'small.safetensors');
    writeFileSync(st, writeSafetensors(loadWeights(pt).tensors));
    await pg.setInputFiles('#volume', npy);
    expect((await settle(pg)).state).toBe('idle');
    await pg.setInputFiles('#weights', st);
    // Settings stay as the previous run left them (patch 32, overlap 0.5, the threshold, the minimum size).
    expect(Number(await pg.inputValue('#threshold'))).toBe(ref!.threshold);
    await pg.uncheck('#want-prob');
    const t0 = performance.now();
    await pg.click('#run');
    const done = await settle(pg);
    expect(done.error).toBe('');
    expect(done.state).toBe('done');
    expect(await pg.textContent('#weights-info')).toContain('DynUNet, 6 levels, filters 4-8-8-16-16-16');
    expect(await pg.isHidden('#download-prob')).toBe(true);
    const m = await downloadOf(pg, '#download-mask');
    expect(m.name).toBe('crop_pred.npy');
    const mask = decodeVolume(m.bytes, 'npy', m.name);
    expect(mask.shape).toEqual(vol.shape);
    const off: number[] = [];
    for (let i = 0; i < ref!.mask.length; i++) if (mask.data[i] !== ref!.mask[i] && Math.abs(ref!.prob[i] - ref!.threshold) > NEAR) off.push(i);
    console.log(`segment page (.npy + safetensors): ${((performance.now() - t0) / 1000).toFixed(1)} s in the browser`);
    expect(off).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('stops a run on request, saves nothing, and the next run gives the same mask again', async () => {
    const pg = page!;
    await pg.setInputFiles('#volume', input);
    expect((await settle(pg)).state).toBe('idle');
    await pg.check('#tta'); // 2 windows × 8 mirrorings: long enough to stop in the middle
    await pg.click('#run');
    await pg.waitForFunction(() => (document.getElementById('progress') as HTMLProgressElement).value >= 1, undefined, { timeout: 60_000 });
    expect(await pg.isDisabled('#volume')).toBe(true); // files and settings are locked while it runs
    await pg.click('#stop');
    const r = await settle(pg);
    expect(r.error).toBe('');
    expect(r.state).toBe('idle');
    expect(await pg.textContent('#status')).toBe('Stopped; nothing was saved.');
    expect(await pg.isHidden('#downloads')).toBe(true);
    expect(await pg.isDisabled('#volume')).toBe(false);

    await pg.uncheck('#tta');
    await pg.click('#run');
    const done = await settle(pg);
    expect(done.error).toBe('');
    expect(done.state).toBe('done');
    const m = await downloadOf(pg, '#download-mask');
    const mask = decodeVolume(m.bytes, 'nifti', m.name);
    const off: number[] = [];
    for (let i = 0; i < ref!.mask.length; i++) if (mask.data[i] !== ref!.mask[i] && Math.abs(ref!.prob[i] - ref!.threshold) > NEAR) off.push(i);
    expect(off).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('reads a MetaImage header chosen together with its .raw, and a TIFF stack', async () => {
    const pg = page!;
    const { bytes, extra } = encodeVolume(vol, 'metaimage', { dataFile: 'pair.raw' });
    writeFileSync(join(work, 'pair.mhd'), bytes);
    writeFileSync(join(work, 'pair.raw'), extra!);
    await pg.setInputFiles('#volume', [join(work, 'pair.mhd'), join(work, 'pair.raw')]);
    expect((await settle(pg)).state).toBe('idle');
    expect(await pg.textContent('#volume-info')).toMatch(/^pair\.mhd: 40 × 30 × 27 voxels \(z, y, x\), float32, spacing 0\.9 × 0\.6 × 0\.5/);
    // Its orientation gives the views anatomical names.
    expect(await pg.textContent('#caption-0')).toMatch(/^Projection along z \((axial|coronal|sagittal)\), 30×27 voxels$/);

    await pg.setInputFiles('#volume', join(work, 'pair.mhd'));
    const r = await settle(pg);
    expect(r.state).toBe('error');
    expectOneLine(r.error, /pair\.mhd: its voxels are in 'pair\.raw'; choose both files together/);

    const tif = join(work, 'crop.tif');
    writeFileSync(tif, encodeVolume(vol, 'tiff').bytes);
    await pg.setInputFiles('#volume', tif);
    expect((await settle(pg)).state).toBe('idle');
    expect(await pg.textContent('#volume-info')).toMatch(/^crop\.tif: 40 × 30 × 27 voxels/);
    expect(await pg.textContent('#caption-2')).toBe('Projection along x, 40×30 voxels');
    expect(pageErrors).toEqual([]);
  });

  it('says in one line what is wrong with a broken image, an unsupported file and weights that are not a checkpoint', async () => {
    const pg = page!;
    const broken = join(work, 'broken.nii.gz');
    writeFileSync(broken, Uint8Array.from({ length: 700 }, (_, i) => (i * 37 + 11) & 255));
    await pg.setInputFiles('#volume', broken);
    let r = await settle(pg);
    expect(r.state).toBe('error');
    expectOneLine(r.error, /broken\.nii\.gz/);
    expect(await pg.isDisabled('#run')).toBe(true);

    const notes = join(work, 'notes.txt');
    writeFileSync(notes, 'not an image');
    await pg.setInputFiles('#volume', notes);
    r = await settle(pg);
    expect(r.state).toBe('error');
    expectOneLine(r.error, /notes\.txt: not an image type/);

    // A good image with the image itself given as the weights.
    await pg.setInputFiles('#volume', input);
    expect((await settle(pg)).state).toBe('idle');
    await pg.setInputFiles('#weights', input);
    await pg.click('#run');
    r = await settle(pg);
    expect(r.state).toBe('error');
    expectOneLine(r.error, /octa crop\.nii\.gz: not a model checkpoint/);
    console.log(`error lines seen, e.g.: ${r.error}`);

    // Window sizes the network cannot take, or this GPU cannot hold.
    await pg.setInputFiles('#weights', pt);
    await pg.fill('#patch', '48');
    await pg.click('#run');
    r = await settle(pg);
    expectOneLine(r.error, /^Window size 48 must be a multiple of 32 for this model/);
    await pg.fill('#patch', '2048');
    await pg.click('#run');
    r = await settle(pg);
    expect(r.state).toBe('error');
    expectOneLine(r.error, /^Window size 2048 needs \d+ MiB GPU buffers and this GPU allows \d+ MiB; use \d+ or less$/);
    console.log(`too large a window: ${r.error}`);
    await pg.fill('#patch', '32');
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('without WebGPU says so in one line and keeps the Segment button off', async () => {
    const p2 = await ctx!.newPage();
    try {
      await p2.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }));
      await p2.goto(`${server!.url}segment.html`);
      await p2.waitForFunction(() => document.body.dataset.state === 'no-gpu', undefined, { timeout: 20_000 });
      expectOneLine((await p2.textContent('#error')) ?? '', /^No WebGPU adapter: /);
      expect(await p2.textContent('#gpu')).toContain('WebGPU is not available');
      await p2.setInputFiles('#volume', input);
      await p2.waitForFunction(() => (document.getElementById('volume-info')?.textContent ?? '') !== '');
      expect(await p2.isDisabled('#run')).toBe(true);
      expect(await p2.textContent('#error')).toMatch(/^No WebGPU adapter: /);
      expect(await p2.getAttribute('body', 'data-state')).toBe('no-gpu');
    } finally {
      await p2.close();
    }
  });
});

describe('npm run web', () => {
  it('builds the bundle, serves it on 127.0.0.1 and prints the page address', async () => {
    const child = spawn(process.execPath, ['scripts/web.mjs', '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let text = '';
      const url = await new Promise<string>((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`no address printed within 30 s:\n${text}`)), 30_000);
        const seen = (d: Buffer) => {
          text += d.toString();
          const m = /vesselFM segmentation page: (http:\/\/127\.0\.0\.1:\d+\/segment\.html)/.exec(text);
          if (m) {
            clearTimeout(timer);
            ok(m[1]);
          }
        };
        child.stdout.on('data', seen);
        child.stderr.on('data', seen);
        child.on('exit', (code) => fail(new Error(`web exited (${code}) before serving:\n${text}`)));
      });
      const html = await fetch(url);
      expect(html.status).toBe(200);
      expect(await html.text()).toContain('<script type="module" src="./segment.js"></script>');
      const js = await fetch(new URL('segment.js', url));
      expect(js.status).toBe(200);
      expect(js.headers.get('content-type')).toMatch(/javascript/);
    } finally {
      child.kill('SIGTERM');
    }
  }, 60_000);

  it('refuses a bad port in one line', () => {
    const r = spawnSync(process.execPath, ['scripts/web.mjs', '--port', 'eighty'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('web: --port must be a port number (0 to 65535), got "eighty"');
  });
});
