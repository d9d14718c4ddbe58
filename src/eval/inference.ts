// Sliding-window inference exactly as vesselFM runs it (spec §2.3–2.6): percentile scaling (1–99, clipped to [0,1])
// of the whole volume, zero padding of axes shorter than the window, MONAI's window grid with 50 % overlap, a plain
// average of the windows' logits, sigmoid, a strict > threshold; optional mirror test-time augmentation (mean of
// logits over the 8 mirrorings) and removal of 26-connected components below a size.
//
// Volumes that fit one storage binding stay on the GPU: windows are cropped and their logits accumulated by WGSL
// kernels, and the summed logits are read back once. Larger volumes stream: each batch of windows is cut on the
// CPU, uploaded, and its logits read back and accumulated on the CPU, so the volume's size is bounded by host memory,
// not by the GPU.
import { accumulateWindow, cropWindow, type Vec3 } from '../../kernels/window.js';
import { noGrad } from '../autograd/tape.js';
import { VesselError } from '../gpu/errors.js';
import type { DynUNet } from '../models/dynunet.js';
import { checkPrecision, type Precision } from '../ops/arith.js';
import type { Tensor } from '../tensor/tensor.js';
import { removeSmallObjects } from './components.js';
import { percentileScale, type PercentileScaling } from './percentile.js';

export interface SegmentOptions {
  /** Window edge (or per-axis sizes); each must be a multiple of the network's divisor (32 for vesselFM). */
  patch?: number | Vec3;
  /** Fraction of a window shared with its neighbour (MONAI's overlap); 0 ≤ overlap < 1. */
  overlap?: number;
  /** Windows per forward pass. */
  batch?: number;
  /** Voxels with probability > threshold are vessel. */
  threshold?: number;
  /** Average logits over the 8 mirrorings of each window. */
  tta?: boolean;
  /** Remove 26-connected components smaller than this (0: keep everything). */
  minSize?: number;
  /** Percentile scaling of the input (default 1–99 → [0, 1], clipped); false uses the values as they are. */
  normalize?: boolean | PercentileScaling;
  /** Also return the float32 probability map. */
  probabilities?: boolean;
  /**
   * 'f32', or 'mixed': f16 activations with the f32 weights, every sum in f32 (adapters with shader-f16; where the
   * adapter has f16 subgroup matrices the convs run on them). Half the activation memory, so twice the windows per
   * pass fit a binding. Default: the network's own setting (f32 unless changed).
   */
  precision?: Precision;
  /** 'gpu' keeps the volume on the GPU, 'stream' goes window by window through host memory; 'auto' picks. */
  mode?: 'auto' | 'gpu' | 'stream';
  /** Called with (0, total) before the first window and after every batch. */
  onProgress?: (done: number, total: number) => void;
}

export interface Segmentation {
  shape: Vec3;
  /** 0/1 per voxel, C order (z, y, x). */
  mask: Uint8Array;
  probabilities?: Float32Array;
  /** Network evaluations (windows × mirrorings). */
  windows: number;
  mode: 'gpu' | 'stream';
  /** Windows per forward pass, after capping to the storage-binding limit. */
  batch: number;
  precision: Precision;
  seconds: number;
}

/** Window origins along one axis of length L (≥ P): MONAI's dense grid, the last window shifted back to end at L. */
export function windowStarts(L: number, P: number, overlap: number): number[] {
  if (L < P) throw new VesselError(`windowStarts: axis of ${L} voxels is shorter than the ${P}-voxel window`);
  if (L === P) return [0];
  const interval = Math.max(1, Math.floor(P * (1 - overlap)));
  let n = 1;
  while ((n - 1) * interval + P < L) n++;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = i * interval;
    out.push(s - Math.max(s + P - L, 0));
  }
  return out;
}

