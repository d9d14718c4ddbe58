// Rectified flow as vesselFM's D_flow trains it (spec §5.2): x₀ ~ N(0, I) noise, x₁ the image in [−1, 1],
// t ~ logit-normal (sigmoid of N(0, 1)), x_t = t·x₁ + (1 − t)·x₀ (σ_min = 0), target velocity v* = x₁ − x₀, and the
// MSE between the network's velocity and v*, averaged over every voxel of the batch.
import type { CounterRng } from '../data/mix.js';
import { VesselError } from '../gpu/errors.js';
import type { FlowUNet } from '../models/flow-unet.js';
import { mseLoss } from '../ops/loss.js';
import { add, mul, sub } from '../tensor/math.js';
import { fmtShape, sameShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/** A standard normal from two uniforms of `rng` (Box–Muller). */
export function normalFrom(rng: CounterRng): number {
  const u1 = Math.max(rng.next(), 2 ** -32);
  const u2 = rng.next();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** n logit-normal times t = σ(z), z ~ N(0, 1) (SD3's importance sampling, USE_LOGNORM_IS). */
export function logitNormalTimes(rng: CounterRng, n: number): number[] {
  return Array.from({ length: n }, () => 1 / (1 + Math.exp(-normalFrom(rng))));
}

/** Class-label dropout for classifier-free guidance: each label becomes −1 with probability p. */
export function dropLabels(rng: CounterRng, y: readonly number[], p: number): number[] {
  return y.map((c) => (rng.next() < p ? -1 : c));
}

/** x_t = x₀ + t·(x₁ − x₀) per sample and the target x₁ − x₀ (no gradients: both are data). */
export function interpolate(x1: Tensor, x0: Tensor, t: readonly number[]): { xt: Tensor; target: Tensor } {
  if (!sameShape(x1.shape, x0.shape)) throw new VesselError(`rectified flow: data ${fmtShape(x1.shape)} and noise ${fmtShape(x0.shape)} differ in shape`);
  const B = x1.shape[0];
  if (t.length !== B) throw new VesselError(`rectified flow: ${t.length} time values for a batch of ${B}`);
  const e = x1.engine;
  const target = sub(x1, x0);
  const tt = e.tensor(Float32Array.from(t), [B, ...x1.shape.slice(1).map(() => 1)]);
  const scaled = mul(target, tt);
  tt.dispose();
  const xt = add(x0, scaled);
  scaled.dispose();
  return { xt, target };
}

/** The rectified-flow loss MSE(v_θ([x_t, mask], t, y), x₁ − x₀) (differentiable in the network's parameters). */
export function flowLoss(net: FlowUNet, x1: Tensor, mask: Tensor, x0: Tensor, t: readonly number[], y: readonly number[] | null): Tensor {
  const { xt, target } = interpolate(x1, x0, t);
  const v = net.forward(xt, mask, t, y);
  xt.dispose();
  const loss = mseLoss(v, target);
  v.dispose();
  target.dispose();
  return loss;
}
