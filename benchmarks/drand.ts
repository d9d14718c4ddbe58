// Suite `drand`: GPU time of the domain-randomisation building blocks at --size (default 64³): the 3D FFT (GFLOP/s by
// the 5 N log2 N convention, and the bandwidth its passes imply), every intensity transform, every background kind,
// and the whole intensity chain in samples per second. The ceiling is the triad bandwidth measured in the same run on
// the same adapter: each memory-bound result carries its effective bandwidth as a fraction of it.
import { fft, fftFlops, isPow2, mixedRadices } from '../kernels/fft.js';
import { triad } from '../kernels/triad.js';
import type { Engine } from '../src/engine.js';
import { generateBackground } from '../src/data/drand/backgrounds.js';
import {
  adjustContrast,
  applyIntensity,
  biasField,
  clampVolume,
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
  regionCount,
  sampleBackground,
  sampleIntensity,
  sampleIntensityAll,
  type GeometryKind,
  type TextureKind,
  type Vec3,
} from '../src/data/drand/params.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { ARTIFACTS, composite, sampleComposite } from '../src/data/drand/composite.js';
import { MouldBank } from '../src/data/drand/moulds.js';
import { drawSample, generateSample } from '../src/data/drand/sample.js';
import { applySpatial, sampleSpatial, type SpatialParams } from '../src/data/drand/spatial.js';
import { renderVesselTree, sampleVesselTree } from '../src/data/drand/tree.js';
import { adapterContext, gpuTime, result, round, type GpuTiming } from './harness.js';
import type { BenchResult, Suite, SuiteOptions } from './suite.js';

function randomVolume(e: Engine, shape: number[], seed: number): Tensor {
  const r = new ParamRng(seed);
  const d = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < d.length; i++) d[i] = r.next();
  return e.tensor(d, shape);
}

/** Triad (a = b·c + d) bandwidth over buffers of `n` floats: the run's memory ceiling in GB/s. */
async function triadCeiling(e: Engine, n: number, samples: number): Promise<number> {
  const [a, b, c, d] = [e.empty([n]), e.full([n], 1.5), e.full([n], 2), e.full([n], 0.25)];
  const t = await gpuTime(e, () => triad(a, b, c, d), { samples });
  for (const x of [a, b, c, d]) x.dispose();
  return (16 * n) / (t.medianMs * 1e6);
}

