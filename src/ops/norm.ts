// Differentiable normalisation: groupNorm (G groups, affine, eps 1e-5) and instanceNorm (one group per channel,
// per-sample statistics, biased variance — PyTorch's InstanceNorm3d with track_running_stats=False). Statistics are
// f32 even for f16 activations; weight and bias are f32 (master weights).
import { groupNormBackward, groupNormForward } from '../../kernels/norm.js';
import { needsGrad, own, record, save } from '../autograd/tape.js';
import type { Tensor } from '../tensor/tensor.js';

export function groupNorm(x: Tensor, groups: number, weight: Tensor, bias: Tensor, eps = 1e-5, op = 'groupNorm'): Tensor {
  const { y, stats } = groupNormForward(x, groups, weight, bias, eps, op);
  if (!needsGrad(x, weight, bias)) {
    stats.dispose();
    return y;
  }
  const xs = save(x);
  const ws = save(weight);
  const st = own(stats);
  record(op, [x, weight, bias], [y], [xs, ws, st], ([gy], needs) => {
    const { dx, dgamma, dbeta } = groupNormBackward(xs, gy!, st, ws, groups, op);
    return [needs[0] ? dx : (dx.dispose(), null), needs[1] ? dgamma : (dgamma.dispose(), null), needs[2] ? dbeta : (dbeta.dispose(), null)];
  });
  return y;
}

/** InstanceNorm over the spatial dims of each sample and channel. */
export function instanceNorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor {
  return groupNorm(x, x.shape[1], weight, bias, eps, 'instanceNorm');
}
