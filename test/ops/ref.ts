// Float64 CPU references and gradient-check helpers shared by the op and autograd tests.
import type { Engine } from '../../src/engine.js';
import type { Tensor } from '../../src/tensor/tensor.js';

export const f64 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a as ArrayLike<number>);

/** A leaf tensor that requires grad. */
export function leaf(e: Engine, data: ArrayLike<number>, shape: number[], dtype: 'f32' | 'f16' = 'f32'): Tensor {
  const t = e.tensor(data, shape, dtype);
  t.requiresGrad = true;
  return t;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Central finite differences of L(x) = Σ f(x)·gy over every element of `x` (float64), for checking an analytic
 * gradient written for the CPU reference.
 */
export function numericGrad(f: (x: Float64Array) => ArrayLike<number>, x: Float64Array, gy: ArrayLike<number>, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  const xp = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    xp[i] = x[i] + h;
    const a = dot(f(xp), gy);
    xp[i] = x[i] - h;
    const b = dot(f(xp), gy);
    xp[i] = x[i];
    g[i] = (a - b) / (2 * h);
  }
  return g;
}

export const sigmoid64 = (v: number): number => 1 / (1 + Math.exp(-v));

/**
 * Leave a NaN-filled buffer of this size in the pool, so the next op output of the same size class reuses it and an
 * unwritten element shows up as NaN.
 */
export function poisonNext(e: Engine, shape: number[], dtype: 'f32' | 'f16' = 'f32'): void {
  const t = e.empty(shape, dtype);
  t.engine.rt.write(t.buffer, 0, new Uint32Array(t.storage.bytes / 4).fill(0x7fc00000));
  t.dispose();
}