export const drandSuite: Suite = {
  name: 'drand',
  description: 'domain randomisation on the GPU: 3D FFT, intensity transforms, backgrounds, whole intensity chain',
  async *run(e: Engine, opts: SuiteOptions): AsyncIterable<BenchResult> {
    const s = opts.size ?? (opts.quick ? 16 : 64);
    const shape: Vec3 = [s, s, s];
    const n = s * s * s;
    const samples = opts.quick ? 2 : 5;
    const targetMs = opts.quick ? 5 : 50;
    const time = (fn: () => void): Promise<GpuTiming> => gpuTime(e, () => e.scope(fn), { samples, targetMs });
    const ctx = { ...adapterContext(e), size: `${s}³` };
    const ceiling = await triadCeiling(e, Math.max(n, 1 << 20), samples);
    yield result('drand.ceiling.triad_bandwidth', ceiling, 'GB/s', { ...ctx, floats: Math.max(n, 1 << 20) });
    const bw = (bytes: number, ms: number) => ({ gb_per_s: round(bytes / (ms * 1e6)), ratio_to_triad: round(bytes / (ms * 1e6) / ceiling, 3) });

    // FFT: a power-of-two cube, a mixed-radix cube (3/4 of the size, e.g. 48³) and a Bluestein cube (the next length
    // up with a prime factor above 7, e.g. 51³). Each axis pass of the power-of-two path in workgroup memory reads and
    // writes every complex value once (16 bytes); global and Bluestein passes move more.
    const m3 = Math.max(3, Math.round((s * 3) / 4));
    let mb = m3;
    while (mixedRadices(mb) !== null) mb++;
    const fftCases: [string, number][] = [
      ['pow2', s],
      ['mixed_radix', isPow2(m3) ? 3 * m3 : m3],
      ['bluestein', mb],
    ];
    for (const [kind, m] of fftCases) {
      if (kind === 'pow2' && !isPow2(m)) continue;
      const dims = [m, m, m];
      const x = randomVolume(e, [...dims, 2], 1);
      const t = await time(() => void fft(x));
      x.dispose();
      yield result(`drand.fft3d.${kind}`, fftFlops(dims) / (t.medianMs * 1e6), 'GFLOP/s', {
        ...ctx,
        size: `${m}³`,
        ms: round(t.medianMs),
        ...(kind === 'pow2' ? bw(m ** 3 * (16 + 3 * 16), t.medianMs) : {}),
        timing: t.method,
      });
    }

    // Each intensity transform with fixed, representative parameters; voxel-wise ones read and write 8 bytes/voxel.
    const x = randomVolume(e, shape, 2);
    const all = sampleIntensityAll(new ParamRng(3), shape);
    const steps: [string, () => Tensor, number][] = [
      ['biasField', () => biasField(x, all.biasField!), 8],
      ['gaussianNoise', () => gaussianNoise(x, all.gaussianNoise!), 8],
      ['rician', () => ricianNoise(x, all.rician!), 8],
      ['contrast', () => adjustContrast(x, all.contrast!), 12],
      ['histogramShift', () => histogramShift(x, all.histogramShift!), 12],
      ['clamp', () => clampVolume(x), 8],
      ['smooth_sigma1', () => gaussianSmooth(x, { sigma: [1, 1, 1] }), 24],
      ['sharpen', () => gaussianSharpen(x, all.sharpen!), 60],
      ['kspaceSpike', () => kspaceSpike(x, all.kspaceSpike!), 0],
      ['gibbs', () => gibbsNoise(x, all.gibbs!), 0],
    ];
    for (const [name, fn, bytesPerVoxel] of steps) {
      const t = await time(() => void fn());
      yield result(`drand.intensity.${name}`, t.medianMs, 'ms', {
        ...ctx,
        ...(bytesPerVoxel ? bw(bytesPerVoxel * n, t.medianMs) : {}),
        timing: t.method,
      });
    }

    // The whole chain: every step on, and upstream's probability gates (averaged over 8 sampled chains).
    const tAll = await time(() => void applyIntensity(x, all));
    yield result('drand.chain.all_steps', 1000 / tAll.medianMs, 'samples/s', { ...ctx, ms: round(tAll.medianMs), timing: tAll.method });
    const gated = Array.from({ length: 8 }, (_, i) => sampleIntensity(new ParamRng(100 + i), shape));
    const tGated = await time(() => {
      for (const p of gated) applyIntensity(x, p).dispose();
    });
    yield result('drand.chain.upstream_gates', 8000 / tGated.medianMs, 'samples/s', {
      ...ctx,
      ms: round(tGated.medianMs / 8),
      timing: tGated.method,
    });
    x.dispose();

    // Backgrounds, one kind at a time (exact min-max normalisation; Voronoi also with a stride of 2).
    const kinds: [GeometryKind, TextureKind, number][] = [
      ['none', 'value', 1],
      ['spheres', 'value', 1],
      ['voronoi', 'value', 1],
      ['voronoi', 'value', 2],
      ['none', 'perlin', 1],
      ['voronoi', 'perlin', 1],
      ['none', 'plain', 1],
    ];
    for (const [geometry, texture, normStride] of kinds) {
      const p = sampleBackground(new ParamRng(7), shape, { geometry, texture });
      const t = await time(() => void generateBackground(e, shape, p, { normStride }));
      yield result(`drand.background.${geometry}_${texture}${normStride > 1 ? `_stride${normStride}` : ''}`, t.medianMs, 'ms', {
        ...ctx,
        regions: regionCount(p),
        timing: t.method,
      });
    }

    // Whole-sample stages: a procedural mould, the label transforms with every step on, compositing (averaged over
    // the seven artifacts), and whole samples with upstream's gates from procedural moulds (exact backgrounds and
    // with background min-max on every 4th voxel per axis).
    const bank = new MouldBank(e, { kind: 'procedural' }, s);
    const tree = sampleVesselTree(new ParamRng(8), shape);
    const tTree = await time(() => void renderVesselTree(e, tree));
    yield result('drand.sample.mould_tree', tTree.medianMs, 'ms', { ...ctx, segments: tree.segments.length, timing: tTree.method });
    const mould = renderVesselTree(e, tree);
    const sp: SpatialParams = {
      ...sampleSpatial(new ParamRng(9), shape, s),
      flips: [true, false, true],
      rot90: [1, 0, 2],
      dilate: true,
      zoom: 1.3,
      elastic: { sigma: 17.5 * (s / 128), magnitude: 3750 * (s / 128) ** 2.5, seed: 3 },
      binarySmooth: true,
    };
    const tSp = await time(() => void applySpatial(mould, sp, s));
    yield result('drand.sample.label_transforms_all', tSp.medianMs, 'ms', { ...ctx, timing: tSp.method });
    const label = applySpatial(mould, { ...sp, elastic: null }, s);
    const bgc = randomVolume(e, shape, 10);
    const comps = ARTIFACTS.map((artifact, i) => sampleComposite(new ParamRng(20 + i), { artifact }));
    const tComp = await time(() => {
      for (const c of comps) composite(label, bgc, c).dispose();
    });
    yield result('drand.sample.composite', tComp.medianMs / comps.length, 'ms', { ...ctx, artifacts: comps.length, timing: tComp.method });
    for (const normStride of [1, 4]) {
      const per = opts.quick ? 1 : 4;
      const params = Array.from({ length: per }, (_, i) => drawSample(bank, 11, i, { normStride }));
      const tS = await gpuTime(
        e,
        () =>
          e.scope(() => {
            for (const p of params) {
              const out = generateSample(bank, p, { normStride });
              out.image.dispose();
              out.mask.dispose();
            }
          }),
        { samples: opts.quick ? 1 : 3, targetMs },
      );
      yield result(`drand.sample.whole${normStride > 1 ? `_stride${normStride}` : ''}`, (1000 * per) / tS.medianMs, 'samples/s', {
        ...ctx,
        ms: round(tS.medianMs / per),
        moulds: 'procedural',
        timing: tS.method,
      });
    }
    for (const t of [mould, label, bgc]) t.dispose();
    bank.dispose();
  },
};
