// `vesselfm drand`: generate D_drand image/mask pairs on the GPU (spec §4) — or, with --preview, one sample through
// every stage of the chain as a labelled PNG strip.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { VesselError } from '../src/gpu/errors.js';
import type { Engine } from '../src/engine.js';
import { writeBytesAtomic, writePng } from '../src/io/files.js';
import { writeNpy } from '../src/io/npy.js';
import { encodeVolume, makeVolume } from '../src/io/volume-codec.js';
import { mouldFiles } from '../src/data/drand/moulds-node.js';
import { MouldBank, type MouldSource } from '../src/data/drand/moulds.js';
import { labelledGrid, mipImage, upscale } from '../src/data/drand/preview.js';
import { drawSample, generateSample, parseShard, sampleRng, shardIndices, type SampleOptions } from '../src/data/drand/sample.js';
import { sampleIntensityAll } from '../src/data/drand/params.js';
import type { Tensor } from '../src/tensor/tensor.js';
import type { Image8 } from '../src/io/png.js';
import { addDeviceOptions, engineFrom, jsonLine, type DeviceOptions, int } from './common.js';

interface DrandCliOptions extends DeviceOptions {
  count: string;
  size: string;
  out?: string;
  seed: string;
  shard?: string;
  moulds?: string;
  procedural?: boolean;
  format: string;
  json?: boolean;
  preview?: boolean;
  normStride: string;
  sheet: string;
  rotate: string;
}

/** Read a volume tensor back as float32 (u8 moulds widened). */
export async function readF32(t: Tensor): Promise<Float32Array> {
  const d = await t.read();
  return d instanceof Float32Array ? d : Float32Array.from(d);
}

export interface DrandRun {
  engine: Engine;
  bank: MouldBank;
  seed: number;
  size: number;
  options: SampleOptions;
}

/** Generate sample `index` and read it back: image f32 in [0, 1] and mask 0/1 bytes. */
export async function generateHost(r: DrandRun, index: number): Promise<{ image: Float32Array; mask: Uint8Array }> {
  const p = drawSample(r.bank, r.seed, index, r.options);
  const s = generateSample(r.bank, p, r.options);
  try {
    const image = await readF32(s.image);
    const m = await readF32(s.mask);
    const mask = new Uint8Array(m.length);
    for (let i = 0; i < m.length; i++) mask[i] = m[i] > 0.5 ? 1 : 0;
    return { image, mask };
  } finally {
    s.image.dispose();
    s.mask.dispose();
  }
}

function writeSample(dir: string, format: 'npy' | 'nii.gz', n: number, image: Float32Array, mask: Uint8Array): void {
  mkdirSync(dir, { recursive: true });
  const shape: [number, number, number] = [n, n, n];
  if (format === 'npy') {
    writeBytesAtomic(join(dir, 'img.npy'), writeNpy({ data: image, shape, dtype: 'float16' }));
    writeBytesAtomic(join(dir, 'mask.npy'), writeNpy({ data: mask, shape, dtype: 'bool' }));
  } else {
    writeBytesAtomic(join(dir, 'img.nii.gz'), encodeVolume(makeVolume(image, shape), 'nifti', { gzip: true }).bytes);
    writeBytesAtomic(join(dir, 'mask.nii.gz'), encodeVolume(makeVolume(mask, shape), 'nifti', { gzip: true }).bytes);
  }
}

const STAGE_LABELS: Record<string, string> = {
  mould: 'mould',
  resampled: 'label xform',
  binarySmooth: 'binary smooth',
  background: 'background',
  foreground: 'fg artifact',
  composite: 'composite',
  biasField: 'bias field',
  gaussianNoise: 'gauss noise',
  kspaceSpike: 'k-space spike',
  contrast: 'contrast',
  smooth: 'smooth',
  rician: 'rician',
  gibbs: 'gibbs',
  sharpen: 'sharpen',
  histogramShift: 'hist shift',
  clamp: 'clamp = img',
};

