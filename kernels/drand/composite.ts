// Foreground/background compositing kernels (shaders/drand_composite.wgsl): the foreground intensity chosen on the
// GPU from the background's mean (no readback), the label fill, the dropout, roll and hollow-hull artifacts, binary
// erosion, and the final merge with clamping.
import source from '../../shaders/drand_composite.wgsl';
import { PHILOX_WGSL, seedKey } from '../random.js';
import { VesselError } from '../../src/gpu/errors.js';
import { params, type Kernel } from '../../src/runtime/runtime.js';
import { fmtShape } from '../../src/tensor/shape.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { grid1D } from '../util.js';
import { volumeDims } from './common.js';

const WG = 256;
type Op = 'CHOOSE' | 'FILL' | 'DROPOUT' | 'ROLL' | 'ERODE' | 'HULL' | 'MERGE';
const OPS: Op[] = ['CHOOSE', 'FILL', 'DROPOUT', 'ROLL', 'ERODE', 'HULL', 'MERGE'];

/** Philox streams of the random compositing kernels. */
export const COMPOSITE_STREAM = { dropout: 0xd409, roll: 0x7011 } as const;

/** Flags of the choose/merge kernels. */
export const FLAG = { invert: 1, signed: 2, paint: 4, special: 8 } as const;

function kernel(x: Tensor, op: Op): Kernel {
  const random = op === 'DROPOUT' || op === 'ROLL';
  const defines: Record<string, boolean | number> = { WG, RANDOM: random };
  for (const o of OPS) defines[`OP_${o}`] = o === op;
  return x.engine.rt.kernel(`drand_composite_${op.toLowerCase()}`, random ? PHILOX_WGSL + source : source, defines);
}

function same(a: Tensor, b: Tensor, what: string): void {
  if (a.dtype !== 'f32' || b.dtype !== 'f32' || a.size !== b.size) throw new VesselError(`${what}: volumes ${fmtShape(a.shape)} ${a.dtype} and ${fmtShape(b.shape)} ${b.dtype} differ`);
}

function run(op: Op, x: Tensor, inputs: Tensor[], opts: { seed?: number; stream?: number; flags?: number; u?: number } = {}, outShape?: readonly number[]): Tensor {
  const v = volumeDims(x, `composite ${op.toLowerCase()}`);
  const e = x.engine;
  const out = e.empty(outShape ?? x.shape);
  const [k0, k1] = opts.seed !== undefined ? seedKey(opts.seed) : [0, 0];
  const u = params().u32(x.size).u32(v.d).u32(v.h).u32(v.w).u32(k0).u32(k1).u32(opts.flags ?? 0).u32(opts.stream ?? 0).f32(opts.u ?? 0);
  const n = op === 'CHOOSE' ? 1 : x.size;
  e.rt.dispatch(kernel(x, op), [...inputs.map((t) => t.binding()), out.binding()], u, grid1D(n, WG));
  return out;
}

/**
 * The foreground intensity from the background statistics `bgStats` ([1, 4]: min, max, sum, mean): a [1, 4] tensor
 * (c, s, |s|, μ_B) with c uniform on {|c − μ_B| > 0.4} (by inverse transform of `u`) and s = c − μ_B when `signed`.
 */
export function chooseForeground(bg: Tensor, bgStats: Tensor, u: number, invert: boolean, signed: boolean): Tensor {
  if (!(u >= 0 && u < 1)) throw new VesselError(`composite: u must lie in [0, 1), got ${u}`);
  const e = bg.engine;
  const out = e.empty([1, 4]);
  const k = kernel(bg, 'CHOOSE');
  const flags = (invert ? FLAG.invert : 0) | (signed ? FLAG.signed : 0);
  e.rt.dispatch(k, [bgStats.binding(), out.binding()], params().u32(1).u32(1).u32(1).u32(1).u32(0).u32(0).u32(flags).u32(0).f32(u), [1, 1, 1]);
  return out;
}

/** F = |s| inside the label, 0 outside. */
export function fillForeground(label: Tensor, scal: Tensor): Tensor {
  return run('FILL', label, [label, scal]);
}

/** Zero each positive voxel with probability 0.5 (Philox keyed by seed). */
export function dropoutKernel(x: Tensor, seed: number): Tensor {
  return run('DROPOUT', x, [x], { seed, stream: COMPOSITE_STREAM.dropout });
}

/** Roll every slab x[:, y, :] (flattened) by its own shift in −3…3 (Philox keyed by seed, word y). */
export function rollKernel(x: Tensor, seed: number): Tensor {
  return run('ROLL', x, [x], { seed, stream: COMPOSITE_STREAM.roll });
}

/** One binary erosion with the 6-connected cross (border value 0). */
export function erodeKernel(x: Tensor): Tensor {
  return run('ERODE', x, [x]);
}

/** F on the shell L ∧ ¬E, 0 elsewhere. */
export function hullKernel(f: Tensor, label: Tensor, eroded: Tensor): Tensor {
  same(f, label, 'composite hull');
  same(f, eroded, 'composite hull');
  return run('HULL', f, [f, label, eroded]);
}

/** The merged composite, clamped to [0, 1]; see the shader header for the rules. */
export function mergeKernel(bg: Tensor, label: Tensor, f: Tensor, scal: Tensor, flags: number): Tensor {
  same(bg, label, 'composite merge');
  same(bg, f, 'composite merge');
  return run('MERGE', bg, [bg, label, f, scal], { flags });
}
