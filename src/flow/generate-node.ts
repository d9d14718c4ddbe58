// Writing D_flow samples to disk (Node): masks from sample folders (`<i>/mask.npy`, D_drand output or real labels;
// the mask is loaded explicitly, not by directory order — spec §5.5), one image per mask sampled with the Euler
// solver, written as `<out>/<i>/img.npy` (float16, [0, 1]) + `<out>/<i>/mask.npy` (bool) like D_drand, plus a PNG
// contact sheet of mask and image MIPs. The initial noise of sample i is Philox normal at (seed, i·voxels), or
// the given `.npy` (one volume of the mask's shape, or [count, …] for several), so every sample is a pure function
// of (weights, mask, class, noise, steps, guidance).
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../engine.js';
import { VesselError } from '../gpu/errors.js';
import { readNpyFile, writeBytesAtomic, writePng } from '../io/files.js';
import { npyToFloat32, writeNpy } from '../io/npy.js';
import { mip, strip, toGrey8, type Image8 } from '../io/png.js';
import type { FlowUNet } from '../models/flow-unet.js';
import { normal } from '../tensor/math.js';
import { noiseSeedOf } from './train-node.js';
import { eulerSample } from './sample.js';

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
  guidance: number;
  seed: number;
  /** initial noise for every sample, [count, D, H, W] (or one volume for one sample) */
  noise?: { data: Float32Array; shape: number[] } | null;
  onSample?: (i: number, seconds: number) => void;
}

export interface GenerateResult {
  count: number;
  shape: number[];
  sheet: string;
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
  const d = net.divisor;
  mkdirSync(o.out, { recursive: true });
  const rows: Image8[] = [];
  let firstShape: number[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const m = loadMask(o.masks[i]);
    if (m.shape.some((s) => s % d !== 0)) throw new VesselError(`${o.masks[i].path}: mask [${m.shape.join(', ')}] — every side must be a multiple of ${d} for this network`);
    if (i === 0) firstShape = m.shape;
    const n = m.data.length;
    const shape = [1, 1, ...m.shape];
    let noise: Float32Array | null = null;
    if (o.noise) {
      const ns = o.noise.shape;
      const per = ns.length === 3 ? 1 : ns[0];
      const vol = ns.slice(-3);
      if (vol.some((s, k) => s !== m.shape[k]) || (ns.length !== 3 && ns.length !== 4)) {
        throw new VesselError(`--noise: shape [${ns.join(', ')}] does not fit mask ${o.masks[i].path} [${m.shape.join(', ')}] (one volume, or [count, D, H, W])`);
      }
      if (i >= per) throw new VesselError(`--noise holds ${per} volume(s) but ${count} samples are asked for`);
      noise = o.noise.data.subarray(i * n, (i + 1) * n);
    }
    const t0 = performance.now();
    const img = await e.scopeAsync(async () => {
      const mask = e.tensor(m.data, shape);
      const x0 = noise ? e.tensor(noise, shape) : normal(e, shape, 0, 1, noiseSeedOf(o.seed), i * n);
      const x = await eulerSample(net, mask, [o.classes[i]], x0, { steps: o.steps, guidance: o.guidance });
      return (await x.read()) as Float32Array;
    });
    const secs = (performance.now() - t0) / 1000;
    total += secs;
    o.onSample?.(i, secs);
    const dir = join(o.out, String(i));
    mkdirSync(dir, { recursive: true });
    const mask8 = Uint8Array.from(m.data, (v) => (v > 0 ? 1 : 0));
    writeBytesAtomic(join(dir, 'img.npy'), writeNpy({ data: img, shape: m.shape, dtype: 'float16' }));
    writeBytesAtomic(join(dir, 'mask.npy'), writeNpy({ data: mask8, shape: m.shape, dtype: 'bool' }));
    if (rows.length < 16) rows.push(strip([toGrey8(mip(m.data, m.shape, 0), [0, 1]), toGrey8(mip(img, m.shape, 0), [0, 1])]));
  }
  const sheet = join(o.out, 'sheet.png');
  writePng(sheet, stackRows(rows));
  return { count, shape: firstShape, sheet, secondsPerSample: total / count };
}
