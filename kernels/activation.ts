// Pointwise activations (ReLU, LeakyReLU, SiLU, sigmoid): forward and gradient kernels, f32 or f16 storage.
import source from '../shaders/activation.wgsl';
import { VesselError } from '../src/gpu/errors.js';
import { params } from '../src/runtime/runtime.js';
import { fmtShape, sameShape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { enableF16, wgslType } from './accumulate.js';
import { chunkRanges, grid1D } from './util.js';

export type Activation = 'relu' | 'leakyrelu' | 'silu' | 'sigmoid';
const OPS: Record<Activation, number> = { relu: 0, leakyrelu: 1, silu: 2, sigmoid: 3 };
const WG = 256;

function kernelFor(t: Tensor, op: Activation, grad: boolean) {
  if (t.dtype !== 'f32' && t.dtype !== 'f16') throw new VesselError(`${op}: needs an f32 or f16 tensor, got ${t.dtype} ${fmtShape(t.shape)}`);
  return t.engine.rt.kernel('activation', source, { WG, OP: OPS[op], GRAD: grad, T: wgslType(t.dtype), ENABLE_F16: enableF16(t.dtype) });
}

/** y = f(x). */
export function activationForward(x: Tensor, op: Activation, alpha = 0.01): Tensor {
  const k = kernelFor(x, op, false);
  const y = x.engine.empty(x.shape, x.dtype);
  for (const [s, n] of chunkRanges(x)) x.engine.rt.dispatch(k, [x.binding(s, n), y.binding(s, n)], params().u32(n).f32(alpha), grid1D(n, WG));
  return y;
}

/** gx = gy · f'(saved), where `saved` is the input x (or the output y for sigmoid). */
export function activationBackward(gy: Tensor, saved: Tensor, op: Activation, alpha = 0.01): Tensor {
  if (!sameShape(gy.shape, saved.shape) || gy.dtype !== saved.dtype) {
    throw new VesselError(`${op} backward: gradient ${fmtShape(gy.shape)} ${gy.dtype} does not match ${fmtShape(saved.shape)} ${saved.dtype}`);
  }
  const k = kernelFor(gy, op, true);
  const gx = gy.engine.empty(gy.shape, gy.dtype);
  for (const [s, n] of chunkRanges(gy)) {
    gy.engine.rt.dispatch(k, [gy.binding(s, n), saved.binding(s, n), gx.binding(s, n)], params().u32(n).f32(alpha), grid1D(n, WG));
  }
  return gx;
}
