// Mixed precision, op by op: f16 activations with f32 parameters (src/ops, kernels/). Every reference is float64
// from the f16-rounded inputs (what the GPU actually holds), so the only error left is the kernel's own: f32
// accumulation (≈1e-7 relative) plus the one rounding of each f16 result. One rounding to f16 has a relative error of
// at most 2^-11 ≈ 4.9e-4 per element, so an f16 result must land under 1e-3 of its reference; f32 results (parameter
// gradients) must land under 1e-5. Outputs are poisoned first (the pool hands the NaN-filled buffer back).
import { afterAll, describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/index.js';
import { matmulMixed } from '../../kernels/matmul.js';
import { add, mul } from '../../src/ops/arith.js';
import { attention } from '../../src/ops/attention.js';
import { linear } from '../../src/ops/linear.js';
import { instanceNorm } from '../../src/ops/norm.js';
import { concat, split } from '../../src/ops/shape.js';
import { upsample } from '../../src/ops/upsample.js';
import { upsampleGeometry } from '../../kernels/upsample.js';
import { roundF16 } from '../../src/tensor/f16.js';
import type { Engine } from '../../src/engine.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import { leaf, poisonNext } from './ref.js';

const r16 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a, roundF16);
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const F16_BOUND = 1e-3;
const F32_BOUND = 1e-5;

/** Index of `i` (flat, in `shape`) in a broadcast operand of shape `bs` (same rank). */
function bIndex(i: number, shape: readonly number[], bs: readonly number[]): number {
  let r = i;
  let idx = 0;
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const c = r % shape[d];
    r = Math.floor(r / shape[d]);
    if (bs[d] !== 1) idx += c * stride;
    stride *= bs[d];
  }
  return idx;
}

async function grads(ts: Tensor[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const t of ts) out.push((await t.grad!.read()) as Float32Array);
  return out;
}

/** Measured relative errors, printed once at the end (figures for the record). */
const measured: string[] = [];
function err(name: string, a: ArrayLike<number>, ref: ArrayLike<number>): number {
  const v = relErr(a, ref);
  measured.push(`${name}: ${v.toExponential(2)}`);
  return v;
}

function skipWithoutF16(e: Engine): boolean {
  return !e.gpu.hasF16;
}

