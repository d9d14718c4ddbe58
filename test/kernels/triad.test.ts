import { describe, expect, it } from 'vitest';
import { triad } from '../../kernels/triad.js';
import { getEngine, poison, randArray, relErr } from '../helpers.js';

describe('triad a = b·c + d', () => {
  it('matches a float64 reference for vec4 bodies, scalar tails and tail-only sizes', async () => {
    const e = await getEngine();
    for (const n of [1, 3, 4, 1003, 4096 + 7]) {
      const [b, c, d] = [1, 2, 3].map((s) => randArray(n, 100 * n + s));
      const ta = e.empty([n]);
      poison(ta);
      triad(ta, e.tensor(b, [n]), e.tensor(c, [n]), e.tensor(d, [n]));
      const ref = b.map((v, i) => v * c[i] + d[i]);
      expect(relErr(await ta.read(), ref), `n=${n}`).toBeLessThan(1e-6);
    }
  });

  it('rejects operands of another size or dtype, naming them', async () => {
    const e = await getEngine();
    expect(() => triad(e.zeros([5]), e.zeros([5]), e.zeros([4]), e.zeros([5]))).toThrow(/triad: .*c \[4\] f32/);
    expect(() => triad(e.zeros([5]), e.zeros([5], 'i32'), e.zeros([5]), e.zeros([5]))).toThrow(/b \[5\] i32/);
  });
});
