// Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_): one reduction over all gradients and an in-place
// scale by min(1, max_norm / (norm + 1e-6)) read from GPU memory — no readback.
import { normFinish, scaleByCoef, sumSquares, sumSquaresSlots } from '../../../kernels/optim.js';
import { VesselError } from '../../gpu/errors.js';
import type { Tensor } from '../../tensor/tensor.js';

/** Clip in place; returns the total norm (before clipping) as a one-element GPU tensor. */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): Tensor {
  const grads = [...params].map((p) => p.grad).filter((g): g is Tensor => !!g);
  if (grads.length === 0) throw new VesselError('clipGradNorm: no parameter has a gradient');
  const e = grads[0].engine;
  const slots = sumSquaresSlots(grads);
  const part = e.empty([slots]);
  const out = e.empty([2]);
  sumSquares(grads, part);
  normFinish(part, slots, out, maxNorm);
  for (const g of grads) scaleByCoef(g, out);
  part.dispose();
  const norm = out.engine.empty([]);
  e.rt.copy(out.buffer, 0, norm.buffer, 0, 4);
  out.dispose();
  return norm;
}
