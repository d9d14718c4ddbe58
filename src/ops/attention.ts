// Differentiable attention softmax(scale·q·kᵀ)·v over [batch·heads, tokens, channels], memory-aware: the forward
// saves only q, k, v, the output and one log-sum-exp per query row; the backward recomputes the score tiles.
import { attentionBackward, attentionForward } from '../../kernels/attention.js';
import { needsGrad, own, record, save } from '../autograd/tape.js';
import type { Tensor } from '../tensor/tensor.js';

/** q [B, T, D], k [B, S, D], v [B, S, E] → [B, T, E]. `scale` defaults to 1/√D. */
export function attention(q: Tensor, k: Tensor, v: Tensor, scale = 1 / Math.sqrt(q.shape[q.rank - 1])): Tensor {
  const { o, lse } = attentionForward(q, k, v, scale);
  if (!needsGrad(q, k, v)) {
    lse.dispose();
    return o;
  }
  const [qs, ks, vs, os] = [q, k, v, o].map(save);
  const ls = own(lse);
  record('attention', [q, k, v], [o], [qs, ks, vs, os, ls], ([gy], needs) => {
    const { dq, dk, dv } = attentionBackward(qs, ks, vs, os, ls, gy!, scale, needs);
    return [dq, dk, dv];
  });
  return o;
}
