// Differentiable nearest / trilinear resampling of NCDHW volumes (PyTorch F.interpolate, align_corners=False).
import { upsampleBackward, upsampleForward, upsampleGeometry, type UpsampleMode } from '../../kernels/upsample.js';
import { needsGrad, record } from '../autograd/tape.js';
import type { Tensor } from '../tensor/tensor.js';

export interface UpsampleOptions {
  mode?: UpsampleMode;
  /** Output spatial size [D, H, W]. */
  size?: readonly number[];
  /** Per-axis or uniform factor (output = floor(input·factor); PyTorch then samples with scale 1/factor). */
  scaleFactor?: number | readonly number[];
}

export function upsample(x: Tensor, o: UpsampleOptions): Tensor {
  const mode = o.mode ?? 'nearest';
  const g = upsampleGeometry(x.shape, o.size, o.scaleFactor);
  const y = upsampleForward(x, g, mode);
  if (!needsGrad(x)) return y;
  const xShape = x.shape;
  record(`upsample(${mode})`, [x], [y], [], ([gy]) => [upsampleBackward(gy!, g, mode, xShape)]);
  return y;
}
