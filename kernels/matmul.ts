// f32 matmul C = op(A)·op(B), batched, with three kernel families:
//   reg   — register-blocked, no workgroup memory (shaders/matmul.wgsl): fast on CPU drivers (lavapipe,
//           SwiftShader), where workgroup barriers are expensive.
//   sgb   — register-blocked with B shared across each subgroup by subgroupBroadcast (shaders/matmul_sgb.wgsl;
//           needs subgroups of at least 8): fastest on CPU drivers with subgroups, where the kernel is load-bound.
//   tiled — workgroup-memory staged, double-buffered (shaders/matmul_tiled.wgsl): for real GPUs.
//   naive — one invocation per output (shaders/matmul_naive.wgsl): the baseline.
// Which variant runs: a forced one (forceMatmulVariant / opts.variant), else the autotuner's cached choice for the
// shape class on this adapter (tuneMatmul), else a default picked from the adapter kind.
// Operands larger than one storage binding are split along M (rows of A and C); where that is impossible (B, or
// one batch of a transposed A, larger than a binding) a clear error names the shapes.
import regSource from '../shaders/matmul.wgsl';
import tiledSource from '../shaders/matmul_tiled.wgsl';
import naiveSource from '../shaders/matmul_naive.wgsl';
import sgbSource from '../shaders/matmul_sgb.wgsl';
import mmCommonSource from '../shaders/lib/matmul_common.wgsl';
import type { Engine } from '../src/engine.js';
import { VesselError } from '../src/gpu/errors.js';
import type { GpuDevice } from '../src/gpu/device.js';
import { params, type Binding, type Kernel } from '../src/runtime/runtime.js';
import { fmtShape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { cast as castTensor } from './elementwise.js';

export interface MatmulVariant {
  name: string;
  kind: 'reg' | 'sgb' | 'tiled' | 'naive';
  /** Output rows and columns per invocation. */
  tm: number;
  tn: number;
  /** reg: workgroup size (x along N, y along M). sgb: 1 × invocations (all along M). tiled: always 16×16. */
  wgx: number;
  wgy: number;
  /** tiled: K step per workgroup-memory tile. */
  bk: number;
  /** Bytes of workgroup memory the variant uses. */
  workgroupBytes: number;
}

export function regVariant(tm: number, tn: number, wgx: number, wgy: number): MatmulVariant {
  return { name: `reg${tm}x${tn}`, kind: 'reg', tm, tn, wgx, wgy, bk: 1, workgroupBytes: 0 };
}
/** sgb: TM rows × TN = 4·lanes columns per invocation, `wg` invocations per workgroup stacked along M. */
export function sgbVariant(tm: number, tn: number, wg: number, suffix = ''): MatmulVariant {
  return { name: `sgb${tm}x${tn}${suffix}`, kind: 'sgb', tm, tn, wgx: 1, wgy: wg, bk: 1, workgroupBytes: 0 };
}
function tiled(tm: number, tn: number, bk: number): MatmulVariant {
  return {
    name: `tiled${16 * tm}x${16 * tn}`,
    kind: 'tiled',
    tm,
    tn,
    wgx: 16,
    wgy: 16,
    bk,
    workgroupBytes: 2 * bk * 16 * (tm + tn) * 4,
  };
}

/** Every variant, by name. All respect browser limits: ≤ 256 invocations and ≤ 16 KiB of workgroup memory. */
export const MATMUL_VARIANTS: readonly MatmulVariant[] = [
  // Register-blocked, no workgroup memory. On a CPU driver every load is a per-lane scalar load (about ten
  // instructions per element on Mesa 25.0's llvmpipe), so big per-invocation tiles win: loads per FMA are
  // (TM + TN)/(TM·TN). On lavapipe at 512³, 8×16 ran 1.3–2.6× faster than 4×4 in same-run comparisons
  // (benchmarks/RESULTS.md).
  regVariant(4, 4, 16, 4),
  regVariant(8, 16, 4, 8),
  regVariant(16, 8, 8, 4),
  // B shared by subgroupBroadcast: each lane loads 4 of the 32 B values of a k and receives the rest, so loads per
  // k are TM + 4 = 8 for 128 multiply-adds, against 24 for reg8x16 (benchmarks/RESULTS.md, core).
  // The same tile with 8 / 16 invocations per workgroup (32 / 64 rows): more workgroups and less row padding for
  // small M (sgbFittedToRows).
  sgbVariant(4, 32, 32),
  sgbVariant(4, 32, 8, 'w8'),
  sgbVariant(4, 32, 16, 'w16'),
  tiled(4, 4, 16), // 64×64 block per workgroup, 16 KiB of workgroup memory
  tiled(8, 8, 8), // 128×128 block per workgroup, 16 KiB
  { name: 'naive', kind: 'naive', tm: 1, tn: 1, wgx: 16, wgy: 16, bk: 1, workgroupBytes: 0 },
];

export function matmulVariant(name: string): MatmulVariant {
  const v = MATMUL_VARIANTS.find((x) => x.name === name);
  if (!v) throw new VesselError(`Unknown matmul variant "${name}"; known: ${MATMUL_VARIANTS.map((x) => x.name).join(', ')}`);
  return v;
}

/** True for software adapters (lavapipe/llvmpipe, SwiftShader, WARP), where workgroup barriers are expensive. */
export function isCpuAdapter(gpu: GpuDevice): boolean {
  const i = gpu.info;
  const hay = `${i.vendor} ${i.architecture} ${i.device} ${i.description}`.toLowerCase();
  return i.isFallbackAdapter || i.architecture === 'software' || /llvmpipe|lavapipe|swiftshader|microsoft basic render/.test(hay);
}

/** Variants that may run on this device (workgroup memory within its limit). */
export function usableVariants(gpu: GpuDevice): MatmulVariant[] {
  const wgMem = gpu.limits.maxComputeWorkgroupStorageSize ?? 16384;
  const wgInv = gpu.limits.maxComputeInvocationsPerWorkgroup ?? 256;
  return MATMUL_VARIANTS.filter((v) => v.workgroupBytes <= wgMem && v.wgx * v.wgy <= wgInv && (v.kind !== 'sgb' || sgbOk(gpu, v)));
}

/** sgb variants need subgroups with at least tn / 4 lanes (the lanes that load B). */
function sgbOk(gpu: GpuDevice, v: MatmulVariant): boolean {
  return gpu.hasSubgroups && (gpu.info.subgroupMinSize ?? 0) >= v.tn / 4;
}

/** The variants the autotuner times on this adapter (the naive baseline is never a candidate). */
export function tuneCandidates(gpu: GpuDevice): MatmulVariant[] {
  const usable = usableVariants(gpu).filter((v) => v.kind !== 'naive');
  // On CPU drivers the tiled kernels are an order of magnitude slower; timing them at size would waste seconds.
  return isCpuAdapter(gpu) ? usable.filter((v) => v.kind === 'reg' || v.kind === 'sgb') : usable;
}

function defaultVariant(gpu: GpuDevice, M: number, N: number, fitRows = false): MatmulVariant {
  // reg8x16 covers 64×64 of C per workgroup; below two such blocks the smaller tile keeps both CPU threads busy.
  // With subgroups, sgb4x32 (128×32 per workgroup) does the same work with a third of the loads.
  if (isCpuAdapter(gpu)) {
    if (Math.ceil(M / 64) * Math.ceil(N / 64) < 2) return matmulVariant('reg4x4');
    const sgb = matmulVariant('sgb4x32');
    if (!sgbOk(gpu, sgb) || M < 64) return matmulVariant('reg8x16');
    return fitRows ? sgbFittedToRows(M) : sgb;
  }
  // Small outputs leave big tiles with too few workgroups to fill a GPU.
  if (M * N <= 256 * 256) return matmulVariant('tiled64x64');
  return matmulVariant('tiled128x128');
}

/**
 * The sgb4x32 workgroup (32, 16 or 8 invocations of 4 rows) that pads M the least; ties go to 16, then 8. Small-M
 * GEMMs (the conv im2col GEMMs, M = 128–864) then get more, fuller workgroups: on lavapipe the 16-invocation
 * workgroup ran at or above the 32-invocation one at those shapes (benchmarks/RESULTS.md, conv).
 */
function sgbFittedToRows(M: number): MatmulVariant {
  let best = 16;
  let waste = Infinity;
  for (const wg of [16, 8, 32]) {
    const w = Math.ceil(M / (4 * wg)) * 4 * wg - M;
    if (w < waste) [best, waste] = [wg, w];
  }
  return matmulVariant(best === 32 ? 'sgb4x32' : `sgb4x32w${best}`);
}

// ---- variant choice: forced, tuned (cached per adapter and shape class), default --------------------------------

const forced = new WeakMap<GpuDevice, string>();
const tuned = new WeakMap<GpuDevice, Map<string, TuneResult>>();

/** Force one variant for every matmul on this engine (tests, comparisons); null returns to automatic choice. */
export function forceMatmulVariant(engine: Engine, name: string | null): void {
  if (name === null) forced.delete(engine.gpu);
  else forced.set(engine.gpu, matmulVariant(name).name);
}

function bucket(n: number): string {
  return n < 64 ? 's' : n < 512 ? 'm' : 'l';
}

/** The autotuner's cache key: transposes, size buckets of M, N, K, and whether the vec4 paths apply. */
export function shapeClass(M: number, N: number, K: number, transA = false, transB = false): string {
  const contA = transA ? M : K;
  const contB = transB ? K : N;
  const vec = `${contA % 4 === 0 ? 1 : 0}${contB % 4 === 0 ? 1 : 0}${N % 4 === 0 ? 1 : 0}`;
  return `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}:${bucket(M)}${bucket(N)}${bucket(K)}:${vec}`;
}

/**
 * The variant a matmul of this shape runs: forced, else tuned for its shape class, else the adapter default. With
 * `fitRows` the default sgb4x32 workgroup is fitted to M (sgbFittedToRows; callers with small, known M).
 */
export function chooseVariant(engine: Engine, M: number, N: number, K: number, transA = false, transB = false, fitRows = false): MatmulVariant {
  const f = forced.get(engine.gpu);
  if (f) return matmulVariant(f);
  const t = tuned.get(engine.gpu)?.get(shapeClass(M, N, K, transA, transB));
  if (t) return matmulVariant(t.best);
  return defaultVariant(engine.gpu, M, N, fitRows);
}

export interface TuneResult {
  shapeClass: string;
  best: string;
  /** Milliseconds per matmul for each candidate timed. */
  timings: Record<string, number>;
  /** Process CPU milliseconds per matmul (software adapters in Node: the ranking used there). */
  cpuMs?: Record<string, number>;
}

/** Process CPU time in ms where the runtime can tell (Node); null in browsers. */
const cpuNow: (() => number) | null =
  typeof process !== 'undefined' && typeof process.cpuUsage === 'function'
    ? () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      }
    : null;

