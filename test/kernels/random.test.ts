import { describe, expect, it } from 'vitest';
import {
  normal, normalCpu, philoxCpu, PHILOX_WGSL, randomBits, randomBitsCpu, randomInto, uniform, uniformCpu,
} from '../../kernels/random.js';
import { roundF16 } from '../../src/tensor/f16.js';
import { getEngine, poison } from '../helpers.js';

const hex = (a: ArrayLike<number>) => Array.from(a, (x) => x.toString(16).padStart(8, '0'));

function moments(v: ArrayLike<number>): { mean: number; variance: number } {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  const mean = s / v.length;
  let q = 0;
  for (let i = 0; i < v.length; i++) q += (v[i] - mean) ** 2;
  return { mean, variance: q / v.length };
}

describe('philox', () => {
  it('CPU reference matches the Random123 known-answer vectors', () => {
    expect(hex(philoxCpu([0, 0, 0, 0], [0, 0]))).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
    expect(hex(philoxCpu([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]))).toEqual([
      '408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd',
    ]);
    expect(hex(philoxCpu([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]))).toEqual([
      'd16cfe09', '94fdcceb', '5001e420', '24126ea1',
    ]);
  });

  it('GPU words are bit-identical to the CPU reference (offsets across blocks and the 2^32 carry)', async () => {
    const e = await getEngine();
    expect(PHILOX_WGSL).toMatch(/fn philox4x32_10\(ctr: vec4u, key: vec2u\) -> vec4u/);
    for (const [n, seed, offset] of [[1001, 7, 0], [517, 0xdeadbeef, 3], [259, 2 ** 40 + 5, 2 ** 34 - 2], [66, 1, 2 ** 32 * 4 - 5]]) {
      const t = e.empty([n], 'u32');
      poison(t);
      randomInto(t, 'bits', seed, offset, 0, 0);
      expect(Array.from(await t.read()), `n=${n} seed=${seed} offset=${offset}`).toEqual(Array.from(randomBitsCpu(n, seed, offset)));
      t.dispose();
    }
  });

  it('uniform and normal are bit-exact (also shifted and scaled) and uniform stays inside [lo, hi)', async () => {
    const e = await getEngine();
    const n = 999;
    const u = e.empty([n]);
    poison(u);
    randomInto(u, 'uniform', 11, 5, 0, 1);
    expect(Array.from(await u.read())).toEqual(Array.from(uniformCpu(n, 11, 0, 1, 5), Math.fround));
    const v = await uniform(e, [4001], -3, 2.5, 99).read();
    expect(Array.from(v)).toEqual(Array.from(uniformCpu(4001, 99, -3, 2.5)));
    expect(Array.from(await uniform(e, [333], 0.1, 0.7, 4, 2).read())).toEqual(Array.from(uniformCpu(333, 4, 0.1, 0.7, 2)));
    expect(v.every((x) => x >= -3 && x < 2.5)).toBe(true);
    // An interval so narrow that lo + (hi − lo)·u rounds up to hi for some u: still strictly below hi.
    const narrow = await uniform(e, [4001], 1, 1 + 2 ** -22, 3).read();
    expect(narrow.every((x) => x >= 1 && x < 1 + 2 ** -22)).toBe(true);
    const g = e.empty([n]);
    poison(g);
    randomInto(g, 'normal', 11, 6, 2, 3);
    expect(Array.from(await g.read())).toEqual(Array.from(normalCpu(n, 11, 2, 3, 6)));
  });

  it('moments within statistical bounds, f32 and f16', async () => {
    const e = await getEngine();
    const n = 200_003;
    for (const dtype of e.gpu.hasF16 ? (['f32', 'f16'] as const) : (['f32'] as const)) {
      const u = moments(await uniform(e, [n], -1, 3, 5, 0, dtype).read());
      // Uniform on [-1, 3): mean 1, variance 16/12; standard errors ~0.0026 and ~0.0027 at this n.
      expect(Math.abs(u.mean - 1)).toBeLessThan(0.015);
      expect(Math.abs(u.variance - 16 / 12)).toBeLessThan(0.015);
      const g = await normal(e, [n], 0.5, 2, 6, 0, dtype).read();
      const m = moments(g);
      expect(Math.abs(m.mean - 0.5)).toBeLessThan(0.03); // 6 standard errors (2 / sqrt(n) = 0.0045)
      expect(Math.abs(m.variance - 4)).toBeLessThan(0.08); // 6 standard errors (4·sqrt(2/n) = 0.0127)
      let tail = 0;
      for (const x of g) if (Math.abs(x - 0.5) > 2 * 1.959964) tail++;
      expect(Math.abs(tail / n - 0.05)).toBeLessThan(0.004);
      if (dtype === 'f16') {
        const h = await uniform(e, [101], 0, 1, 8, 0, 'f16').read();
        expect(Array.from(h)).toEqual(Array.from(uniformCpu(101, 8), roundF16));
      }
    }
  });

  it('reproducible for a seed, different across seeds and offsets, and offsets continue a stream', async () => {
    const e = await getEngine();
    const a = await normal(e, [1000], 0, 1, 42).read();
    const b = await normal(e, [1000], 0, 1, 42).read();
    const c = await normal(e, [1000], 0, 1, 43).read();
    expect(Array.from(a)).toEqual(Array.from(b));
    let same = 0;
    for (let i = 0; i < 1000; i++) if (a[i] === c[i]) same++;
    expect(same).toBeLessThan(5);
    // offset k continues the stream: elements [k, …) of a longer draw.
    const tail = await normal(e, [997], 0, 1, 42, 3).read();
    expect(Array.from(tail)).toEqual(Array.from(a.subarray(3)));
    const bits = await randomBits(e, [7, 9], 5, 1).read();
    expect(Array.from(bits)).toEqual(Array.from(randomBitsCpu(63, 5, 1)));
  });

  it('rejects bad arguments', async () => {
    const e = await getEngine();
    expect(() => uniform(e, [3], 1, 1, 0)).toThrow(/uniform: need finite lo < hi/);
    expect(() => normal(e, [3], 0, -1, 0)).toThrow(/normal: need a finite mean and std ≥ 0/);
    expect(() => uniform(e, [3], 0, 1, -1)).toThrow(/seed must be an integer/);
    expect(() => uniform(e, [3], 0, 1, 0, 0.5)).toThrow(/offset must be an integer/);
    expect(() => uniform(e, [3], 0, 1, 0, 0, 'i32')).toThrow(/uniform: dtype i32 is not supported/);
  });
});
