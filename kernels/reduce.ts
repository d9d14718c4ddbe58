// reduce: sum, mean, max, min, variance, argmax, argmin over any set of axes (or all), with keepDims.
//
// The reduced axes become the middle of an (outer, reduce, inner) view — directly when they are adjacent
// (size-1 axes ignored), otherwise after a transpose that moves them last. Long reductions run in passes:
// each pass cuts the reduce axis into segments (4096 elements per workgroup tree, or 256 per invocation for
// strided inner layouts) and writes one partial state per segment; the next pass reduces those partials, so a
// sum of 2^24 elements is a tree of depth ~log2(n), not a serial loop. Accumulation is f32 (f16 and u8 inputs
// are widened as they are read); variance uses Welford/Chan merges. Results: f32 (f16 for f16 inputs, rounded
// once at the end), i32 indices for argmax/argmin. The transpose for non-adjacent axes costs one extra copy. Inputs larger than maxStorageBufferBindingSize are bound piecewise: each
// dispatch covers whole segments and binds from an aligned element offset below its first one.
import source from '../shaders/reduce.wgsl';
import { VesselError } from '../src/gpu/errors.js';
import { params, type Binding, type Runtime } from '../src/runtime/runtime.js';
import { bytesPer, type DType } from '../src/tensor/dtype.js';
import { fmtShape, normAxis, sizeOf } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { transpose } from './copy.js';
import { cast } from './elementwise.js';
import { grid1D } from './util.js';

export type ReduceOp = 'sum' | 'mean' | 'max' | 'min' | 'variance' | 'argmax' | 'argmin';
export const REDUCE_OPS: readonly ReduceOp[] = ['sum', 'mean', 'max', 'min', 'variance', 'argmax', 'argmin'];

export interface ReduceOptions {
  /** Axes to reduce (negative counts from the end); all axes when omitted. argmax/argmin take at most one. */
  axes?: number | readonly number[];
  /** Keep reduced axes as size 1. */
  keepDims?: boolean;
  /** variance: divide by n − 1 instead of n. */
  unbiased?: boolean;
  /** Use the workgroup-memory tree even where subgroups are available (for testing both variants). */
  noSubgroups?: boolean;
}

const WG_TREE = 256;
const ROOT = 16; // the plain tree merges ROOT × ROOT states in two levels
const EPT = 16; // elements per invocation and segment in the workgroup tree: segments of 4096
const WG_SERIAL = 64;
const SERIAL_CHUNK = 256;
const STATE_BYTES = 16;
const MIN_TREE_R = 64;

interface Src {
  buffer: GPUBuffer;
  /** Byte offset of element 0 within the buffer. */
  offset: number;
  bpe: number;
  kind: number;
}

function alignDown(v: number, a: number): number {
  return Math.floor(v / a) * a;
}

