// Differentiable losses. diceBceLoss is vesselFM's DiceCELoss exactly (spec §1.5):
//   0.9 · mean over (sample, channel) of [1 − (2·Σ p·g + 1e-5) / (Σ g² + Σ p² + 1e-5)], p = σ(logit)
//   + 0.1 · mean BCE-with-logits (numerically stable form)
// mseLoss is the mean squared error (flow matching). Both return an f32 scalar tensor that stays on the GPU.
import { diceBceBackward, diceBceForward, mseBackward, mseForward, type DiceOptions } from '../../kernels/loss.js';
import { needsGrad, own, record, save } from '../autograd/tape.js';
import type { Tensor } from '../tensor/tensor.js';

export function diceBceLoss(logits: Tensor, target: Tensor, opts: DiceOptions = {}): Tensor {
  const { loss, stats } = diceBceForward(logits, target, opts);
  if (!needsGrad(logits)) {
    stats.dispose();
    return loss;
  }
  const xs = save(logits);
  const gs = save(target);
  const st = own(stats);
  record('diceBceLoss', [logits, null], [loss], [xs, gs, st], ([gl]) => [diceBceBackward(xs, gs, st, gl!, opts), null]);
  return loss;
}

export function mseLoss(pred: Tensor, target: Tensor): Tensor {
  const loss = mseForward(pred, target);
  if (!needsGrad(pred, target)) return loss;
  const ps = save(pred);
  const ts = save(target);
  record('mseLoss', [pred, target], [loss], [ps, ts], ([gl], needs) => [
    needs[0] ? mseBackward(ps, ts, gl!) : null,
    needs[1] ? mseBackward(ts, ps, gl!) : null,
  ]);
  return loss;
}
