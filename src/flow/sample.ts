// Sampling D_flow (spec §5.4): explicit Euler over t_i = i/steps, x ← x + v/steps, from x₀ (noise) to data,
// conditioned on a mask and a class. The result is clamped to [−1, 1] and mapped to [0, 1].
//
// Velocity variants (upstream `FlowMatching.sample`):
//   standard CFG   v = (1 + w)·v_cond − w·v_uncond, the unconditional call at class −1 (w = 0: plain conditional);
//   cfg_bg         the same only where mask == 0; v = v_cond wherever mask ≠ 0;
//   cfg_rand       w ~ U(0, w_max), one draw per sample (combines with cfg_bg);
//   interpolate    the class embedding w·E(y) + (1 − w)·E(y2), y2 ≠ y uniform over the classes, w ~ U(0, 1), one
//                  draw per sample (upstream uses it without CFG; here a nonzero guidance adds CFG on top).
// Conditional and unconditional velocities are one network batch of 2B; the per-sample (or, for cfg_bg, per-voxel)
// guidance weights are uploaded once before the loop, so a step is pure GPU work with no readback.
//
// Every random choice of sample i (its w, y2) is a pure function of (seed, i) — `drawSampleParams` — and the
// network treats samples of a batch independently, so a sample is the same function of (weights, mask, class,
// noise, steps, guidance, variant draws) whether it runs alone or in a batch (up to f32 rounding).
import { noGrad } from '../autograd/tape.js';
import { CounterRng } from '../data/mix.js';
import { VesselError } from '../gpu/errors.js';
import type { ClassMix, FlowUNet } from '../models/flow-unet.js';
import { add, cast, clamp, concat, eq, mul, scaleShift, slice, sub } from '../tensor/math.js';
import { fmtShape, sameShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

export type { ClassMix } from '../models/flow-unet.js';

/** Where classifier-free guidance applies: everywhere, or only on background voxels (mask == 0; upstream cfg_bg). */
export type GuidanceRegion = 'all' | 'background';

export interface SampleOptions {
  /** Euler steps (upstream: 100). */
  steps?: number;
  /** CFG weight w (0: plain conditional sampling): one for every sample, or one per sample. */
  guidance?: number | readonly number[];
  /** 'background': guidance only where mask == 0, v = v_cond elsewhere (upstream cfg_bg). Default 'all'. */
  region?: GuidanceRegion;
  /** Class-embedding interpolation per sample (upstream `interpolate`). */
  mix?: ClassMix | null;
  /** Called after each step (e.g. progress); awaited. */
  onStep?: (step: number, steps: number) => void | Promise<void>;
}

/** The sampling variants of spec §5.4, as the CLI names them. */
export type CfgVariant = 'standard' | 'bg' | 'rand' | 'interpolate';
export const CFG_VARIANTS: readonly CfgVariant[] = ['standard', 'bg', 'rand', 'interpolate'];

/** `standard`, or a comma-separated combination of `bg`, `rand`, `interpolate` (e.g. `bg,rand`). */
export function parseCfgVariants(spec: string): Set<CfgVariant> {
  const parts = spec
    .split(/[,+]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (parts.length === 0) throw new VesselError(`--cfg: empty; use ${CFG_VARIANTS.join(', ')} or a combination such as bg,rand`);
  const out = new Set<CfgVariant>();
  for (const p of parts) {
    if (!(CFG_VARIANTS as readonly string[]).includes(p)) throw new VesselError(`--cfg: unknown variant "${p}"; use ${CFG_VARIANTS.join(', ')} or a combination such as bg,rand`);
    out.add(p as CfgVariant);
  }
  if (out.has('standard') && out.size > 1) throw new VesselError(`--cfg ${spec}: "standard" does not combine with other variants`);
  return out;
}

/** A separate Philox key for the per-sample draws of cfg_rand / interpolate (independent of noise and init). */
export const drawSeedOf = (seed: number): number => (seed ^ 0x3c6ef372) >>> 0;

export interface SampleDraw {
  /** the CFG weight of this sample */
  guidance: number;
  /** interpolate: the second class and the weight of E(y) */
  y2?: number;
  mixWeight?: number;
}

/**
 * The random choices of sample `index` (cfg_rand: w ~ U(0, w_max) with w_max = `guidance`; interpolate: y2 uniform
 * over the classes other than y, w ~ U(0, 1)), a pure function of (seed, index) — independent of batching.
 */
export function drawSampleParams(
  seed: number,
  index: number,
  o: { variants: ReadonlySet<CfgVariant>; guidance: number; y: number; numClasses: number },
): SampleDraw {
  if (!Number.isInteger(index) || index < 0) throw new VesselError(`sample index must be a non-negative integer, got ${index}`);
  const rng = new CounterRng(drawSeedOf(seed), index * 4);
  const u = rng.next();
  const guidance = o.variants.has('rand') ? o.guidance * u : o.guidance;
  if (!o.variants.has('interpolate')) return { guidance };
  if (o.numClasses < 2) throw new VesselError(`--cfg interpolate needs a network with at least 2 classes, this one has ${o.numClasses}`);
  if (!Number.isInteger(o.y) || o.y < 0 || o.y >= o.numClasses) throw new VesselError(`--cfg interpolate needs a class in [0, ${o.numClasses - 1}], got ${o.y}`);
  const k = rng.int(o.numClasses - 1);
  const y2 = k >= o.y ? k + 1 : k;
  return { guidance, y2, mixWeight: rng.next() };
}

function weightsOf(g: number | readonly number[] | undefined, B: number): number[] {
  const w = typeof g === 'number' || g === undefined ? new Array<number>(B).fill(g ?? 0) : [...g];
  if (w.length !== B) throw new VesselError(`sampling: ${w.length} guidance weights for a batch of ${B}`);
  for (const v of w) if (!Number.isFinite(v)) throw new VesselError(`sampling: guidance weight must be a finite number, got ${v}`);
  return w;
}

/**
 * The guidance coefficient multiplying (v_cond − v_uncond): a number when it is the same everywhere, else a tensor
 * that broadcasts against [B, 1, D, H, W] — [B, 1, 1, 1, 1] per sample, or w_b·[mask == 0] per voxel for
 * 'background'. 0 means no guidance at all (no unconditional call).
 */
export function guidanceCoefficient(mask: Tensor, w: readonly number[], region: GuidanceRegion = 'all'): number | Tensor {
  const B = mask.shape[0];
  if (w.length !== B) throw new VesselError(`sampling: ${w.length} guidance weights for a batch of ${B}`);
  if (w.every((v) => v === 0)) return 0;
  const e = mask.engine;
  const uniform = w.every((v) => v === w[0]);
  if (region === 'all') return uniform ? w[0] : e.tensor(Float32Array.from(w), [B, 1, 1, 1, 1]);
  const bg8 = eq(mask, 0);
  const bg = cast(bg8, 'f32');
  bg8.dispose();
  if (uniform && w[0] === 1) return bg;
  const wt = uniform ? w[0] : e.tensor(Float32Array.from(w), [B, 1, 1, 1, 1]);
  const r = mul(bg, wt);
  bg.dispose();
  if (typeof wt !== 'number') wt.dispose();
  return r;
}

/** Velocities for a fixed batch (mask, classes, guidance, mix); the doubled mask and class lists are built once. */
class Velocity {
  private readonly mm: Tensor | null;
  private readonly yy: number[];
  private readonly mix2: ClassMix | null;
  constructor(
    readonly net: FlowUNet,
    readonly mask: Tensor,
    readonly y: readonly number[],
    readonly coef: number | Tensor,
    readonly mix: ClassMix | null,
  ) {
    const B = mask.shape[0];
    if (coef === 0) {
      this.mm = null;
      this.yy = [...y];
      this.mix2 = mix;
    } else {
      this.mm = concat([mask, mask], 0);
      this.yy = [...y, ...new Array<number>(B).fill(-1)];
      // the unconditional half: class −1 on both sides of the mix, i.e. the zero label embedding
      this.mix2 = mix ? { y2: [...Array.from(mix.y2), ...new Array<number>(B).fill(-1)], w: [...Array.from(mix.w), ...new Array<number>(B).fill(1)] } : null;
    }
  }
  at(x: Tensor, t: number): Tensor {
    const B = x.shape[0];
    if (!this.mm) return this.net.forward(x, this.mask, new Array<number>(B).fill(t), this.yy, this.mix2);
    const xx = concat([x, x], 0);
    const both = this.net.forward(xx, this.mm, new Array<number>(2 * B).fill(t), this.yy, this.mix2);
    xx.dispose();
    const vc = slice(both, 0, 0, B);
    const vu = slice(both, 0, B, 2 * B);
    both.dispose();
    // (1 + w)·v_c − w·v_u = v_c + w·(v_c − v_u), w per sample or per voxel
    const d = sub(vc, vu);
    vu.dispose();
    const wd = mul(d, this.coef);
    d.dispose();
    const v = add(vc, wd);
    vc.dispose();
    wd.dispose();
    return v;
  }
  dispose(): void {
    this.mm?.dispose();
  }
}

/**
 * One Euler velocity evaluation: v_cond, or with guidance (1 + w)·v_cond − w·v_uncond (cond and uncond in one batch
 * of 2B). `w` is one weight for all samples or one per sample; `region` and `mix` as in SampleOptions.
 */
export function velocity(
  net: FlowUNet,
  x: Tensor,
  mask: Tensor,
  t: number,
  y: readonly number[],
  w: number | readonly number[],
  o: { region?: GuidanceRegion; mix?: ClassMix | null } = {},
): Tensor {
  const coef = guidanceCoefficient(mask, weightsOf(w, x.shape[0]), o.region ?? 'all');
  const vel = new Velocity(net, mask, y, coef, o.mix ?? null);
  try {
    return vel.at(x, t);
  } finally {
    vel.dispose();
    if (typeof coef !== 'number') coef.dispose();
  }
}

/**
 * Integrate from x₀ [B, 1, D, H, W] to images in [0, 1] (same shape), every sample of the batch independently
 * (mask, class, guidance weight and mix per sample). `x0` and `mask` are not consumed.
 */
export async function eulerSample(net: FlowUNet, mask: Tensor, y: readonly number[], x0: Tensor, o: SampleOptions = {}): Promise<Tensor> {
  const steps = o.steps ?? 100;
  if (!Number.isInteger(steps) || steps < 1) throw new VesselError(`sampling: steps must be a positive integer, got ${steps}`);
  if (!sameShape(mask.shape, x0.shape)) throw new VesselError(`sampling: mask ${fmtShape(mask.shape)} and noise ${fmtShape(x0.shape)} differ in shape`);
  const B = x0.shape[0];
  if (y.length !== B) throw new VesselError(`sampling: ${y.length} classes for a batch of ${B}`);
  const region = o.region ?? 'all';
  if (region !== 'all' && region !== 'background') throw new VesselError(`sampling: guidance region must be 'all' or 'background', got ${String(region)}`);
  const coef = guidanceCoefficient(mask, weightsOf(o.guidance, B), region);
  const vel = new Velocity(net, mask, y, coef, o.mix ?? null);
  const wasTraining = net.training;
  net.eval();
  try {
    let x = x0.reshape(x0.shape);
    for (let i = 0; i < steps; i++) {
      const t = i / steps;
      const next = noGrad(() => {
        const v = vel.at(x, t);
        const dv = mul(v, 1 / steps);
        v.dispose();
        const r = add(x, dv);
        dv.dispose();
        return r;
      });
      x.dispose();
      x = next;
      if (o.onStep) await o.onStep(i + 1, steps);
    }
    const c = clamp(x, -1, 1);
    x.dispose();
    const out = scaleShift(c, 0.5, 0.5);
    c.dispose();
    return out;
  } finally {
    vel.dispose();
    if (typeof coef !== 'number') coef.dispose();
    net.train(wasTraining);
  }
}
