// Differentiable embedding lookup (gradient to the weight only; indices are integers).
import { embeddingBackward, embeddingForward } from '../../kernels/embedding.js';
import { needsGrad, record, save } from '../autograd/tape.js';
import type { Tensor } from '../tensor/tensor.js';

/** weight [rows, dim], idx i32 of any shape → [...idx.shape, dim]. A negative index yields a zero vector. */
export function embedding(weight: Tensor, idx: Tensor): Tensor {
  const y = embeddingForward(weight, idx);
  if (!needsGrad(weight)) return y;
  const is = save(idx);
  const rows = weight.shape[0];
  record('embedding', [weight], [y], [is], ([gy]) => [embeddingBackward(gy!, is, rows)]);
  return y;
}
