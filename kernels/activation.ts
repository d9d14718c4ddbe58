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

function kernelFor(t: Tensor, op: Activation, grad: boolean, v4: boolean) {
  if (t.dtype !== 'f32' && t.dtype !== 'f16') throw new VesselError(`${op}: needs an f32 or f16 tensor, got ${t.dtype} ${fmtShape(t.shape)}`);
  const T = v4 ? 'vec4<f32>' : wgslType(t.dtype);
  return t.engine.rt.kernel('activation', source, { WG, OP: OPS[op], GRAD: grad, V4: v4, T, ENABLE_F16: enableF16(t.dtype) });
}

/** Dispatch over chunks; f32 chunks whose length is a multiple of 4 go four elements per invocation. */
function launch(t: Tensor, op: Activation, grad: boolean, bind: (s: number, n: number) => GPUBindingLike[], alpha: number): void {
  for (const [s, n] of chunkRanges(t)) {
    const v4 = t.dtype === 'f32' && n % 4 === 0;
    const k = kernelFor(t, op, grad, v4);
    const items = v4 ? n / 4 : n;
    t.engine.rt.dispatch(k, bind(s, n), params().u32(items).f32(alpha), grid1D(items, WG));
  }
}

type GPUBindingLike = ReturnType<Tensor['binding']>;

/** y = f(x). */
export function activationForward(x: Tensor, op: Activation, alpha = 0.01): Tensor {
  kernelFor(x, op, false, false);
  const y = x.engine.empty(x.shape, x.dtype);
  launch(x, op, false, (s, n) => [x.binding(s, n), y.binding(s, n)], alpha);
  return y;
}

/** gx = gy · f'(saved), where `saved` is the input x (or the output y for sigmoid). */
export function activationBackward(gy: Tensor, saved: Tensor, op: Activation, alpha = 0.01): Tensor {
  if (!sameShape(gy.shape, saved.shape) || gy.dtype !== saved.dtype) {
    throw new VesselError(`${op} backward: gradient ${fmtShape(gy.shape)} ${gy.dtype} does not match ${fmtShape(saved.shape)} ${saved.dtype}`);
  }
  const gx = gy.engine.empty(gy.shape, gy.dtype);
  launch(gy, op, true, (s, n) => [gy.binding(s, n), saved.binding(s, n), gx.binding(s, n)], alpha);
  return gx;
}
