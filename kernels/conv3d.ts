// conv3d: forward, input gradient, weight gradient and bias gradient of a 3D convolution (NCDHW activations,
// PyTorch weight layout (out, in, kD, kH, kW)), as register-blocked implicit-GEMM WGSL kernels.
//
//   forward          shaders/conv3d.wgsl         M = out channels, N = output voxels, K = in channels x taps
//   input gradient   shaders/conv3d.wgsl         the same kernel over dy with the transposed, reversed weight;
//                                                strided convs run one dispatch per output residue class, so
//                                                only the taps that land on real dy entries are visited
//   weight gradient  shaders/conv3d_wgrad.wgsl   + conv3d_reduce.wgsl (split-K partials, deterministic sum)
//   bias gradient    shaders/conv3d_bias.wgsl    + conv3d_reduce.wgsl
//   weight repack    shaders/conv3d_pack.wgsl    [in-role][tap][out-role padded] so weight loads are vec4
//
// Forward / input-gradient variants (chosen per shape by kernels/autotune.ts, or forced by name):
//   reg4x4 … reg8x8  shaders/conv3d.wgsl: register tiles of TM output channels x TN positions along x, no
//                    workgroup memory (CPU-like adapters, where barriers are expensive); every invocation of a
//                    workgroup shares its weight loads
//   tiled64          shaders/conv3d_tiled.wgsl: 64x64 blocks staged in workgroup memory (real GPUs)
//   sgk4/8/16        shaders/conv3d_sgk.wgsl: register tiles with K split over subgroup lanes (needs subgroups;
//                    deep layers with few positions and many channels)
//   mma16            shaders/conv3d_mma.wgsl: f16 subgroup-matrix (tensor-core) tiles, f32 accumulation; only
//                    where the adapter has subgroup matrices and the caller opted in (setConvTensorCores)
//   cl4x4 … cl8x8    shaders/conv3d.wgsl with channel lanes (CL): a workgroup shares one position tile and its
//                    invocations take consecutive output-channel blocks, so x loads and loop bounds are uniform
//                    and the z / y taps that only see zero padding are skipped (deep levels, 4³–8³)
//   …k2 / k4 / k8    reg, sgw, tiled, sgk or cl with K (input channels) split into 2 / 4 / 8 chunks over more
//                    workgroups (reg8x4k4, sgw8x4k2/k4/k8, sgw8x8k2, tiled64k4, sgk8k4, cl8x4k2, cl4x4k4): f32
//                    partial sums, then conv3d_reduce.wgsl adds them in a fixed order (plus bias) and stores
//                    (deep levels: few output voxels, huge K)
//   im2col           kernels/conv3d_im2col.ts + shaders/conv3d_im2col.wgsl: explicit column matrix + the engine's
//                    f32 matmul (forward, input gradient; weight gradient as wim2col), offered to the tuner only
//                    where the column matrix is at most 16 MiB and P ≤ 512 (deep levels: few positions, long K)
// All four direct kernels share the prologue shaders/lib/conv3d_common.wgsl (prepended here).
//
// Mixed precision: activations may be f16 tensors, parameters are always f32, every sum is f32.
//   forward          x f16, w f32, bias f32   → y f16
//   input gradient   dy f16, w f32            → dx f16
//   weight gradient  dy f16, x f16            → dw f32;  bias gradient dy f16 → db f32
// All-f32 calls use the same kernels and defaults as before (the tuner may now also pick a split-K or channel-lane
// variant for deep shapes). The autotuner keys its shape classes on the activation dtype.
import convSource from '../shaders/conv3d.wgsl';
import tiledSource from '../shaders/conv3d_tiled.wgsl';
import sgkSource from '../shaders/conv3d_sgk.wgsl';
import mmaSource from '../shaders/conv3d_mma.wgsl';
import wgradMmaSource from '../shaders/conv3d_wgrad_mma.wgsl';
import mmaTileSource from '../shaders/lib/mma_tile.wgsl';
import packSource from '../shaders/conv3d_pack.wgsl';
import wgradSource from '../shaders/conv3d_wgrad.wgsl';
import reduceSource from '../shaders/conv3d_reduce.wgsl';
import biasSource from '../shaders/conv3d_bias.wgsl';
import commonSource from '../shaders/lib/conv3d_common.wgsl';
import type { Engine } from '../src/engine.js';
import { VesselError } from '../src/gpu/errors.js';
import { params, type Binding } from '../src/runtime/runtime.js';
import { fmtShape, type Shape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import type { DType } from '../src/tensor/dtype.js';
import { enableF16 } from './accumulate.js';
import { choose, sizeBucket, tune, type Candidate } from './autotune.js';
import { im2colBackwardInput, im2colBackwardWeight, im2colForward, im2colOffered } from './conv3d_im2col.js';
import { isCpuAdapter } from './matmul.js';
import { grid1D, MAX_GROUPS } from './util.js';

export type Triple = [number, number, number];

export interface Conv3dOptions {
  /** 1 or 2 per axis (a number applies to all three). Default 1. */
  stride?: number | readonly number[];
  /** Zero padding per axis. Default 0. */
  padding?: number | readonly number[];
}

/** Sizes of one convolution, validated. `in`/`out` are spatial sizes (D, H, W). */
export interface ConvGeometry {
  n: number;
  ci: number;
  co: number;
  in: Triple;
  out: Triple;
  k: Triple;
  s: Triple;
  p: Triple;
}

const WG = 64;
const MAX_KERNEL = 7;
const MAX_STRIDE = 4;

export function triple(v: number | readonly number[] | undefined, dflt: number, what: string, op: string): Triple {
  const t = v === undefined ? [dflt, dflt, dflt] : typeof v === 'number' ? [v, v, v] : [...v];
  if (t.length !== 3 || t.some((x) => !Number.isInteger(x))) {
    throw new VesselError(`${op}: ${what} must be an integer or three integers, got ${JSON.stringify(v)}`);
  }
  return t as Triple;
}

function checkRank(t: Tensor, what: string, op: string, rank?: number): void {
  if (rank !== undefined && t.rank !== rank) {
    throw new VesselError(`${op}: ${what} must have rank ${rank} (N, C, D, H, W layout), got ${fmtShape(t.shape)}`);
  }
}

/** A parameter (weight, bias): f32 master copies, also under mixed precision. */
export function checkParam(t: Tensor, what: string, op: string, rank?: number): void {
  t.assertAlive();
  if (t.dtype !== 'f32') {
    throw new VesselError(`${op}: ${what} ${fmtShape(t.shape)} has dtype ${t.dtype}; parameters must be f32 (mixed precision keeps f32 master weights, only activations are f16)`);
  }
  checkRank(t, what, op, rank);
}

/** An activation or activation gradient: f32, or f16 under mixed precision. */
export function checkAct(t: Tensor, what: string, op: string, rank?: number): void {
  t.assertAlive();
  if (t.dtype !== 'f32' && t.dtype !== 'f16') throw new VesselError(`${op}: ${what} ${fmtShape(t.shape)} has dtype ${t.dtype}; activations must be f32 or f16`);
  checkRank(t, what, op, rank);
}

/** Two activations that meet in one GEMM (dy and x of a weight gradient) must share their dtype. */
export function checkSameAct(a: Tensor, aWhat: string, b: Tensor, bWhat: string, op: string): void {
  if (a.dtype !== b.dtype) {
    throw new VesselError(`${op}: ${aWhat} ${fmtShape(a.shape)} is ${a.dtype} but ${bWhat} ${fmtShape(b.shape)} is ${b.dtype}; both must be f32 or both f16`);
  }
}

/** Validate a Conv3d's shapes and options and compute its output size: floor((D + 2p − k) / s) + 1 per axis. */
export function conv3dGeometry(xShape: Shape, wShape: Shape, opts: Conv3dOptions = {}, op = 'conv3d'): ConvGeometry {
  if (xShape.length !== 5) throw new VesselError(`${op}: input must have rank 5 (N, C, D, H, W), got ${fmtShape(xShape)}`);
  if (wShape.length !== 5) throw new VesselError(`${op}: weight must have rank 5 (out, in, kD, kH, kW), got ${fmtShape(wShape)}`);
  const s = triple(opts.stride, 1, 'stride', op);
  const p = triple(opts.padding, 0, 'padding', op);
  const [n, ci, d, h, w] = xShape;
  const [co, wci, kd, kh, kw] = wShape;
  if (wci !== ci) throw new VesselError(`${op}: input ${fmtShape(xShape)} has ${ci} channels but weight ${fmtShape(wShape)} expects ${wci}`);
  const k: Triple = [kd, kh, kw];
  if (k.some((x) => x < 1 || x > MAX_KERNEL)) throw new VesselError(`${op}: kernel size ${fmtShape(k)} of weight ${fmtShape(wShape)} must be 1–${MAX_KERNEL} per axis`);
  if (s.some((x) => x < 1 || x > MAX_STRIDE)) throw new VesselError(`${op}: stride ${fmtShape(s)} must be 1–${MAX_STRIDE} per axis`);
  if (p.some((x) => x < 0 || x >= 8)) throw new VesselError(`${op}: padding ${fmtShape(p)} must be 0–7 per axis`);
  if (n < 1 || ci < 1 || co < 1) throw new VesselError(`${op}: empty input ${fmtShape(xShape)} or weight ${fmtShape(wShape)}`);
  const inS: Triple = [d, h, w];
  const out = [0, 1, 2].map((a) => Math.floor((inS[a] + 2 * p[a] - k[a]) / s[a]) + 1) as Triple;
  for (let a = 0; a < 3; a++) {
    if (inS[a] + 2 * p[a] < k[a]) {
      throw new VesselError(
        `${op}: kernel ${fmtShape(k)} is larger than the padded input ${fmtShape(inS.map((v, i) => v + 2 * p[i]))} (input ${fmtShape(xShape)}, padding ${fmtShape(p)})`,
      );
    }
  }
  return { n, ci, co, in: inS, out, k, s, p };
}

export function conv3dOutputShape(xShape: Shape, wShape: Shape, opts: Conv3dOptions = {}): number[] {
  const g = conv3dGeometry(xShape, wShape, opts);
  return [g.n, g.co, ...g.out];
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

// ------------------------------------------------------------------------------------------------------------
// Variants

export interface DirectConfig {
  /** reg with TM = 8 only: share each tap's 8 weights across the subgroup (subgroupBroadcast). */
  sgw?: boolean;
  /**
   * reg: register tile, no workgroup memory. tiled: 64×64 blocks staged in workgroup memory (real GPUs).
   * sgk: register tile with K split over `ks` subgroup lanes (deep layers: few positions, many channels).
   * mma: f16 subgroup-matrix (tensor-core) tiles of ms × ms × ms with f32 accumulation; inputs rounded to f16.
   * im2col: explicit column matrix + f32 matmul (kernels/conv3d_im2col.ts); tm / tn unused.
   */
  kind: 'reg' | 'tiled' | 'sgk' | 'mma' | 'im2col';
  tm: 4 | 8;
  tn: 4 | 8;
  ks?: number;
  /** mma only: the subgroup-matrix size (16 on NVIDIA, 8 on Mesa lavapipe 26); the block is 4·ms × 2·ms. */
  ms?: 8 | 16;
  /** Split K (input channels) into this many chunks: partial sums + a deterministic reduce pass. Default 1. */
  split?: number;
  /**
   * reg only: channel lanes — a workgroup shares one position tile, its invocations take consecutive output-channel
   * blocks; the padding-only z / y taps are skipped with uniform bounds (deep levels).
   */
  cl?: boolean;
}

export interface WgradConfig {
  /** TM = 8 only: load each step's dy values once per subgroup and broadcast them. */
  sgw?: boolean;
  tm: 4 | 8;
  tn: 4 | 8;
  /** Multiplies the number of K chunks the heuristic picks (more parallel partials, more reduction work). */
  split: number;
  /** Explicit column matrix + one f32 matmul over the batch (kernels/conv3d_im2col.ts); the other fields unused. */
  im2col?: boolean;
  /** Subgroup matrices of this size (shaders/conv3d_wgrad_mma.wgsl, see convMmaShape); the other fields unused. */
  mma?: 8 | 16;
}

/** Every forward / input-gradient variant; directVariants() says which this adapter can run. */
export const DIRECT_VARIANTS: Candidate<DirectConfig>[] = [
  { name: 'reg4x4', config: { kind: 'reg', tm: 4, tn: 4 } },
  { name: 'reg8x4', config: { kind: 'reg', tm: 8, tn: 4 } },
  { name: 'reg4x8', config: { kind: 'reg', tm: 4, tn: 8 } },
  { name: 'reg8x8', config: { kind: 'reg', tm: 8, tn: 8 } },
  { name: 'sgw8x4', config: { kind: 'reg', tm: 8, tn: 4, sgw: true } },
  { name: 'sgw8x8', config: { kind: 'reg', tm: 8, tn: 8, sgw: true } },
  { name: 'tiled64', config: { kind: 'tiled', tm: 4, tn: 4 } },
  { name: 'sgk4', config: { kind: 'sgk', tm: 8, tn: 4, ks: 4 } },
  { name: 'sgk8', config: { kind: 'sgk', tm: 8, tn: 4, ks: 8 } },
  { name: 'sgk16', config: { kind: 'sgk', tm: 8, tn: 4, ks: 16 } },
  { name: 'mma16', config: { kind: 'mma', tm: 4, tn: 4, ms: 16 } },
  { name: 'mma8', config: { kind: 'mma', tm: 4, tn: 4, ms: 8 } },
  { name: 'reg8x4k4', config: { kind: 'reg', tm: 8, tn: 4, split: 4 } },
  { name: 'sgw8x4k2', config: { kind: 'reg', tm: 8, tn: 4, sgw: true, split: 2 } },
  { name: 'sgw8x4k4', config: { kind: 'reg', tm: 8, tn: 4, sgw: true, split: 4 } },
  { name: 'sgw8x8k2', config: { kind: 'reg', tm: 8, tn: 8, sgw: true, split: 2 } },
  { name: 'sgw8x4k8', config: { kind: 'reg', tm: 8, tn: 4, sgw: true, split: 8 } },
  { name: 'tiled64k4', config: { kind: 'tiled', tm: 4, tn: 4, split: 4 } },
  { name: 'sgk8k4', config: { kind: 'sgk', tm: 8, tn: 4, ks: 8, split: 4 } },
  { name: 'cl8x4', config: { kind: 'reg', tm: 8, tn: 4, cl: true } },
  { name: 'cl4x4', config: { kind: 'reg', tm: 4, tn: 4, cl: true } },
  { name: 'cl8x8', config: { kind: 'reg', tm: 8, tn: 8, cl: true } },
  { name: 'cl8x4k2', config: { kind: 'reg', tm: 8, tn: 4, cl: true, split: 2 } },
  { name: 'cl4x4k4', config: { kind: 'reg', tm: 4, tn: 4, cl: true, split: 4 } },
  { name: 'im2col', config: { kind: 'im2col', tm: 4, tn: 4 } },
];

let tensorCores = false;

/**
 * Allow the subgroup-matrix (tensor-core) variant for f32 activations too. It rounds its inputs to f16 (f32
 * accumulation), so f32 results then differ from f32 arithmetic by about 1e-3 relative. Off by default; with f16
 * activations (mixed precision) the variant is offered whenever the adapter has it, since only the f32 weights
 * are rounded there, as autocast does.
 */
export function setConvTensorCores(enabled: boolean): void {
  tensorCores = enabled;
}

/**
 * The subgroup-matrix shape conv3d_mma.wgsl can use on this adapter, or null: shader-f16, a f16 → f32 config of
 * ms × ms × ms (16 preferred, then 8), and one fixed subgroup size sg that is a multiple of ms and divides 2·ms
 * (NVIDIA: 16 and 32; Mesa lavapipe 26: 8 and 8).
 */
export function convMmaShape(e: Engine): { ms: 8 | 16; sg: number } | null {
  const g = e.gpu;
  const sg = g.info.subgroupMinSize ?? 0;
  if (!g.hasSubgroupMatrix || !g.hasF16 || sg === 0 || g.info.subgroupMaxSize !== sg) return null;
  for (const ms of [16, 8] as const) {
    const has = g.info.subgroupMatrixConfigs.some((c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && c.M === ms && c.N === ms && c.K === ms);
    if (has && sg % ms === 0 && (2 * ms) % sg === 0) return { ms, sg };
  }
  return null;
}

/** True when this adapter can run conv3d_mma.wgsl (convMmaShape). */
export function hasConvTensorCores(e: Engine): boolean {
  return convMmaShape(e) !== null;
}

/**
 * The variants this adapter can run for activations of `dtype`: sgk needs subgroups at least ks wide; the mma
 * variant matching convMmaShape(), for f16 activations or after setConvTensorCores(true).
 */
export function directVariants(e: Engine, dtype: DType = 'f32'): Candidate<DirectConfig>[] {
  const g = e.gpu;
  const minSg = g.info.subgroupMinSize ?? 0;
  const mma = convMmaShape(e);
  return DIRECT_VARIANTS.filter((v) => {
    if (v.config.kind === 'sgk') return g.hasSubgroups && minSg >= (v.config.ks ?? 0);
    if (v.config.sgw) return g.hasSubgroups && minSg >= 8;
    if (v.config.kind === 'mma') return mma !== null && mma.ms === v.config.ms && (dtype === 'f16' || tensorCores);
    return true;
  });
}

/**
 * The variants the autotuner times for activations of `dtype`: on CPU adapters the workgroup-memory kernels
 * (tiled, mma) are skipped (barriers are slow, and lavapipe emulates subgroup matrices lane by lane);
 * split-K variants only for GEMMs with few output positions and a long K (`positions` and `inC` of the pass, when
 * given), where one workgroup per output tile leaves the adapter idle; im2col only when `im2col` says its column
 * matrix is small enough (im2colOffered).
 */
export function directCandidates(e: Engine, positions?: number, inC?: number, im2col = false, dtype: DType = 'f32'): Candidate<DirectConfig>[] {
  const cpu = isCpuAdapter(e.gpu);
  const deep = positions !== undefined && inC !== undefined && positions <= 4096 && inC >= 64;
  return directVariants(e, dtype).filter((v) => {
    if (v.config.kind === 'im2col') return im2col;
    const staged = v.config.kind === 'tiled' || v.config.kind === 'mma';
    return !(cpu && staged) && (((v.config.split ?? 1) === 1 && !v.config.cl) || deep);
  });
}

export const WGRAD_VARIANTS: Candidate<WgradConfig>[] = [
  { name: 'w4x4', config: { tm: 4, tn: 4, split: 1 } },
  { name: 'w8x4', config: { tm: 8, tn: 4, split: 1 } },
  { name: 'w4x8', config: { tm: 4, tn: 8, split: 1 } },
  { name: 'w8x8', config: { tm: 8, tn: 8, split: 1 } },
  { name: 'w8x4s4', config: { tm: 8, tn: 4, split: 4 } },
  { name: 'wsg8x4', config: { tm: 8, tn: 4, split: 1, sgw: true } },
  { name: 'wsg8x8', config: { tm: 8, tn: 8, split: 1, sgw: true } },
  { name: 'wim2col', config: { tm: 4, tn: 4, split: 1, im2col: true } },
  { name: 'wmma16', config: { tm: 4, tn: 4, split: 1, mma: 16 } },
  { name: 'wmma8', config: { tm: 4, tn: 4, split: 1, mma: 8 } },
];

/**
 * The weight-gradient variants this adapter can run for activations of `dtype` (wsg needs subgroups of at least
 * 8; wmma the adapter's subgroup-matrix shape, for f16 activations or after setConvTensorCores(true)).
 */
export function wgradVariants(e: Engine, dtype: DType = 'f32'): Candidate<WgradConfig>[] {
  const ok = e.gpu.hasSubgroups && (e.gpu.info.subgroupMinSize ?? 0) >= 8;
  const mma = convMmaShape(e);
  return WGRAD_VARIANTS.filter((v) => {
    if (v.config.mma) return mma !== null && mma.ms === v.config.mma && (dtype === 'f16' || tensorCores);
    return !v.config.sgw || ok;
  });
}

/**
 * The untuned choice. No split-K here: on lavapipe split-K for the deep levels won 1.3–1.9× under heavy load but
 * lost (0.6–0.9×) on a quieter machine (RESULTS.md, conv), so only the autotuner, timing on the machine as it is,
 * picks split and channel-lane variants.
 */
export function directDefault(e: Engine, outC: number, gw: number, positions: number, dtype: DType = 'f32'): string {
  const names = directVariants(e).map((v) => v.name);
  if (!isCpuAdapter(e.gpu)) {
    const mma = directVariants(e, dtype).find((v) => v.config.kind === 'mma');
    if (mma && positions >= 512) return mma.name;
    // Few output positions (deep levels): split K over subgroup lanes to fill the GPU; else big tiles.
    const sg = directVariants(e).filter((v) => v.config.kind === 'sgk').pop();
    if (positions <= 4096 && sg) return sg.name;
    if (positions >= 4096 && outC >= 32) return 'tiled64';
  }
  const tm = outC >= 8 ? 8 : 4;
  const tn = gw >= 16 ? 8 : 4;
  if (tm === 8 && names.includes(`sgw8x${tn}`)) return `sgw8x${tn}`;
  return `reg${tm}x${tn}`;
}

export function wgradDefault(e: Engine, co: number, dtype: DType = 'f32'): string {
  if (!isCpuAdapter(e.gpu)) {
    const mma = wgradVariants(e, dtype).find((v) => v.config.mma);
    if (mma) return mma.name;
  }
  if (co < 8) return 'w4x4';
  return wgradVariants(e).some((v) => v.name === 'wsg8x4') ? 'wsg8x4' : 'w8x4';
}

function shapeClass(g: ConvGeometry, what: string, dtype: DType): string {
  const vox = g.n * g.out[0] * g.out[1] * g.out[2];
  return `${what}:ci${g.ci}:co${g.co}:k${g.k.join('')}:s${g.s.join('')}:v${sizeBucket(vox)}:w${g.out[2]}:${dtype}`;
}

// ------------------------------------------------------------------------------------------------------------
// Weight repacking

/**
 * Pack a (A, B, taps) weight as [r][tap][c padded to a multiple of tm]. mode 'rc' = rows are W's second axis
 * (Conv3d forward: r = in, c = out); 'cr' = rows are W's first axis (input gradient: r = out, c = in).
 */
/** Output-channel rows per block of a direct variant (the packed weight pads its channels to a multiple). */
function blockRows(cfg: DirectConfig): number {
  if (cfg.kind === 'tiled') return 64;
  if (cfg.kind === 'mma') return 4 * (cfg.ms ?? 16);
  return cfg.tm;
}

function packWeight(w: Tensor, mode: 'fwd' | 'dgrad', tm: number): Tensor {
  const e = w.engine;
  const [a, b] = w.shape;
  const kvol = w.shape[2] * w.shape[3] * w.shape[4];
  const nr = mode === 'fwd' ? b : a;
  const nc = mode === 'fwd' ? a : b;
  const cp = Math.ceil(nc / tm) * tm;
  const out = e.empty([nr * kvol * cp]);
  const strideC = mode === 'fwd' ? b * kvol : kvol;
  const strideR = mode === 'fwd' ? kvol : b * kvol;
  const total = nr * kvol * cp;
  const k = e.rt.kernel('conv3d_pack', packSource, { WG: 256 });
  e.rt.dispatch(k, [w.binding(), out.binding()], params().u32(nr).u32(nc).u32(cp).u32(kvol).u32(strideC).u32(strideR).u32(total), grid1D(total, 256));
  return out;
}

// ------------------------------------------------------------------------------------------------------------
// The direct kernel (forward and input gradient)

interface AxisPlan {
  /** input stride */
  S: number;
  off: number;
  tb: number;
  ts: number;
  nt: number;
  /** output stride and residue */
  OS: number;
  R: number;
  /** positions in this dispatch's grid */
  G: number;
}

/** Where one direct pass writes: the output itself, or (split K) f32 partial sums, one output-sized plane per chunk. */
interface DirectTarget {
  /** The buffer the kernel writes: the output, or chunks × output elements of f32 partial sums. */
  buf: Tensor;
  /** Input channels per K chunk (≥ inC: no split). */
  ciChunk: number;
  chunks: number;
  /** Elements of one output plane (the partial-sum stride). */
  plane: number;
}

function directTarget(e: Engine, dst: Tensor, inC: number, cfg: DirectConfig): DirectTarget {
  const want = Math.max(1, Math.min(cfg.split ?? 1, inC));
  const ciChunk = Math.ceil(inC / want);
  const chunks = Math.ceil(inC / ciChunk);
  if (chunks === 1) return { buf: dst, ciChunk: inC, chunks: 1, plane: dst.size };
  return { buf: e.empty([chunks * dst.size]), ciChunk, chunks, plane: dst.size };
}

/** After the direct pass(es) into a split target: dst = Σ chunks (+ bias), in the destination's dtype. */
function finishTarget(t: DirectTarget, dst: Tensor, bias: Tensor | null, outC: number): void {
  if (t.chunks === 1) return;
  const vol = dst.shape.slice(2).reduce((a, b) => a * b, 1);
  reduceChunks(t.buf, dst, dst.size, t.chunks, bias, vol, outC);
  t.buf.dispose();
}

/** Record one dispatch of a staged kernel (tiled, or mma on subgroup matrices) over nPos grid positions. */
function stagedDispatch(src: Tensor, cfg: DirectConfig, defines: Record<string, string | number | boolean>, bufs: Binding[], u: ReturnType<typeof params>, nPos: number, gz: number): void {
  const rt = src.engine.rt;
  if (cfg.kind === 'mma') {
    const shape = convMmaShape(src.engine);
    if (!shape || shape.ms !== cfg.ms) throw new VesselError(`conv3d: variant mma${cfg.ms} needs f16 → f32 subgroup matrices of ${cfg.ms}×${cfg.ms}×${cfg.ms}, which this adapter does not offer`);
    const kern = rt.kernel('conv3d_mma', commonSource + mmaSource + mmaTileSource, { ...defines, SUBGROUPS: false, MS: shape.ms, SG: shape.sg });
    const [gx, gy] = grid1D(nPos, 2 * shape.ms);
    rt.dispatch(kern, bufs, u, [gx, gy, gz]);
    return;
  }
  const kern = rt.kernel('conv3d_tiled', commonSource + tiledSource, { ...defines, SUBGROUPS: false });
  const [gx, gy] = grid1D(nPos, 64);
  rt.dispatch(kern, bufs, u, [gx, gy, gz]);
}

/**
 * The K table of one direct dispatch (KTAB in shaders/lib/conv3d_common.wgsl): for every K index k = (in-role
 * channel c, tap u of this dispatch), vec4<i32>(c·in_vol + (uz·i_h + uy)·i_w + ux, uz | uy << 8 | ux << 16,
 * c·k_vol + tap, 0), where tap = (tb_d + ts_d·uz, tb_h + ts_h·uy, tb_w + ts_w·ux) in the weight.
 */
function kTable(e: Engine, inC: number, I: readonly number[], k: Triple, ax: [AxisPlan, AxisPlan, AxisPlan]): Tensor {
  const [az, ay, axx] = ax;
  if (Math.max(az.nt, ay.nt, axx.nt) > 255) throw new VesselError(`conv3d: kernel ${fmtShape(k)} has more than 255 taps along an axis`);
  const ntVol = az.nt * ay.nt * axx.nt;
  const inVol = I[0] * I[1] * I[2];
  const kVol = k[0] * k[1] * k[2];
  // At least one row: a residue class of a strided input gradient can have no taps at all (K = 0, never read).
  const t = new Int32Array(Math.max(1, inC * ntVol) * 4);
  let o = 0;
  for (let c = 0; c < inC; c++) {
    for (let uz = 0; uz < az.nt; uz++) {
      for (let uy = 0; uy < ay.nt; uy++) {
        for (let ux = 0; ux < axx.nt; ux++) {
          const tap = ((az.tb + az.ts * uz) * k[1] + (ay.tb + ay.ts * uy)) * k[2] + (axx.tb + axx.ts * ux);
          t[o++] = c * inVol + (uz * I[1] + uy) * I[2] + ux;
          t[o++] = uz | (uy << 8) | (ux << 16);
          t[o++] = c * kVol + tap;
          t[o++] = 0;
        }
      }
    }
  }
  return e.tensor(t, [t.length / 4, 4], 'i32');
}

function direct(
  src: Tensor,
  packed: Tensor,
  bias: Tensor | null,
  dst: Tensor,
  target: DirectTarget,
  inC: number,
  outC: number,
  k: Triple,
  ax: [AxisPlan, AxisPlan, AxisPlan],
  cfg: DirectConfig,
): void {
  const rt = src.engine.rt;
  const [N] = src.shape;
  const I = src.shape.slice(2);
  const O = dst.shape.slice(2);
  const [az, ay, axx] = ax;
  if (az.G === 0 || ay.G === 0 || axx.G === 0) return;
  const tiled = cfg.kind === 'tiled' || cfg.kind === 'mma';
  const tm = blockRows(cfg);
  const tn = tiled ? 4 : cfg.tn;
  const nCob = Math.ceil(outC / tm);
  const gwb = Math.ceil(axx.G / tn);
  const nPos = az.G * ay.G * axx.G;
  const ntVol = az.nt * ay.nt * axx.nt;
  const cl = cfg.kind === 'reg' && cfg.cl === true;
  // Channel lanes: one workgroup per position tile, `clWg` output-channel blocks per workgroup.
  const clWg = Math.min(64, Math.max(8, Math.ceil(nCob / 8) * 8));
  const zCob = cl ? Math.ceil(nCob / clWg) : nCob;
  const gz = target.chunks * N * zCob;
  if (gz > MAX_GROUPS) throw new VesselError(`conv3d: ${target.chunks} K chunks × batch ${N} × ${nCob} channel blocks exceeds ${MAX_GROUPS} workgroups`);
  const u = params()
    .u32(inC).u32(outC).u32(nCob * (tm / 4)).u32(zCob)
    .u32(I[0]).u32(I[1]).u32(I[2])
    .u32(O[0]).u32(O[1]).u32(O[2])
    .u32(az.G).u32(ay.G).u32(axx.G).u32(gwb)
    .u32(az.S).u32(ay.S)
    .i32(az.off).i32(ay.off).i32(axx.off)
    .i32(az.tb).i32(ay.tb).i32(axx.tb)
    .i32(az.ts).i32(ay.ts).i32(axx.ts)
    .u32(az.nt).u32(ay.nt)
    .u32(az.OS).u32(ay.OS).u32(axx.OS)
    .u32(az.R).u32(ay.R).u32(axx.R)
    .u32(k[1]).u32(k[2]).u32(k[0] * k[1] * k[2])
    .u32(axx.S).u32(axx.nt).u32(ay.nt * axx.nt).u32(ntVol).u32(inC * ntVol).u32(nPos)
    .u32(N).u32(target.ciChunk).u32(target.plane);
  // Split K: the kernel writes f32 partial sums without bias; finishTarget() adds them up, the bias, and narrows.
  const split = target.chunks > 1;
  const kBias = split ? null : bias;
  const xt = src.dtype;
  const yt: DType = split ? 'f32' : dst.dtype;
  const mma = cfg.kind === 'mma';
  const common = {
    ENABLE_F16: xt === 'f16' || yt === 'f16' || mma ? 'enable f16;' : '',
    MMA: mma,
    XT: xt,
    YT: yt,
    WT: mma ? 'f32' : 'vec4<f32>',
    HAS_BIAS: kBias !== null,
    KTAB: false,
  };
  const bufs = kBias ? [src.binding(), packed.binding(), kBias.binding(), target.buf.binding()] : [src.binding(), packed.binding(), target.buf.binding()];
  if (tiled) {
    // The staged kernels gather through a table of the K indices (KTAB in conv3d_common.wgsl); it is uploaded per
    // dispatch (queue writes are ordered after the work recorded so far) and released once the dispatch is recorded.
    const ktab = kTable(src.engine, inC, I, k, ax);
    try {
      stagedDispatch(src, cfg, { ...common, KTAB: true }, [...bufs, ktab.binding()], u, nPos, gz);
    } finally {
      ktab.dispose();
    }
    return;
  }
  const kx = axx.nt;
  const cells = az.G * ay.G * gwb;
  // Workgroup size (a multiple of 8, and of ks for sgk) that leaves the fewest invocations computing clamped
  // copies past the last tile: small grids (deep levels) get small workgroups.
  const wg = cl ? clWg : leastWasteWorkgroup(cells * (cfg.kind === 'sgk' ? cfg.ks ?? 8 : 1), cfg.kind === 'sgk' ? Math.max(8, cfg.ks ?? 8) : 8);
  const sgw = cfg.kind === 'reg' && cfg.sgw === true && tm === 8 && !cl;
  const defines: Record<string, number | boolean | string> = {
    ...common,
    WG: wg,
    SGW: sgw,
    SUBGROUPS: sgw,
    CL: cl,
    TM4: tm / 4,
    TN: tn,
    SX: axx.S,
    KX: kx,
    ROW: (tn - 1) * axx.S + kx,
    ACC: (tm / 4) * tn,
  };
  if (cfg.kind === 'sgk') {
    const ks = cfg.ks ?? 8;
    defines.KS = ks;
    defines.SGW = false;
    defines.SUBGROUPS = true;
    defines.CL = false;
    const kern = rt.kernel('conv3d_sgk', commonSource + sgkSource, defines);
    const [gx, gy] = grid1D(cells, wg / ks);
    rt.dispatch(kern, bufs, u, [gx, gy, gz]);
    return;
  }
  const kern = rt.kernel('conv3d', commonSource + convSource, defines);
  const [gx, gy] = grid1D(cells, cl ? 1 : wg);
  rt.dispatch(kern, bufs, u, [gx, gy, gz]);
}

/** A workgroup size ≤ 64, multiple of `step`, with the fewest surplus invocations for `n` (ties: the larger). */
function leastWasteWorkgroup(n: number, step: number): number {
  if (n <= WG) return Math.max(step, Math.ceil(n / step) * step);
  let best = WG;
  let waste = Infinity;
  for (let c = WG; c >= 32; c -= step) {
    const w = Math.ceil(n / c) * c - n;
    if (w < waste) [best, waste] = [c, w];
  }
  return best;
}

function forwardPlan(g: ConvGeometry): [AxisPlan, AxisPlan, AxisPlan] {
  return [0, 1, 2].map((a) => ({ S: g.s[a], off: -g.p[a], tb: 0, ts: 1, nt: g.k[a], OS: 1, R: 0, G: g.out[a] })) as [AxisPlan, AxisPlan, AxisPlan];
}

/** Input-gradient plan along one axis for output residue r: the taps ≡ r + p (mod s), walked backwards. */
function dgradAxis(X: number, k: number, s: number, p: number, r: number): AxisPlan {
  const kmin = (r + p) % s;
  const nt = kmin < k ? Math.ceil((k - kmin) / s) : 0;
  const c = (r + p - kmin) / s;
  const G = r < X ? Math.ceil((X - r) / s) : 0;
  if (nt === 0) return { S: 1, off: 0, tb: 0, ts: 1, nt: 0, OS: s, R: r, G };
  return { S: 1, off: c - (nt - 1), tb: kmin + s * (nt - 1), ts: -s, nt, OS: s, R: r, G };
}

function validateBias(bias: Tensor | null, channels: number, op: string): void {
  if (!bias) return;
  checkParam(bias, 'bias', op);
  if (bias.rank !== 1 || bias.shape[0] !== channels) {
    throw new VesselError(`${op}: bias ${fmtShape(bias.shape)} must have shape [${channels}] (one value per output channel)`);
  }
}

/** Forward with an explicit variant (no tuning). */
export function conv3dForwardWith(x: Tensor, w: Tensor, bias: Tensor | null, opts: Conv3dOptions, cfg: DirectConfig): Tensor {
  const op = 'conv3d';
  checkAct(x, 'input', op, 5);
  checkParam(w, 'weight', op, 5);
  const g = conv3dGeometry(x.shape, w.shape, opts, op);
  validateBias(bias, g.co, op);
  const e = x.engine;
  if (cfg.kind === 'im2col') return im2colForward(x, w, bias, g);
  const packed = packWeight(w, 'fwd', blockRows(cfg));
  const y = e.empty([g.n, g.co, ...g.out], x.dtype);
  const t = directTarget(e, y, g.ci, cfg);
  direct(x, packed, bias, y, t, g.ci, g.co, g.k, forwardPlan(g), cfg);
  finishTarget(t, y, bias, g.co);
  packed.dispose();
  return y;
}

/**
 * Input gradient with an explicit variant. `outBias` adds a per-channel bias to the result (used by
 * convTranspose3d, whose forward is this computation).
 */
export function conv3dBackwardInputWith(dy: Tensor, w: Tensor, xShape: Shape, opts: Conv3dOptions, cfg: DirectConfig, outBias: Tensor | null = null, op = 'conv3d backward (input)'): Tensor {
  checkAct(dy, 'dy', op, 5);
  checkParam(w, 'weight', op, 5);
  const g = conv3dGeometry(xShape, w.shape, opts, op);
  const ys = [g.n, g.co, ...g.out];
  if (!sameShape(dy.shape, ys)) {
    throw new VesselError(`${op}: dy ${fmtShape(dy.shape)} does not match the output shape ${fmtShape(ys)} of input ${fmtShape(xShape)} and weight ${fmtShape(w.shape)}`);
  }
  validateBias(outBias, g.ci, op);
  const e = dy.engine;
  if (cfg.kind === 'im2col') return im2colBackwardInput(dy, w, xShape, g, outBias);
  const packed = packWeight(w, 'dgrad', blockRows(cfg));
  const dx = e.empty([...xShape], dy.dtype);
  const t = directTarget(e, dx, g.co, cfg);
  for (let rz = 0; rz < g.s[0]; rz++)
    for (let ry = 0; ry < g.s[1]; ry++)
      for (let rx = 0; rx < g.s[2]; rx++) {
        const plan: [AxisPlan, AxisPlan, AxisPlan] = [
          dgradAxis(g.in[0], g.k[0], g.s[0], g.p[0], rz),
          dgradAxis(g.in[1], g.k[1], g.s[1], g.p[1], ry),
          dgradAxis(g.in[2], g.k[2], g.s[2], g.p[2], rx),
        ];
        direct(dy, packed, outBias, dx, t, g.co, g.ci, g.k, plan, cfg);
      }
  finishTarget(t, dx, outBias, g.ci);
  packed.dispose();
  return dx;
}

function wgradChunks(e: Engine, g: ConvGeometry, cfg: WgradConfig, invocations: number, nob: number): number {
  const rows = g.n * g.out[0] * g.out[1];
  const wElems = g.co * g.ci * g.k[0] * g.k[1] * g.k[2];
  // Enough workgroups to fill the adapter (about 64 Ki invocations on a GPU, a few thousand on a CPU driver,
  // where every extra chunk only adds partial sums to write and reduce), at least 2 output rows per chunk, and
  // at most 64 MiB of partial sums.
  const target = isCpuAdapter(e.gpu) ? 2048 : 65536;
  const want = Math.ceil((target * cfg.split) / (invocations * nob));
  const byRows = Math.max(1, Math.floor(rows / 2));
  const byMem = Math.max(1, Math.floor((64 * 1024 * 1024) / 4 / wElems));
  return Math.max(1, Math.min(want, byRows, byMem, MAX_GROUPS));
}

/** Weight gradient with an explicit variant. */
export function conv3dBackwardWeightWith(dy: Tensor, x: Tensor, wShape: Shape, opts: Conv3dOptions, cfg: WgradConfig, op = 'conv3d backward (weight)'): Tensor {
  checkAct(dy, 'dy', op, 5);
  checkAct(x, 'input', op, 5);
  checkSameAct(dy, 'dy', x, 'input', op);
  const g = conv3dGeometry(x.shape, wShape, opts, op);
  const ys = [g.n, g.co, ...g.out];
  if (!sameShape(dy.shape, ys)) {
    throw new VesselError(`${op}: dy ${fmtShape(dy.shape)} does not match the output shape ${fmtShape(ys)} of input ${fmtShape(x.shape)} and weight ${fmtShape(wShape)}`);
  }
  if (cfg.im2col) return im2colBackwardWeight(dy, x, wShape, g);
  if (cfg.mma) return mmaBackwardWeight(dy, x, wShape, g, cfg.mma, op);
  const e = x.engine;
  const rt = e.rt;
  const kvol = g.k[0] * g.k[1] * g.k[2];
  const wElems = g.co * g.ci * kvol;
  const lanes = g.ci * g.k[0] * g.k[1];
  const nob = Math.ceil(g.co / cfg.tm);
  const rows = g.n * g.out[0] * g.out[1];
  // Fewer lanes than a workgroup: `sets` copies of the lanes per workgroup, each on its own K chunk.
  const sets = Math.max(1, Math.min(Math.floor(WG / lanes), rows));
  // Workgroup size (a multiple of 8) that leaves the fewest surplus invocations.
  const wg = leastWasteWorkgroup(lanes * sets, 8);
  const gx = Math.ceil((lanes * sets) / wg);
  let groupsY = Math.ceil(wgradChunks(e, g, cfg, gx * wg, nob) / sets);
  const perChunk = Math.ceil(rows / (groupsY * sets));
  groupsY = Math.ceil(rows / (perChunk * sets));
  const chunks = groupsY * sets;
  if (gx > MAX_GROUPS || nob > MAX_GROUPS) throw new VesselError(`${op}: weight ${fmtShape(wShape)} is too large for one dispatch`);
  const dw = e.empty([...wShape]);
  const part = chunks > 1 ? e.empty([chunks * wElems]) : dw;
  const sgw = cfg.sgw === true && cfg.tm === 8 && sets === 1;
  const defines = {
    WG: wg, TM: cfg.tm, TN: cfg.tn, SX: g.s[2], KX: g.k[2], ROW: (cfg.tn - 1) * g.s[2] + g.k[2], ACC: cfg.tm * g.k[2], SGW: sgw,
    T: x.dtype, ENABLE_F16: enableF16(x.dtype),
  };
  const kern = rt.kernel('conv3d_wgrad', wgradSource, defines);
  const u = params()
    .u32(g.co).u32(g.ci).u32(rows).u32(perChunk)
    .u32(g.out[0]).u32(g.out[1]).u32(g.out[2])
    .u32(g.in[0]).u32(g.in[1]).u32(g.in[2])
    .u32(g.s[0]).u32(g.s[1])
    .i32(g.p[0]).i32(g.p[1]).i32(g.p[2])
    .u32(g.k[0]).u32(g.k[1]).u32(kvol).u32(lanes).u32(sets);
  rt.dispatch(kern, [dy.binding(), x.binding(), part.binding()], u, [gx, groupsY, nob]);
  if (chunks > 1) {
    reduceChunks(part, dw, wElems, chunks);
    part.dispose();
  }
  return dw;
}

/**
 * The weight-gradient variants the autotuner times: wgradVariants() less the subgroup-matrix kernel on CPU
 * adapters (lavapipe emulates the matrices lane by lane, with workgroup barriers).
 */
export function wgradCandidates(e: Engine, dtype: DType = 'f32'): Candidate<WgradConfig>[] {
  const cpu = isCpuAdapter(e.gpu);
  return wgradVariants(e, dtype).filter((v) => !(cpu && v.config.mma));
}

/** dW through shaders/conv3d_wgrad_mma.wgsl: K (batch × positions) split into chunks, partials reduced in order. */
function mmaBackwardWeight(dy: Tensor, x: Tensor, wShape: Shape, g: ConvGeometry, ms: 8 | 16, op: string): Tensor {
  const e = x.engine;
  const shape = convMmaShape(e);
  if (!shape || shape.ms !== ms) throw new VesselError(`${op}: variant wmma${ms} needs f16 → f32 subgroup matrices of ${ms}×${ms}×${ms}, which this adapter does not offer`);
  const kvol = g.k[0] * g.k[1] * g.k[2];
  const R = g.ci * kvol;
  const wElems = g.co * R;
  const K = g.n * g.out[0] * g.out[1] * g.out[2];
  const gx = Math.ceil(R / (2 * ms));
  const gy = Math.ceil(g.co / (4 * ms));
  if (gx > MAX_GROUPS || gy > MAX_GROUPS) throw new VesselError(`${op}: weight ${fmtShape(wShape)} is too large for one dispatch`);
  // About 1024 workgroups in all (a GPU's worth), at least 8 K steps per chunk, at most 64 MiB of partial sums.
  const byWork = Math.ceil(1024 / (gx * gy));
  const bySteps = Math.max(1, Math.floor(K / (8 * ms)));
  const byMem = Math.max(1, Math.floor((64 * 1024 * 1024) / 4 / wElems));
  let chunks = Math.max(1, Math.min(byWork, bySteps, byMem, MAX_GROUPS));
  const perChunk = Math.ceil(K / chunks / ms) * ms;
  chunks = Math.ceil(K / perChunk);
  const dw = e.empty([...wShape]);
  const part = chunks > 1 ? e.empty([chunks * wElems]) : dw;
  const kern = e.rt.kernel('conv3d_wgrad_mma', wgradMmaSource + mmaTileSource, {
    MS: ms, SG: shape.sg, T: x.dtype, ENABLE_F16: 'enable f16;',
  });
  const u = params()
    .u32(g.co).u32(g.ci).u32(R).u32(K).u32(perChunk)
    .u32(g.out[0]).u32(g.out[1]).u32(g.out[2])
    .u32(g.in[0]).u32(g.in[1]).u32(g.in[2])
    .u32(g.s[0]).u32(g.s[1]).u32(g.s[2])
    .i32(g.p[0]).i32(g.p[1]).i32(g.p[2])
    .u32(g.k[1]).u32(g.k[2]).u32(kvol);
  e.rt.dispatch(kern, [dy.binding(), x.binding(), part.binding()], u, [gx, gy, chunks]);
  if (chunks > 1) {
    reduceChunks(part, dw, wElems, chunks);
    part.dispose();
  }
  return dw;
}

/**
 * out[j] = Σ over chunks of part[c·n + j] in a fixed order (+ bias[(j / vol) mod channels]), stored in out's
 * dtype (f16 outputs are rounded once, from the f32 sum).
 */
function reduceChunks(part: Tensor, out: Tensor, n: number, chunks: number, bias: Tensor | null = null, vol = 1, channels = 1): void {
  const rt = part.engine.rt;
  const k = rt.kernel('conv3d_reduce', reduceSource, {
    WG: 256,
    OT: out.dtype,
    ENABLE_F16: enableF16(out.dtype),
    HAS_BIAS: bias !== null,
  });
  const u = params().u32(n).u32(chunks).u32(vol).u32(channels);
  rt.dispatch(k, bias ? [part.binding(), bias.binding(), out.binding()] : [part.binding(), out.binding()], u, grid1D(n, 256));
}

/** Bias gradient: Σ of dy over the batch and all voxels, per channel → [C]. Works for any rank ≥ 2 (N, C, …). */
export function conv3dBackwardBias(dy: Tensor): Tensor {
  const op = 'conv3d backward (bias)';
  checkAct(dy, 'dy', op);
  if (dy.rank < 2) throw new VesselError(`${op}: dy must have shape (N, C, …), got ${fmtShape(dy.shape)}`);
  const e = dy.engine;
  const rt = e.rt;
  const [n, c] = dy.shape;
  const vol = dy.shape.slice(2).reduce((a, b) => a * b, 1);
  const total = n * vol;
  const perChunk = Math.max(4096, Math.ceil(total / 64));
  const chunks = Math.max(1, Math.ceil(total / perChunk));
  if (c > MAX_GROUPS) throw new VesselError(`${op}: ${c} channels exceed ${MAX_GROUPS} workgroups`);
  const db = e.empty([c]);
  const part = chunks > 1 ? e.empty([chunks * c]) : db;
  const k = rt.kernel('conv3d_bias', biasSource, { WG: 64, T: dy.dtype, ENABLE_F16: enableF16(dy.dtype) });
  rt.dispatch(k, [dy.binding(), part.binding()], params().u32(c).u32(vol).u32(n).u32(perChunk), [c, chunks, 1]);
  if (chunks > 1) {
    reduceChunks(part, db, c, chunks);
    part.dispose();
  }
  return db;
}

// ------------------------------------------------------------------------------------------------------------
// Public entry points: tuned variant if known, else the heuristic default.

function directHeuristic(e: Engine, g: ConvGeometry, what: 'fwd' | 'dgrad', dtype: DType = 'f32'): string {
  const outC = what === 'fwd' ? g.co : g.ci;
  const gw = what === 'fwd' ? g.out[2] : Math.ceil(g.in[2] / g.s[2]);
  const [pos] = directDims(g, what);
  return directDefault(e, outC, gw, pos, dtype);
}

/** Output positions and K channels of a forward / input-gradient GEMM (what the split-K candidates depend on). */
function directDims(g: ConvGeometry, what: 'fwd' | 'dgrad'): [number, number] {
  return what === 'fwd' ? [g.n * g.out[0] * g.out[1] * g.out[2], g.ci] : [g.n * g.in[0] * g.in[1] * g.in[2], g.co];
}

function pickDirect(e: Engine, g: ConvGeometry, what: 'fwd' | 'dgrad', dtype: DType): DirectConfig {
  return choose(e, `conv3d.${what}`, shapeClass(g, what, dtype), directVariants(e, dtype), directHeuristic(e, g, what, dtype)).config;
}

/**
 * y = conv3d(x, w) + bias. x (N, Cin, D, H, W) f32 or f16, w (Cout, Cin, kD, kH, kW) f32, bias (Cout) f32 or
 * null; y has x's dtype.
 */
export function conv3dForward(x: Tensor, w: Tensor, bias: Tensor | null, opts: Conv3dOptions = {}): Tensor {
  const g = conv3dGeometry(x.shape, w.shape, opts, 'conv3d');
  return conv3dForwardWith(x, w, bias, opts, pickDirect(x.engine, g, 'fwd', x.dtype));
}

/** dx for y = conv3d(x, w): dy (N, Cout, …out) f32 or f16, w f32, and x's shape; dx has dy's dtype. */
export function conv3dBackwardInput(dy: Tensor, w: Tensor, xShape: Shape, opts: Conv3dOptions = {}): Tensor {
  const g = conv3dGeometry(xShape, w.shape, opts, 'conv3d backward (input)');
  return conv3dBackwardInputWith(dy, w, xShape, opts, pickDirect(dy.engine, g, 'dgrad', dy.dtype));
}

/** dw (f32) for y = conv3d(x, w): dy (N, Cout, …out) and x, both f32 or both f16, and w's shape. */
export function conv3dBackwardWeight(dy: Tensor, x: Tensor, wShape: Shape, opts: Conv3dOptions = {}): Tensor {
  const g = conv3dGeometry(x.shape, wShape, opts, 'conv3d backward (weight)');
  const cfg = choose(x.engine, 'conv3d.wgrad', shapeClass(g, 'wgrad', x.dtype), wgradVariants(x.engine, x.dtype), wgradDefault(x.engine, g.co, x.dtype)).config;
  return conv3dBackwardWeightWith(dy, x, wShape, opts, cfg);
}

/**
 * Time every variant of the three conv3d kernels for one shape and activation dtype (f32, or f16 for mixed
 * precision) and cache the fastest (kernels/autotune.ts). Later conv3dForward/BackwardInput/BackwardWeight calls
 * with a shape of the same class and dtype use the winners.
 */
export async function tuneConv3d(e: Engine, xShape: Shape, wShape: Shape, opts: Conv3dOptions = {}, dtype: DType = 'f32'): Promise<Record<string, string>> {
  const g = conv3dGeometry(xShape, wShape, opts);
  const x = e.full([...xShape], 0.5, dtype);
  const w = e.full([...wShape], 0.25);
  const dy = e.full([g.n, g.co, ...g.out], 0.5, dtype);
  const col = im2colOffered(g);
  try {
    const f = await tune(e, 'conv3d.fwd', shapeClass(g, 'fwd', dtype), directCandidates(e, ...directDims(g, 'fwd'), col, dtype), directHeuristic(e, g, 'fwd', dtype), (c) => {
      conv3dForwardWith(x, w, null, opts, c.config);
    });
    const d = await tune(e, 'conv3d.dgrad', shapeClass(g, 'dgrad', dtype), directCandidates(e, ...directDims(g, 'dgrad'), col, dtype), directHeuristic(e, g, 'dgrad', dtype), (c) => {
      conv3dBackwardInputWith(dy, w, xShape, opts, c.config);
    });
    const wg = await tune(e, 'conv3d.wgrad', shapeClass(g, 'wgrad', dtype), wgradCandidates(e, dtype).filter((v) => col || !v.config.im2col), wgradDefault(e, g.co, dtype), (c) => {
      conv3dBackwardWeightWith(dy, x, wShape, opts, c.config);
    });
    return { fwd: f.name, dgrad: d.name, wgrad: wg.name };
  } finally {
    x.dispose();
    w.dispose();
    dy.dispose();
  }
}
