// Fused group / instance normalisation kernels (shaders/norm.wgsl): forward statistics in two stages (chunked
// partial sums, then per-group mean and 1/σ), a pointwise apply, and the exact backward (dx, dγ, dβ) in three.
// Batches larger than one storage binding are processed in slices of whole samples.
import source from '../shaders/norm.wgsl';
import type { Engine } from '../src/engine.js';
import { VesselError } from '../src/gpu/errors.js';
import { params, type Kernel } from '../src/runtime/runtime.js';
import { bytesPer } from '../src/tensor/dtype.js';
import { fmtShape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { enableF16, wgslType } from './accumulate.js';
import { grid1D } from './util.js';

const WG = 256;
/** Elements one workgroup reduces in the partial-sum stages. */
const CHUNK = 8192;

type Stage = 'STATS_PART' | 'STATS_FIN' | 'APPLY' | 'BWD_PART' | 'BWD_RED' | 'BWD_DX';
const STAGES: Stage[] = ['STATS_PART', 'STATS_FIN', 'APPLY', 'BWD_PART', 'BWD_RED', 'BWD_DX'];

function kernel(e: Engine, stage: Stage, dtype: string, v4 = false): Kernel {
  const defs: Record<string, string | number | boolean> = { WG, V4: v4, T: v4 ? 'vec4<f32>' : wgslType(dtype), ENABLE_F16: enableF16(dtype) };
  for (const s of STAGES) defs[s] = s === stage;
  return e.rt.kernel('norm', source, defs);
}

export interface NormGeometry {
  N: number;
  C: number;
  G: number;
  /** Spatial elements per channel. */
  S: number;
  /** Elements per group: (C/G)·S. */
  M: number;
}

export function normGeometry(x: Tensor, groups: number, op: string): NormGeometry {
  if (x.rank < 2) throw new VesselError(`${op}: input ${fmtShape(x.shape)} needs at least [N, C]`);
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new VesselError(`${op}: input must be f32 or f16, got ${x.dtype}`);
  const [N, C] = x.shape;
  const S = x.shape.slice(2).reduce((a, b) => a * b, 1);
  if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0) {
    throw new VesselError(`${op}: ${C} channels of ${fmtShape(x.shape)} cannot be split into ${groups} groups`);
  }
  if (S === 0 || N === 0) throw new VesselError(`${op}: input ${fmtShape(x.shape)} is empty`);
  return { N, C, G: groups, S, M: (C / groups) * S };
}

/** Ranges of whole samples [n0, count) whose elements fit one storage binding at an aligned offset. */
function sampleSlices(t: Tensor, perSample: number, op: string): Array<[number, number]> {
  const rt = t.engine.rt;
  const bpe = bytesPer(t.dtype);
  const N = t.shape[0];
  if (N * perSample * bpe <= rt.maxBinding) return [[0, N]];
  const per = Math.floor(rt.maxBinding / (perSample * bpe));
  if (per < 1 || (perSample * bpe) % rt.storageAlign !== 0) {
    throw new VesselError(`${op}: one sample of ${fmtShape(t.shape)} ${t.dtype} does not fit a storage binding (${rt.maxBinding} bytes) on this adapter`);
  }
  const out: Array<[number, number]> = [];
  for (let n = 0; n < N; n += per) out.push([n, Math.min(per, N - n)]);
  return out;
}

function checkAffine(g: Tensor, b: Tensor, C: number, op: string): void {
  for (const [t, nm] of [[g, 'weight'], [b, 'bias']] as const) {
    if (t.size !== C || t.dtype !== 'f32') throw new VesselError(`${op}: ${nm} ${fmtShape(t.shape)} ${t.dtype} must be f32 with ${C} elements`);
  }
}

