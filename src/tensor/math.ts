// The friendly tensor API: non-differentiable functions over Tensors, each one or a few GPU kernels.
// Binary ops take a Tensor or a plain number for the second operand; numbers on float tensors travel as kernel
// uniforms (no upload), otherwise as a one-element tensor.
import * as ew from '../../kernels/elementwise.js';
import * as red from '../../kernels/reduce.js';
import * as cp from '../../kernels/copy.js';
import * as rnd from '../../kernels/random.js';
import type { Engine } from '../engine.js';
import type { Shape } from './shape.js';
import { VesselError } from '../gpu/errors.js';
import { isFloat, type DType } from './dtype.js';
import type { Tensor } from './tensor.js';

export type Operand = Tensor | number;

function asTensor(like: Tensor, v: Operand): Tensor {
  return typeof v === 'number' ? like.engine.tensor([v], [], like.dtype) : v;
}

function withOperand(a: Tensor, b: Operand, f: (x: Tensor) => Tensor): Tensor {
  if (typeof b !== 'number') return f(b);
  const s = asTensor(a, b);
  try {
    return f(s);
  } finally {
    s.dispose();
  }
}

function binary(op: ew.BinaryOp, a: Tensor, b: Operand): Tensor {
  if (typeof b === 'number' && isFloat(a.dtype)) {
    // Float tensor ∘ number without an upload.
    switch (op) {
      case 'add':
        return ew.scaleShift(a, 1, b);
      case 'sub':
        return ew.scaleShift(a, 1, -b);
      case 'mul':
        return ew.scaleShift(a, b, 0);
      case 'maximum':
        if (!Number.isNaN(b)) return ew.clamp(a, b, undefined);
        break;
      case 'minimum':
        if (!Number.isNaN(b)) return ew.clamp(a, undefined, b);
        break;
    }
  }
  return withOperand(a, b, (t) => ew.binary(op, a, t));
}

/** a + b (broadcasting). */
export const add = (a: Tensor, b: Operand): Tensor => binary('add', a, b);
/** a − b (broadcasting). */
export const sub = (a: Tensor, b: Operand): Tensor => binary('sub', a, b);
/** a · b (broadcasting). */
export const mul = (a: Tensor, b: Operand): Tensor => binary('mul', a, b);
/** a / b (broadcasting; integers truncate toward zero). */
export const div = (a: Tensor, b: Operand): Tensor => binary('div', a, b);
/** a ** b (float dtypes; NumPy semantics for negative bases). */
export const pow = (a: Tensor, b: Operand): Tensor => binary('pow', a, b);
/** Elementwise maximum (NaN propagates). */
export const maximum = (a: Tensor, b: Operand): Tensor => binary('maximum', a, b);
/** Elementwise minimum (NaN propagates). */
export const minimum = (a: Tensor, b: Operand): Tensor => binary('minimum', a, b);

const cmp = (op: ew.CompareOp) => (a: Tensor, b: Operand): Tensor => withOperand(a, b, (t) => ew.compare(op, a, t));
/** a > b as u8 0/1. */
export const gt = cmp('gt');
/** a ≥ b as u8 0/1. */
export const ge = cmp('ge');
/** a < b as u8 0/1. */
export const lt = cmp('lt');
/** a ≤ b as u8 0/1. */
export const le = cmp('le');
/** a == b as u8 0/1. */
export const eq = cmp('eq');
/** a ≠ b as u8 0/1. */
export const ne = cmp('ne');

export const neg = (a: Tensor): Tensor => ew.unary('neg', a);
export const abs = (a: Tensor): Tensor => ew.unary('abs', a);
export const exp = (a: Tensor): Tensor => ew.unary('exp', a);
export const log = (a: Tensor): Tensor => ew.unary('log', a);
export const sqrt = (a: Tensor): Tensor => ew.unary('sqrt', a);
export const rsqrt = (a: Tensor): Tensor => ew.unary('rsqrt', a);
export const square = (a: Tensor): Tensor => ew.unary('square', a);
export const sign = (a: Tensor): Tensor => ew.unary('sign', a);

