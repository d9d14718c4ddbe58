import { describe, expect, it } from 'vitest';
import { philoxCpu, randomBitsCpu, randomInto, uniformCpu, normalCpu, PHILOX_WGSL } from '../../kernels/random.js';
import { getEngine, poison, relErr } from '../helpers.js';

const hex = (a: ArrayLike<number>) => Array.from(a, (x) => x.toString(16).padStart(8, '0'));

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

  it('GPU words are bit-identical to the CPU reference', async () => {
    const e = await getEngine();
    expect(PHILOX_WGSL).toMatch(/fn philox4x32_10/);
    for (const [n, seed, offset] of [[1001, 7, 0], [517, 0xdeadbeef, 3], [259, 2 ** 40 + 5, 2 ** 34 - 2]]) {
      const t = e.empty([n], 'u32');
      poison(t);
      randomInto(t, 'bits', seed, offset, 0, 0);
      expect(Array.from(await t.read())).toEqual(Array.from(randomBitsCpu(n, seed, offset)));
      t.dispose();
    }
  });

  it('uniform and normal match the CPU reference', async () => {
    const e = await getEngine();
    const n = 999;
    const u = e.empty([n]);
    poison(u);
    randomInto(u, 'uniform', 11, 5, 0, 1);
    expect(Array.from(await u.read())).toEqual(Array.from(uniformCpu(n, 11, 0, 1, 5), Math.fround));
    const g = e.empty([n]);
    poison(g);
    randomInto(g, 'normal', 11, 6, 2, 3);
    expect(relErr(await g.read(), normalCpu(n, 11, 2, 3, 6))).toBeLessThan(1e-5);
  });
});
