// Shape checks and small helpers shared by the domain-randomisation kernels.
import { VesselError } from '../../src/gpu/errors.js';
import { fmtShape, sizeOf } from '../../src/tensor/shape.js';
import type { Tensor } from '../../src/tensor/tensor.js';

export interface VolumeDims {
  /** Number of [D, H, W] volumes (product of the leading dims). */
  channels: number;
  d: number;
  h: number;
  w: number;
  /** D·H·W. */
  vol: number;
}

/** Checks that `x` is an f32 tensor [..., D, H, W] that fits one storage binding; returns its dims. */
export function volumeDims(x: Tensor, what: string): VolumeDims {
  if (x.dtype !== 'f32') throw new VesselError(`${what}: expected an f32 volume, got ${x.dtype} ${fmtShape(x.shape)}`);
  if (x.rank < 3) throw new VesselError(`${what}: expected a volume [..., D, H, W], got shape ${fmtShape(x.shape)}`);
  if (x.size === 0) throw new VesselError(`${what}: volume ${fmtShape(x.shape)} is empty`);
  if (!x.fitsBinding) throw new VesselError(`${what}: volume ${fmtShape(x.shape)} is larger than one storage binding on this adapter`);
  const [d, h, w] = x.shape.slice(-3);
  return { channels: sizeOf(x.shape.slice(0, -3)), d, h, w, vol: d * h * w };
}

/** Throws unless every value is a finite number. */
export function checkFinite(what: string, values: Record<string, number | readonly number[]>): void {
  for (const [k, v] of Object.entries(values)) {
    const list = typeof v === 'number' ? [v] : v;
    if (!list.every(Number.isFinite)) throw new VesselError(`${what}: parameter ${k} must be finite, got ${list.join(', ')}`);
  }
}
