// Writing D_flow samples to disk (Node): masks from sample folders (`<i>/mask.npy`, D_drand output or real labels;
// the mask is loaded explicitly, not by directory order — spec §5.5), one image per mask sampled with the Euler
// solver, written as `<out>/<i>/img.npy` (float16, [0, 1]) + `<out>/<i>/mask.npy` (bool) like D_drand, plus a PNG
// contact sheet of mask and image MIPs and `samples.json` (class, guidance weight and variant draws per sample).
// The initial noise of sample i is Philox normal at (seed, i·voxels), or the given `.npy` (one volume of the mask's
// shape, or [count, …] for several); the cfg_rand / interpolate draws of sample i are a function of (seed, i); so
// every sample is a pure function of (weights, mask, class, noise, steps, guidance, variant) whatever the batch:
// `batch` consecutive masks of one shape go through the Euler loop together as one network batch.
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../engine.js';
import { VesselError } from '../gpu/errors.js';
import { readNpyFile, writeBytesAtomic, writePng } from '../io/files.js';
import { npyToFloat32, writeNpy } from '../io/npy.js';
import { mip, strip, toGrey8, type Image8 } from '../io/png.js';
import type { FlowUNet } from '../models/flow-unet.js';
import { concat, normal } from '../tensor/math.js';
import { noiseSeedOf } from './train-node.js';
import { drawSampleParams, eulerSample, type CfgVariant } from './sample.js';

export interface MaskRef {
  name: string;
  path: string;
}

/** The masks of a folder: `<dir>/<i>/mask*.npy` in natural order, or `<dir>/mask*.npy` itself. */
export function maskFolders(dir: string): MaskRef[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new VesselError(`--masks: ${dir}: no such folder`);
  const pick = (d: string): string | null => {
    const files = readdirSync(d).filter((f) => f.endsWith('.npy'));
    if (files.includes('mask.npy')) return join(d, 'mask.npy');
    const hit = files.filter((f) => /mask/i.test(f)).sort();
    return hit.length ? join(d, hit[0]) : null;
  };
  const self = pick(dir);
  if (self) return [{ name: '0', path: self }];
  const subs = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const out: MaskRef[] = [];
  for (const s of subs) {
    const p = pick(join(dir, s));
    if (p) out.push({ name: s, path: p });
  }
  if (out.length === 0) throw new VesselError(`--masks: ${dir} holds no mask files (expected <i>/mask.npy)`);
  return out;
}

export interface GenerateOptions {
  masks: MaskRef[];
  out: string;
  classes: number[];
  steps: number;
  /** CFG weight w (cfg_rand: the upper end w_max of its uniform draw) */
  guidance: number;
  seed: number;
  /** sampling variants (spec §5.4): standard (default), or a combination of bg, rand, interpolate */
  variants?: ReadonlySet<CfgVariant>;
  /** masks advanced together through the Euler loop (one network batch, 2·batch with CFG); default 1 */
  batch?: number;
  /** initial noise for every sample, [count, D, H, W] (or one volume for one sample) */
  noise?: { data: Float32Array; shape: number[] } | null;
  onSample?: (i: number, seconds: number) => void;
}

export interface GeneratedSample {
  index: number;
  name: string;
  class: number;
  guidance: number;
  y2?: number;
  mix_weight?: number;
}

export interface GenerateResult {
  count: number;
  shape: number[];
  sheet: string;
  /** `<out>/samples.json`: the class and variant draws of every sample */
  record: string;
  samples: GeneratedSample[];
  secondsPerSample: number;
}

function loadMask(ref: MaskRef): { data: Float32Array; shape: number[] } {
  const a = readNpyFile(ref.path);
  const shape = [...a.shape];
  if (shape.length === 4 && shape[0] === 1) shape.shift();
  if (shape.length !== 3) throw new VesselError(`${ref.path}: a mask must be a 3D volume, got shape [${a.shape.join(', ')}]`);
  const v = npyToFloat32(a);
  const data = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) data[i] = v[i] > 0 ? 1 : 0;
  return { data, shape };
}

/** Rows of panels stacked top to bottom (RGB). */
function stackRows(rows: Image8[], gap = 4, background = 32): Image8 {
  const width = Math.max(...rows.map((r) => r.width));
  const height = rows.reduce((s, r) => s + r.height, 0) + gap * (rows.length - 1);
  const out = new Uint8Array(width * height * 3).fill(background);
  let y0 = 0;
  for (const r of rows) {
    for (let y = 0; y < r.height; y++) out.set(r.data.subarray(y * r.width * 3, (y + 1) * r.width * 3), ((y0 + y) * width) * 3);
    y0 += r.height + gap;
  }
  return { width, height, channels: 3, data: out };
}

