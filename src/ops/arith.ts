// Differentiable broadcast arithmetic (NumPy broadcasting) on the elementwise kernels; gradients of broadcast
// operands are summed back to their shapes with the reduction kernels.
import { reduce } from '../../kernels/reduce.js';
import { needsGrad, record, save } from '../autograd/tape.js';
import { VesselError } from '../gpu/errors.js';
import type { DType } from '../tensor/dtype.js';
import { fmtShape, sameShape, sizeOf, type Shape } from '../tensor/shape.js';
import * as m from '../tensor/math.js';
import { Tensor } from '../tensor/tensor.js';

export type Operand = Tensor | number;

/** Sum `g` (a broadcast result) down to `shape`. Consumes nothing; returns a new tensor (or a view when no sum is needed). */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g.reshape(shape);
  const lead = g.rank - shape.length;
  if (lead < 0) throw new VesselError(`sumToShape: gradient ${fmtShape(g.shape)} has lower rank than ${fmtShape(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  if (axes.length === 0) return g.reshape(shape);
  const s = reduce('sum', g, { axes });
  if (sizeOf(s.shape) !== sizeOf(shape)) throw new VesselError(`Internal: sum of ${fmtShape(g.shape)} over ${axes} is ${fmtShape(s.shape)}, not ${fmtShape(shape)}`);
  const r = s.reshape(shape);
  s.dispose();
  return r;
}

function owned(t: Tensor, shape: Shape): Tensor {
  const r = sumToShape(t, shape);
  t.dispose();
  return r;
}

/**
 * The gradient of an operand of `shape` and `dtype` from `g` (a broadcast result). In mixed precision an f32
 * operand (a parameter) of an f16 result gets an f32 gradient: g is widened before the sum, so the sum is f32 all
 * the way; an f16 operand of an f32 result gets its sum rounded once. Consumes nothing.
 */
export function gradTo(g: Tensor, shape: Shape, dtype: DType): Tensor {
  if (g.dtype === dtype) return sumToShape(g, shape);
  if (dtype === 'f32') return owned(m.cast(g, 'f32'), shape);
  const s = sumToShape(g, shape);
  const r = m.cast(s, dtype);
  s.dispose();
  return r;
}

/** gradTo, consuming `t`. */
function ownedTo(t: Tensor, shape: Shape, dtype: DType): Tensor {
  const r = gradTo(t, shape, dtype);
  t.dispose();
  return r;
}

const isT = (x: Operand): x is Tensor => x instanceof Tensor;

export function add(a: Tensor, b: Operand): Tensor {
  const y = m.add(a, b);
  const bt = isT(b) ? b : null;
  if (!needsGrad(a, bt)) return y;
  const [sa, sb] = [a.shape, bt?.shape ?? []];
  const [da, db] = [a.dtype, bt?.dtype ?? a.dtype];
  record('add', [a, bt], [y], [], ([gy], needs) => [needs[0] ? gradTo(gy!, sa, da) : null, needs[1] ? gradTo(gy!, sb, db) : null]);
  return y;
}

export function sub(a: Tensor, b: Operand): Tensor {
  const y = m.sub(a, b);
  const bt = isT(b) ? b : null;
  if (!needsGrad(a, bt)) return y;
  const [sa, sb] = [a.shape, bt?.shape ?? []];
  const [da, db] = [a.dtype, bt?.dtype ?? a.dtype];
  record('sub', [a, bt], [y], [], ([gy], needs) => [
    needs[0] ? gradTo(gy!, sa, da) : null,
    needs[1] ? ownedTo(m.mul(gy!, -1), sb, db) : null,
  ]);
  return y;
}

export function mul(a: Tensor, b: Operand): Tensor {
  const y = m.mul(a, b);
  const bt = isT(b) ? b : null;
  if (!needsGrad(a, bt)) return y;
  const as = bt?.requiresGrad ? save(a) : null;
  const bs = a.requiresGrad ? (bt ? save(bt) : null) : null;
  const [sa, sb] = [a.shape, bt?.shape ?? []];
  const [da, db] = [a.dtype, bt?.dtype ?? a.dtype];
  record('mul', [a, bt], [y], [as, bs].filter((t): t is Tensor => t !== null), ([gy], needs) => [
    needs[0] ? (da === 'f32' && gy!.dtype === 'f16' && bs ? mulSumF32(gy!, bs, sa) : ownedTo(m.mul(gy!, bs ?? b), sa, da)) : null,
    // an f32 operand's gradient from f16 factors: widen first, so the product and its sum are f32
    needs[1] ? (db === 'f32' && gy!.dtype === 'f16' ? mulSumF32(gy!, as!, sb) : ownedTo(m.mul(gy!, as!), sb, db)) : null,
  ]);
  return y;
}

/** Σ (g·x) down to `shape` in f32, from an f16 g (and x of either float dtype). */
function mulSumF32(g: Tensor, x: Tensor, shape: Shape): Tensor {
  const g32 = m.cast(g, 'f32');
  const x32 = x.dtype === 'f32' ? x : m.cast(x, 'f32');
  const p = m.mul(g32, x32);
  g32.dispose();
  if (x32 !== x) x32.dispose();
  return owned(p, shape);
}

/** A view with another shape (differentiable). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const y = x.reshape(shape);
  if (!needsGrad(x)) return y;
  const s = x.shape;
  record('reshape', [x], [y], [], ([gy]) => [gy!.reshape(s)]);
  return y;
}

/** Convert to another float dtype (f32 ↔ f16); the gradient converts back. */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return reshape(x, x.shape);
  const y = m.cast(x, dtype);
  if (!needsGrad(x)) return y;
  const from = x.dtype;
  record('cast', [x], [y], [], ([gy]) => [m.cast(gy!, from)]);
  return y;
}

/** g (reduced shape, keepDims layout) broadcast back to `shape`. */
function expandTo(g: Tensor, keepShape: Shape, shape: Shape, factor: number): Tensor {
  const gk = g.reshape(keepShape);
  const z = g.engine.zeros(shape, g.dtype);
  const s = m.add(z, gk);
  z.dispose();
  gk.dispose();
  if (factor === 1) return s;
  const r = m.mul(s, factor);
  s.dispose();
  return r;
}

type Axes = number | readonly number[];

function reduceOp(kind: 'sum' | 'mean', x: Tensor, axes?: Axes, keepDims = false): Tensor {
  const y = kind === 'sum' ? m.sum(x, axes, keepDims) : m.mean(x, axes, keepDims);
  if (!needsGrad(x)) return y;
  const rank = x.rank;
  const list = axes === undefined ? x.shape.map((_, i) => i) : (typeof axes === 'number' ? [axes] : [...axes]).map((a) => (a < 0 ? a + rank : a));
  const keepShape = x.shape.map((d, i) => (list.includes(i) ? 1 : d));
  const count = list.reduce((a, i) => a * x.shape[i], 1);
  const xs = x.shape;
  record(kind, [x], [y], [], ([gy]) => [expandTo(gy!, keepShape, xs, kind === 'mean' ? 1 / count : 1)]);
  return y;
}

/** Σ over `axes` (all when omitted), differentiable. */
export const sum = (x: Tensor, axes?: Axes, keepDims = false): Tensor => reduceOp('sum', x, axes, keepDims);

/** Mean over `axes` (all when omitted), differentiable. */
export const mean = (x: Tensor, axes?: Axes, keepDims = false): Tensor => reduceOp('mean', x, axes, keepDims);

/**
 * How a network computes: 'f32' throughout, or 'mixed' — f16 activations (and activation gradients) with f32
 * parameters, parameter gradients and sums (every kernel accumulates in f32), on adapters with shader-f16.
 */
export type Precision = 'f32' | 'mixed';

export const PRECISIONS: readonly Precision[] = ['f32', 'mixed'];

/** Check a --precision value (and that the adapter can run it); one clear error otherwise. */
export function checkPrecision(engine: { gpu: { hasF16: boolean } }, p: string, what = '--precision'): Precision {
  if (!(PRECISIONS as readonly string[]).includes(p)) throw new VesselError(`${what} must be f32 or mixed, got "${p}"`);
  if (p === 'mixed' && !engine.gpu.hasF16) {
    throw new VesselError(`${what} mixed needs an adapter with the shader-f16 feature; this one has none (use f32)`);
  }
  return p as Precision;
}

/**
 * Run a network body in mixed precision: the f32 inputs are cast to f16 (differentiably), `fn` runs on them, and its
 * f16 output is cast back to f32 (for the loss); the temporaries are released, the graph keeps what backward needs.
 */
export function runMixed(inputs: readonly Tensor[], fn: (...halves: Tensor[]) => Tensor): Tensor {
  const halves = inputs.map((x) => cast(x, 'f16'));
  try {
    const out = fn(...halves);
    const y = cast(out, 'f32');
    out.dispose();
    return y;
  } finally {
    for (const h of halves) h.dispose();
  }
}
