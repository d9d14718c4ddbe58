// Gradient accumulation kernels for the autograd tape (acc += g; out = a + b) and a plain buffer copy.
import source from '../shaders/accumulate.wgsl';
import { VesselError } from '../src/gpu/errors.js';
import { params } from '../src/runtime/runtime.js';
import { fmtShape, sameShape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { chunkRanges, grid1D } from './util.js';

const WG = 256;

function check(a: Tensor, b: Tensor, what: string): void {
  if (!sameShape(a.shape, b.shape) || a.dtype !== b.dtype) {
    throw new VesselError(`${what}: ${fmtShape(a.shape)} ${a.dtype} and ${fmtShape(b.shape)} ${b.dtype} differ`);
  }
  if (a.dtype !== 'f32' && a.dtype !== 'f16') throw new VesselError(`${what}: gradients must be f32 or f16, not ${a.dtype}`);
}

/** Shader-f16 enable line for a dtype (the preprocessor cannot emit the directive itself). */
export function enableF16(dtype: string): string {
  return dtype === 'f16' ? 'enable f16;' : '';
}

export function wgslType(dtype: string): string {
  return dtype === 'f16' ? 'f16' : 'f32';
}

/** acc += g (same shape and dtype). */
export function accumulateInto(acc: Tensor, g: Tensor): void {
  check(acc, g, 'accumulate');
  const rt = acc.engine.rt;
  const k = rt.kernel('accumulate', source, { WG, T: wgslType(acc.dtype), ENABLE_F16: enableF16(acc.dtype), INPLACE: true });
  for (const [s, n] of chunkRanges(acc)) rt.dispatch(k, [acc.binding(s, n), g.binding(s, n)], params().u32(n), grid1D(n, WG));
}

/** A new tensor a + b (same shape and dtype). */
export function addTensors(a: Tensor, b: Tensor): Tensor {
  check(a, b, 'add');
  const rt = a.engine.rt;
  const out = a.engine.empty(a.shape, a.dtype);
  const k = rt.kernel('accumulate', source, { WG, T: wgslType(a.dtype), ENABLE_F16: enableF16(a.dtype), INPLACE: false });
  for (const [s, n] of chunkRanges(a)) rt.dispatch(k, [a.binding(s, n), b.binding(s, n), out.binding(s, n)], params().u32(n), grid1D(n, WG));
  return out;
}

/** A new tensor with a copy of t's data. */
export function copyTensor(t: Tensor): Tensor {
  const out = t.engine.empty(t.shape, t.dtype);
  t.engine.rt.copy(t.buffer, 0, out.buffer, 0, t.storage.bytes);
  return out;
}
