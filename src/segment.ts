// The segmenter as one library call: a volume and a DynUNet (or its state dict) in, a 0/1 mask with the input's
// geometry out, optionally the float32 probability map. The CLI (`vesselfm segment`) and a browser page run this
// very function; Node's entry point adds a wrapper that also takes file paths (src/segment-node.ts).
// No Node imports here.
import type { Engine } from './engine.js';
import { segmentVolume, type SegmentOptions } from './eval/inference.js';
import { VesselError } from './gpu/errors.js';
import type { TensorRecord } from './io/tensors.js';
import type { Volume, VolumeData } from './io/volume-codec.js';
import { DynUNet } from './models/dynunet.js';
import { fmtShape } from './tensor/shape.js';
import type { Tensor } from './tensor/tensor.js';

/** A checkpoint's tensors by PyTorch key (from src/io's loadWeights/withAliases, or built in a browser). */
export type StateDictInput = Map<string, TensorRecord | Tensor>;

export interface SegmentCallOptions extends Omit<SegmentOptions, 'probabilities'> {
  /** The network, or a state dict to build one from (sizes read from its shapes; disposed after the call). */
  weights: DynUNet | StateDictInput;
  /** Also return the float32 probability map (sigmoid of the averaged logits, before small-object removal). */
  probabilities?: boolean;
}

export interface SegmentStats {
  shape: [number, number, number];
  voxels: number;
  vesselVoxels: number;
  vesselFraction: number;
  /** Network evaluations: windows × mirrorings. */
  windows: number;
  seconds: number;
  windowsPerSecond: number;
  mode: 'gpu' | 'stream';
  patch: [number, number, number];
  overlap: number;
  /** Windows per forward pass (the requested batch, capped so one batch's activations fit a storage binding). */
  batch: number;
  /** 'f32', or 'mixed' (f16 activations, f32 weights and sums). */
  precision: 'f32' | 'mixed';
  threshold: number;
  tta: boolean;
  minSize: number;
  normalize: boolean;
  /** The network's filters, shallowest first. */
  filters: number[];
}

export interface SegmentResult {
  /** uint8 0/1, same shape and geometry (spacing, origin, direction, affine, source header) as the input. */
  mask: Volume;
  /** float32 in [0, 1], same geometry; only when asked for. */
  probabilities?: Volume;
  stats: SegmentStats;
}

/**
 * Build a DynUNet sized from a state dict's shapes and load it strictly. Keys the checkpoint stores once but the
 * module tree reaches under two names (MONAI's `skip_layers.*` aliases; our safetensors drop them) are filled in
 * from the tensor they alias, so a .pt with all 180 keys and a safetensors file with the 91 canonical ones both
 * load; anything else missing or unexpected, or a shape mismatch, is loadStateDict's one-line error.
 */
export function buildSegmenter(engine: Engine, sd: StateDictInput): DynUNet {
  const net = DynUNet.fromStateDict(engine, sd);
  try {
    const own = net.stateDict();
    const firstName = new Map<Tensor, string>();
    for (const [k, t] of own) if (!firstName.has(t)) firstName.set(t, k);
    const full = new Map(sd);
    for (const [k, t] of own) {
      if (full.has(k)) continue;
      const canon = firstName.get(t)!;
      const v = sd.get(canon);
      if (canon !== k && v) full.set(k, v);
    }
    net.loadStateDict(full);
    net.eval();
    return net;
  } catch (e) {
    net.dispose();
    throw e;
  }
}

function isFloat(d: VolumeData): d is Float32Array | Float64Array {
  return d instanceof Float32Array || d instanceof Float64Array;
}

/** Throw one line naming the first non-finite voxel (NaN or ±Inf) of a float volume. */
function assertFiniteVolume(v: Volume): void {
  if (!isFloat(v.data)) return;
  const d = v.data;
  for (let i = 0; i < d.length; i++) {
    const x = d[i];
    if (x - x !== 0) {
      let count = 0;
      for (let j = i; j < d.length; j++) if (d[j] - d[j] !== 0) count++;
      const [, ny, nx] = v.shape;
      const z = Math.floor(i / (ny * nx));
      const y = Math.floor((i % (ny * nx)) / nx);
      throw new VesselError(
        `segment: the image contains ${count} non-finite value(s) (NaN or Inf), first at voxel (z=${z}, y=${y}, x=${i % nx})`,
      );
    }
  }
}

function patchOf(p: SegmentOptions['patch']): [number, number, number] {
  if (p === undefined) return [128, 128, 128];
  if (typeof p === 'number') return [p, p, p];
  return [p[0], p[1], p[2]];
}

/** Segment one volume. The mask and probability map keep the input's geometry, so writing them with the input as
 * reference (`writeVolume(path, result.mask, input)`) lines them up with the image in any viewer. */
export async function segment(engine: Engine, input: Volume, opts: SegmentCallOptions): Promise<SegmentResult> {
  const shape = input.shape;
  if (!Array.isArray(shape) || shape.length !== 3 || shape.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new VesselError(`segment: expected a 3-D volume, got shape ${Array.isArray(shape) ? fmtShape(shape) : String(shape)}`);
  }
  const n = shape[0] * shape[1] * shape[2];
  if (input.data.length !== n) throw new VesselError(`segment: ${input.data.length} voxels do not fill shape ${fmtShape(shape)} (${n})`);
  assertFiniteVolume(input);
  const owned = !(opts.weights instanceof DynUNet);
  const net = opts.weights instanceof DynUNet ? opts.weights : buildSegmenter(engine, opts.weights);
  if (net.engine !== engine) throw new VesselError('segment: the network lives on another engine than the one given');
  if (net.config.inChannels !== 1 || net.config.outChannels !== 1) {
    if (owned) net.dispose();
    throw new VesselError(
      `segment: the network maps ${net.config.inChannels} → ${net.config.outChannels} channels; vessel segmentation needs 1 → 1`,
    );
  }
  try {
    const { weights: _w, ...rest } = opts;
    const r = await segmentVolume(net, input.data, shape, { ...rest, probabilities: opts.probabilities ?? false });
    let vessel = 0;
    for (let i = 0; i < n; i++) vessel += r.mask[i];
    const geometry = {
      shape: [...shape] as [number, number, number],
      spacing: [...input.spacing] as [number, number, number],
      origin: [...input.origin] as [number, number, number],
      direction: [...input.direction],
      affine: [...input.affine],
      ...(input.source ? { source: input.source } : {}),
    };
    const mask: Volume = { ...geometry, data: r.mask, dtype: 'uint8' };
    const probabilities: Volume | undefined = r.probabilities ? { ...geometry, data: r.probabilities, dtype: 'float32' } : undefined;
    const stats: SegmentStats = {
      shape: [...shape] as [number, number, number],
      voxels: n,
      vesselVoxels: vessel,
      vesselFraction: vessel / n,
      windows: r.windows,
      seconds: r.seconds,
      windowsPerSecond: r.windows / Math.max(r.seconds, 1e-9),
      mode: r.mode,
      patch: patchOf(opts.patch),
      overlap: opts.overlap ?? 0.5,
      batch: r.batch,
      precision: r.precision,
      threshold: opts.threshold ?? 0.5,
      tta: opts.tta ?? false,
      minSize: opts.minSize ?? 0,
      normalize: opts.normalize !== false,
      filters: [...net.config.filters],
    };
    return { mask, probabilities, stats };
  } finally {
    if (owned) net.dispose();
  }
}
