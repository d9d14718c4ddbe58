// elementwise: unary, binary and ternary ops with NumPy broadcasting, comparisons, where, clamp, scaleShift and
// dtype casts — one WGSL template (shaders/elementwise.wgsl) specialised by operand layout, dtype and op.
//
// Layout choices, per dispatch: operands with the output's shape are read at the output index (four at a time
// when every non-scalar operand has that shape and the count is a multiple of 4), one-element operands are
// broadcast from index 0, and the rest are read through strides over the output's coordinates after merging
// dimensions that are contiguous in every operand. Tensors larger than maxStorageBufferBindingSize are split
// into chunks; same-shape operands are bound per chunk, scalar and broadcast operands whole (an error names
// the operand when one of those is itself too large to bind).
import source from '../shaders/elementwise.wgsl';
import { VesselError } from '../src/gpu/errors.js';
import { fmtBytes } from '../src/runtime/pool.js';
import { params, type Binding, type Kernel, type Runtime } from '../src/runtime/runtime.js';
import { bytesPer, isFloat, storageBytes, type DType } from '../src/tensor/dtype.js';
import { f32ToF16Bits } from '../src/tensor/f16.js';
import { broadcastShapes, fmtShape, sameShape, stridesOf, type Shape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { grid1D } from './util.js';

const WG = 64;
const MAX_RANK = 6;

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum';
export type CompareOp = 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';
export type UnaryOp = 'neg' | 'abs' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'square' | 'sign';

export const BINARY_OPS: readonly BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'];
export const COMPARE_OPS: readonly CompareOp[] = ['gt', 'ge', 'lt', 'le', 'eq', 'ne'];
export const UNARY_OPS: readonly UnaryOp[] = ['neg', 'abs', 'exp', 'log', 'sqrt', 'rsqrt', 'square', 'sign'];

const FLOATS: readonly DType[] = ['f32', 'f16'];
const NUMERIC: readonly DType[] = ['f32', 'f16', 'i32', 'u32'];
const SIGNED: readonly DType[] = ['f32', 'f16', 'i32'];
const ORDERED: readonly DType[] = ['f32', 'f16', 'i32', 'u32', 'u8'];

/** The WGSL type a dtype is computed in (u8 widens to u32; f16 is native f16). */
export function computeType(d: DType): string {
  return d === 'u8' ? 'u32' : d;
}

function storageType(d: DType): string {
  return d === 'f16' || d === 'u8' ? 'u32' : d;
}

function checkDType(op: string, t: Tensor, allowed: readonly DType[]): void {
  if (!allowed.includes(t.dtype)) {
    throw new VesselError(`${op}: dtype ${t.dtype} (tensor ${fmtShape(t.shape)}) is not supported; expected ${allowed.join(', ')}`);
  }
}

function checkSameDType(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) {
    throw new VesselError(
      `${op}: dtypes ${a.dtype} and ${b.dtype} differ (shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}); cast one operand first`,
    );
  }
}

interface Spec {
  op: string;
  expr: string;
  outDtype: DType;
  /** The float type of the ew_pow/ew_max/ew_min helpers (when they are used). */
  ft?: DType;
  s0?: number;
  s1?: number;
  k0?: number;
  k1?: number;
}

type Mode = 'same' | 'scalar' | 'bcast';

/** Merge output dimensions that every broadcast operand walks contiguously; drop size-1 dimensions. */
function collapse(outShape: Shape, strides: number[][]): { dims: number[]; strides: number[][] } {
  const dims: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let i = 0; i < outShape.length; i++) {
    const d = outShape[i];
    if (d === 1) continue;
    const k = dims.length - 1;
    if (k >= 0 && strides.every((s, j) => st[j][k] === s[i] * d)) {
      dims[k] *= d;
      strides.forEach((s, j) => (st[j][k] = s[i]));
    } else {
      dims.push(d);
      strides.forEach((s, j) => st[j].push(s[i]));
    }
  }
  return { dims, strides: st };
}

/** Strides of `shape` viewed as `outShape` under broadcasting (0 along broadcast dimensions). */
function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const st = stridesOf(shape);
  const off = outShape.length - shape.length;
  return outShape.map((d, i) => (i < off || shape[i - off] === 1 ? 0 : st[i - off]));
}

/** Elements per chunk: bindings of every chunked tensor fit, and every chunk starts at an aligned offset. */
function chunkElements(rt: Runtime, bpes: number[]): number {
  const align = Math.max(rt.storageAlign, 4);
  const maxBpe = Math.max(...bpes);
  return Math.floor(rt.maxBinding / (maxBpe * align)) * align;
}