/**
 * Time every candidate variant on operands of this shape (best of `reps` after a warm-up) and cache the fastest
 * for its shape class on this adapter; later matmuls of the class use it. A class already tuned returns the cached
 * result without timing again, unless `force`. On a software adapter in Node the ranking is by process CPU time:
 * the kernel runs on this process's threads, and on a machine shared with other jobs wall or timestamp time
 * mostly measures the share of the cores this process happened to get.
 */
export async function tuneMatmul(
  engine: Engine,
  M: number,
  N: number,
  K: number,
  opts: { transA?: boolean; transB?: boolean; reps?: number; candidates?: string[]; force?: boolean } = {},
): Promise<TuneResult> {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const cls = shapeClass(M, N, K, transA, transB);
  let cache = tuned.get(engine.gpu);
  if (!cache) tuned.set(engine.gpu, (cache = new Map()));
  const cached = cache.get(cls);
  if (cached && !opts.force) return cached;
  const cands = opts.candidates?.map(matmulVariant) ?? tuneCandidates(engine.gpu);
  if (cands.length === 0) throw new VesselError('tuneMatmul: no candidate variants');
  const reps = opts.reps ?? 2;
  const a = engine.full(transA ? [K, M] : [M, K], 0.5);
  const b = engine.full(transB ? [N, K] : [K, N], 0.25);
  const c = engine.empty([M, N]);
  const timings: Record<string, number> = {};
  const cpuNowHere = isCpuAdapter(engine.gpu) ? cpuNow : null;
  const cpuMs: Record<string, number> = {};
  try {
    for (const v of cands) {
      matmulInto(c, a, b, { transA, transB, variant: v.name }); // compile + warm up
      await engine.sync();
      let best = Infinity;
      let bestCpu = Infinity;
      for (let r = 0; r < reps; r++) {
        const c0 = cpuNowHere?.() ?? 0;
        best = Math.min(best, await engine.rt.time(() => matmulInto(c, a, b, { transA, transB, variant: v.name })));
        if (cpuNowHere) bestCpu = Math.min(bestCpu, cpuNowHere() - c0);
      }
      timings[v.name] = best;
      if (cpuNowHere) cpuMs[v.name] = bestCpu;
    }
  } finally {
    a.dispose();
    b.dispose();
    c.dispose();
  }
  const rank = cpuNowHere ? cpuMs : timings;
  const best = Object.entries(rank).sort((x, y) => x[1] - y[1])[0][0];
  const res: TuneResult = { shapeClass: cls, best, timings, ...(cpuNowHere ? { cpuMs } : {}) };
  cache.set(cls, res);
  return res;
}