/** Normalised, sorted, unique axes; throws naming the shape on a bad axis. */
export function normAxes(op: string, shape: readonly number[], axes: number | readonly number[] | undefined): number[] {
  if (axes === undefined) return shape.map((_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = new Set<number>();
  for (const a of list) {
    try {
      out.add(normAxis(a, shape.length, op));
    } catch {
      throw new VesselError(`${op}: axis ${a} is out of range for tensor ${fmtShape(shape)} (rank ${shape.length})`);
    }
  }
  if (out.size !== list.length) throw new VesselError(`${op}: repeated axis in ${JSON.stringify(list)} for tensor ${fmtShape(shape)}`);
  return [...out].sort((a, b) => a - b);
}

export function reduce(op: ReduceOp, t: Tensor, opts: ReduceOptions = {}): Tensor {
  if (!REDUCE_OPS.includes(op)) throw new VesselError(`Unknown reduction "${op}"`);
  t.assertAlive();
  const engine = t.engine;
  if (t.dtype !== 'f32' && t.dtype !== 'f16' && t.dtype !== 'u8') {
    throw new VesselError(`${op}: dtype ${t.dtype} (tensor ${fmtShape(t.shape)}) is not supported; expected f32, f16 or u8 (cast first)`);
  }
  const arg = op === 'argmax' || op === 'argmin';
  const axes = normAxes(op, t.shape, opts.axes);
  if (arg && opts.axes !== undefined && axes.length !== 1) {
    throw new VesselError(`${op}: takes one axis (or none for the flat index), got ${JSON.stringify(opts.axes)}`);
  }
  const keep = opts.keepDims ?? false;
  const red = new Set(axes);
  const outShape = keep ? t.shape.map((d, i) => (red.has(i) ? 1 : d)) : t.shape.filter((_, i) => !red.has(i));
  const outDtype: DType = arg ? 'i32' : t.dtype === 'f16' ? 'f16' : 'f32';
  const R = axes.reduce((acc, a) => acc * t.shape[a], 1);
  const outSize = sizeOf(outShape);
  if (outSize === 0) return engine.empty(outShape, outDtype);
  if (R === 0) {
    if (op === 'sum') return engine.zeros(outShape, outDtype);
    if (op === 'mean' || op === 'variance') return engine.full(outShape, NaN, outDtype);
    throw new VesselError(`${op}: cannot reduce tensor ${fmtShape(t.shape)} over empty axes ${JSON.stringify(axes)} (no identity)`);
  }
  if (t.size > 0xffffffff) throw new VesselError(`${op}: tensor ${fmtShape(t.shape)} has more than 2^32 elements`);

  // (O, R, I) view: reduced non-trivial axes must be adjacent among the non-trivial axes.
  let src = t;
  let temp: Tensor | null = null;
  const nonTrivial = t.shape.map((d, i) => i).filter((i) => t.shape[i] !== 1);
  const redNT = nonTrivial.filter((i) => red.has(i));
  let O: number;
  let I: number;
  if (redNT.length === 0) {
    O = t.size;
    I = 1;
  } else {
    const pos = redNT.map((i) => nonTrivial.indexOf(i));
    const adjacent = pos.every((p, j) => j === 0 || p === pos[j - 1] + 1);
    if (adjacent) {
      O = sizeOf(t.shape.slice(0, redNT[0]));
      I = sizeOf(t.shape.slice(redNT[redNT.length - 1] + 1));
    } else {
      const kept = t.shape.map((_, i) => i).filter((i) => !red.has(i));
      temp = transpose(t, [...kept, ...axes]);
      src = temp;
      O = sizeOf(kept.map((i) => t.shape[i]));
      I = 1;
    }
  }

  const out = engine.empty(outShape, outDtype === 'f16' ? 'f32' : outDtype);
  runPasses(engine.rt, op, src, O, R, I, out, opts);
  temp?.dispose();
  if (outDtype !== 'f16') return out;
  const half = cast(out, 'f16');
  out.dispose();
  return half;
}

const IN_KIND = { f32: 0, f16: 1, u8: 2, states: 3 } as const;

function runPasses(rt: Runtime, op: ReduceOp, t: Tensor, O: number, R: number, I: number, out: Tensor, opts: ReduceOptions): void {
  const useSubgroups = !!t.engine.gpu.hasSubgroups && !opts.noSubgroups;
  const kind = t.dtype === 'f16' ? IN_KIND.f16 : t.dtype === 'u8' ? IN_KIND.u8 : IN_KIND.f32;
  let src: Src = { buffer: t.buffer, offset: 0, bpe: bytesPer(t.dtype), kind };
  let Rc = R;
  const toRelease: GPUBuffer[] = [];
  for (;;) {
    const tree = I === 1 && Rc >= MIN_TREE_R;
    const C = tree ? (Rc <= WG_TREE * EPT ? Rc : WG_TREE * EPT) : Rc <= SERIAL_CHUNK ? Rc : SERIAL_CHUNK;
    const S = Math.ceil(Rc / C);
    const final = S === 1;
    const nSeg = O * S;
    let dst: Src;
    if (final) {
      dst = { buffer: out.buffer, offset: 0, bpe: 4, kind: IN_KIND.f32 };
    } else {
      const buf = rt.pool.acquire(nSeg * I * STATE_BYTES);
      toRelease.push(buf);
      dst = { buffer: buf, offset: 0, bpe: STATE_BYTES, kind: IN_KIND.states };
    }
    // One pipeline per op family and layout; pass details travel as uniforms.
    const defines = {
      WG: tree ? WG_TREE : WG_SERIAL,
      ROOT: ROOT,
      WGTREE: tree,
      SUBGROUPS: tree && useSubgroups,
      SUM: op === 'sum' || op === 'mean',
      VAR: op === 'variance',
      LARGER: op === 'max' || op === 'argmax',
    };
    const k = rt.kernel('reduce', source, defines);
    const flags = {
      divisor: op === 'mean' ? R : 1,
      ddof: opts.unbiased ? 1 : 0,
      final,
      writeIndex: op === 'argmax' || op === 'argmin',
    };
    dispatchPass(rt, k, src, dst, { R: Rc, I, C, S, nSeg, tree, ...flags }, t);
    if (final) break;
    src = dst;
    Rc = S;
  }
  for (const b of toRelease) rt.pool.release(b);
}

interface Geometry {
  R: number;
  I: number;
  C: number;
  S: number;
  nSeg: number;
  tree: boolean;
  divisor: number;
  ddof: number;
  final: boolean;
  writeIndex: boolean;
}

function dispatchPass(rt: Runtime, k: ReturnType<Runtime['kernel']>, src: Src, dst: Src, g: Geometry, t: Tensor): void {
  const align = Math.max(rt.storageAlign, 16);
  const inAlign = align / src.bpe;
  const outAlign = align / dst.bpe;
  const maxIn = Math.floor(rt.maxBinding / src.bpe) - inAlign;
  const maxOut = Math.floor(rt.maxBinding / dst.bpe) - outAlign;
  const segElems = g.C * g.I; // upper bound of one segment's input span
  if (segElems > maxIn || g.I > maxOut) {
    throw new VesselError(
      `reduce: tensor ${fmtShape(t.shape)} cannot be split for this adapter's storage binding limit (${rt.maxBinding} bytes): ` +
        `one reduction column spans ${segElems} elements`,
    );
  }
  const perDispatch = Math.max(1, Math.min(Math.floor(maxIn / segElems), Math.floor(maxOut / g.I)));
  const segStart = (s: number) => (Math.floor(s / g.S) * g.R + (s % g.S) * g.C) * g.I;
  const segEnd = (s: number) => (Math.floor(s / g.S) * g.R + Math.min(g.R, (s % g.S) * g.C + g.C)) * g.I;
  for (let k0 = 0; k0 < g.nSeg; k0 += perDispatch) {
    const nk = Math.min(perDispatch, g.nSeg - k0);
    const inBase = alignDown(segStart(k0), inAlign);
    const inEnd = segEnd(k0 + nk - 1);
    const outBase = alignDown(k0 * g.I, outAlign);
    const outEnd = (k0 + nk) * g.I;
    const bind = (s: Src, base: number, end: number): Binding => {
      const offset = s.offset + base * s.bpe;
      const size = Math.min(Math.ceil(((end - base) * s.bpe) / 4) * 4, s.buffer.size - offset);
      return { buffer: s.buffer, offset, size };
    };
    const u = params()
      .u32(g.R)
      .u32(g.I)
      .u32(g.C)
      .u32(g.S)
      .u32(k0)
      .u32(nk)
      .u32(inBase)
      .u32(outBase)
      .f32(g.divisor)
      .f32(g.ddof)
      .u32(src.kind)
      .u32(g.final ? 1 : 0)
      .u32(g.writeIndex ? 1 : 0);
    const groups = g.tree ? grid1D(nk * WG_TREE, WG_TREE) : grid1D(nk * g.I, WG_SERIAL);
    rt.dispatch(k, [bind(src, inBase, inEnd), bind(dst, outBase, outEnd)], u, groups);
  }
}


