// Attention kernels, two implementations with the same contract (save only the log-sum-exp per query row; the
// backward recomputes scores):
//   fused   (shaders/attention.wgsl) a tiled online-softmax forward and a tile-recomputing backward (dQ over key
//           tiles; dK, dV over query tiles). Memory O(B·(T + S)·(D + E)): the T×S matrix never exists.
//   blocked (shaders/attention_block.wgsl + the matmul kernels) blocks of query rows against all keys: scores,
//           softmax and P·V per block, backward per block with dK, dV accumulated. Memory: one or two [B, R, S]
//           blocks, R chosen from a byte budget (16 MiB by default), never the whole T×S matrix when it is larger.
import source from '../shaders/attention.wgsl';
import blockSource from '../shaders/attention_block.wgsl';
import { accumulateInto } from './accumulate.js';
import { concat, slice } from './copy.js';
import { matmul, matmulMixed } from './matmul.js';
import { cast } from './elementwise.js';
import type { Engine } from '../src/engine.js';
import { VesselError } from '../src/gpu/errors.js';
import { params, type Kernel } from '../src/runtime/runtime.js';
import { fmtShape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { grid1D } from './util.js';

/** Query rows (forward, dQ) or key rows (dK/dV) per workgroup. */
const RQ = 4;
const TILE = 64;
const MAX_DIM = 384;

type Stage = 'FWD' | 'DELTA' | 'DQ' | 'DKV';

function kernel(e: Engine, stage: Stage, D: number, E: number, f16 = false): Kernel {
  const ncd = Math.ceil(D / 64);
  const nce = Math.ceil(E / 64);
  return e.rt.kernel('attention', source, {
    FWD: stage === 'FWD',
    DELTA: stage === 'DELTA',
    DQ: stage === 'DQ',
    DKV: stage === 'DKV',
    F16: f16,
    ACT: f16 ? 'u32' : 'f32',
    RQ,
    NCD: ncd,
    NCE: nce,
    RQD: RQ * 64 * ncd,
    RQE: RQ * 64 * nce,
    RQT: RQ * TILE,
    RQNCD: RQ * ncd,
    RQNCE: RQ * nce,
  });
}

export interface AttnDims {
  B: number;
  T: number;
  S: number;
  D: number;
  E: number;
}

export function attentionDims(q: Tensor, k: Tensor, v: Tensor): AttnDims {
  const desc = () => `attention: q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`;
  if (q.rank !== 3 || k.rank !== 3 || v.rank !== 3) throw new VesselError(`${desc()}: expected [batch, tokens, channels] each`);
  const dt = q.dtype;
  if ((dt !== 'f32' && dt !== 'f16') || k.dtype !== dt || v.dtype !== dt) {
    throw new VesselError(`${desc()}: q, k and v must all be f32 or all f16, got ${q.dtype}, ${k.dtype} and ${v.dtype}`);
  }
  if (dt === 'f16' && !q.engine.gpu.hasF16) throw new VesselError(`${desc()}: f16 needs an adapter with shader-f16`);
  const [B, T, D] = q.shape;
  const [Bk, S, Dk] = k.shape;
  const [Bv, Sv, E] = v.shape;
  if (Bk !== B || Bv !== B) throw new VesselError(`${desc()}: batch sizes differ`);
  if (Dk !== D) throw new VesselError(`${desc()}: q and k channels differ (${D} vs ${Dk})`);
  if (Sv !== S) throw new VesselError(`${desc()}: k and v token counts differ (${S} vs ${Sv})`);
  if (T === 0 || S === 0 || D === 0 || E === 0) throw new VesselError(`${desc()}: empty dimension`);
  if (D > MAX_DIM || E > MAX_DIM) throw new VesselError(`${desc()}: channels per head must be ≤ ${MAX_DIM} (split into heads)`);
  if (B > 65535) throw new VesselError(`${desc()}: at most 65,535 batch·heads per dispatch`);
  return { B, T, S, D, E };
}



const pk = (T: number, S: number, D: number, E: number, scale: number) => params().u32(T).u32(S).u32(D).u32(E).f32(scale);

/** O [B, T, E] and LSE [B, T]. */
export function attentionForward(q: Tensor, k: Tensor, v: Tensor, scale: number): { o: Tensor; lse: Tensor } {
  const { B, T, S, D, E } = attentionDims(q, k, v);
  const e = q.engine;
  const f16 = q.dtype === 'f16';
  const o = e.empty([B, T, E]);
  const lse = e.empty([B, T]);
  e.rt.dispatch(kernel(e, 'FWD', D, E, f16), [q.binding(), k.binding(), v.binding(), o.binding(), lse.binding()], pk(T, S, D, E, scale), [Math.ceil(T / RQ), B, 1]);
  return { o: f16 ? narrow(o) : o, lse };
}

/** Round an f32 result to f16 once (consumes it). The kernels write f32: a packed f16 word would be shared by two invocations. */
function narrow(t: Tensor): Tensor {
  const h = cast(t, 'f16');
  t.dispose();
  return h;
}

function narrowIf(f16: boolean, t: Tensor | null): Tensor | null {
  return f16 && t ? narrow(t) : t;
}

/** The output gradient must match the output: [B, T, E] in the dtype of q, k, v. */
function checkGrad(dout: Tensor, q: Tensor, B: number, T: number, E: number): void {
  if (dout.size !== B * T * E || dout.dtype !== q.dtype) {
    throw new VesselError(`attention backward: gradient ${fmtShape(dout.shape)} ${dout.dtype} does not match the output [${B}, ${T}, ${E}] ${q.dtype}`);
  }
}

/** dQ, dK, dV from the saved inputs, output and LSE and the output gradient dO. */
export function attentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: Tensor,
  lse: Tensor,
  dout: Tensor,
  scale: number,
  needs: readonly boolean[] = [true, true, true],
): { dq: Tensor | null; dk: Tensor | null; dv: Tensor | null } {
  const { B, T, S, D, E } = attentionDims(q, k, v);
  checkGrad(dout, q, B, T, E);
  const e = q.engine;
  const f16 = q.dtype === 'f16';
  const delta = e.empty([B, T]);
  e.rt.dispatch(kernel(e, 'DELTA', D, E, f16), [o.binding(), dout.binding(), delta.binding()], pk(B * T, S, D, E, scale), grid1D(B * T, 64));
  let dq: Tensor | null = null;
  let dk: Tensor | null = null;
  let dv: Tensor | null = null;
  if (needs[0]) {
    dq = e.empty([B, T, D]);
    e.rt.dispatch(
      kernel(e, 'DQ', D, E, f16),
      [q.binding(), k.binding(), v.binding(), dout.binding(), lse.binding(), delta.binding(), dq.binding()],
      pk(T, S, D, E, scale),
      [Math.ceil(T / RQ), B, 1],
    );
  }
  if (needs[1] || needs[2]) {
    dk = e.empty([B, S, D]);
    dv = e.empty([B, S, E]);
    e.rt.dispatch(
      kernel(e, 'DKV', D, E, f16),
      [q.binding(), k.binding(), v.binding(), dout.binding(), lse.binding(), delta.binding(), dk.binding(), dv.binding()],
      pk(T, S, D, E, scale),
      [Math.ceil(S / RQ), B, 1],
    );
    if (!needs[1]) {
      dk.dispose();
      dk = null;
    }
    if (!needs[2]) {
      dv.dispose();
      dv = null;
    }
  }
  delta.dispose();
  return { dq: narrowIf(f16, dq), dk: narrowIf(f16, dk), dv: narrowIf(f16, dv) };
}