/** Forward: y and the per-group statistics (mean, 1/σ) as an f32 tensor [N·G, 2]. */
export function groupNormForward(x: Tensor, groups: number, gamma: Tensor, beta: Tensor, eps: number, op = 'groupNorm'): { y: Tensor; stats: Tensor } {
  const geo = normGeometry(x, groups, op);
  const { N, C, G, S, M } = geo;
  checkAffine(gamma, beta, C, op);
  const e = x.engine;
  const nchunks = Math.ceil(M / CHUNK);
  const part = e.empty([N * G * nchunks, 4]);
  const stats = e.empty([N * G, 2]);
  const y = e.empty(x.shape, x.dtype);
  const v4 = x.dtype === 'f32' && S % 4 === 0;
  const vw = v4 ? 4 : 1;
  const kp = kernel(e, 'STATS_PART', x.dtype, v4);
  const slices = sampleSlices(x, C * S, op);
  for (const [n0, cnt] of slices) {
    const pr = params().u32(cnt * C * S).u32(M).u32(S).u32(C).u32(G).u32(CHUNK).u32(nchunks).u32(n0 * G).u32(cnt * G).f32(eps);
    e.rt.dispatch(kp, [x.binding(n0 * C * S, cnt * C * S), part.binding()], pr, [nchunks, cnt * G, 1]);
  }
  const pf = params().u32(0).u32(M).u32(S).u32(C).u32(G).u32(CHUNK).u32(nchunks).u32(0).u32(N * G).f32(eps);
  e.rt.dispatch(kernel(e, 'STATS_FIN', x.dtype), [part.binding(), stats.binding()], pf, [Math.ceil((N * G) / WG), 1, 1]);
  const ka = kernel(e, 'APPLY', x.dtype, v4);
  for (const [n0, cnt] of slices) {
    const n = cnt * C * S;
    const pa = params().u32(n / vw).u32(M).u32(S).u32(C).u32(G).u32(CHUNK).u32(nchunks).u32(n0 * G).u32(cnt * G).f32(eps);
    e.rt.dispatch(ka, [x.binding(n0 * C * S, n), stats.binding(), gamma.binding(), beta.binding(), y.binding(n0 * C * S, n)], pa, grid1D(n / vw, WG));
  }
  part.dispose();
  return { y, stats };
}

/** Backward from the saved input and statistics: dx (dtype of x), dgamma and dbeta (f32 [C]). */
export function groupNormBackward(
  x: Tensor,
  dy: Tensor,
  stats: Tensor,
  gamma: Tensor,
  groups: number,
  op = 'groupNorm',
): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const { N, C, G, S, M } = normGeometry(x, groups, op);
  if (dy.size !== x.size || dy.dtype !== x.dtype) throw new VesselError(`${op} backward: gradient ${fmtShape(dy.shape)} ${dy.dtype} does not match ${fmtShape(x.shape)} ${x.dtype}`);
  const e = x.engine;
  const nchunks = Math.ceil(S / CHUNK);
  const part = e.empty([N * C * nchunks, 2]);
  const dgamma = e.empty([C]);
  const dbeta = e.empty([C]);
  const coef = e.empty([N * G, 2]);
  const dx = e.empty(x.shape, x.dtype);
  const slices = sampleSlices(x, C * S, op);
  const v4 = x.dtype === 'f32' && S % 4 === 0;
  const vw = v4 ? 4 : 1;
  const kp = kernel(e, 'BWD_PART', x.dtype, v4);
  for (const [n0, cnt] of slices) {
    const n = cnt * C * S;
    const pr = params().u32(n).u32(M).u32(S).u32(C).u32(G).u32(CHUNK).u32(nchunks).u32(n0 * C).u32(cnt).f32(0);
    e.rt.dispatch(kp, [x.binding(n0 * C * S, n), dy.binding(n0 * C * S, n), stats.binding(), part.binding()], pr, [nchunks, cnt * C, 1]);
  }
  const prr = params().u32(0).u32(M).u32(S).u32(C).u32(G).u32(CHUNK).u32(nchunks).u32(0).u32(N).f32(0);
  e.rt.dispatch(kernel(e, 'BWD_RED', x.dtype), [part.binding(), gamma.binding(), dgamma.binding(), dbeta.binding(), coef.binding()], prr, [Math.ceil((C + N * G) / WG), 1, 1]);
  const kd = kernel(e, 'BWD_DX', x.dtype, v4);
  for (const [n0, cnt] of slices) {
    const n = cnt * C * S;
    const pd = params().u32(n / vw).u32(M).u32(S).u32(C).u32(G).u32(CHUNK).u32(nchunks).u32(n0 * G).u32(cnt).f32(0);
    e.rt.dispatch(kd, [x.binding(n0 * C * S, n), dy.binding(n0 * C * S, n), stats.binding(), gamma.binding(), coef.binding(), dx.binding(n0 * C * S, n)], pd, grid1D(n / vw, WG));
  }
  part.dispose();
  coef.dispose();
  return { dx, dgamma, dbeta };
}
