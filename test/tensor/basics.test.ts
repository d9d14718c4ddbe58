import { describe, expect, it } from 'vitest';
import { getEngine, randArray, relErr } from '../helpers.js';

describe('tensor basics', () => {
  it('uploads and downloads every dtype', async () => {
    const e = await getEngine();
    const src = randArray(37, 1, -100, 100);
    expect(relErr(await e.tensor(src, [37]).read(), Float32Array.from(src))).toBe(0);
    const ints = Array.from(src, Math.round);
    expect(Array.from(await e.tensor(ints, [37], 'i32').read())).toEqual(ints);
    const u8 = Array.from(src, (v) => Math.abs(Math.round(v)) % 256);
    expect(Array.from(await e.tensor(u8, [37], 'u8').read())).toEqual(u8);
    const h = await e.tensor([1, 0.5, -2, 65504, 1e-5], [5], 'f16').read();
    expect(Array.from(h)).toEqual([1, 0.5, -2, 65504, 1.0013580322265625e-5]);
  });

  it('fills every dtype, including odd sizes of packed types', async () => {
    const e = await getEngine();
    expect(Array.from(await e.full([7], 3.5).read())).toEqual(Array(7).fill(3.5));
    expect(Array.from(await e.full([7], 3.5, 'f16').read())).toEqual(Array(7).fill(3.5));
    expect(Array.from(await e.full([5], 200, 'u8').read())).toEqual(Array(5).fill(200));
    expect(Array.from(await e.full([3], -7, 'i32').read())).toEqual([-7, -7, -7]);
    expect(Array.from(await e.zeros([9]).read())).toEqual(Array(9).fill(0));
  });

  it('reshapes without copying and rejects bad shapes with a clear message', async () => {
    const e = await getEngine();
    const t = e.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const r = t.reshape([3, -1]);
    expect(r.shape).toEqual([3, 2]);
    expect(r.buffer).toBe(t.buffer);
    expect(() => t.reshape([4, 2])).toThrow(/\[2, 3\].*cannot become \[4, 2\]/);
    expect(() => e.tensor([1, 2, 3], [2, 2])).toThrow(/3 values given for shape \[2, 2\]/);
  });

  it('scopes dispose what they do not return', async () => {
    const e = await getEngine();
    const before = e.liveTensors;
    const kept = e.scope(() => {
      e.zeros([4]);
      e.zeros([4]);
      return e.ones([4]);
    });
    expect(e.liveTensors).toBe(before + 1);
    expect(Array.from(await kept.read())).toEqual([1, 1, 1, 1]);
    kept.dispose();
    expect(e.liveTensors).toBe(before);
  });

  it('times GPU work', async () => {
    const e = await getEngine();
    const t = e.zeros([1 << 16]);
    const ms = await e.rt.time(() => {
      for (let i = 0; i < 4; i++) e.full([1 << 16], i).dispose();
    });
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThan(10_000);
    t.dispose();
  });
});
