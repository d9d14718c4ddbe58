// `vesselfm segment <input...> --weights <file>`: sliding-window vessel segmentation of one or more volumes with a
// DynUNet checkpoint (the released vesselFM_base.pt or our safetensors; network sizes read from it). Each output keeps
// its input's geometry and (unless told otherwise) its format, and is written atomically.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { VesselError } from '../src/gpu/errors.js';
import { formatOf, readVolume, splitArrayName, writeVolume, SUPPORTED_EXTENSIONS } from '../src/io/volume.js';
import type { DynUNet } from '../src/models/dynunet.js';
import { checkPrecision } from '../src/ops/arith.js';
import { loadSegmenter } from '../src/segment-node.js';
import { segment } from '../src/segment.js';
import { addDeviceOptions, engineFrom, jsonLine, type DeviceOptions } from './common.js';

interface SegmentCliOptions extends DeviceOptions {
  weights: string;
  output?: string;
  prob?: string;
  patch: string;
  overlap: string;
  batch: string;
  threshold: string;
  tta?: boolean;
  precision?: string;
  minSize: string;
  normalize: boolean;
  mode: string;
  format?: string;
  json?: boolean;
}

const EXTENSIONS = ['.nii.gz', '.nii', '.tiff', '.tif', '.mha', '.mhd', '.npy', '.npz'];

/** The file's name without its image extension, and that extension (`.nii.gz` counts as one). */
export function stemAndExt(path: string): { stem: string; ext: string } {
  const name = basename(splitArrayName(path).file);
  const lower = name.toLowerCase();
  for (const e of EXTENSIONS) if (lower.endsWith(e)) return { stem: name.slice(0, name.length - e.length), ext: name.slice(name.length - e.length) };
  return { stem: name, ext: '' };
}

function num(flag: string, v: string, check: (x: number) => boolean, what: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || !check(x)) throw new VesselError(`${flag} must be ${what}, got "${v}"`);
  return x;
}

function parsePatch(v: string): [number, number, number] {
  const parts = v.split(/[,x×]/).map((s) => s.trim());
  if (parts.length !== 1 && parts.length !== 3) throw new VesselError(`--patch must be one size or three (z,y,x), got "${v}"`);
  const p = parts.map((s) => num('--patch', s, (x) => Number.isInteger(x) && x > 0, 'a positive integer (or three, z,y,x)'));
  return parts.length === 1 ? [p[0], p[0], p[0]] : [p[0], p[1], p[2]];
}

function isDirTarget(p: string): boolean {
  return p.endsWith('/') || p.endsWith(sep) || (existsSync(p) && statSync(p).isDirectory());
}

interface Target {
  input: string;
  mask: string;
  prob?: string;
}

/** Where each input's mask (and probability map) goes. */
function plan(inputs: string[], opts: SegmentCliOptions): Target[] {
  const several = inputs.length > 1;
  const format = opts.format ? (opts.format.startsWith('.') ? opts.format : `.${opts.format}`) : undefined;
  if (format && !formatOf(`x${format}`)) throw new VesselError(`--format ${opts.format}: not an image format (${SUPPORTED_EXTENSIONS})`);
  const place = (flag: string, given: string | undefined, input: string, suffix: string): string => {
    const { stem, ext } = stemAndExt(input);
    const name = `${stem}_${suffix}${format ?? ext}`;
    if (given === undefined) return join(dirname(splitArrayName(input).file), name);
    if (several && !existsSync(given) && formatOf(splitArrayName(given).file)) {
      throw new VesselError(`${flag} ${given}: with several inputs this must be a folder, not an image file name`);
    }
    if (several || isDirTarget(given)) {
      if (existsSync(given) && !statSync(given).isDirectory()) throw new VesselError(`${flag} ${given}: with several inputs this must be a folder, and it is a file`);
      return join(given, name);
    }
    if (!formatOf(splitArrayName(given).file)) throw new VesselError(`${flag} ${given}: unknown image file extension (supported: ${SUPPORTED_EXTENSIONS})`);
    return given;
  };
  const targets = inputs.map((input) => ({
    input,
    mask: place('-o', opts.output, input, 'pred'),
    prob: opts.prob !== undefined ? place('--prob', opts.prob, input, 'prob') : undefined,
  }));
  const seen = new Map<string, string>();
  for (const t of targets) {
    const file = splitArrayName(t.input).file;
    if (!existsSync(file)) throw new VesselError(`${file}: no such file`);
    if (!formatOf(file)) throw new VesselError(`${file}: unknown image file extension (supported: ${SUPPORTED_EXTENSIONS})`);
    for (const out of [t.mask, t.prob]) {
      if (!out) continue;
      const r = resolve(splitArrayName(out).file);
      if (r === resolve(file)) throw new VesselError(`${out}: the output would overwrite its input`);
      const other = seen.get(r);
      if (other !== undefined) throw new VesselError(`${out}: two outputs would have this name (from ${other} and ${t.input})`);
      seen.set(r, t.input);
    }
  }
  return targets;
}

function ensureFolder(path: string): void {
  const dir = dirname(splitArrayName(path).file);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
}