// ---------------------------------------------------------------------------------------------------------------
// Blocked implementation on the matmul kernels

/** Default byte budget of one [B, R, S] score block. */
export const BLOCK_BUDGET = 16 * 1024 * 1024;

/** Query rows per block so that one [B, R, S] f32 block fits `budget` (and one storage binding). */
export function blockRows(e: Engine, B: number, T: number, S: number, budget = BLOCK_BUDGET): number {
  const cap = Math.min(budget, e.rt.maxBinding);
  return Math.max(1, Math.min(T, Math.floor(cap / (B * S * 4))));
}

function blockKernel(e: Engine, softmax: boolean): Kernel {
  return e.rt.kernel('attention_block', blockSource, { SOFTMAX: softmax });
}

function rowsOf(t: Tensor, t0: number, t1: number, T: number): Tensor {
  return t0 === 0 && t1 === T ? t.reshape(t.shape) : slice(t, 1, t0, t1);
}

function joinRows(parts: Tensor[]): Tensor {
  if (parts.length === 1) return parts[0];
  const j = concat(parts, 1);
  for (const p of parts) p.dispose();
  return j;
}

export function attentionForwardBlocked(q: Tensor, k: Tensor, v: Tensor, scale: number, budget = BLOCK_BUDGET): { o: Tensor; lse: Tensor } {
  const { B, T, S } = attentionDims(q, k, v);
  const e = q.engine;
  const f16 = q.dtype === 'f16';
  const R = blockRows(e, B, T, S, budget);
  const os: Tensor[] = [];
  const ls: Tensor[] = [];
  const ks = blockKernel(e, true);
  for (let t0 = 0; t0 < T; t0 += R) {
    const t1 = Math.min(T, t0 + R);
    const qb = rowsOf(q, t0, t1, T);
    const sc = mm(qb, k, { transB: true });
    const lb = e.empty([B, t1 - t0]);
    const rows = B * (t1 - t0);
    e.rt.dispatch(ks, [sc.binding(), lb.binding()], params().u32(rows).u32(S).f32(scale).u32(0), grid1D(rows, 1));
    os.push(f16 ? matmulMixed(sc, v, { outDtype: 'f16' }) : matmul(sc, v));
    ls.push(lb);
    sc.dispose();
    qb.dispose();
  }
  return { o: joinRows(os), lse: joinRows(ls) };
}

