// Loss kernels (shaders/loss.wgsl): vesselFM's Dice+BCE and MSE, each a chunked partial reduction, a one-workgroup
// finish that writes the scalar loss on the GPU (no readback), and a pointwise gradient that reads the upstream
// gradient from GPU memory.
import source from '../shaders/loss.wgsl';
import type { Engine } from '../src/engine.js';
import { VesselError } from '../src/gpu/errors.js';
import { params, type Kernel } from '../src/runtime/runtime.js';
import { fmtShape, sameShape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { wgslType } from './accumulate.js';
import { grid1D } from './util.js';

const WG = 256;
const CHUNK = 8192;
type Stage = 'DICE_PART' | 'DICE_FIN' | 'DICE_BWD' | 'MSE_PART' | 'MSE_FIN' | 'MSE_BWD';
const STAGES: Stage[] = ['DICE_PART', 'DICE_FIN', 'DICE_BWD', 'MSE_PART', 'MSE_FIN', 'MSE_BWD'];

function kernel(e: Engine, stage: Stage, x: Tensor, g: Tensor): Kernel {
  const f16 = x.dtype === 'f16' || g.dtype === 'f16';
  const defs: Record<string, string | number | boolean> = { WG, T: wgslType(x.dtype), U: wgslType(g.dtype), ENABLE_F16: f16 ? 'enable f16;' : '' };
  for (const s of STAGES) defs[s] = s === stage;
  return e.rt.kernel('loss', source, defs);
}

export function checkLossInputs(x: Tensor, g: Tensor, op: string): void {
  if (!sameShape(x.shape, g.shape)) throw new VesselError(`${op}: prediction ${fmtShape(x.shape)} and target ${fmtShape(g.shape)} differ in shape`);
  for (const t of [x, g]) {
    if (t.dtype !== 'f32' && t.dtype !== 'f16') throw new VesselError(`${op}: inputs must be f32 or f16, got ${t.dtype} ${fmtShape(t.shape)}`);
  }
  if (x.size === 0) throw new VesselError(`${op}: empty input ${fmtShape(x.shape)}`);
}

export interface DiceOptions {
  smooth?: number;
  lambdaDice?: number;
  lambdaCe?: number;
}

function diceParams(n: number, seg: number, units: number, nchunks: number, o: DiceOptions) {
  return params()
    .u32(n)
    .u32(seg)
    .u32(units)
    .u32(CHUNK)
    .u32(nchunks)
    .f32(o.smooth ?? 1e-5)
    .f32(o.lambdaDice ?? 0.9)
    .f32(o.lambdaCe ?? 0.1)
    .f32(1);
}

/** Loss (f32 scalar) and per-unit (Σp·g, Σg²+Σp²) statistics [units, 2] for the backward. Logits x: [N, C, ...]. */
export function diceBceForward(x: Tensor, g: Tensor, o: DiceOptions = {}): { loss: Tensor; stats: Tensor } {
  checkLossInputs(x, g, 'diceBce');
  if (x.rank < 2) throw new VesselError(`diceBce: logits ${fmtShape(x.shape)} need [N, C, ...spatial]`);
  const e = x.engine;
  const units = x.shape[0] * x.shape[1];
  const seg = x.size / units;
  const nchunks = Math.ceil(seg / CHUNK);
  const part = e.empty([units * nchunks, 4]);
  const stats = e.empty([units, 2]);
  const loss = e.empty([]);
  const pr = diceParams(x.size, seg, units, nchunks, o);
  e.rt.dispatch(kernel(e, 'DICE_PART', x, g), [x.binding(), g.binding(), part.binding()], pr, [nchunks, units, 1]);
  e.rt.dispatch(kernel(e, 'DICE_FIN', x, g), [part.binding(), stats.binding(), loss.binding()], diceParams(x.size, seg, units, nchunks, o), [1, 1, 1]);
  part.dispose();
  return { loss, stats };
}

/** d loss / d logits, scaled by the upstream gradient gl (a one-element f32 tensor on the GPU). */
export function diceBceBackward(x: Tensor, g: Tensor, stats: Tensor, gl: Tensor, o: DiceOptions = {}): Tensor {
  const e = x.engine;
  const units = x.shape[0] * x.shape[1];
  const seg = x.size / units;
  const dx = e.empty(x.shape, x.dtype);
  const pr = diceParams(x.size, seg, units, Math.ceil(seg / CHUNK), o);
  e.rt.dispatch(kernel(e, 'DICE_BWD', x, g), [x.binding(), g.binding(), stats.binding(), gl.binding(), dx.binding()], pr, grid1D(x.size, WG));
  return dx;
}

function mseParams(n: number, nchunks: number, pad: number) {
  return params().u32(n).u32(n).u32(1).u32(CHUNK).u32(nchunks).f32(0).f32(0).f32(0).f32(pad);
}

export function mseForward(x: Tensor, g: Tensor): Tensor {
  checkLossInputs(x, g, 'mse');
  const e = x.engine;
  const nchunks = Math.ceil(x.size / CHUNK);
  const part = e.empty([nchunks]);
  const loss = e.empty([]);
  e.rt.dispatch(kernel(e, 'MSE_PART', x, g), [x.binding(), g.binding(), part.binding()], mseParams(x.size, nchunks, 1), [nchunks, 1, 1]);
  e.rt.dispatch(kernel(e, 'MSE_FIN', x, g), [part.binding(), loss.binding()], mseParams(x.size, nchunks, 1), [1, 1, 1]);
  part.dispose();
  return loss;
}

/** gl·2(a − b)/n in the dtype of `a`: the gradient for the prediction (a = x, b = target) or, swapped, the target. */
export function mseBackward(a: Tensor, b: Tensor, gl: Tensor): Tensor {
  const e = a.engine;
  const out = e.empty(a.shape, a.dtype);
  e.rt.dispatch(kernel(e, 'MSE_BWD', a, b), [a.binding(), b.binding(), gl.binding(), out.binding()], mseParams(a.size, 0, 1), grid1D(a.size, WG));
  return out;
}