/** One sample through every stage: labelled MIP panels (axis 0). Every intensity step is switched on. */
export async function previewSample(r: DrandRun, index: number): Promise<{ image: Image8; stages: string[] }> {
  const e = r.engine;
  const p = drawSample(r.bank, r.seed, index, r.options);
  p.intensity = sampleIntensityAll(sampleRng(r.seed, index).fork(5), [r.size, r.size, r.size]);
  const copies: { name: string; t: Tensor }[] = [];
  const s = generateSample(r.bank, p, r.options, (name, y) => {
    const c = e.keep(e.empty(y.shape, y.dtype));
    e.rt.copy(y.buffer, 0, c.buffer, 0, y.storage.bytes);
    copies.push({ name, t: c });
  });
  s.image.dispose();
  s.mask.dispose();
  const panels: { image: Image8; label: string }[] = [];
  const f = Math.max(1, Math.round(128 / r.size));
  for (const { name, t } of copies) {
    let data = await readF32(t);
    let shape = t.shape;
    if (name === 'mould' && shape.some((m) => m !== r.size)) {
      // A real mould: show the crop window the sample takes from it.
      const n = r.size;
      const [c0, c1, c2] = p.spatial.crop;
      const win = new Float32Array(n * n * n);
      for (let z = 0; z < n; z++)
        for (let y = 0; y < n; y++)
          for (let x = 0; x < n; x++) win[(z * n + y) * n + x] = data[((z + c0) * shape[1] + y + c1) * shape[2] + x + c2];
      data = win;
      shape = [n, n, n];
    }
    const range: [number, number] | undefined = name === 'foreground' ? undefined : [0, 1];
    panels.push({ image: upscale(mipImage(data, shape, range), f), label: STAGE_LABELS[name] ?? name });
    t.dispose();
  }
  return { image: labelledGrid(panels, 6), stages: copies.map((c) => c.name) };
}

export function makeBank(engine: Engine, size: number, o: { moulds?: string; procedural?: boolean }): MouldBank {
  if (o.moulds && o.procedural) throw new VesselError('--moulds and --procedural exclude each other');
  const source: MouldSource = o.moulds ? mouldFiles(o.moulds, size, 'auto') : { kind: 'procedural' };
  return new MouldBank(engine, source, size);
}

