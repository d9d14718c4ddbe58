// Differentiable activations: ReLU, LeakyReLU (PyTorch default slope 0.01), SiLU, sigmoid.
import { activationBackward, activationForward, type Activation } from '../../kernels/activation.js';
import { needsGrad, record, save } from '../autograd/tape.js';
import type { Tensor } from '../tensor/tensor.js';

function pointwise(x: Tensor, op: Activation, alpha: number): Tensor {
  const y = activationForward(x, op, alpha);
  if (needsGrad(x)) {
    // sigmoid's derivative is cheapest from its output; the others need the input.
    const s = save(op === 'sigmoid' ? y : x);
    record(op, [x], [y], [s], ([gy]) => [activationBackward(gy!, s, op, alpha)]);
  }
  return y;
}

export const relu = (x: Tensor): Tensor => pointwise(x, 'relu', 0);
export const leakyRelu = (x: Tensor, negativeSlope = 0.01): Tensor => pointwise(x, 'leakyrelu', negativeSlope);
export const silu = (x: Tensor): Tensor => pointwise(x, 'silu', 0);
export const sigmoid = (x: Tensor): Tensor => pointwise(x, 'sigmoid', 0);