export function registerSegment(program: Command): void {
  addDeviceOptions(program.command('segment'))
    .description('segment vessels in 3D volumes with a DynUNet checkpoint (sliding windows; outputs keep the input geometry)')
    .argument('<input...>', `image volumes (${SUPPORTED_EXTENSIONS})`)
    .requiredOption('--weights <file>', 'checkpoint: vesselFM_base.pt (torch.save state dict) or .safetensors; network sizes come from it')
    .option('-o, --output <path>', 'mask file (one input) or folder (named <stem>_pred.<input ext>); default: beside each input')
    .option('--prob <path>', 'also write the float32 probability map: a file (one input) or folder (<stem>_prob.<ext>)')
    .option('--patch <n>', 'window edge in voxels, a multiple of the network divisor (32 for vesselFM); or z,y,x', '128')
    .option('--overlap <f>', 'fraction of a window shared with its neighbour, 0 ≤ f < 1', '0.5')
    .option('--batch <n>', 'windows per forward pass', '1')
    .option('--threshold <t>', 'voxels with probability > t are vessel', '0.5')
    .option('--tta', 'mirror test-time augmentation: mean logits over the 8 mirrorings of each window')
    .option('--precision <kind>', 'f32, or mixed: f16 activations with the f32 weights, sums in f32 (adapters with shader-f16; tensor cores where the adapter has f16 subgroup matrices)', 'f32')
    .option('--min-size <n>', 'remove 26-connected components smaller than n voxels (vesselFM uses 500 when post-processing is on; 0: off)', '0')
    .option('--no-normalize', 'use intensities as stored (default: 1–99 percentile scaling to [0, 1], clipped)')
    .option('--mode <mode>', 'auto | gpu (volume on the GPU) | stream (window by window through host memory)', 'auto')
    .option('--format <ext>', 'output format by extension (e.g. nii.gz) instead of each input’s own')
    .option('--json', 'one JSON object per input on stdout instead of the summary line')
    .action(async (inputs: string[], opts: SegmentCliOptions) => {
      const patch = parsePatch(opts.patch);
      const overlap = num('--overlap', opts.overlap, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
      const batch = num('--batch', opts.batch, (x) => Number.isInteger(x) && x >= 1, 'a positive integer');
      const threshold = num('--threshold', opts.threshold, () => true, 'a number');
      const minSize = num('--min-size', opts.minSize, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
      if (!['auto', 'gpu', 'stream'].includes(opts.mode)) throw new VesselError(`--mode must be auto, gpu or stream, got "${opts.mode}"`);
      const mode = opts.mode as 'auto' | 'gpu' | 'stream';
      const precision = opts.precision ?? 'f32';
      if (precision !== 'f32' && precision !== 'mixed') throw new VesselError(`--precision must be f32 or mixed, got "${precision}"`);
      const targets = plan(inputs, opts);
      if (!existsSync(opts.weights)) throw new VesselError(`${opts.weights}: no such file`);

      const e = await engineFrom(opts);
      let net: DynUNet | undefined;
      try {
        checkPrecision(e, precision);
        const tw = performance.now();
        net = loadSegmenter(e, opts.weights);
        const loadSeconds = (performance.now() - tw) / 1000;
        const div = net.divisor;
        if (patch.some((p) => p % div !== 0)) {
          throw new VesselError(
            `--patch ${opts.patch}: every window edge must be a multiple of ${div} (this network downsamples ${Math.log2(div)} times)`,
          );
        }
        for (const t of targets) {
          const t0 = performance.now();
          const vol = readVolume(t.input);
          const bar =
            process.stderr.isTTY && !process.env.VESSELFM_NO_PROGRESS
              ? new cliProgress.SingleBar(
                  {
                    format: `${basename(t.input)} [{bar}] {value}/{total} windows | {eta_formatted} left`,
                    stream: process.stderr,
                    hideCursor: true,
                    clearOnComplete: true,
                    etaBuffer: 20,
                  },
                  cliProgress.Presets.shades_classic,
                )
              : null;
          let started = false;
          let r;
          try {
            r = await segment(e, vol, {
              weights: net,
              patch,
              overlap,
              batch,
              threshold,
              tta: opts.tta ?? false,
              precision,
              minSize,
              normalize: opts.normalize,
              mode,
              probabilities: t.prob !== undefined,
              onProgress: (done, total) => {
                if (!bar) return;
                if (!started) {
                  bar.start(total, 0);
                  started = true;
                }
                bar.update(done);
              },
            });
          } finally {
            if (started) bar?.stop();
          }
          ensureFolder(t.mask);
          writeVolume(t.mask, r.mask, vol);
          if (t.prob && r.probabilities) {
            ensureFolder(t.prob);
            writeVolume(t.prob, r.probabilities, vol);
          }
          const s = r.stats;
          const totalSeconds = (performance.now() - t0) / 1000;
          if (opts.json) {
            jsonLine({
              input: t.input,
              output: t.mask,
              probabilities: t.prob ?? null,
              weights: opts.weights,
              ...s,
              totalSeconds,
              loadWeightsSeconds: loadSeconds,
            });
          } else {
            const pct = (100 * s.vesselFraction).toFixed(s.vesselFraction < 0.001 && s.vesselFraction > 0 ? 4 : 2);
            process.stdout.write(
              `${t.mask}: [${s.shape.join(', ')}] ${s.voxels.toLocaleString('en-US')} voxels, vessel ${pct} % ` +
                `(${s.vesselVoxels.toLocaleString('en-US')}); ${s.windows} windows of ${s.patch.join('×')} in ${s.seconds.toFixed(1)} s ` +
                `(${s.windowsPerSecond.toPrecision(3)} windows/s, ${s.mode})${t.prob ? `; probabilities ${t.prob}` : ''}\n`,
            );
          }
        }
      } finally {
        net?.dispose();
        e.destroy();
      }
    });
}