export function attentionBackwardBlocked(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: Tensor,
  lse: Tensor,
  dout: Tensor,
  scale: number,
  needs: readonly boolean[] = [true, true, true],
  budget = BLOCK_BUDGET,
): { dq: Tensor | null; dk: Tensor | null; dv: Tensor | null } {
  const { B, T, S, D, E } = attentionDims(q, k, v);
  checkGrad(dout, q, B, T, E);
  const e = q.engine;
  const f16 = q.dtype === 'f16';
  const delta = e.empty([B, T]);
  e.rt.dispatch(kernel(e, 'DELTA', D, E, f16), [o.binding(), dout.binding(), delta.binding()], pk(B * T, S, D, E, scale), grid1D(B * T, 64));
  const R = blockRows(e, B, T, S, budget);
  const kd = blockKernel(e, false);
  const dqs: Tensor[] = [];
  let dk: Tensor | null = null;
  let dv: Tensor | null = null;
  const add = (acc: Tensor | null, x: Tensor): Tensor => {
    if (!acc) return x;
    accumulateInto(acc, x);
    x.dispose();
    return acc;
  };
  for (let t0 = 0; t0 < T; t0 += R) {
    const t1 = Math.min(T, t0 + R);
    const qb = rowsOf(q, t0, t1, T);
    const dob = rowsOf(dout, t0, t1, T);
    const lb = rowsOf(lse, t0, t1, T);
    const db = rowsOf(delta, t0, t1, T);
    const sc = mm(qb, k, { transB: true });
    const dp = mm(dob, v, { transB: true });
    const n = sc.size;
    e.rt.dispatch(kd, [sc.binding(), dp.binding(), lb.binding(), db.binding()], params().u32(B * (t1 - t0)).u32(S).f32(scale).u32(0), grid1D(n, 256));
    // sc now holds P, dp holds dS (scale included)
    if (needs[2]) dv = add(dv, mm(sc, dob, { transA: true }));
    if (needs[1]) dk = add(dk, mm(dp, qb, { transA: true }));
    if (needs[0]) dqs.push(mm(dp, k));
    for (const t of [qb, dob, lb, db, sc, dp]) t.dispose();
  }
  delta.dispose();
  return { dq: narrowIf(f16, needs[0] ? joinRows(dqs) : null), dk: narrowIf(f16, dk), dv: narrowIf(f16, dv) };
}

/** An f32 product of f32 or f16 operands (the blocked path keeps scores and gradient sums in f32). */
function mm(a: Tensor, b: Tensor, o: { transA?: boolean; transB?: boolean } = {}): Tensor {
  return a.dtype === 'f32' && b.dtype === 'f32' ? matmul(a, b, o) : matmulMixed(a, b, { ...o, outDtype: 'f32' });
}
