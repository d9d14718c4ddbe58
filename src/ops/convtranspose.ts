// Differentiable 3D transposed convolution (PyTorch ConvTranspose3d semantics, weight (in, out, kD, kH, kW)),
// wrapping the convTranspose3d kernels. The decoder's upsampling uses kernel 2, stride 2, no bias.
import {
  convTranspose3dBackwardBias,
  convTranspose3dBackwardInput,
  convTranspose3dBackwardWeight,
  convTranspose3dForward,
  type ConvTranspose3dOptions,
} from '../../kernels/convtranspose3d.js';
import { needsGrad, record, save } from '../autograd/tape.js';
import type { Tensor } from '../tensor/tensor.js';

export type { ConvTranspose3dOptions };

export function convTranspose3d(x: Tensor, weight: Tensor, bias: Tensor | null = null, opts: ConvTranspose3dOptions = {}): Tensor {
  const y = convTranspose3dForward(x, weight, bias, opts);
  if (!needsGrad(x, weight, bias)) return y;
  const xs = weight.requiresGrad ? save(x) : null;
  const ws = x.requiresGrad ? save(weight) : null;
  const xShape = x.shape;
  const wShape = weight.shape;
  record('convTranspose3d', [x, weight, bias], [y], [xs, ws].filter((t): t is Tensor => t !== null), ([gy], needs) => [
    needs[0] ? convTranspose3dBackwardInput(gy!, ws!, xShape, opts) : null,
    needs[1] ? convTranspose3dBackwardWeight(gy!, xs!, wShape, opts) : null,
    needs[2] ? convTranspose3dBackwardBias(gy!) : null,
  ]);
  return y;
}
