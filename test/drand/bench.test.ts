// The drand benchmark suite's contract: registered, every figure positive and finite, in its unit, with context.
import { describe, expect, it } from 'vitest';
import { drandSuite } from '../../benchmarks/drand.js';
import { findSuite } from '../../benchmarks/registry.js';
import { fft } from '../../kernels/fft.js';
import { normalTable } from '../../kernels/random.js';
import type { BenchResult } from '../../benchmarks/suite.js';
import { getEngine } from '../helpers.js';

describe('bench suite: drand (quick)', () => {
  it('is registered and times the FFT, every transform, the chain and every background kind', async () => {
    expect(findSuite('drand')).toBe(drandSuite);
    const e = await getEngine();
    // The FFT keeps its twiddle and chirp tables per engine, and the exact normal sampler its table (noise kernels);
    // fill those caches first so the leak check sees the rest.
    for (const n of [16, 12, 13]) e.scope(() => fft(e.zeros([n, 2]), { axes: [0] }));
    normalTable(e);
    const live = e.liveTensors;
    const rows: BenchResult[] = [];
    for await (const r of drandSuite.run(e, { quick: true, size: 16 })) rows.push(r);
    for (const r of rows) {
      expect(Number.isFinite(r.value) && r.value > 0, JSON.stringify(r)).toBe(true);
      expect(typeof r.adapter).toBe('string');
      expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    }
    const by = new Map(rows.map((r) => [r.bench, r]));
    expect(by.get('drand.fft3d.pow2')!.size).toBe('16³');
    expect(by.get('drand.fft3d.mixed_radix')!.size).toBe('12³');
    expect(by.get('drand.fft3d.bluestein')!.size).toBe('13³');
    expect(by.get('drand.fft3d.bluestein')!.unit).toBe('GFLOP/s');
    for (const s of ['biasField', 'gaussianNoise', 'rician', 'contrast', 'histogramShift', 'clamp', 'smooth_sigma1', 'sharpen', 'kspaceSpike', 'gibbs']) {
      expect(by.get(`drand.intensity.${s}`)?.unit, s).toBe('ms');
    }
    expect(by.get('drand.chain.all_steps')!.unit).toBe('samples/s');
    expect(by.get('drand.chain.upstream_gates')!.unit).toBe('samples/s');
    expect(by.get('drand.background.voronoi_value')!.regions).toBeGreaterThanOrEqual(10);
    expect(by.get('drand.ceiling.triad_bandwidth')!.unit).toBe('GB/s');
    expect(e.liveTensors).toBe(live);
  });
});