/** Forget every tuned choice for this engine's device. */
export function clearMatmulTuning(engine: Engine): void {
  tuned.delete(engine.gpu);
}

// ---- shapes, bindings, dispatch ----------------------------------------------------------------------------------

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  /** Run this variant (by name, or a configuration object for experiments) instead of the automatic choice. */
  variant?: string | MatmulVariant;
}

interface Dims {
  M: number;
  N: number;
  K: number;
  batch: number;
  batchA: number;
  batchB: number;
  outShape: number[];
}

function dims(a: Tensor, b: Tensor, transA: boolean, transB: boolean, op: string): Dims {
  const desc = () => `${op}: A ${fmtShape(a.shape)}${transA ? 'ᵀ' : ''} · B ${fmtShape(b.shape)}${transB ? 'ᵀ' : ''}`;
  if (a.dtype !== 'f32' || b.dtype !== 'f32') throw new VesselError(`${desc()}: f32 operands required, got ${a.dtype} and ${b.dtype}`);
  if (a.rank < 2 || b.rank < 2) throw new VesselError(`${desc()}: operands need at least 2 dimensions`);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const M = transA ? ac : ar;
  const Ka = transA ? ar : ac;
  const Kb = transB ? bc : br;
  const N = transB ? br : bc;
  if (Ka !== Kb) throw new VesselError(`${desc()}: inner dimensions differ (${Ka} vs ${Kb})`);
  const bsA = a.shape.slice(0, -2);
  const bsB = b.shape.slice(0, -2);
  const batchA = bsA.reduce((x, y) => x * y, 1);
  const batchB = bsB.reduce((x, y) => x * y, 1);
  let batchShape: number[];
  if (bsA.length === bsB.length && bsA.every((d, i) => d === bsB[i])) batchShape = [...bsA];
  else if (batchB === 1 && bsB.length <= bsA.length) batchShape = [...bsA];
  else if (batchA === 1 && bsA.length <= bsB.length) batchShape = [...bsB];
  else throw new VesselError(`${desc()}: batch dimensions ${fmtShape(bsA)} and ${fmtShape(bsB)} differ (only equal batches or a batch of 1 broadcast)`);
  const batch = Math.max(batchA, batchB);
  return { M, N, K: Ka, batch, batchA, batchB, outShape: [...batchShape, M, N] };
}

