import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/index.js';
import { attention } from '../../src/ops/attention.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import { fixture } from './fixtures.js';
import { leaf, numericGrad } from './ref.js';

/** float64 softmax(scale·q·kᵀ)·v. */
function attnRef(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, B: number, T: number, S: number, D: number, E: number, scale: number): Float64Array {
  const o = new Float64Array(B * T * E);
  const sc = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      let m = -Infinity;
      for (let s = 0; s < S; s++) {
        let d = 0;
        for (let c = 0; c < D; c++) d += q[(b * T + t) * D + c] * k[(b * S + s) * D + c];
        sc[s] = d * scale;
        m = Math.max(m, sc[s]);
      }
      let l = 0;
      for (let s = 0; s < S; s++) l += (sc[s] = Math.exp(sc[s] - m));
      for (let s = 0; s < S; s++) {
        const w = sc[s] / l;
        for (let e = 0; e < E; e++) o[(b * T + t) * E + e] += w * v[(b * S + s) * E + e];
      }
    }
  }
  return o;
}

describe('attention', () => {
  it('matches PyTorch (scale 0.5)', async () => {
    const e = await getEngine();
    const q = fixture('attention_scale0.5.q');
    const k = fixture('attention_scale0.5.k');
    const v = fixture('attention_scale0.5.v');
    const [qt, kt, vt] = [q, k, v].map((a) => leaf(e, a.data, a.shape));
    const y = attention(qt, kt, vt, 0.5);
    backward(y, e.tensor(fixture('attention_scale0.5.dy').data, y.shape));
    expect(relErr(await y.read(), fixture('attention_scale0.5.y').data)).toBeLessThan(1e-5);
    expect(relErr(await qt.grad!.read(), fixture('attention_scale0.5.dq').data)).toBeLessThan(1e-4);
    expect(relErr(await kt.grad!.read(), fixture('attention_scale0.5.dk').data)).toBeLessThan(1e-4);
    expect(relErr(await vt.grad!.read(), fixture('attention_scale0.5.dv').data)).toBeLessThan(1e-4);
  });

  for (const [B, T, S, D, E, scale, impl] of [
    [1, 5, 3, 2, 3, 1.3, 'fused'],
    [2, 67, 70, 5, 7, 0.4, 'fused'],
    [3, 9, 130, 3, 66, 0.7, 'fused'],
    [1, 5, 3, 2, 3, 1.3, 'blocked'],
    [2, 67, 70, 5, 7, 0.4, 'blocked'],
    [3, 9, 130, 3, 66, 0.7, 'blocked'],
  ] as const) {
    it(`${impl}: matches float64 references: B ${B}, T ${T}, S ${S}, D ${D}, E ${E}`, async () => {
      const e = await getEngine();
      const qs = randArray(B * T * D, 1, -1.5, 1.5);
      const ks = randArray(B * S * D, 2, -1.5, 1.5);
      const vs = randArray(B * S * E, 3);
      const gys = randArray(B * T * E, 4);
      const q = leaf(e, qs, [B, T, D]);
      const k = leaf(e, ks, [B, S, D]);
      const v = leaf(e, vs, [B, S, E]);
      // blocked: a small budget forces several row blocks (T = 67 → blocks of 5 rows)
      const y = attention(q, k, v, scale, { impl, blockBytes: B * S * 4 * 5 });
      backward(y, e.tensor(gys, y.shape));
      const ref = (a: ArrayLike<number>, b: ArrayLike<number>, c: ArrayLike<number>) => attnRef(a, b, c, B, T, S, D, E, scale);
      expect(relErr(await y.read(), ref(qs, ks, vs))).toBeLessThan(1e-5);
      if (B * T * S * (D + E) < 200_000) {
        expect(relErr(await q.grad!.read(), numericGrad((x) => ref(x, ks, vs), Float64Array.from(qs), gys))).toBeLessThan(1e-4);
        expect(relErr(await k.grad!.read(), numericGrad((x) => ref(qs, x, vs), Float64Array.from(ks), gys))).toBeLessThan(1e-4);
        expect(relErr(await v.grad!.read(), numericGrad((x) => ref(qs, ks, x), Float64Array.from(vs), gys))).toBeLessThan(1e-4);
      } else {
        // large case: gradients against an analytic float64 backward
        const P = new Float64Array(T * S);
        const dq = new Float64Array(B * T * D);
        const dk = new Float64Array(B * S * D);
        const dv = new Float64Array(B * S * E);
        for (let b = 0; b < B; b++) {
          for (let t = 0; t < T; t++) {
            let m = -Infinity;
            for (let s = 0; s < S; s++) {
              let d = 0;
              for (let c = 0; c < D; c++) d += qs[(b * T + t) * D + c] * ks[(b * S + s) * D + c];
              P[t * S + s] = d * scale;
              m = Math.max(m, d * scale);
            }
            let l = 0;
            for (let s = 0; s < S; s++) l += (P[t * S + s] = Math.exp(P[t * S + s] - m));
            for (let s = 0; s < S; s++) P[t * S + s] /= l;
            let delta = 0;
            const dP = new Float64Array(S);
            for (let s = 0; s < S; s++) {
              let dp = 0;
              for (let c = 0; c < E; c++) dp += gys[(b * T + t) * E + c] * vs[(b * S + s) * E + c];
              dP[s] = dp;
              delta += P[t * S + s] * dp;
            }
            for (let s = 0; s < S; s++) {
              const p = P[t * S + s];
              const ds = p * (dP[s] - delta) * scale;
              for (let c = 0; c < D; c++) {
                dq[(b * T + t) * D + c] += ds * ks[(b * S + s) * D + c];
                dk[(b * S + s) * D + c] += ds * qs[(b * T + t) * D + c];
              }
              for (let c = 0; c < E; c++) dv[(b * S + s) * E + c] += p * gys[(b * T + t) * E + c];
            }
          }
        }
        expect(relErr(await q.grad!.read(), dq)).toBeLessThan(1e-4);
        expect(relErr(await k.grad!.read(), dk)).toBeLessThan(1e-4);
        expect(relErr(await v.grad!.read(), dv)).toBeLessThan(1e-4);
      }
    });
  }

  for (const impl of ['fused', 'blocked'] as const) {
  it(`${impl}: never allocates the T×S matrix: pool peak stays far below it at 1,024 tokens`, async () => {
    const e = await getEngine();
    const T = 1024;
    const D = 32;
    const q = leaf(e, randArray(T * D, 5), [1, T, D]);
    const k = leaf(e, randArray(T * D, 6), [1, T, D]);
    const v = leaf(e, randArray(T * D, 7), [1, T, D]);
    const gy = e.tensor(randArray(T * D, 8), [1, T, D]);
    await e.sync();
    e.rt.pool.resetPeak();
    const base = e.rt.pool.stats.inUseBytes;
    e.scope(() => backward(attention(q, k, v, 0.2, { impl, blockBytes: 128 * 1024 }), gy));
    await e.sync();
    const peak = e.rt.pool.stats.peakInUseBytes - base;
    // output, three gradients, lse and delta: about 4 × 128 KiB (+ two 256 KiB blocks when blocked); the score
    // matrix alone would be 4 MiB
    expect(peak).toBeLessThan(impl === 'fused' ? 1024 * 1024 : 2 * 1024 * 1024);
    expect(peak).toBeLessThan((T * T * 4) / (impl === 'fused' ? 4 : 3));
    const o = await q.grad!.read();
    expect(o.every(Number.isFinite)).toBe(true);
  });
  }

  it('rejects mismatched shapes', async () => {
    const e = await getEngine();
    expect(() => attention(e.zeros([2, 3, 4]), e.zeros([2, 5, 3]), e.zeros([2, 5, 4]))).toThrow(/q and k channels differ \(4 vs 3\)/);
    expect(() => attention(e.zeros([2, 3, 4]), e.zeros([2, 5, 4]), e.zeros([2, 6, 4]))).toThrow(/token counts differ/);
  });
});
