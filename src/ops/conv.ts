// Differentiable 3D convolution (PyTorch Conv3d semantics: cross-correlation, zero padding, NCDHW, weight
// (out, in, kD, kH, kW)), wrapping the conv3d kernels (forward, input gradient, weight gradient, bias gradient).
import { conv3dBackwardBias, conv3dBackwardInput, conv3dBackwardWeight, conv3dForward, type Conv3dOptions } from '../../kernels/conv3d.js';
import { needsGrad, record, save } from '../autograd/tape.js';
import type { Tensor } from '../tensor/tensor.js';

export type { Conv3dOptions };

export function conv3d(x: Tensor, weight: Tensor, bias: Tensor | null = null, opts: Conv3dOptions = {}): Tensor {
  const y = conv3dForward(x, weight, bias, opts);
  if (!needsGrad(x, weight, bias)) return y;
  // x is only needed for the weight gradient, w only for the input gradient.
  const xs = weight.requiresGrad ? save(x) : null;
  const ws = x.requiresGrad ? save(weight) : null;
  const xShape = x.shape;
  const wShape = weight.shape;
  record('conv3d', [x, weight, bias], [y], [xs, ws].filter((t): t is Tensor => t !== null), ([gy], needs) => [
    needs[0] ? conv3dBackwardInput(gy!, ws!, xShape, opts) : null,
    needs[1] ? conv3dBackwardWeight(gy!, xs!, wShape, opts) : null,
    needs[2] ? conv3dBackwardBias(gy!) : null,
  ]);
  return y;
}