/** C = op(A)·op(B). A: [..., M, K] ([..., K, M] with transA); B: [..., K, N] ([..., N, K] with transB). */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const d = dims(a, b, opts.transA ?? false, opts.transB ?? false, 'matmul');
  const c = a.engine.empty(d.outShape, 'f32');
  try {
    matmulInto(c, a, b, opts);
  } catch (e) {
    c.dispose();
    throw e;
  }
  return c;
}

interface Slice {
  binding: Binding;
  /** Element offset of the slice inside the binding. */
  off: number;
  /** Last readable element index in the binding. */
  max: number;
}

/** Bind elements [start, start+count) of `t` at an aligned byte offset; the remainder becomes an element offset. */
function bindRange(t: Tensor, start: number, count: number, align: number): Slice {
  const byteStart = start * 4;
  const base = Math.floor(byteStart / align) * align;
  const end = Math.min(t.storage.bytes, (start + count) * 4);
  const size = Math.max(4, end - base);
  return { binding: { buffer: t.buffer, offset: base, size }, off: (byteStart - base) / 4, max: size / 4 - 1 };
}

/** Write op(A)·op(B) into `c` (shape [..batch, M, N], f32). */
export function matmulInto(c: Tensor, a: Tensor, b: Tensor, opts: MatmulOptions = {}): void {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const d = dims(a, b, transA, transB, 'matmul');
  if (c.dtype !== 'f32' || c.size !== d.batch * d.M * d.N) {
    throw new VesselError(`matmul: output ${fmtShape(c.shape)} ${c.dtype} cannot hold the f32 result ${fmtShape(d.outShape)}`);
  }
  const { M, N, K, batch } = d;
  if (M === 0 || N === 0 || batch === 0) return;
  const engine = a.engine;
  const rt = engine.rt;
  if (K === 0) {
    rt.clear(c.buffer, 0, c.size * 4);
    return;
  }
  const v =
    typeof opts.variant === 'string' ? matmulVariant(opts.variant) : (opts.variant ?? chooseVariant(engine, M, N, K, transA, transB));
  const wgMem = engine.gpu.limits.maxComputeWorkgroupStorageSize ?? 16384;
  const wgInv = engine.gpu.limits.maxComputeInvocationsPerWorkgroup ?? 256;
  if (v.workgroupBytes > wgMem || v.wgx * v.wgy > wgInv) {
    throw new VesselError(`matmul variant ${v.name} needs more workgroup memory or invocations than this adapter allows`);
  }
  if (v.kind === 'sgb' && !sgbOk(engine.gpu, v)) {
    throw new VesselError(`matmul variant ${v.name} needs subgroups of at least ${v.tn / 4} invocations, which this adapter lacks`);
  }

  const align = Math.max(rt.storageAlign, 16);
  const maxBind = Math.floor(rt.maxBinding / 4) * 4;
  const slack = align / 4; // an unaligned start costs up to this many extra elements in a binding
  const sizeA = M * K;
  const sizeB = K * N;
  const sizeC = M * N;
  const strideA = d.batchA === 1 ? 0 : sizeA;
  const strideB = d.batchB === 1 ? 0 : sizeB;
  const desc = () => `matmul: A ${fmtShape(a.shape)}${transA ? 'ᵀ' : ''} · B ${fmtShape(b.shape)}${transB ? 'ᵀ' : ''}`;

  const rowsPerGroup = v.tm * v.wgy;
  const maxGroups = rt.limits.maxComputeWorkgroupsPerDimension ?? 65535;
  const fitsAll = a.size * 4 <= maxBind && b.size * 4 <= maxBind && c.size * 4 <= maxBind;

  const lda = transA ? M : K;
  const launch = (sa: Slice, sb: Slice, sc: Slice, rows: number, nb: number, bsA: number, bsB: number) =>
    record(engine, v, transA, transB, N, K, lda, sa, sb, sc, rows, nb, bsA, bsB);

  if (fitsAll) {
    // One dispatch per ≤ 65,535 batches, everything in single bindings.
    const sa = bindRange(a, 0, a.size, align);
    const sb = bindRange(b, 0, b.size, align);
    const sc = bindRange(c, 0, c.size, align);
    const groupsY = Math.ceil(M / rowsPerGroup);
    if (groupsY <= maxGroups) {
      for (let b0 = 0; b0 < batch; b0 += maxGroups) {
        const nb = Math.min(maxGroups, batch - b0);
        launch(
          { ...sa, off: sa.off + b0 * strideA },
          { ...sb, off: sb.off + b0 * strideB },
          { ...sc, off: sc.off + b0 * sizeC },
          M,
          nb,
          strideA,
          strideB,
        );
      }
      return;
    }
  }
  // Per batch, and along M in chunks whose A and C rows fit one binding each.
  if (sizeB * 4 > maxBind) {
    throw new VesselError(`${desc()}: B needs a ${sizeB * 4}-byte binding; this adapter allows ${rt.maxBinding} and B cannot be split`);
  }
  if (transA && sizeA * 4 > maxBind) {
    throw new VesselError(`${desc()}: transposed A needs a ${sizeA * 4}-byte binding; this adapter allows ${rt.maxBinding} and a transposed A cannot be split`);
  }
  const rowWordsA = transA ? 0 : K;
  let chunk = Math.min(
    M,
    rowWordsA > 0 ? Math.floor((maxBind / 4 - slack) / rowWordsA) : M,
    Math.floor((maxBind / 4 - slack) / N),
    maxGroups * rowsPerGroup,
  );
  if (chunk >= rowsPerGroup) chunk -= chunk % rowsPerGroup;
  if (chunk < 1) throw new VesselError(`${desc()}: one row of A or C exceeds this adapter's ${rt.maxBinding}-byte storage binding`);
  for (let bi = 0; bi < batch; bi++) {
    const aBase = (d.batchA === 1 ? 0 : bi) * sizeA;
    const bBase = (d.batchB === 1 ? 0 : bi) * sizeB;
    const sb = bindRange(b, bBase, sizeB, align);
    for (let r0 = 0; r0 < M; r0 += chunk) {
      const rows = Math.min(chunk, M - r0);
      // A transposed is bound whole (checked above); its rows of C are columns of A, selected by offset r0.
      const sa = transA ? bindRange(a, aBase, sizeA, align) : bindRange(a, aBase + r0 * K, rows * K, align);
      if (transA) sa.off += r0;
      const sc = bindRange(c, bi * sizeC + r0 * N, rows * N, align);
      launch(sa, sb, sc, rows, 1, 0, 0);
    }
  }
}

