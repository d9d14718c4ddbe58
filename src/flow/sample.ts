// Sampling D_flow (spec §5.4): explicit Euler over t_i = i/steps, x ← x + v/steps, from x₀ (noise) to data,
// conditioned on a mask and a class; optional classifier-free guidance v = (1 + w)·v_cond − w·v_uncond with the
// unconditional call at class −1 (both evaluated as one batch). The result is clamped to [−1, 1] and mapped to
// [0, 1]. A sample is a pure function of (weights, mask, class, x₀, steps, w).
import { noGrad } from '../autograd/tape.js';
import { VesselError } from '../gpu/errors.js';
import type { FlowUNet } from '../models/flow-unet.js';
import { add, clamp, concat, mul, scaleShift, slice, sub } from '../tensor/math.js';
import { fmtShape, sameShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

export interface SampleOptions {
  /** Euler steps (upstream: 100). */
  steps?: number;
  /** CFG weight w (0: plain conditional sampling). */
  guidance?: number;
  /** Called after each step (e.g. progress); awaited. */
  onStep?: (step: number, steps: number) => void | Promise<void>;
}

/** One Euler velocity evaluation, with CFG when w ≠ 0 (cond and uncond in one batch of 2B). */
export function velocity(net: FlowUNet, x: Tensor, mask: Tensor, t: number, y: readonly number[], w: number): Tensor {
  const B = x.shape[0];
  if (w === 0) return net.forward(x, mask, new Array<number>(B).fill(t), y);
  const xx = concat([x, x], 0);
  const mm = concat([mask, mask], 0);
  const both = net.forward(xx, mm, new Array<number>(2 * B).fill(t), [...y, ...new Array<number>(B).fill(-1)]);
  xx.dispose();
  mm.dispose();
  const vc = slice(both, 0, 0, B);
  const vu = slice(both, 0, B, 2 * B);
  both.dispose();
  // (1 + w)·v_c − w·v_u = v_c + w·(v_c − v_u)
  const d = sub(vc, vu);
  vu.dispose();
  const wd = mul(d, w);
  d.dispose();
  const v = add(vc, wd);
  vc.dispose();
  wd.dispose();
  return v;
}

/** Integrate from x₀ [B, 1, D, H, W] to an image in [0, 1] (same shape). `x0` is not consumed. */
export async function eulerSample(net: FlowUNet, mask: Tensor, y: readonly number[], x0: Tensor, o: SampleOptions = {}): Promise<Tensor> {
  const steps = o.steps ?? 100;
  const w = o.guidance ?? 0;
  if (!Number.isInteger(steps) || steps < 1) throw new VesselError(`sampling: steps must be a positive integer, got ${steps}`);
  if (!Number.isFinite(w)) throw new VesselError(`sampling: guidance weight must be a finite number, got ${w}`);
  if (!sameShape(mask.shape, x0.shape)) throw new VesselError(`sampling: mask ${fmtShape(mask.shape)} and noise ${fmtShape(x0.shape)} differ in shape`);
  if (y.length !== x0.shape[0]) throw new VesselError(`sampling: ${y.length} classes for a batch of ${x0.shape[0]}`);
  const wasTraining = net.training;
  net.eval();
  try {
    let x = x0.reshape(x0.shape);
    for (let i = 0; i < steps; i++) {
      const t = i / steps;
      const next = noGrad(() => {
        const v = velocity(net, x, mask, t, y, w);
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
    net.train(wasTraining);
  }
}