export function registerDrand(program: Command): void {
  const cmd = program
    .command('drand')
    .description('generate D_drand domain-randomised image/mask pairs on the GPU (procedural or real vessel moulds)')
    .option('--count <n>', 'samples in the whole data set (indices 0 … n − 1)', '16')
    .option('--size <n>', 'edge of the cubic samples (upstream: 128)', '128')
    .option('--out <path>', 'output folder (<i>/img.npy, <i>/mask.npy, contact_sheet.png); with --preview the PNG file')
    .option('--seed <s>', 'data-set seed: sample i is a pure function of (seed, i)', '0')
    .option('--shard <k/n>', 'write only the indices i ≡ k (mod n), so n machines split one data set')
    .option('--moulds <dir>', 'folder of binary vessel masks (.npy, .nii, .nii.gz, .tif; sub-folders searched)')
    .option('--procedural', 'procedural vessel trees as moulds (the default without --moulds)')
    .option('--format <fmt>', 'npy (float16 image, bool mask, like upstream) or nii.gz', 'npy')
    .option('--norm-stride <n>', 'background min-max on every n-th voxel per axis (1 = exact, as upstream)', '1')
    .option('--sheet <n>', 'samples shown on the contact sheet', '16')
    .option('--rotate <p>', 'probability of an arbitrary 3D rotation of the label (beyond upstream; resampled with the rest)', '0')
    .option('--preview', 'write one sample through every stage of the chain as a PNG strip instead')
    .option('--json', 'print one JSON summary line at the end');
  addDeviceOptions(cmd);
  cmd.action(async (o: DrandCliOptions) => {
    const size = int(o.size, '--size', 8);
    const seed = int(o.seed, '--seed');
    const normStride = int(o.normStride, '--norm-stride', 1);
    const format = o.format === 'npy' || o.format === 'nii.gz' ? o.format : null;
    if (!format) throw new VesselError(`--format must be npy or nii.gz, got "${o.format}"`);
    const engine = await engineFrom(o);
    const bank = makeBank(engine, size, o);
    const pRotate = Number(o.rotate);
    if (!(pRotate >= 0 && pRotate <= 1)) throw new VesselError(`--rotate must be a probability in [0, 1], got "${o.rotate}"`);
    const run: DrandRun = { engine, bank, seed, size, options: { normStride, spatial: { pRotate } } };

    if (o.preview) {
      const out = o.out ?? 'drand_preview.png';
      const index = o.shard ? parseShard(o.shard)[0] : 0;
      const t0 = performance.now();
      const pv = await previewSample(run, index);
      writePng(out, pv.image);
      const res = { preview: out, seed, index, size, stages: pv.stages, seconds: (performance.now() - t0) / 1000 };
      if (o.json) jsonLine(res);
      else process.stdout.write(`preview of sample ${index} (seed ${seed}, ${size}³): ${out}\nstages: ${pv.stages.join(' → ')}\n`);
      bank.dispose();
      return;
    }

    if (!o.out) throw new VesselError('--out <dir> is required (or --preview)');
    const count = int(o.count, '--count');
    const [k, n] = o.shard ? parseShard(o.shard) : [0, 1];
    const indices = shardIndices(count, k, n);
    mkdirSync(o.out, { recursive: true });
    const sheetN = int(o.sheet, '--sheet');
    const panels: { image: Image8; label: string }[] = [];
    const bar = new cliProgress.SingleBar(
      { format: 'drand |{bar}| {value}/{total} samples | {rate} samples/s | ETA {eta_formatted}', stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    const useBar = !o.json && process.stderr.isTTY;
    if (useBar) bar.start(indices.length, 0, { rate: '-' });
    const t0 = performance.now();
    let done = 0;
    try {
      for (const i of indices) {
        const { image, mask } = await generateHost(run, i);
        writeSample(join(o.out, String(i)), format, size, image, mask);
        if (panels.length < 2 * sheetN) {
          const f = Math.max(1, Math.round(96 / size));
          panels.push({ image: upscale(mipImage(image, [size, size, size]), f), label: `${i} img` });
          panels.push({ image: upscale(mipImage(mask, [size, size, size], [0, 1]), f), label: `${i} mask` });
        }
        done++;
        if (useBar) bar.update(done, { rate: (done / ((performance.now() - t0) / 1000)).toFixed(2) });
      }
    } finally {
      if (useBar) bar.stop();
    }
    const seconds = (performance.now() - t0) / 1000;
    const sheet = join(o.out, indices.length ? `contact_sheet${n > 1 ? `_shard${k}of${n}` : ''}.png` : '');
    if (panels.length) writePng(sheet, labelledGrid(panels, 8));
    const res = {
      out: o.out,
      samples: done,
      indices: n > 1 ? `i ≡ ${k} (mod ${n})` : `0…${count - 1}`,
      size,
      seed,
      format,
      moulds: o.moulds ?? 'procedural',
      seconds,
      samplesPerSecond: done / seconds,
      contactSheet: panels.length ? sheet : null,
    };
    if (o.json) jsonLine(res);
    else {
      process.stdout.write(
        `wrote ${done} samples (${size}³, ${format}) to ${o.out} in ${seconds.toFixed(1)} s: ${(done / seconds).toFixed(2)} samples/s` +
          `${panels.length ? `; contact sheet ${sheet}` : ''}\n`,
      );
    }
    bank.dispose();
  });
}
