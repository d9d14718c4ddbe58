// Shared by the mixed-precision model tests: realistic random weights, parameter gradients read back and cleared,
// and a gradient-set comparison (whole vector and worst tensor).
import { expect } from 'vitest';
import { zeroGrad } from '../../src/autograd/tape.js';
import type { Engine } from '../../src/engine.js';
import type { Module } from '../../src/nn/module.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { randArray, relErr } from '../helpers.js';

/** Random weights of a realistic spread everywhere (the zero-initialised output convs would leave most gradients 0). */
export function randomizeWeights(e: Engine, net: Module, seed: number): void {
  net.namedParameters().forEach(([name, p], i) => {
    const fanIn = p.rank >= 2 ? p.size / p.shape[0] : 1;
    const isNormWeight = p.rank === 1 && /norm|in_layers\.0|out_layers\.0|^out\.0/.test(name) && name.endsWith('weight');
    const r = randArray(p.size, seed + i, -1, 1);
    const v = r.map((x) => (p.rank >= 2 ? x / Math.sqrt(fanIn) : isNormWeight ? 1 + 0.2 * x : 0.2 * x));
    e.rt.write(p.buffer, 0, Float32Array.from(v));
  });
}

/** Gradients of every parameter (divided by `scale`), then cleared. */
export async function takeGrads(net: Module, scale = 1): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [n, p] of net.namedParameters()) {
    const g = p.grad ? ((await p.grad.read()) as Float32Array) : new Float32Array(p.size);
    if (p.grad) expect(p.grad.dtype).toBe('f32');
    out.set(n, g.map((v) => v / scale));
  }
  zeroGrad(net.parameters() as Tensor[]);
  return out;
}

/** Global relative error over all gradients, and the worst single tensor (among tensors with a non-negligible norm). */
export function compareGrads(mixed: Map<string, Float32Array>, ref: Map<string, Float32Array>): { global: number; worst: number; worstName: string } {
  const a: number[] = [];
  const b: number[] = [];
  const push = (to: number[], from: Float32Array) => {
    for (const v of from) to.push(v);
  };
  let worst = 0;
  let worstName = '';
  let total = 0;
  for (const g of ref.values()) for (const v of g) total += v * v;
  for (const [n, r] of ref) {
    const m = mixed.get(n)!;
    push(a, m);
    push(b, r);
    let nr = 0;
    for (const v of r) nr += v * v;
    if (nr < 1e-6 * total) continue;
    const e = relErr(m, r);
    if (e > worst) [worst, worstName] = [e, n];
  }
  return { global: relErr(a, b), worst, worstName };
}
