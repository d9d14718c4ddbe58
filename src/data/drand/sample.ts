// One D_drand sample on the GPU (spec §4): mould → label transforms → background → composite → intensity chain.
// Every random choice comes from (seed, index): the scalar parameters from a Philox-based CPU generator forked per
// sample, the per-voxel noise from Philox streams on the GPU keyed by seeds that generator hands out. So a sample
// is a pure function of (seed, index, moulds): byte-identical on one adapter, however the indices are split across
// processes or machines.
//
// Sharding: `--shard k/n` takes the indices i ≡ k (mod n) of 0 … count − 1 (round-robin), so n machines write
// disjoint parts of one data set whose union is what a single machine would write.
import type { Engine } from '../../engine.js';
import { VesselError } from '../../gpu/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { generateBackground } from './backgrounds.js';
import { composite, sampleComposite, type CompositeParams } from './composite.js';
import { applyIntensity } from './intensity.js';
import type { MouldBank, MouldChoice } from './moulds.js';
import { ParamRng, sampleBackground, sampleIntensity, type BackgroundOptions, type BackgroundParams, type IntensityParams, type Vec3 } from './params.js';
import { applySpatial, sampleSpatial, type SpatialOptions, type SpatialParams } from './spatial.js';

export interface SampleOptions {
  /** Background mix and kinds (default upstream's recipe). */
  background?: BackgroundOptions;
  /** Min-max normalise background textures on every normStride-th voxel per axis (default 1: exact). */
  normStride?: number;
  spatial?: SpatialOptions;
}

export interface SampleParams {
  seed: number;
  index: number;
  size: number;
  mould: MouldChoice;
  spatial: SpatialParams;
  background: BackgroundParams;
  composite: CompositeParams;
  intensity: IntensityParams;
}

/** The parameter generator of sample `index` of the data set `seed` (independent streams per index). */
export function sampleRng(seed: number, index: number): ParamRng {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new VesselError(`drand: seed must be a non-negative integer, got ${seed}`);
  if (!Number.isInteger(index) || index < 0 || index >= 2 ** 32) throw new VesselError(`drand: index must be an integer in [0, 2^32), got ${index}`);
  return new ParamRng(seed, 0).fork(index);
}

/** Draw every parameter of one sample (CPU only; cheap). */
export function drawSample(bank: MouldBank, seed: number, index: number, opts: SampleOptions = {}): SampleParams {
  const rng = sampleRng(seed, index);
  const n = bank.size;
  const shape: Vec3 = [n, n, n];
  // One child stream per stage, so that a change in one stage's draws never shifts another's.
  const mould = bank.choose(rng.fork(1));
  const spatial = sampleSpatial(rng.fork(2), bank.shapeOf(mould), n, opts.spatial);
  const background = sampleBackground(rng.fork(3), shape, opts.background);
  const comp = sampleComposite(rng.fork(4));
  const intensity = sampleIntensity(rng.fork(5), shape);
  return { seed, index, size: n, mould, spatial, background, composite: comp, intensity };
}

export interface Sample {
  /** f32 [n, n, n] in [0, 1]. */
  image: Tensor;
  /** f32 [n, n, n] of 0/1. */
  mask: Tensor;
}

/**
 * Generate one sample on the GPU from its parameters. Nothing is read back; the caller owns (and disposes) the two
 * tensors. `onStage` sees every intermediate volume in order (previews); it must not keep them.
 */
export function generateSample(bank: MouldBank, p: SampleParams, opts: SampleOptions = {}, onStage?: (name: string, y: Tensor) => void): Sample {
  const e: Engine = bank.engine;
  const n = p.size;
  return e.scope(() => {
    const { mould, owned } = bank.tensor(p.mould);
    onStage?.('mould', mould);
    const mask = applySpatial(mould, p.spatial, n, onStage);
    if (owned) mould.dispose();
    const bg = generateBackground(e, [n, n, n], p.background, { normStride: opts.normStride });
    onStage?.('background', bg);
    const comp = composite(mask, bg, p.composite, onStage);
    bg.dispose();
    onStage?.('composite', comp);
    const image = applyIntensity(comp, p.intensity, { onStep: onStage });
    comp.dispose();
    return { image, mask };
  });
}

/** The indices of shard k of n over 0 … count − 1: i ≡ k (mod n). */
export function shardIndices(count: number, k: number, n: number): number[] {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(k) || k < 0 || k >= n) throw new VesselError(`--shard k/n needs integers 0 ≤ k < n, got ${k}/${n}`);
  if (!Number.isInteger(count) || count < 0) throw new VesselError(`--count must be a non-negative integer, got ${count}`);
  const out: number[] = [];
  for (let i = k; i < count; i += n) out.push(i);
  return out;
}

/** Parse "k/n". */
export function parseShard(s: string): [number, number] {
  const m = /^(\d+)\/(\d+)$/.exec(s.trim());
  if (!m) throw new VesselError(`--shard must look like k/n (e.g. 0/4), got "${s}"`);
  const k = Number(m[1]);
  const n = Number(m[2]);
  if (n < 1 || k >= n) throw new VesselError(`--shard ${s}: need 0 ≤ k < n`);
  return [k, n];
}
