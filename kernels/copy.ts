// copy: slice (start, end, step ≥ 1) along an axis, concatenation of N tensors along an axis, and general
// permute/transpose — strided gathers and scatters over bit patterns (shaders/copy.wgsl), any dtype.
//
// Output is written one whole u32 word per invocation (gathers), so packed u8/f16 outputs are never shared
// between invocations. Concatenation places each input with a 32-bit scatter; packed inputs whose pieces do
// not start on word boundaries are widened losslessly (u8 → u32, f16 → f32), joined, and narrowed back.
// Large tensors are copied in output chunks; the source is bound whole, or — for slices and concatenations,
// whose index maps are monotonic — just the range a chunk reads. A transpose whose source exceeds the binding
// limit fails with a clear error.
import source from '../shaders/copy.wgsl';
import { VesselError } from '../src/gpu/errors.js';
import { fmtBytes } from '../src/runtime/pool.js';
import { params, type Binding, type Runtime } from '../src/runtime/runtime.js';
import { bytesPer, storageBytes } from '../src/tensor/dtype.js';
import { fmtShape, normAxis, sizeOf, stridesOf, type Shape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { cast } from './elementwise.js';
import { grid1D } from './util.js';

const WG = 64;
const MAX_RANK = 6;

/** Merge adjacent dims that stay adjacent in the mapped index; drop size-1 dims. */
function collapse(dims: Shape, strides: number[]): { d: number[]; s: number[] } {
  const d: number[] = [];
  const s: number[] = [];
  for (let i = 0; i < dims.length; i++) {
    if (dims[i] === 1) continue;
    const k = d.length - 1;
    if (k >= 0 && s[k] === strides[i] * dims[i]) {
      d[k] *= dims[i];
      s[k] = strides[i];
    } else {
      d.push(dims[i]);
      s.push(strides[i]);
    }
  }
  return { d, s };
}

function padded(op: string, dims: Shape, strides: number[], what: string): { d: number[]; s: number[]; active: Record<string, boolean> } {
  const c = collapse(dims, strides);
  const active: Record<string, boolean> = {};
  for (let k = 0; k < MAX_RANK; k++) active[`D${k}`] = k >= MAX_RANK - c.d.length;
  if (c.d.length > MAX_RANK) {
    throw new VesselError(`${op}: ${what} needs ${c.d.length} dimensions after merging; at most ${MAX_RANK} are supported`);
  }
  while (c.d.length < MAX_RANK) {
    c.d.unshift(1);
    c.s.unshift(0);
  }
  return { ...c, active };
}

function alignDown(v: number, a: number): number {
  return Math.floor(v / a) * a;
}

function rawBinding(t: Tensor, start: number, end: number): Binding {
  const bpe = bytesPer(t.dtype);
  const offset = start * bpe;
  const size = Math.min(Math.ceil(((end - start) * bpe) / 4) * 4, t.storage.bytes - offset);
  return { buffer: t.buffer, offset, size: Math.max(4, size) };
}

/**
 * out[e] = src[off + Σ c(e)·s] over the output's elements. `monotonic`: the mapped index never decreases with e
 * (slices), so a chunk only needs the source range between its first and last element.
 */
function gather(op: string, src: Tensor, out: Tensor, off: number, strides: number[], monotonic: boolean): void {
  const n = out.size;
  if (n === 0) return;
  const rt = src.engine.rt;
  const bpe = bytesPer(src.dtype);
  const epw = 4 / bpe;
  const { d, s, active } = padded(op, out.shape, strides, `tensor ${fmtShape(src.shape)}`);
  const k = rt.kernel('copy', source, { WG, SCATTER: false, EPW: epw, EPW2: epw === 2, EPW4: epw === 4, BITS: 32 / epw, ...active });
  const align = Math.max(rt.storageAlign, 4) / bpe; // elements
  const maxElems = Math.floor(rt.maxBinding / bpe) - align;
  const mapIdx = (e: number) => {
    let r = e;
    let ix = off;
    for (let i = MAX_RANK - 1; i >= 0; i--) {
      ix += (r % d[i]) * s[i];
      r = Math.floor(r / d[i]);
    }
    return ix;
  };
  const srcFits = storageBytes(src.dtype, src.size) <= rt.maxBinding;
  if (!srcFits && !monotonic) {
    throw new VesselError(
      `${op}: source tensor ${fmtShape(src.shape)} ${src.dtype} (${fmtBytes(storageBytes(src.dtype, src.size))}) exceeds this adapter's ` +
        `storage binding limit (${fmtBytes(rt.maxBinding)}) and this copy cannot be split`,
    );
  }
  const outFits = storageBytes(out.dtype, n) <= rt.maxBinding;
  let per = outFits ? n : alignDown(maxElems, align);
  if (!srcFits) per = Math.min(per, alignDown(maxElems, align));
  for (let start = 0; start < n; ) {
    let count = Math.min(per, n - start);
    let inBase = 0;
    let inBinding: Binding;
    if (srcFits) {
      inBinding = src.binding();
    } else {
      // Shrink the chunk until the source range it reads fits one binding.
      for (;;) {
        const lo = alignDown(mapIdx(start), align);
        const hi = mapIdx(start + count - 1) + 1;
        if (hi - lo <= maxElems + align || count <= align) {
          if (hi - lo > maxElems + align) {
            throw new VesselError(`${op}: a chunk of ${fmtShape(out.shape)} reads a source range larger than the binding limit`);
          }
          inBase = lo;
          inBinding = rawBinding(src, lo, hi);
          break;
        }
        count = Math.max(align, alignDown(Math.floor(count / 2), align));
      }
    }
    const u = params().u32(count).u32(start).u32(off).u32(inBase).u32(0);
    for (const v of d) u.u32(v);
    for (const v of s) u.u32(v);
    rt.dispatch(k, [inBinding, out.binding(start, count)], u, grid1D(Math.ceil(count / epw), WG));
    start += count;
  }
}

/**
 * Place the 32-bit words of `src` (shape `dims`, contiguous) into `out` at word out_off + Σ c·s.
 * Monotonic, so large tensors are copied in chunks binding only the ranges each chunk touches.
 */
function scatterWords(rt: Runtime, src: Tensor, dims: number[], out: Tensor, off: number, strides: number[], nWords: number): void {
  if (nWords === 0) return;
  const { d, s, active } = padded('concat', dims, strides, 'a piece');
  const k = rt.kernel('copy', source, { WG, SCATTER: true, EPW: 1, EPW2: false, EPW4: false, BITS: 32, ...active });
  const align = Math.max(rt.storageAlign, 4) / 4;
  const maxWords = Math.floor(rt.maxBinding / 4) - align;
  const mapIdx = (e: number) => {
    let r = e;
    let ix = off;
    for (let i = MAX_RANK - 1; i >= 0; i--) {
      ix += (r % d[i]) * s[i];
      r = Math.floor(r / d[i]);
    }
    return ix;
  };
  const outWords = out.storage.bytes / 4;
  let per = alignDown(maxWords, align);
  for (let start = 0; start < nWords; ) {
    let count = Math.min(per, nWords - start);
    let lo = 0;
    let hi = 0;
    for (;;) {
      lo = alignDown(mapIdx(start), align);
      hi = mapIdx(start + count - 1) + 1;
      if (hi - lo <= maxWords + align) break;
      if (count <= align) throw new VesselError('concat: a piece is spread over a range larger than the binding limit');
      count = Math.max(align, alignDown(Math.floor(count / 2), align));
    }
    const u = params().u32(count).u32(start).u32(off).u32(start).u32(lo);
    for (const v of d) u.u32(v);
    for (const v of s) u.u32(v);
    const inB: Binding = { buffer: src.buffer, offset: start * 4, size: count * 4 };
    const outB: Binding = { buffer: out.buffer, offset: lo * 4, size: Math.min(hi - lo, outWords - lo) * 4 };
    rt.dispatch(k, [inB, outB], u, grid1D(count, WG));
    start += count;
    per = Math.max(per, count);
  }
}

/** Elements start, start+step, … < end along `axis` (negative axis, start and end count from the end, as in Python). */
export function slice(t: Tensor, axis: number, start: number, end?: number, step = 1): Tensor {
  t.assertAlive();
  const ax = normAxis(axis, t.rank, 'slice');
  const dim = t.shape[ax];
  if (!Number.isInteger(step) || step < 1) throw new VesselError(`slice: step must be an integer ≥ 1, got ${step} (tensor ${fmtShape(t.shape)})`);
  const norm = (v: number) => (v < 0 ? Math.max(0, v + dim) : Math.min(v, dim));
  if (!Number.isInteger(start) || (end !== undefined && !Number.isInteger(end))) {
    throw new VesselError(`slice: start and end must be integers, got ${start} and ${end}`);
  }
  const s0 = norm(start);
  const e0 = end === undefined ? dim : norm(end);
  const len = Math.max(0, Math.ceil((e0 - s0) / step));
  const outShape = t.shape.map((d, i) => (i === ax ? len : d));
  const out = t.engine.empty(outShape, t.dtype);
  const st = stridesOf(t.shape);
  gather('slice', t, out, s0 * st[ax], st.map((v, i) => (i === ax ? v * step : v)), true);
  return out;
}

/** Permute axes: out.shape[i] = t.shape[perm[i]]. Without perm, reverses the axes. */
export function transpose(t: Tensor, perm?: readonly number[]): Tensor {
  t.assertAlive();
  const p = perm ? perm.map((a) => normAxis(a, t.rank, 'transpose')) : t.shape.map((_, i) => t.rank - 1 - i);
  if (p.length !== t.rank || new Set(p).size !== t.rank) {
    throw new VesselError(`transpose: ${JSON.stringify(perm)} is not a permutation of the ${t.rank} axes of tensor ${fmtShape(t.shape)}`);
  }
  const st = stridesOf(t.shape);
  const out = t.engine.empty(p.map((a) => t.shape[a]), t.dtype);
  // A permutation that keeps the non-trivial axes in order is a plain copy, which chunks freely.
  const nt = p.filter((a) => t.shape[a] !== 1);
  const monotonic = nt.every((a, i) => i === 0 || a > nt[i - 1]);
  gather('transpose', t, out, 0, p.map((a) => st[a]), monotonic);
  return out;
}

/** Join tensors along `axis`; all other dims and the dtype must agree. */
export function concat(ts: readonly Tensor[], axis: number): Tensor {
  if (ts.length === 0) throw new VesselError('concat: no tensors given');
  const first = ts[0];
  for (const t of ts) t.assertAlive();
  const ax = normAxis(axis, first.rank, 'concat');
  for (const t of ts) {
    if (t.dtype !== first.dtype) throw new VesselError(`concat: dtypes ${first.dtype} and ${t.dtype} differ (tensors ${fmtShape(first.shape)} and ${fmtShape(t.shape)})`);
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new VesselError(`concat: shapes ${fmtShape(first.shape)} and ${fmtShape(t.shape)} differ outside axis ${ax}`);
    }
  }
  const total = ts.reduce((a, t) => a + t.shape[ax], 0);
  const outShape = first.shape.map((d, i) => (i === ax ? total : d));
  const engine = first.engine;
  const bpe = bytesPer(first.dtype);
  const O = sizeOf(first.shape.slice(0, ax));
  const I = sizeOf(first.shape.slice(ax + 1));
  const wordAligned = ts.every((t) => (t.shape[ax] * I * bpe) % 4 === 0);
  if (bpe < 4 && !wordAligned) {
    // Pieces would share output words: join losslessly in a 32-bit dtype instead.
    const wide = first.dtype === 'f16' ? 'f32' : 'u32';
    const ws = ts.map((t) => cast(t, wide));
    const joined = concat(ws, ax);
    ws.forEach((w) => w.dispose());
    const out = cast(joined, first.dtype);
    joined.dispose();
    return out;
  }
  const out = engine.empty(outShape, first.dtype);
  const rowWords = (total * I * bpe) / 4;
  let offWords = 0;
  for (const t of ts) {
    const pieceWords = (t.shape[ax] * I * bpe) / 4;
    scatterWords(engine.rt, t, [O, pieceWords], out, offWords, [rowWords, 1], O * pieceWords);
    offWords += pieceWords;
  }
  return out;
}
