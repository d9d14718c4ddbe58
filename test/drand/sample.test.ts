// Whole D_drand samples: determinism (same seed and index → identical bytes; another seed or index → different),
// independence of the order in which indices are generated, shard disjointness and union, value ranges.
import { describe, expect, it } from 'vitest';
import { MouldBank } from '../../src/data/drand/moulds.js';
import { checkMould } from '../../src/data/drand/moulds.js';
import { drawSample, generateSample, parseShard, shardIndices } from '../../src/data/drand/sample.js';
import type { Engine } from '../../src/engine.js';
import { VesselError } from '../../src/gpu/errors.js';
import { getEngine, rng } from '../helpers.js';

const SIZE = 16;
const OPTS = { normStride: 2 };

async function sampleBytes(e: Engine, bank: MouldBank, seed: number, index: number): Promise<{ img: Uint8Array; mask: Float32Array }> {
  const s = generateSample(bank, drawSample(bank, seed, index, OPTS), OPTS);
  const img = new Uint8Array(((await s.image.read()) as Float32Array).slice().buffer);
  const mask = (await s.mask.read()) as Float32Array;
  s.image.dispose();
  s.mask.dispose();
  return { img, mask: mask.slice() };
}

describe('D_drand samples', () => {
  it('are a pure function of (seed, index): identical bytes in any order, different for another seed or index', async () => {
    const e = await getEngine();
    const bank = new MouldBank(e, { kind: 'procedural' }, SIZE);
    const a0 = await sampleBytes(e, bank, 5, 0);
    const a1 = await sampleBytes(e, bank, 5, 1);
    const b1 = await sampleBytes(e, bank, 5, 1);
    const b0 = await sampleBytes(e, bank, 5, 0);
    const c0 = await sampleBytes(e, bank, 6, 0);
    expect(Buffer.compare(a0.img, b0.img)).toBe(0);
    expect(Buffer.compare(a1.img, b1.img)).toBe(0);
    expect(Array.from(a0.mask)).toEqual(Array.from(b0.mask));
    expect(Buffer.compare(a0.img, a1.img)).not.toBe(0);
    expect(Buffer.compare(a0.img, c0.img)).not.toBe(0);
    // values: image in [0, 1], mask 0/1 and not empty
    const img = new Float32Array(a0.img.buffer);
    for (const v of img) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    expect(a0.mask.every((v) => v === 0 || v === 1)).toBe(true);
    expect(a0.mask.some((v) => v === 1)).toBe(true);
    expect(e.liveTensors).toBeLessThan(50);
    bank.dispose();
  });

  it('drawn parameters are deterministic and carry upstream gates; a real mould bank samples crops inside the mould', async () => {
    const e = await getEngine();
    const bank = new MouldBank(e, { kind: 'procedural' }, SIZE);
    expect(JSON.stringify(drawSample(bank, 3, 7))).toBe(JSON.stringify(drawSample(bank, 3, 7)));
    expect(JSON.stringify(drawSample(bank, 3, 7))).not.toBe(JSON.stringify(drawSample(bank, 3, 8)));
    let zooms = 0;
    const M = 300;
    for (let i = 0; i < M; i++) if (drawSample(bank, 1, i).spatial.zoom !== null) zooms++;
    expect(Math.abs(zooms / M - 0.4)).toBeLessThan(0.1);
    const r = rng(3);
    const data = new Uint8Array(24 * 20 * 18).map(() => (r() < 0.2 ? 1 : 0));
    const real = new MouldBank(e, { kind: 'arrays', count: 1, names: ['m'], load: () => checkMould('m', data, [24, 20, 18], SIZE) }, SIZE);
    for (let i = 0; i < 20; i++) {
      const p = drawSample(real, 2, i);
      p.spatial.crop.forEach((c, a) => expect(c + SIZE).toBeLessThanOrEqual([24, 20, 18][a]));
    }
    const s = generateSample(real, drawSample(real, 2, 0, OPTS), OPTS);
    expect(s.image.shape).toEqual([SIZE, SIZE, SIZE]);
    s.image.dispose();
    s.mask.dispose();
    real.dispose();
    bank.dispose();
  });

  it('shards k/n are disjoint and their union is 0 … count − 1', () => {
    for (const [count, n] of [
      [10, 3],
      [7, 7],
      [5, 8],
      [100, 4],
    ]) {
      const all: number[] = [];
      for (let k = 0; k < n; k++) {
        const s = shardIndices(count, k, n);
        s.forEach((i) => expect(i % n).toBe(k));
        all.push(...s);
      }
      expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i));
    }
    expect(parseShard('2/5')).toEqual([2, 5]);
    expect(() => parseShard('5/5')).toThrow(VesselError);
    expect(() => parseShard('x')).toThrow(/k\/n/);
  });
});