function wholeBinding(op: string, t: Tensor, what: string): Binding {
  if (!t.fitsBinding) {
    throw new VesselError(
      `${op}: ${what} ${fmtShape(t.shape)} ${t.dtype} (${fmtBytes(storageBytes(t.dtype, t.size))}) is broadcast and larger than this ` +
        `adapter's storage binding limit (${fmtBytes(t.engine.rt.maxBinding)}); only same-shape and one-element operands can be split`,
    );
  }
  return t.binding();
}

function elementwiseDefines(
  spec: Spec,
  operands: Tensor[],
  modes: Mode[],
  vec: boolean,
  anyBc: boolean,
  r: number,
  vecOperand: (i: number) => boolean,
): Record<string, string | number | boolean> {
  const defines: Record<string, string | number | boolean> = {
    WG,
    ARITY2: operands.length >= 2,
    ARITY3: operands.length >= 3,
    F16: operands.some((t) => t.dtype === 'f16') || spec.outDtype === 'f16',
    VEC: vec,
    BC: anyBc,
    FLOAT: spec.ft !== undefined,
    FT: spec.ft ?? 'f32',
    FT_F16: spec.ft === 'f16',
    EXPR: spec.expr,
    OUT_F16: spec.outDtype === 'f16',
    OUT_U8: spec.outDtype === 'u8',
    OUT_ST: storageType(spec.outDtype),
    OUT_CT: computeType(spec.outDtype),
    OUT_BINDING: operands.length + 1,
  };
  for (let k = 0; k < MAX_RANK; k++) defines[`D${k}`] = anyBc && k >= MAX_RANK - r;
  ['A', 'B', 'C'].forEach((X, i) => {
    const t = operands[i];
    const d: DType = t?.dtype ?? 'f32';
    defines[`${X}_VEC`] = !!t && vecOperand(i);
    defines[`${X}_SC`] = !!t && modes[i] === 'scalar';
    defines[`${X}_BC`] = !!t && modes[i] === 'bcast';
    defines[`${X}_F16`] = d === 'f16';
    defines[`${X}_U8`] = d === 'u8';
    defines[`${X}_ST`] = storageType(d);
    defines[`${X}_CT`] = computeType(d);
  });
  return defines;
}

const kernelCache = new WeakMap<Runtime, Map<string, Kernel>>();