/** One dispatch over `rows` rows of C (a whole M or a chunk of it) for `nb` batches. */
function record(
  engine: Engine,
  v: MatmulVariant,
  transA: boolean,
  transB: boolean,
  N: number,
  K: number,
  lda: number,
  sa: Slice,
  sb: Slice,
  sc: Slice,
  rows: number,
  nb: number,
  bsA: number,
  bsB: number,
): void {
  const rt = engine.rt;
  let kernel: Kernel;
  let groups: [number, number, number];
  // vec4 loads/stores need the contiguous dimension and the slice offset to be multiples of 4. The reg kernel
  // loads vec4s only along M of a transposed A and along N of B, so the flags are fixed elsewhere (fewer variants).
  let vecA = lda % 4 === 0 && sa.off % 4 === 0 && (transA || K % 4 === 0);
  let vecB = (transB ? K : N) % 4 === 0 && sb.off % 4 === 0;
  if (v.kind === 'reg' || v.kind === 'sgb') {
    vecA &&= transA;
    vecB &&= !transB;
  }
  const vecC = N % 4 === 0 && sc.off % 4 === 0;
  if (v.kind === 'reg') {
    kernel = rt.kernel('matmul', mmCommonSource + regSource, {
      SUBGROUPS: false,
      TM: v.tm,
      TN4: v.tn / 4,
      WG_X: v.wgx,
      WG_Y: v.wgy,
      TRANS_A: transA,
      TRANS_B: transB,
      VEC_A: vecA,
      VEC_B: vecB,
      VEC_C: vecC,
    });
    groups = [Math.ceil(N / (v.tn * v.wgx)), Math.ceil(rows / (v.tm * v.wgy)), nb];
  } else if (v.kind === 'sgb') {
    kernel = rt.kernel('matmul_sgb', mmCommonSource + sgbSource, {
      SUBGROUPS: true,
      TM: v.tm,
      LANES: v.tn / 4,
      LANES8: v.tn === 32,
      WG: v.wgy,
      TRANS_A: transA,
      TRANS_B: transB,
      VEC_A: vecA,
      VEC_B: vecB,
      VEC_C: vecC,
    });
    groups = [Math.ceil(N / v.tn), Math.ceil(rows / (v.tm * v.wgy)), nb];
  } else if (v.kind === 'tiled') {
    kernel = rt.kernel('matmul_tiled', mmCommonSource + tiledSource, { TM4: v.tm / 4, TN4: v.tn / 4, BK: v.bk, TRANS_A: transA, TRANS_B: transB, SUBGROUPS: false, VEC_A: false, VEC_B: false, VEC_C: false });
    groups = [Math.ceil(N / (16 * v.tn)), Math.ceil(rows / (16 * v.tm)), nb];
  } else {
    kernel = rt.kernel('matmul_naive', mmCommonSource + naiveSource, { TRANS_A: transA, TRANS_B: transB, SUBGROUPS: false, VEC_A: false, VEC_B: false, VEC_C: false });
    groups = [Math.ceil(N / 16), Math.ceil(rows / 16), nb];
  }
  const u = params()
    .u32(rows)
    .u32(N)
    .u32(K)
    .u32(sa.off)
    .u32(sb.off)
    .u32(sc.off)
    .u32(bsA)
    .u32(bsB)
    .u32(rows * N)
    .u32(sa.max)
    .u32(sb.max)
    .u32(lda);
  rt.dispatch(kernel, [sa.binding, sb.binding, sc.binding], u, groups);
}

