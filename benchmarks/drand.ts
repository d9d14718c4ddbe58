// The `drand` suite: GPU time of the domain-randomisation building blocks — the 3D FFT (GFLOP/s by the
// 5 N log2 N convention), every intensity transform, every background kind — and throughput of the whole intensity
// chain in samples per second, at --size (default 64³).
import { fft, fftFlops } from '../kernels/fft.js';
import type { Engine } from '../src/engine.js';
import { generateBackground } from '../src/data/drand/backgrounds.js';
import {
  adjustContrast,
  applyIntensity,
  biasField,
  gaussianNoise,
  gaussianSharpen,
  gaussianSmooth,
  gibbsNoise,
  histogramShift,
  kspaceSpike,
  ricianNoise,
} from '../src/data/drand/intensity.js';
import {
  ParamRng,
  sampleBackground,
  sampleIntensity,
  sampleIntensityAll,
  type GeometryKind,
  type TextureKind,
  type Vec3,
} from '../src/data/drand/params.js';
import type { Tensor } from '../src/tensor/tensor.js';
import type { BenchResult, Suite, SuiteOptions } from './suite.js';

/** Median GPU milliseconds per call of `fn` over `reps` timed rounds of `inner` calls each (after one warm-up). */
async function timeMs(e: Engine, fn: () => void, reps: number, inner: number): Promise<number> {
  e.scope(fn);
  await e.sync();
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const ms = await e.rt.time(() => {
      for (let i = 0; i < inner; i++) e.scope(fn);
    });
    times.push(ms / inner);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

function randomVolume(e: Engine, shape: number[], seed: number): Tensor {
  const r = new ParamRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = r.next();
  return e.tensor(d, shape);
}

export const drandSuite: Suite = {
  name: 'drand',
  description: 'domain randomisation on the GPU: 3D FFT, intensity transforms, backgrounds, whole intensity chain',
  async *run(e: Engine, opts: SuiteOptions): AsyncIterable<BenchResult> {
    const s = opts.size ?? (opts.quick ? 16 : 64);
    const shape: Vec3 = [s, s, s];
    const reps = opts.quick ? 1 : 3;
    const inner = opts.quick ? 1 : 3;
    const ctx = { size: `${s}³`, adapter: `${e.gpu.info.vendor} ${e.gpu.info.device}`.trim() };

    // FFT: a power-of-two cube and a Bluestein cube (3/4 of the size, e.g. 48³).
    const odd = Math.max(3, Math.round((s * 3) / 4));
    for (const n of [s, (odd & (odd - 1)) === 0 ? odd + 1 : odd]) {
      const dims = [n, n, n];
      const x = randomVolume(e, [...dims, 2], 1);
      const ms = await timeMs(e, () => fft(x), reps, inner);
      x.dispose();
      const pow2 = (n & (n - 1)) === 0;
      yield { bench: `drand.fft3d.${pow2 ? 'pow2' : 'bluestein'}`, value: fftFlops(dims) / (ms * 1e6), unit: 'GFLOP/s', ms, ...ctx, size: `${n}³` };
    }

    // Each intensity transform with fixed, representative parameters.
    const x = randomVolume(e, shape, 2);
    const all = sampleIntensityAll(new ParamRng(3), shape);
    const steps: [string, () => Tensor][] = [
      ['biasField', () => biasField(x, all.biasField!)],
      ['gaussianNoise', () => gaussianNoise(x, all.gaussianNoise!)],
      ['kspaceSpike', () => kspaceSpike(x, all.kspaceSpike!)],
      ['contrast', () => adjustContrast(x, all.contrast!)],
      ['smooth', () => gaussianSmooth(x, { sigma: [1, 1, 1] })],
      ['rician', () => ricianNoise(x, all.rician!)],
      ['gibbs', () => gibbsNoise(x, all.gibbs!)],
      ['sharpen', () => gaussianSharpen(x, all.sharpen!)],
      ['histogramShift', () => histogramShift(x, all.histogramShift!)],
    ];
    for (const [name, fn] of steps) {
      const ms = await timeMs(e, () => void fn(), reps, inner);
      yield { bench: `drand.intensity.${name}`, value: ms, unit: 'ms', ...ctx };
    }

    // The whole chain: every step on, and upstream's probability gates (averaged over 8 samples).
    const chainAll = await timeMs(e, () => void applyIntensity(x, all), reps, inner);
    yield { bench: 'drand.chain.all_steps', value: 1000 / chainAll, unit: 'samples/s', ms: chainAll, ...ctx };
    const gated = Array.from({ length: 8 }, (_, i) => sampleIntensity(new ParamRng(100 + i), shape));
    let k = 0;
    const chainGated = await timeMs(e, () => void applyIntensity(x, gated[k++ % gated.length]), reps, 8 * inner);
    yield { bench: 'drand.chain.upstream_gates', value: 1000 / chainGated, unit: 'samples/s', ms: chainGated, ...ctx };
    x.dispose();

    // Backgrounds, one kind at a time.
    const kinds: [GeometryKind, TextureKind][] = [
      ['none', 'value'],
      ['spheres', 'value'],
      ['voronoi', 'value'],
      ['none', 'perlin'],
      ['voronoi', 'perlin'],
      ['none', 'plain'],
    ];
    for (const [geometry, texture] of kinds) {
      const p = sampleBackground(new ParamRng(7), shape, { geometry, texture });
      const regions = geometry === 'none' ? 1 : geometry === 'spheres' ? p.spheres.length + 1 : p.seeds.length;
      const ms = await timeMs(e, () => void generateBackground(e, shape, p), reps, inner);
      yield { bench: `drand.background.${geometry}_${texture}`, value: ms, unit: 'ms', regions, ...ctx };
    }
  },
};