/** Sample one image per mask and write them (and the contact sheet) under `o.out`. */
export async function generateToDisk(engine: Engine, net: FlowUNet, o: GenerateOptions): Promise<GenerateResult> {
  const e = engine;
  const count = o.masks.length;
  if (o.classes.length !== count) throw new VesselError(`flow sample: ${count} masks but ${o.classes.length} classes`);
  const batch = o.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1) throw new VesselError(`--batch must be a positive integer, got ${batch}`);
  const variants = o.variants ?? new Set<CfgVariant>(['standard']);
  const region = variants.has('bg') ? 'background' : 'all';
  const d = net.divisor;
  // every random choice is made per sample index before anything runs (bad classes fail before any output)
  const draws = o.classes.map((y, i) => drawSampleParams(o.seed, i, { variants, guidance: o.guidance, y, numClasses: net.config.numClasses }));
  mkdirSync(o.out, { recursive: true });
  const rows: Image8[] = [];
  const samples: GeneratedSample[] = [];
  let firstShape: number[] = [];
  let total = 0;
  let i = 0;
  while (i < count) {
    // a chunk: up to `batch` consecutive masks of the same shape
    const chunk: { data: Float32Array; shape: number[] }[] = [];
    while (chunk.length < batch && i + chunk.length < count) {
      const k = i + chunk.length;
      const m = loadMask(o.masks[k]);
      if (m.shape.some((s) => s % d !== 0)) throw new VesselError(`${o.masks[k].path}: mask [${m.shape.join(', ')}] — every side must be a multiple of ${d} for this network`);
      if (chunk.length && m.shape.some((s, a) => s !== chunk[0].shape[a])) break;
      chunk.push(m);
    }
    const b = chunk.length;
    const vol = chunk[0].shape;
    if (i === 0) firstShape = vol;
    const n = chunk[0].data.length;
    const noises: (Float32Array | null)[] = chunk.map((m, c) => {
      if (!o.noise) return null;
      const ns = o.noise.shape;
      const per = ns.length === 3 ? 1 : ns[0];
      if (ns.slice(-3).some((s, a) => s !== m.shape[a]) || (ns.length !== 3 && ns.length !== 4)) {
        throw new VesselError(`--noise: shape [${ns.join(', ')}] does not fit mask ${o.masks[i + c].path} [${m.shape.join(', ')}] (one volume, or [count, D, H, W])`);
      }
      if (i + c >= per) throw new VesselError(`--noise holds ${per} volume(s) but ${count} samples are asked for`);
      return o.noise.data.subarray((i + c) * n, (i + c + 1) * n);
    });
    const ds = draws.slice(i, i + b);
    const ys = o.classes.slice(i, i + b);
    const interp = variants.has('interpolate');
    const t0 = performance.now();
    const img = await e.scopeAsync(async () => {
      const maskData = new Float32Array(b * n);
      chunk.forEach((m, c) => maskData.set(m.data, c * n));
      const mask = e.tensor(maskData, [b, 1, ...vol]);
      // sample j's noise is Philox normal at (seed, j·voxels) (or its slice of --noise), whatever the batch
      const parts = noises.map((z, c) => (z ? e.tensor(z, [1, 1, ...vol]) : normal(e, [1, 1, ...vol], 0, 1, noiseSeedOf(o.seed), (i + c) * n)));
      const x0 = b === 1 ? parts[0] : concat(parts, 0);
      const x = await eulerSample(net, mask, ys, x0, {
        steps: o.steps,
        guidance: ds.map((r) => r.guidance),
        region,
        mix: interp ? { y2: ds.map((r) => r.y2!), w: ds.map((r) => r.mixWeight!) } : null,
      });
      return (await x.read()) as Float32Array;
    });
    const secs = (performance.now() - t0) / 1000;
    total += secs;
    for (let c = 0; c < b; c++) {
      const k = i + c;
      o.onSample?.(k, secs / b);
      const m = chunk[c];
      const im = img.subarray(c * n, (c + 1) * n);
      const dir = join(o.out, String(k));
      mkdirSync(dir, { recursive: true });
      const mask8 = Uint8Array.from(m.data, (v) => (v > 0 ? 1 : 0));
      writeBytesAtomic(join(dir, 'img.npy'), writeNpy({ data: im, shape: m.shape, dtype: 'float16' }));
      writeBytesAtomic(join(dir, 'mask.npy'), writeNpy({ data: mask8, shape: m.shape, dtype: 'bool' }));
      if (rows.length < 16) rows.push(strip([toGrey8(mip(m.data, m.shape, 0), [0, 1]), toGrey8(mip(im, m.shape, 0), [0, 1])]));
      const r = ds[c];
      samples.push({ index: k, name: o.masks[k].name, class: ys[c], guidance: r.guidance, ...(r.y2 !== undefined ? { y2: r.y2, mix_weight: r.mixWeight } : {}) });
    }
    i += b;
  }
  const sheet = join(o.out, 'sheet.png');
  writePng(sheet, stackRows(rows));
  const record = join(o.out, 'samples.json');
  const variantList = [...variants].join(',');
  writeBytesAtomic(record, new TextEncoder().encode(JSON.stringify({ steps: o.steps, guidance: o.guidance, cfg: variantList, seed: o.seed, samples }, null, 1) + '\n'));
  return { count, shape: firstShape, sheet, record, samples, secondsPerSample: total / count };
}