// ---- mixed precision (f16 activations, f32 parameters) -----------------------------------------------------------

export interface MixedMatmulOptions extends MatmulOptions {
  /** dtype of C (default: f16 when either operand is f16, else f32). */
  outDtype?: 'f32' | 'f16';
}

/**
 * C = op(A)·op(B) where A and/or B may be f16 (shader-f16 adapters). Every product and sum is f32: f16 operands are
 * widened to f32 copies (exact), the f32 kernels above run unchanged, and C is rounded to f16 once when asked. The
 * widened copies live only for this call; in the networks the f16 operands here are small (time-embedding MLPs,
 * attention blocks), the big activations go through the convolution kernels. With two f32 operands and no
 * outDtype this is exactly `matmul`.
 */
export function matmulMixed(a: Tensor, b: Tensor, opts: MixedMatmulOptions = {}): Tensor {
  const anyHalf = a.dtype === 'f16' || b.dtype === 'f16';
  const outDtype = opts.outDtype ?? (anyHalf ? 'f16' : 'f32');
  for (const [t, nm] of [[a, 'A'], [b, 'B']] as const) {
    if (t.dtype !== 'f32' && t.dtype !== 'f16') {
      throw new VesselError(`matmul: ${nm} ${fmtShape(t.shape)} is ${t.dtype}; f32 or f16 operands required`);
    }
  }
  if (anyHalf && !a.engine.gpu.hasF16) throw new VesselError('matmul: f16 operands need an adapter with shader-f16');
  const wa = a.dtype === 'f16' ? castTensor(a, 'f32') : a;
  const wb = b.dtype === 'f16' ? castTensor(b, 'f32') : b;
  try {
    const c = matmul(wa, wb, opts);
    if (outDtype === 'f32') return c;
    const h = castTensor(c, 'f16');
    c.dispose();
    return h;
  } finally {
    if (wa !== a) wa.dispose();
    if (wb !== b) wb.dispose();
  }
}