const MIRRORS_ALL = [0, 1, 2, 4, 3, 5, 6, 7];

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/** Segment one volume (C-order data of shape [z, y, x]) with a DynUNet. */
export async function segmentVolume(net: DynUNet, data: ArrayLike<number>, shape: Vec3, opts: SegmentOptions = {}): Promise<Segmentation> {
  const t0 = performance.now();
  const engine = net.engine;
  const [Z, Y, X] = shape;
  if (shape.some((s) => !Number.isInteger(s) || s < 1)) throw new VesselError(`segment: invalid volume shape [${shape.join(', ')}]`);
  if (data.length !== Z * Y * X) throw new VesselError(`segment: ${data.length} values for a [${shape.join(', ')}] volume`);
  const P: Vec3 = typeof opts.patch === 'number' || opts.patch === undefined ? [opts.patch ?? 128, opts.patch ?? 128, opts.patch ?? 128] : opts.patch;
  const div = net.divisor;
  if (P.some((p) => p < div || p % div !== 0)) throw new VesselError(`segment: window [${P.join(', ')}] must be a multiple of ${div} on every axis`);
  const overlap = opts.overlap ?? 0.5;
  if (!(overlap >= 0 && overlap < 1)) throw new VesselError(`segment: overlap must be in [0, 1), got ${overlap}`);
  const precision = checkPrecision(engine, opts.precision ?? net.precision, 'segment: precision');
  // A batch's largest activation (a decoder level's [upsampled, skip] concatenation) must fit one storage binding.
  const pn3 = P[0] * P[1] * P[2];
  const actBytes = precision === 'mixed' ? 2 : 4;
  const perWindow = Math.max(...net.config.filters.map((f, i) => (2 * f * pn3 * actBytes) / 8 ** i));
  const batch = Math.max(1, Math.min(Math.floor(opts.batch ?? 1), Math.floor(engine.rt.maxBinding / perWindow)));
  const threshold = opts.threshold ?? 0.5;
  const mirrors = opts.tta ? MIRRORS_ALL : [0];

  // 1. Intensity scaling of the whole volume.
  let scaled: Float32Array;
  if (opts.normalize === false) scaled = Float32Array.from(data);
  else {
    for (let i = 0; i < data.length; i++) if (Number.isNaN(data[i])) throw new VesselError('segment: the volume contains NaN');
    scaled = percentileScale(data as Float32Array, opts.normalize === true || opts.normalize === undefined ? {} : opts.normalize).data;
  }

  // 2. Zero padding of short axes (floor(diff/2) before, the rest after).
  const V: Vec3 = [Math.max(Z, P[0]), Math.max(Y, P[1]), Math.max(X, P[2])];
  const before: Vec3 = [Math.floor((V[0] - Z) / 2), Math.floor((V[1] - Y) / 2), Math.floor((V[2] - X) / 2)];
  let padded = scaled;
  if (V[0] !== Z || V[1] !== Y || V[2] !== X) {
    padded = new Float32Array(V[0] * V[1] * V[2]);
    for (let z = 0; z < Z; z++) {
      for (let y = 0; y < Y; y++) {
        const src = (z * Y + y) * X;
        padded.set(scaled.subarray(src, src + X), ((z + before[0]) * V[1] + y + before[1]) * V[2] + before[2]);
      }
    }
  }

  // 3. The window grid (axis 0 slowest) × mirrorings.
  const starts = [0, 1, 2].map((a) => windowStarts(V[a], P[a], overlap));
  const items: { origin: Vec3; flip: number }[] = [];
  for (const z of starts[0]) for (const y of starts[1]) for (const x of starts[2]) for (const f of mirrors) items.push({ origin: [z, y, x], flip: f });
  const perAxisCount = [0, 1, 2].map((a) => {
    const c = new Uint16Array(V[a]);
    for (const s of starts[a]) for (let i = s; i < s + P[a]; i++) c[i]++;
    return c;
  });

  const nV = V[0] * V[1] * V[2];
  const fitsGpu = nV * 4 <= engine.rt.maxBinding && batch * P[0] * P[1] * P[2] * 4 <= engine.rt.maxBinding;
  const mode = opts.mode === 'gpu' || opts.mode === 'stream' ? opts.mode : fitsGpu ? 'gpu' : 'stream';
  if (mode === 'gpu' && !fitsGpu) throw new VesselError(`segment: a [${V.join(', ')}] volume does not fit one GPU binding; use mode 'stream'`);

  opts.onProgress?.(0, items.length);
  const wasTraining = net.training;
  const netPrecision = net.precision;
  net.eval();
  net.precision = precision;
  const pn = P[0] * P[1] * P[2];
  let sum: Float32Array;
  try {
    if (mode === 'gpu') {
      const vol = await engine.tensorAsync(padded, [nV]);
      const acc = engine.zeros([nV]);
      try {
        // One batch stays queued while the next is recorded (the GPU never waits for the CPU to record), and the
        // CPU never runs more than one batch ahead (progress stays true, errors surface within a batch).
        let inFlight: { done: Promise<unknown>; count: number } | null = null;
        for (let i = 0; i < items.length; i += batch) {
          const chunk = items.slice(i, i + batch);
          engine.scope(() => {
            const xb = engine.empty([chunk.length, 1, ...P]);
            chunk.forEach((it, b) => cropWindow(vol, V, it.origin, P, it.flip, xb, b * pn));
            const logits = noGrad(() => net.forward(xb));
            chunk.forEach((it, b) => accumulateWindow(logits, b * pn, acc, V, it.origin, P, it.flip));
          });
          engine.rt.flush();
          const done = engine.device.queue.onSubmittedWorkDone();
          if (inFlight) {
            await inFlight.done;
            engine.gpu.check();
            opts.onProgress?.(inFlight.count, items.length);
          }
          inFlight = { done, count: Math.min(i + batch, items.length) };
        }
        await engine.sync();
        if (inFlight) opts.onProgress?.(inFlight.count, items.length);
        sum = (await acc.read()) as Float32Array;
      } finally {
        vol.dispose();
        acc.dispose();
      }
    } else {
      sum = new Float32Array(nV);
      const host = new Float32Array(batch * pn);
      for (let i = 0; i < items.length; i += batch) {
        const chunk = items.slice(i, i + batch);
        chunk.forEach((it, b) => copyWindow(padded, V, it.origin, P, it.flip, host, b * pn, 'crop'));
        const logits: Float32Array = await engine.scopeAsync(async () => {
          const xb = engine.tensor(host.subarray(0, chunk.length * pn), [chunk.length, 1, ...P]);
          const out: Tensor = noGrad(() => net.forward(xb));
          return (await out.read()) as Float32Array;
        });
        chunk.forEach((it, b) => copyWindow(sum, V, it.origin, P, it.flip, logits, b * pn, 'accumulate'));
        opts.onProgress?.(Math.min(i + batch, items.length), items.length);
      }
    }
  } finally {
    net.train(wasTraining);
    net.precision = netPrecision;
  }

  // 4. Mean logits → sigmoid → threshold, cropping the padding away.
  const mask = new Uint8Array(Z * Y * X);
  const probs = opts.probabilities ? new Float32Array(Z * Y * X) : undefined;
  const [cz, cy, cx] = perAxisCount;
  for (let z = 0; z < Z; z++) {
    const pz = z + before[0];
    for (let y = 0; y < Y; y++) {
      const py = y + before[1];
      const cnt = cz[pz] * cy[py] * mirrors.length;
      const rowV = (pz * V[1] + py) * V[2] + before[2];
      const rowO = (z * Y + y) * X;
      for (let x = 0; x < X; x++) {
        const p = sigmoid(sum[rowV + x] / (cnt * cx[x + before[2]]));
        mask[rowO + x] = p > threshold ? 1 : 0;
        if (probs) probs[rowO + x] = p;
      }
    }
  }
  if (opts.minSize && opts.minSize > 0) removeSmallObjects(mask, shape, opts.minSize, 26, mask);
  return { shape, mask, probabilities: probs, windows: items.length, mode, batch, precision, seconds: (performance.now() - t0) / 1000 };
}

/** CPU twin of the window kernels: 'crop' copies volume → window slot, 'accumulate' adds window slot → volume. */
function copyWindow(vol: Float32Array, V: Vec3, o: Vec3, P: Vec3, flip: number, win: Float32Array, base: number, dir: 'crop' | 'accumulate'): void {
  let i = base;
  for (let z = 0; z < P[0]; z++) {
    const zz = o[0] + (flip & 1 ? P[0] - 1 - z : z);
    for (let y = 0; y < P[1]; y++) {
      const yy = o[1] + (flip & 2 ? P[1] - 1 - y : y);
      const row = (zz * V[1] + yy) * V[2] + o[2];
      for (let x = 0; x < P[2]; x++, i++) {
        const v = row + (flip & 4 ? P[2] - 1 - x : x);
        if (dir === 'crop') win[i] = vol[v];
        else vol[v] += win[i];
      }
    }
  }
}