describe('mixed precision ops (f16 activations, f32 parameters)', () => {
  afterAll(() => {
    if (measured.length) console.log(`mixed-precision relative errors:\n  ${measured.join('\n  ')}`);
  });

  for (const [shape, bs, aFirst] of [
    [[2, 5, 3, 4, 7], [1, 5, 1, 1, 1], true],
    [[2, 5, 3, 4, 7], [2, 5, 1, 1, 1], false],
    [[3, 7, 9], [1, 7, 1], true],
  ] as const) {
    it(`broadcast add and mul: f16 ${JSON.stringify(shape)} with f32 ${JSON.stringify(bs)} (${aFirst ? 'f16 first' : 'f32 first'})`, async () => {
      const e = await getEngine();
      if (skipWithoutF16(e)) return;
      const n = size(shape);
      const as = randArray(n, 1, -3, 3);
      const bv = randArray(size(bs), 2, -2, 2);
      const gys = r16(randArray(n, 3, -1, 1));
      const aR = r16(as);
      for (const op of ['add', 'mul'] as const) {
        const a = leaf(e, as, [...shape], 'f16');
        const b = leaf(e, bv, [...bs]);
        poisonNext(e, [...shape], 'f16');
        const y = op === 'add' ? (aFirst ? add(a, b) : add(b, a)) : aFirst ? mul(a, b) : mul(b, a);
        expect(y.dtype).toBe('f16');
        const ref = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          const bi = bv[bIndex(i, shape, bs)];
          ref[i] = op === 'add' ? aR[i] + bi : aR[i] * bi;
        }
        expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} y`, await y.read(), ref)).toBeLessThan(F16_BOUND);
        backward(y, e.tensor(gys, [...shape], 'f16'));
        expect(a.grad!.dtype).toBe('f16');
        expect(b.grad!.dtype).toBe('f32');
        const da = new Float64Array(n);
        const db = new Float64Array(size(bs));
        for (let i = 0; i < n; i++) {
          const j = bIndex(i, shape, bs);
          da[i] = op === 'add' ? gys[i] : gys[i] * bv[j];
          db[j] += op === 'add' ? gys[i] : gys[i] * aR[i];
        }
        const [ga, gb] = await grads([a, b]);
        expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} ga`, ga, da)).toBeLessThan(op === 'add' ? 1e-7 : F16_BOUND);
        expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} gb`, gb, db)).toBeLessThan(F32_BOUND);
        for (const t of [a, b, y, a.grad!, b.grad!]) t.dispose();
      }
    });
  }

  it('linear: f16 x · f32 Wᵀ + f32 b → f16; dx f16, dW and db f32 (x [3, 5, 37], W [19, 37])', async () => {
    const e = await getEngine();
    if (skipWithoutF16(e)) return;
    const [rows, inF, outF] = [15, 37, 19];
    const xs = randArray(rows * inF, 4, -2, 2);
    const ws = randArray(outF * inF, 5, -0.5, 0.5);
    const bs = randArray(outF, 6);
    const gys = r16(randArray(rows * outF, 7));
    const xR = r16(xs);
    const x = leaf(e, xs, [3, 5, inF], 'f16');
    const w = leaf(e, ws, [outF, inF]);
    const b = leaf(e, bs, [outF]);
    poisonNext(e, [3, 5, outF], 'f16');
    const y = linear(x, w, b);
    expect(y.dtype).toBe('f16');
    expect(y.shape).toEqual([3, 5, outF]);
    const yref = new Float64Array(rows * outF);
    const dx = new Float64Array(rows * inF);
    const dw = new Float64Array(outF * inF);
    const db = new Float64Array(outF);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < outF; o++) {
        let s = bs[o];
        for (let i = 0; i < inF; i++) s += xR[r * inF + i] * ws[o * inF + i];
        yref[r * outF + o] = s;
        const g = gys[r * outF + o];
        db[o] += g;
        for (let i = 0; i < inF; i++) {
          dx[r * inF + i] += g * ws[o * inF + i];
          dw[o * inF + i] += g * xR[r * inF + i];
        }
      }
    }
    expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} y`, await y.read(), yref)).toBeLessThan(F16_BOUND);
    backward(y, e.tensor(gys, y.shape, 'f16'));
    expect([x.grad!.dtype, w.grad!.dtype, b.grad!.dtype]).toEqual(['f16', 'f32', 'f32']);
    const [gx, gw, gb] = await grads([x, w, b]);
    expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} gx`, gx, dx)).toBeLessThan(F16_BOUND);
    expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} gw`, gw, dw)).toBeLessThan(F32_BOUND);
    expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} gb`, gb, db)).toBeLessThan(F32_BOUND);
  });

  it('matmulMixed: f32 accumulation over a long K (K = 1,031) with f16 operands', async () => {
    const e = await getEngine();
    if (skipWithoutF16(e)) return;
    const [M, K, N] = [7, 1031, 9];
    const as = randArray(M * K, 8);
    const bs = randArray(K * N, 9);
    const a = e.tensor(as, [M, K], 'f16');
    const b = e.tensor(bs, [K, N], 'f16');
    const [aR, bR] = [r16(as), r16(bs)];
    const ref = new Float64Array(M * N);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) ref[i * N + j] += aR[i * K + k] * bR[k * N + j];
    poisonNext(e, [M, N], 'f16');
    const c16 = matmulMixed(a, b);
    const c32 = matmulMixed(a, b, { outDtype: 'f32' });
    expect(c16.dtype).toBe('f16');
    expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} c16`, await c16.read(), ref)).toBeLessThan(F16_BOUND);
    // f16 accumulation over 1,031 terms would be off by ~1e-2; f32 accumulation is exact to ~1e-7
    expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} c32`, await c32.read(), ref)).toBeLessThan(F32_BOUND);
  });

  for (const [B, T, S, D, E, impl] of [
    [2, 19, 23, 5, 7, 'fused'],
    [1, 9, 70, 3, 66, 'fused'],
    [2, 19, 23, 5, 7, 'blocked'],
    [1, 9, 70, 3, 66, 'blocked'],
  ] as const) {
    it(`attention ${impl}: f16 q, k, v → f16 output and gradients (B ${B}, T ${T}, S ${S}, D ${D}, E ${E})`, async () => {
      const e = await getEngine();
      if (skipWithoutF16(e)) return;
      const scale = 0.45;
      const qs = r16(randArray(B * T * D, 11, -1.5, 1.5));
      const ks = r16(randArray(B * S * D, 12, -1.5, 1.5));
      const vs = r16(randArray(B * S * E, 13));
      const gys = r16(randArray(B * T * E, 14));
      const q = leaf(e, qs, [B, T, D], 'f16');
      const k = leaf(e, ks, [B, S, D], 'f16');
      const v = leaf(e, vs, [B, S, E], 'f16');
      poisonNext(e, [B, T, E], 'f16');
      const y = attention(q, k, v, scale, { impl, blockBytes: B * S * 4 * 4 });
      expect(y.dtype).toBe('f16');
      // float64 forward and analytic backward
      const o = new Float64Array(B * T * E);
      const dq = new Float64Array(B * T * D);
      const dk = new Float64Array(B * S * D);
      const dv = new Float64Array(B * S * E);
      const P = new Float64Array(S);
      const dP = new Float64Array(S);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          let m = -Infinity;
          for (let s = 0; s < S; s++) {
            let d = 0;
            for (let c = 0; c < D; c++) d += qs[(b * T + t) * D + c] * ks[(b * S + s) * D + c];
            P[s] = d * scale;
            m = Math.max(m, P[s]);
          }
          let l = 0;
          for (let s = 0; s < S; s++) l += (P[s] = Math.exp(P[s] - m));
          let delta = 0;
          for (let s = 0; s < S; s++) {
            P[s] /= l;
            let dp = 0;
            for (let c = 0; c < E; c++) {
              o[(b * T + t) * E + c] += P[s] * vs[(b * S + s) * E + c];
              dp += gys[(b * T + t) * E + c] * vs[(b * S + s) * E + c];
            }
            dP[s] = dp;
            delta += P[s] * dp;
          }
          for (let s = 0; s < S; s++) {
            const ds = P[s] * (dP[s] - delta) * scale;
            for (let c = 0; c < D; c++) {
              dq[(b * T + t) * D + c] += ds * ks[(b * S + s) * D + c];
              dk[(b * S + s) * D + c] += ds * qs[(b * T + t) * D + c];
            }
            for (let c = 0; c < E; c++) dv[(b * S + s) * E + c] += P[s] * gys[(b * T + t) * E + c];
          }
        }
      }
      expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} y`, await y.read(), o)).toBeLessThan(F16_BOUND);
      backward(y, e.tensor(gys, [B, T, E], 'f16'));
      expect([q.grad!.dtype, k.grad!.dtype, v.grad!.dtype]).toEqual(['f16', 'f16', 'f16']);
      const [gq, gk, gv] = await grads([q, k, v]);
      expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} gv`, gv, dv)).toBeLessThan(F16_BOUND);
      // dQ and dK also use delta = Σ dO·O from the saved f16 output O (rounded once); dS = P·(dP − delta) cancels
      // partly, which could amplify that rounding, but on these inputs it stays at one rounding's size (~2e-4)
      expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} gq`, gq, dq)).toBeLessThan(F16_BOUND);
      expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} gk`, gk, dk)).toBeLessThan(F16_BOUND);
    });
  }

  for (const mode of ['nearest', 'trilinear'] as const) {
    for (const [shape, opt] of [
      [[1, 3, 3, 4, 5], { scaleFactor: 2 }],
      [[2, 1, 5, 3, 4], { size: [7, 5, 3] }],
    ] as const) {
      it(`upsample ${mode} f16 ${JSON.stringify(shape)} ${JSON.stringify(opt)}: forward and gradient`, async () => {
        const e = await getEngine();
        if (skipWithoutF16(e)) return;
        const g = upsampleGeometry(shape, 'size' in opt ? opt.size : undefined, 'scaleFactor' in opt ? opt.scaleFactor : undefined);
        const xs = r16(randArray(size(shape), 21, -2, 2));
        const x = leaf(e, xs, [...shape], 'f16');
        const outShape = [shape[0], shape[1], ...g.outs];
        poisonNext(e, outShape, 'f16');
        const y = upsample(x, { mode, ...opt });
        expect(y.dtype).toBe('f16');
        // the same f32 graph: the f32 op on the rounded input, as the reference of the interpolation itself
        const x32 = e.tensor(xs, [...shape]);
        const y32 = upsample(x32, { mode, ...opt });
        const ref = Float64Array.from((await y32.read()) as Float32Array);
        expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} y`, await y.read(), ref)).toBeLessThan(mode === 'nearest' ? 1e-7 : F16_BOUND);
        const gys = r16(randArray(size(outShape), 22));
        poisonNext(e, [...shape], 'f16');
        backward(y, e.tensor(gys, outShape, 'f16'));
        expect(x.grad!.dtype).toBe('f16');
        x32.requiresGrad = true;
        const y32b = upsample(x32, { mode, ...opt });
        backward(y32b, e.tensor(gys, outShape));
        expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} x`, await x.grad!.read(), Float64Array.from((await x32.grad!.read()) as Float32Array))).toBeLessThan(F16_BOUND);
      });
    }
  }

  it('concat and split keep f16 exactly (odd channel counts, gradients too)', async () => {
    const e = await getEngine();
    if (skipWithoutF16(e)) return;
    const as = r16(randArray(3 * 27, 31));
    const bs = r16(randArray(2 * 27, 32));
    const a = leaf(e, as, [1, 3, 3, 3, 3], 'f16');
    const b = leaf(e, bs, [1, 2, 3, 3, 3], 'f16');
    poisonNext(e, [1, 5, 3, 3, 3], 'f16');
    const c = concat([a, b], 1);
    expect(c.dtype).toBe('f16');
    expect(Array.from(await c.read())).toEqual([...as, ...bs]);
    const [p, q] = split(c, [4, 1], 1);
    expect(Array.from(await q.read())).toEqual(Array.from(bs.subarray(27)));
    const gp = r16(randArray(4 * 27, 33));
    backward(p, e.tensor(gp, p.shape, 'f16'));
    expect(Array.from(await a.grad!.read())).toEqual(Array.from(gp.subarray(0, 81)));
    expect(Array.from(await b.grad!.read())).toEqual([...gp.subarray(81), ...new Array(27).fill(0)]);
  });

  it('instance norm: f16 x with f32 affine → f16 y, f16 dx, f32 dγ and dβ', async () => {
    const e = await getEngine();
    if (skipWithoutF16(e)) return;
    const [N, C, S] = [2, 3, 5 * 4 * 3];
    const xs = r16(randArray(N * C * S, 41, -2, 3));
    const ws = randArray(C, 42, 0.5, 1.5);
    const bv = randArray(C, 43);
    const gys = r16(randArray(N * C * S, 44));
    const x = leaf(e, xs, [N, C, 5, 4, 3], 'f16');
    const w = leaf(e, ws, [C]);
    const b = leaf(e, bv, [C]);
    const y = instanceNorm(x, w, b);
    backward(y, e.tensor(gys, y.shape, 'f16'));
    expect([y.dtype, x.grad!.dtype, w.grad!.dtype, b.grad!.dtype]).toEqual(['f16', 'f16', 'f32', 'f32']);
    const yref = new Float64Array(N * C * S);
    const dw = new Float64Array(C);
    const db = new Float64Array(C);
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const o = (n * C + c) * S;
        let mu = 0;
        for (let i = 0; i < S; i++) mu += xs[o + i] / S;
        let v = 0;
        for (let i = 0; i < S; i++) v += (xs[o + i] - mu) ** 2 / S;
        const inv = 1 / Math.sqrt(v + 1e-5);
        for (let i = 0; i < S; i++) {
          const xh = (xs[o + i] - mu) * inv;
          yref[o + i] = xh * ws[c] + bv[c];
          dw[c] += gys[o + i] * xh;
          db[c] += gys[o + i];
        }
      }
    }
    expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} y`, await y.read(), yref)).toBeLessThan(F16_BOUND);
    const [gw, gb] = await grads([w, b]);
    expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} gw`, gw, dw)).toBeLessThan(F32_BOUND);
    expect(err(`${expect.getState().currentTestName?.split(' > ').pop()} gb`, gb, db)).toBeLessThan(F32_BOUND);
  });

  it('dtype mismatches are one clear error', async () => {
    const e = await getEngine();
    if (skipWithoutF16(e)) return;
    const h = e.tensor([1, 2, 3, 4], [1, 4], 'f16');
    const f = e.tensor([1, 2, 3, 4], [1, 4]);
    const i = e.tensor([1, 2, 3, 4], [1, 4], 'i32');
    expect(() => add(h, i)).toThrow(/dtypes f16 and i32 differ/);
    expect(() => attention(e.tensor([1, 2], [1, 1, 2], 'f16'), e.tensor([1, 2], [1, 1, 2]), e.tensor([1, 2], [1, 1, 2], 'f16'))).toThrow(
      /q, k and v must all be f32 or all f16, got f16, f32 and f16/,
    );
    expect(() => linear(i, e.ones([3, 4]))).toThrow(/linear: input \[1, 4\] i32.*f32 or f16/);
    expect(() => matmulMixed(e.tensor([1, 2, 3, 4], [2, 2], 'u8'), f)).toThrow(/matmul: A \[2, 2\] is u8/);
    expect(() => concat([h, f], 0)).toThrow(/concat: dtypes f16 and f32 differ/);
    expect(() => upsample(e.tensor([1, 2], [1, 1, 1, 1, 2], 'i32'), { scaleFactor: 2 })).toThrow(/upsample: input \[1, 1, 1, 1, 2\] must be f32 or f16, got i32/);
  });
});
