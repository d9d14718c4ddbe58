// Optimizer kernels (shaders/optim.wgsl): fused AdamW/Adam and SGD updates, EMA, global-norm clipping stages and
// loss-scale unscaling with a GPU overflow flag. One dispatch per parameter tensor per stage; nothing is read back.
import source from '../shaders/optim.wgsl';
import type { Engine } from '../src/engine.js';
import { VesselError } from '../src/gpu/errors.js';
import { params, type Kernel } from '../src/runtime/runtime.js';
import { fmtShape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { grid1D } from './util.js';

const WG = 256;
export const SUMSQ_CHUNK = 4096;
type Stage = 'ADAM' | 'SGD' | 'EMA' | 'SUMSQ' | 'NORM_FIN' | 'SCALE' | 'UNSCALE';
const STAGES: Stage[] = ['ADAM', 'SGD', 'EMA', 'SUMSQ', 'NORM_FIN', 'SCALE', 'UNSCALE'];

function kernel(e: Engine, stage: Stage): Kernel {
  const defs: Record<string, number | boolean> = { WG, CHUNK: SUMSQ_CHUNK };
  for (const s of STAGES) defs[s] = s === stage;
  return e.rt.kernel('optim', source, defs);
}

export interface UpdateArgs {
  n?: number;
  off?: number;
  first?: number;
  flags?: number;
  lr?: number;
  b1?: number;
  b2?: number;
  eps?: number;
  wd?: number;
  stepSize?: number;
  bc2Sqrt?: number;
  gscale?: number;
}

function pack(a: UpdateArgs) {
  return params()
    .u32(a.n ?? 0)
    .u32(a.off ?? 0)
    .u32(a.first ?? 0)
    .u32(a.flags ?? 0)
    .f32(a.lr ?? 0)
    .f32(a.b1 ?? 0)
    .f32(a.b2 ?? 0)
    .f32(a.eps ?? 0)
    .f32(a.wd ?? 0)
    .f32(a.stepSize ?? 0)
    .f32(a.bc2Sqrt ?? 1)
    .f32(a.gscale ?? 1);
}

export function checkF32Pair(p: Tensor, g: Tensor, what: string): void {
  if (p.dtype !== 'f32' || g.dtype !== 'f32' || p.size !== g.size) {
    throw new VesselError(`${what}: parameter ${fmtShape(p.shape)} ${p.dtype} and gradient ${fmtShape(g.shape)} ${g.dtype} must be f32 of the same size`);
  }
}

export function adamUpdate(p: Tensor, g: Tensor, m: Tensor, v: Tensor, a: UpdateArgs): void {
  checkF32Pair(p, g, 'adam');
  const e = p.engine;
  e.rt.dispatch(kernel(e, 'ADAM'), [p.binding(), g.binding(), m.binding(), v.binding()], pack({ ...a, n: p.size }), grid1D(p.size, WG));
}

export function sgdUpdate(p: Tensor, g: Tensor, buf: Tensor, a: UpdateArgs): void {
  checkF32Pair(p, g, 'sgd');
  const e = p.engine;
  e.rt.dispatch(kernel(e, 'SGD'), [p.binding(), g.binding(), buf.binding()], pack({ ...a, n: p.size }), grid1D(p.size, WG));
}

export function emaUpdate(ema: Tensor, p: Tensor, decay: number): void {
  checkF32Pair(p, ema, 'ema');
  const e = p.engine;
  e.rt.dispatch(kernel(e, 'EMA'), [ema.binding(), p.binding()], pack({ n: p.size, b1: decay }), grid1D(p.size, WG));
}

/** Partial sums of squares of each gradient into `part` (one slot per chunk); returns the slot count. */
export function sumSquares(grads: Tensor[], part: Tensor): void {
  const e = part.engine;
  const k = kernel(e, 'SUMSQ');
  let off = 0;
  for (const g of grads) {
    const chunks = Math.ceil(g.size / SUMSQ_CHUNK);
    e.rt.dispatch(k, [g.binding(), part.binding()], pack({ n: g.size, off }), [chunks, 1, 1]);
    off += chunks;
  }
}

export function sumSquaresSlots(grads: Tensor[]): number {
  return grads.reduce((a, g) => a + Math.ceil(g.size / SUMSQ_CHUNK), 0);
}

/** out[0] = √Σ part, out[1] = min(1, maxNorm / (out[0] + 1e-6)). */
export function normFinish(part: Tensor, slots: number, out: Tensor, maxNorm: number): void {
  const e = part.engine;
  e.rt.dispatch(kernel(e, 'NORM_FIN'), [part.binding(), out.binding()], pack({ n: slots, lr: maxNorm }), [1, 1, 1]);
}

/** g ·= coef[1] (coef on the GPU). */
export function scaleByCoef(g: Tensor, coef: Tensor): void {
  const e = g.engine;
  e.rt.dispatch(kernel(e, 'SCALE'), [g.binding(), coef.binding()], pack({ n: g.size }), grid1D(g.size, WG));
}

/** g ·= factor; flag[0] |= 1 if any element becomes non-finite. `flag` is a u32 tensor. */
export function unscaleCheck(g: Tensor, factor: number, flag: Tensor): void {
  if (g.dtype !== 'f32') throw new VesselError(`unscale: gradient ${fmtShape(g.shape)} must be f32 (master weights), got ${g.dtype}`);
  const e = g.engine;
  e.rt.dispatch(kernel(e, 'UNSCALE'), [g.binding(), flag.binding()], pack({ n: g.size, gscale: factor }), grid1D(g.size, WG));
}
