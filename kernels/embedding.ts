// Embedding lookup and its gradient (shaders/embedding.wgsl).
import source from '../shaders/embedding.wgsl';
import { VesselError } from '../src/gpu/errors.js';
import { params } from '../src/runtime/runtime.js';
import { fmtShape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { grid1D } from './util.js';

const WG = 256;

/** out [...idx.shape, dim] = weight[idx]; weight [rows, dim] f32, idx i32 (negative → zero row). */
export function embeddingForward(weight: Tensor, idx: Tensor): Tensor {
  if (weight.rank !== 2 || weight.dtype !== 'f32') throw new VesselError(`embedding: weight ${fmtShape(weight.shape)} ${weight.dtype} must be f32 [rows, dim]`);
  if (idx.dtype !== 'i32') throw new VesselError(`embedding: indices ${fmtShape(idx.shape)} must be i32, got ${idx.dtype}`);
  const [rows, dim] = weight.shape;
  const out = weight.engine.empty([...idx.shape, dim]);
  const k = weight.engine.rt.kernel('embedding', source, { WG, GRAD: false });
  weight.engine.rt.dispatch(k, [idx.binding(), weight.binding(), out.binding()], params().u32(idx.size).u32(rows).u32(dim), grid1D(idx.size * dim, WG));
  return out;
}

/** dW [rows, dim] from dy [...idx.shape, dim]. */
export function embeddingBackward(dy: Tensor, idx: Tensor, rows: number): Tensor {
  const dim = dy.shape[dy.rank - 1];
  if (dy.size !== idx.size * dim) throw new VesselError(`embedding backward: gradient ${fmtShape(dy.shape)} does not match indices ${fmtShape(idx.shape)}`);
  const dw = dy.engine.empty([rows, dim]);
  const k = dy.engine.rt.kernel('embedding', source, { WG, GRAD: true });
  dy.engine.rt.dispatch(k, [idx.binding(), dy.binding(), dw.binding()], params().u32(idx.size).u32(rows).u32(dim), grid1D(rows * dim, WG));
  return dw;
}
