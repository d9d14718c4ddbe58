// Differentiable attention softmax(scale·q·kᵀ)·v over [batch·heads, tokens, channels], memory-aware: the forward
// saves only q, k, v, the output and one log-sum-exp per query row; the backward recomputes the scores.
// Two implementations (kernels/attention.ts): 'fused' (flash-style online softmax, O(T + S) memory) and 'blocked'
// (blocks of query rows on the matmul kernels, one [B, R, S] block at a time within a byte budget). 'auto' takes the
// blocked path for large problems, where the tuned matmul kernels are several times faster.
import {
  BLOCK_BUDGET,
  attentionBackward,
  attentionBackwardBlocked,
  attentionForward,
  attentionForwardBlocked,
} from '../../kernels/attention.js';
import { needsGrad, own, record, save } from '../autograd/tape.js';
import type { Tensor } from '../tensor/tensor.js';

export interface AttentionOptions {
  impl?: 'auto' | 'fused' | 'blocked';
  /** Bytes of one score block in the blocked implementation (default 16 MiB). */
  blockBytes?: number;
}

/** Problems at least this large (B·T·S) take the blocked path under 'auto'. */
export const BLOCKED_MIN_SCORES = 1 << 16;

/** q [B, T, D], k [B, S, D], v [B, S, E] → [B, T, E]. `scale` defaults to 1/√D. */
export function attention(q: Tensor, k: Tensor, v: Tensor, scale = 1 / Math.sqrt(q.shape[q.rank - 1]), o: AttentionOptions = {}): Tensor {
  const scores = (q.shape[0] ?? 1) * (q.shape[1] ?? 1) * (k.shape[1] ?? 1);
  const blocked = o.impl === 'blocked' || ((o.impl ?? 'auto') === 'auto' && scores >= BLOCKED_MIN_SCORES);
  const budget = o.blockBytes ?? BLOCK_BUDGET;
  const { o: out, lse } = blocked ? attentionForwardBlocked(q, k, v, scale, budget) : attentionForward(q, k, v, scale);
  if (!needsGrad(q, k, v)) {
    lse.dispose();
    return out;
  }
  const [qs, ks, vs, os] = [q, k, v, out].map(save);
  const ls = own(lse);
  record('attention', [q, k, v], [out], [qs, ks, vs, os, ls], ([gy], needs) => {
    const g = blocked
      ? attentionBackwardBlocked(qs, ks, vs, os, ls, gy!, scale, needs, budget)
      : attentionBackward(qs, ks, vs, os, ls, gy!, scale, needs);
    return [g.dq, g.dk, g.dv];
  });
  return out;
}