/** Run one elementwise op over `operands` (1–3) into a new tensor of the broadcast shape, or into `out`. */
function run(spec: Spec, operands: Tensor[], out?: Tensor): Tensor {
  const engine = operands[0].engine;
  for (const t of operands) t.assertAlive();
  let outShape: number[] = [...operands[0].shape];
  for (let i = 1; i < operands.length; i++) {
    outShape = broadcastShapes(outShape, operands[i].shape, spec.op);
  }
  if (outShape.length > 0 && operands.length > 1) {
    // Name every operand shape when three are involved (broadcastShapes names two).
    for (const t of operands) broadcastShapes(t.shape, outShape, spec.op);
  }
  if (out) {
    out.assertAlive();
    if (!sameShape(out.shape, outShape) || out.dtype !== spec.outDtype) {
      throw new VesselError(
        `${spec.op}: output tensor ${fmtShape(out.shape)} ${out.dtype} does not match the result ${fmtShape(outShape)} ${spec.outDtype}`,
      );
    }
    for (const t of operands) {
      if (t.storage === out.storage) throw new VesselError(`${spec.op}: the output tensor must not share storage with an input`);
    }
  } else {
    out = engine.empty(outShape, spec.outDtype);
  }
  const n = out.size;
  if (n === 0) return out;
  const rt = engine.rt;

  const modes: Mode[] = operands.map((t) => (t.size === 1 ? 'scalar' : t.size === n ? 'same' : 'bcast'));
  const anyBc = modes.includes('bcast');
  if (anyBc && n > 0xffffffff) {
    throw new VesselError(`${spec.op}: broadcasting into ${fmtShape(outShape)} needs more than 2^32 elements`);
  }

  // Broadcast geometry (strides of 'same' and 'scalar' operands are unused: 0).
  const rawStrides = operands.map((t, i) => (modes[i] === 'bcast' ? broadcastStrides(t.shape, outShape) : outShape.map(() => 0)));
  while (rawStrides.length < 3) rawStrides.push(outShape.map(() => 0));
  const geo = anyBc ? collapse(outShape, rawStrides) : { dims: [], strides: [[], [], []] };
  if (geo.dims.length > MAX_RANK) {
    throw new VesselError(
      `${spec.op}: broadcasting ${operands.map((t) => fmtShape(t.shape)).join(' and ')} needs ${geo.dims.length} dimensions after merging; at most ${MAX_RANK} are supported`,
    );
  }
  const r = geo.dims.length;
  // Vector path: 4 outputs per invocation. With broadcasting, 4 consecutive outputs must stay in one innermost
  // row, and each broadcast operand must read that row contiguously (stride 1) or not at all (stride 0).
  const inner = r - 1;
  const vec =
    n % 4 === 0 &&
    (!anyBc || (geo.dims[inner] % 4 === 0 && operands.every((_, i) => modes[i] !== 'bcast' || geo.strides[i][inner] <= 1)));
  const vecOperand = (i: number) => vec && (modes[i] === 'same' || (modes[i] === 'bcast' && geo.strides[i][inner] === 1));
  const pad = (v: number[], fill: number) => [...Array(MAX_RANK - v.length).fill(fill), ...v];
  const dims = pad(geo.dims, 1);
  const strides = geo.strides.map((s) => pad(s, 0));

  // Kernels are looked up by a compact key first: building the define set and its variant key costs more than
  // the rest of recording an op.
  const key =
    `${spec.expr}|${spec.ft ?? ''}|${spec.outDtype}|${vec ? 1 : 0}|${anyBc ? r : 0}|` +
    operands.map((t, i) => `${t.dtype}:${modes[i]}${vecOperand(i) ? ':v' : ''}`).join(',');
  let cache = kernelCache.get(rt);
  if (!cache) kernelCache.set(rt, (cache = new Map()));
  let kernel = cache.get(key);
  if (!kernel) {
    kernel = rt.kernel('elementwise', source, elementwiseDefines(spec, operands, modes, vec, anyBc, r, vecOperand));
    cache.set(key, kernel);
  }

  const chunked = [out, ...operands.filter((_, i) => modes[i] === 'same')];
  const per = chunkElements(rt, chunked.map((t) => bytesPer(t.dtype)));
  const fixed: (Binding | null)[] = operands.map((t, i) =>
    modes[i] === 'same' ? null : wholeBinding(spec.op, t, operands.length === 1 ? 'operand' : `operand ${i + 1}`),
  );
  const fits = chunked.every((t) => storageBytes(t.dtype, n) <= rt.maxBinding);
  const step = fits ? n : per;
  for (let start = 0; start < n; start += step) {
    const count = Math.min(step, n - start);
    const u = params().u32(count).u32(start);
    for (const d of dims) u.u32(d);
    for (const s of strides) for (const v of s) u.u32(v);
    u.f32(spec.s0 ?? 0).f32(spec.s1 ?? 0).u32(spec.k0 ?? 0).u32(spec.k1 ?? 0);
    const bindings = operands.map((t, i) => fixed[i] ?? t.binding(start, count));
    bindings.push(out.binding(start, count));
    const perThread = vec ? 4 : 4 / bytesPer(spec.outDtype);
    rt.dispatch(kernel, bindings, u, grid1D(Math.ceil(count / perThread), WG));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Public kernels

const BINARY_ALLOWED: Record<BinaryOp, readonly DType[]> = {
  add: NUMERIC,
  sub: NUMERIC,
  mul: NUMERIC,
  div: NUMERIC,
  pow: FLOATS,
  maximum: ORDERED,
  minimum: ORDERED,
};

function binaryExpr(op: BinaryOp, d: DType): { expr: string; ft?: DType } {
  const f = isFloat(d);
  switch (op) {
    case 'add':
      return { expr: 'a + b' };
    case 'sub':
      return { expr: 'a - b' };
    case 'mul':
      return { expr: 'a * b' };
    case 'div':
      return { expr: 'a / b' };
    case 'pow':
      return { expr: 'ew_pow(a, b)', ft: d };
    case 'maximum':
      return f ? { expr: 'ew_max(a, b)', ft: d } : { expr: 'max(a, b)' };
    case 'minimum':
      return f ? { expr: 'ew_min(a, b)', ft: d } : { expr: 'min(a, b)' };
  }
}

/** Mixed precision: an f16 activation and an f32 operand (a parameter, a per-channel term) in either order. */
function isMixedPair(a: Tensor, b: Tensor): boolean {
  return (a.dtype === 'f16' && b.dtype === 'f32') || (a.dtype === 'f32' && b.dtype === 'f16');
}
const MIXED_OPS: readonly BinaryOp[] = ['add', 'sub', 'mul', 'div'];
const MIXED_SYM: Partial<Record<BinaryOp, string>> = { add: '+', sub: '-', mul: '*', div: '/' };

/**
 * a ∘ b with NumPy broadcasting. add, sub, mul and div also take one f16 and one f32 operand (mixed precision):
 * both are widened to f32, the op runs in f32 and the f16 result is rounded once (out of range → ±inf). Integer division truncates toward zero (division by zero yields a, as WGSL
 * defines it); maximum/minimum propagate NaN; pow follows NumPy for negative bases with integral exponents.
 */
export function binary(op: BinaryOp, a: Tensor, b: Tensor, out?: Tensor): Tensor {
  if (!BINARY_OPS.includes(op)) throw new VesselError(`Unknown binary op "${op}"`);
  if (isMixedPair(a, b) && MIXED_OPS.includes(op)) return run({ op, outDtype: 'f16', expr: `ew_f16(f32(a) ${MIXED_SYM[op]} f32(b))` }, [a, b], out);
  checkSameDType(op, a, b);
  checkDType(op, a, BINARY_ALLOWED[op]);
  return run({ op, outDtype: a.dtype, ...binaryExpr(op, a.dtype) }, [a, b], out);
}

const CMP: Record<CompareOp, string> = { gt: '>', ge: '>=', lt: '<', le: '<=', eq: '==', ne: '!=' };

/** Comparison with broadcasting: a u8 tensor of 0/1. */
export function compare(op: CompareOp, a: Tensor, b: Tensor, out?: Tensor): Tensor {
  if (!COMPARE_OPS.includes(op)) throw new VesselError(`Unknown comparison "${op}"`);
  checkSameDType(op, a, b);
  checkDType(op, a, ORDERED);
  return run({ op, outDtype: 'u8', expr: `select(0u, 1u, a ${CMP[op]} b)` }, [a, b], out);
}

const UNARY_ALLOWED: Record<UnaryOp, readonly DType[]> = {
  neg: SIGNED,
  abs: NUMERIC,
  exp: FLOATS,
  log: FLOATS,
  sqrt: FLOATS,
  rsqrt: FLOATS,
  square: NUMERIC,
  sign: NUMERIC,
};

function unaryExpr(op: UnaryOp, d: DType): string {
  switch (op) {
    case 'neg':
      return '-a';
    case 'abs':
      return d === 'u32' ? 'a' : 'abs(a)';
    case 'exp':
      return 'exp(a)';
    case 'log':
      return 'log(a)';
    case 'sqrt':
      return 'sqrt(a)';
    case 'rsqrt':
      return 'inverseSqrt(a)';
    case 'square':
      return 'a * a';
    case 'sign':
      return d === 'u32' ? 'min(a, 1u)' : 'sign(a)';
  }
}

export function unary(op: UnaryOp, a: Tensor, out?: Tensor): Tensor {
  if (!UNARY_OPS.includes(op)) throw new VesselError(`Unknown unary op "${op}"`);
  checkDType(op, a, UNARY_ALLOWED[op]);
  return run({ op, outDtype: a.dtype, expr: unaryExpr(op, a.dtype) }, [a], out);
}

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

/** clamp(a, lo, hi): either bound may be omitted (undefined or ±Infinity). Integer tensors use the bounds rounded inward. */
export function clamp(a: Tensor, lo?: number, hi?: number, out?: Tensor): Tensor {
  checkDType('clamp', a, NUMERIC);
  const hasLo = lo !== undefined && lo !== -Infinity;
  const hasHi = hi !== undefined && hi !== Infinity;
  if ((hasLo && Number.isNaN(lo)) || (hasHi && Number.isNaN(hi))) throw new VesselError('clamp: bounds must not be NaN');
  if (hasLo && hasHi && lo! > hi!) throw new VesselError(`clamp: lower bound ${lo} exceeds upper bound ${hi}`);
  const d = a.dtype;
  const spec: Spec = { op: 'clamp', outDtype: d, expr: '' };
  let loB = '';
  let hiB = '';
  if (d === 'f32') {
    spec.s0 = lo;
    spec.s1 = hi;
    loB = 'p.s0';
    hiB = 'p.s1';
  } else if (d === 'f16') {
    // The bounds travel as f16 bit patterns (a bound beyond the f16 range becomes ±inf, like the values).
    spec.k0 = hasLo ? f32ToF16Bits(lo!) : 0;
    spec.k1 = hasHi ? f32ToF16Bits(hi!) : 0;
    loB = 'bitcast<vec2<f16>>(p.k0).x';
    hiB = 'bitcast<vec2<f16>>(p.k1).x';
  } else if (d === 'i32') {
    const c = (v: number) => Math.min(I32_MAX, Math.max(I32_MIN, v));
    spec.k0 = c(Math.ceil(lo ?? I32_MIN)) >>> 0;
    spec.k1 = c(Math.floor(hi ?? I32_MAX)) >>> 0;
    loB = 'bitcast<i32>(p.k0)';
    hiB = 'bitcast<i32>(p.k1)';
  } else {
    const c = (v: number) => Math.min(0xffffffff, Math.max(0, v));
    spec.k0 = c(Math.ceil(lo ?? 0));
    spec.k1 = c(Math.floor(hi ?? 0xffffffff));
    loB = 'p.k0';
    hiB = 'p.k1';
  }
  const loE = hasLo ? `max(a, ${loB})` : 'a';
  spec.expr = hasHi ? `min(${loE}, ${hiB})` : loE;
  if (isFloat(d)) {
    // NaN stays NaN (min/max of NaN is unspecified in WGSL).
    spec.ft = d;
    spec.expr = `select(${spec.expr}, a, ew_isnan(a))`;
  }
  return run(spec, [a], out);
}

/** a · scale + shift for float tensors (computed in f32; f16 results round once). */
export function scaleShift(a: Tensor, scale: number, shift: number, out?: Tensor): Tensor {
  checkDType('scaleShift', a, FLOATS);
  const expr = a.dtype === 'f16' ? 'ew_f16(f32(a) * p.s0 + p.s1)' : 'a * p.s0 + p.s1';
  return run({ op: 'scaleShift', outDtype: a.dtype, expr, s0: scale, s1: shift }, [a], out);
}

/** where(cond, a, b): cond is u8 (non-zero selects a); all three broadcast together. */
export function where(cond: Tensor, a: Tensor, b: Tensor, out?: Tensor): Tensor {
  if (cond.dtype !== 'u8') {
    throw new VesselError(`where: the condition must be u8, got ${cond.dtype} (tensor ${fmtShape(cond.shape)}); compare first or cast`);
  }
  checkSameDType('where', a, b);
  return run({ op: 'where', outDtype: a.dtype, expr: 'select(c, b, a != 0u)' }, [cond, a, b], out);
}

function castExpr(from: DType, to: DType): string {
  if (from === to) return 'a';
  const f = isFloat(from);
  const nan = from === 'f16' ? 'ew_nan16(a)' : 'ew_nan32(a)';
  switch (to) {
    case 'f32':
      return 'f32(a)';
    case 'f16':
      return from === 'f32' ? 'ew_f16(a)' : 'ew_f16(f32(a))';
    case 'i32':
      // Floats truncate toward zero and saturate; u32 → i32 keeps the bits (two's complement), as NumPy does.
      return f ? `select(i32(clamp(f32(a), -2147483648.0, 2147483520.0)), 0, ${nan})` : 'i32(a)';
    case 'u32':
      return f ? `select(u32(clamp(f32(a), 0.0, 4294967040.0)), 0u, ${nan})` : 'u32(a)';
    case 'u8':
      if (f) return `select(u32(clamp(f32(a), 0.0, 255.0)), 0u, ${nan})`;
      if (from === 'i32') return 'u32(clamp(a, 0, 255))';
      return 'min(a, 255u)';
  }
}

/**
 * Convert to another dtype. Floats → integers truncate toward zero and saturate at the target's range (NaN → 0);
 * every integer → u8 conversion saturates to [0, 255]; i32 ↔ u32 keep the bit pattern; f32 → f16 rounds to
 * nearest and overflows to ±inf.
 */
export function cast(a: Tensor, dtype: DType, out?: Tensor): Tensor {
  return run({ op: 'cast', outDtype: dtype, expr: castExpr(a.dtype, dtype) }, [a], out);
}

/** An elementwise copy (same dtype): a new tensor with the same contents. */
export function copyTensor(a: Tensor, out?: Tensor): Tensor {
  return cast(a, a.dtype, out);
}