/** Clamp to [lo, hi]; either bound may be undefined. */
export const clamp = (a: Tensor, lo?: number, hi?: number): Tensor => ew.clamp(a, lo, hi);

/** a · scale + shift (float tensors). */
export const scaleShift = (a: Tensor, scale: number, shift = 0): Tensor => ew.scaleShift(a, scale, shift);

/** cond ? a : b elementwise (cond is u8; all three broadcast). Numbers are accepted for a and b. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  if (typeof a === 'number' && typeof b === 'number') {
    throw new VesselError('where: at least one of a and b must be a tensor (its dtype decides the result)');
  }
  const like = (typeof a === 'number' ? b : a) as Tensor;
  return withOperand(like, a, (ta) => withOperand(like, b, (tb) => ew.where(cond, ta, tb)));
}

/** Convert to `dtype` (see kernels/elementwise.ts cast for the rounding and saturation rules). */
export const cast = (a: Tensor, dtype: DType): Tensor => ew.cast(a, dtype);

/** A copy with its own storage. */
export const clone = (a: Tensor): Tensor => ew.copyTensor(a);


// ---- reductions ----

export type Axes = number | readonly number[];

/** Sum over `axes` (all when omitted); f32 accumulation, f16 in → f16 out, u8 in → f32 out. */
export const sum = (t: Tensor, axes?: Axes, keepDims = false): Tensor => red.reduce('sum', t, { axes, keepDims });
/** Mean over `axes` (all when omitted). */
export const mean = (t: Tensor, axes?: Axes, keepDims = false): Tensor => red.reduce('mean', t, { axes, keepDims });
/** Maximum over `axes` (NaN propagates). */
export const max = (t: Tensor, axes?: Axes, keepDims = false): Tensor => red.reduce('max', t, { axes, keepDims });
/** Minimum over `axes` (NaN propagates). */
export const min = (t: Tensor, axes?: Axes, keepDims = false): Tensor => red.reduce('min', t, { axes, keepDims });
/** Variance over `axes`: biased (÷ n) unless `unbiased` (÷ n − 1). Welford/Chan merges, f32. */
export const variance = (t: Tensor, axes?: Axes, keepDims = false, unbiased = false): Tensor =>
  red.reduce('variance', t, { axes, keepDims, unbiased });
/** Index (i32) of the largest element along `axis`, or of the flat tensor when omitted; first one on ties. */
export const argmax = (t: Tensor, axis?: number, keepDims = false): Tensor => red.reduce('argmax', t, { axes: axis, keepDims });
/** Index (i32) of the smallest element along `axis`, or of the flat tensor when omitted; first one on ties. */
export const argmin = (t: Tensor, axis?: number, keepDims = false): Tensor => red.reduce('argmin', t, { axes: axis, keepDims });

// ---- copies ----

/** Elements start, start + step, … < end along `axis` (negative values count from the end). */
export const slice = (t: Tensor, axis: number, start: number, end?: number, step = 1): Tensor => cp.slice(t, axis, start, end, step);
/** Join tensors along `axis`. */
export const concat = (ts: readonly Tensor[], axis: number): Tensor => cp.concat(ts, axis);
/** Permute axes (reverse them when `perm` is omitted). */
export const transpose = (t: Tensor, perm?: readonly number[]): Tensor => cp.transpose(t, perm);

// ---- random ----

/** Uniform numbers in [lo, hi), a pure function of (seed, offset + element index) on every adapter. */
export const uniform = (engine: Engine, shape: Shape, lo = 0, hi = 1, seed = 0, offset = 0, dtype: DType = 'f32'): Tensor =>
  rnd.uniform(engine, shape, lo, hi, seed, offset, dtype);
/** Normal numbers with `mean` and `std`, bit-identical on every adapter (integer inverse CDF of Philox words). */
export const normal = (engine: Engine, shape: Shape, mean = 0, std = 1, seed = 0, offset = 0, dtype: DType = 'f32'): Tensor =>
  rnd.normal(engine, shape, mean, std, seed, offset, dtype);
/** Raw Philox4x32-10 words as u32. */
export const randomBits = (engine: Engine, shape: Shape, seed = 0, offset = 0): Tensor => rnd.randomBits(engine, shape, seed, offset);
