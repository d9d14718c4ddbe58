// Differentiable layout ops: concatenation and split along an axis (channel axis 1 for skip connections and the
// flow model's [x_t, mask] input), and axis permutation. Each backward is the other op.
import { concat as concatKernel, slice, transpose as transposeKernel } from '../../kernels/copy.js';
import { needsGrad, record } from '../autograd/tape.js';
import { VesselError } from '../gpu/errors.js';
import { fmtShape, normAxis } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/** Join along `axis` (default 1: channels). */
export function concat(ts: readonly Tensor[], axis = 1): Tensor {
  const y = concatKernel(ts, axis);
  if (!needsGrad(...ts)) return y;
  const ax = normAxis(axis, ts[0].rank, 'concat');
  const bounds: number[] = [0];
  for (const t of ts) bounds.push(bounds[bounds.length - 1] + t.shape[ax]);
  record('concat', ts, [y], [], ([gy], needs) => ts.map((_, i) => (needs[i] ? slice(gy!, ax, bounds[i], bounds[i + 1]) : null)));
  return y;
}

/** Split along `axis` into pieces of the given sizes (which must add up to the axis length). */
export function split(x: Tensor, sizes: readonly number[], axis = 1): Tensor[] {
  const ax = normAxis(axis, x.rank, 'split');
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== x.shape[ax] || sizes.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new VesselError(`split: sizes ${JSON.stringify(sizes)} do not partition axis ${ax} of ${fmtShape(x.shape)}`);
  }
  const outs: Tensor[] = [];
  let at = 0;
  for (const s of sizes) {
    outs.push(slice(x, ax, at, at + s));
    at += s;
  }
  if (!needsGrad(x)) return outs;
  const e = x.engine;
  const shapes = outs.map((o) => o.shape);
  const dtype = x.dtype;
  record('split', [x], outs, [], (gys) => {
    // outputs that received no gradient contribute zeros
    const parts = gys.map((g, i) => g ?? e.zeros(shapes[i], dtype));
    const gx = concatKernel(parts, ax);
    parts.forEach((p, i) => {
      if (!gys[i]) p.dispose();
    });
    return [gx];
  });
  return outs;
}

/** Permute axes: out.shape[i] = x.shape[perm[i]]. */
export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  const y = transposeKernel(x, perm);
  if (!needsGrad(x)) return y;
  const p = perm.map((a) => normAxis(a, x.rank, 'transpose'));
  const inv = new Array<number>(p.length);
  p.forEach((a, i) => (inv[a] = i));
  record('transpose', [x], [y], [], ([gy]) => [transposeKernel(gy!, inv)]);
  return y;
}
