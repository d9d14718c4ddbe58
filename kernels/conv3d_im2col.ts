// conv3d as an explicit im2col + GEMM on the engine's f32 matmul (kernels/matmul.ts), an autotuner candidate for
// the deep levels, where the implicit-GEMM kernels see few output positions (P = 64–216) and a long
// K = Cin·kD·kH·kW, and reach less of the machine than one plain GEMM does. Gather kernels: shaders/conv3d_im2col.wgsl.
//
//   forward          col[n] (K × P) = im2col(x[n]);  y[n] (Cout × P) = W (Cout × K) · col[n]   (NCDHW: a sample's
//                    output is exactly Cout × P row-major); bias (and the f16 rounding) in one conv3d_reduce pass
//   input gradient   dcol[n] (K × P) = Wᵀ · dy[n]   (matmul with a transposed A, no copy of W);
//                    dx = col2im(dcol): each dx element sums its own taps (no atomics), + bias, stored once
//   weight gradient  colᵀ ((N·P) × K) = im2col of the whole batch, position-major;  dW (Cout × K) =
//                    dy (Cout × N·P) · colᵀ: one GEMM that also sums over the batch (dy permuted to Cout × N·P when
//                    N > 1 or f16)
//
// The GEMMs run the matmul's own choice (forced / tuned / default) with its sgb workgroup fitted to M (chooseVariant
// with fitRows: M = Cout 128–320 or K = 864–8640 rows here, where 128-row workgroups leave few of them, or pad).
//
// The column matrix costs N·K·P·4 bytes of scratch, so the tuner is offered this path only where that is at most
// IM2COL_MAX_BYTES (16 MiB), and past IM2COL_MAX_POSITIONS (512) output positions per sample only for kernels with
// several taps and at least 16 input channels: the deep levels qualify (4³ × 320 channels: 2.2 MB per sample), the
// big top levels (24³ × 32: 48 MB) keep their direct kernels, and the tuner times it against them at 12³ × 64 (12 MB;
// direct kernels win there) and at the stride-2 24³ → 12³ conv (6 MB; im2col wins all three passes: 0.78 / 0.71 /
// 0.74 of the matmul against 0.63 / 0.34 / 0.50 for the best direct kernels, benchmarks/RESULTS.md, conv). 1×1 and
// single-channel convs keep their direct kernels. Forcing the variant works at any size that fits one binding.
//
// Mixed precision: f16 activations are widened by the gather (x → f32 col) or cast once (dy → f32) before the f32
// GEMM; f16 outputs (y, dx) are rounded once, at the final store; dW is f32. All sums are f32.
import source from '../shaders/conv3d_im2col.wgsl';
import reduceSource from '../shaders/conv3d_reduce.wgsl';
import { VesselError } from '../src/gpu/errors.js';
import { params } from '../src/runtime/runtime.js';
import { fmtShape, type Shape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import type { ConvGeometry } from './conv3d.js';
import { enableF16 } from './accumulate.js';
import { cast } from './elementwise.js';
import { chooseVariant, matmulInto } from './matmul.js';
import { grid1D } from './util.js';

/** The largest column matrix (bytes, whole batch) for which the tuner offers the im2col path. */
export const IM2COL_MAX_BYTES = 16 * 1024 * 1024;

const WG = 256;

/** Bytes of the column matrix of a conv3d: N · (Cin·kvol) · P · 4 (the same for forward, input and weight gradient). */
export function im2colBytes(g: ConvGeometry): number {
  return g.n * g.ci * g.k[0] * g.k[1] * g.k[2] * g.out[0] * g.out[1] * g.out[2] * 4;
}

/** The most output positions per sample for which the tuner offers the im2col forward and weight gradient. */
export const IM2COL_MAX_POSITIONS = 512;

/**
 * True where the tuner should time the im2col path (all three passes) for this conv: a column matrix of at most
 * IM2COL_MAX_BYTES, and either at most IM2COL_MAX_POSITIONS output positions per sample (small P, long K) or a
 * kernel with several taps and at least 16 input channels (K = Cin·taps ≥ 16·taps). 1×1 and single-channel convs,
 * whose GEMMs are too thin to pay for the gather, keep their direct kernels.
 */
export function im2colOffered(g: ConvGeometry): boolean {
  if (im2colBytes(g) > IM2COL_MAX_BYTES) return false;
  if (g.out[0] * g.out[1] * g.out[2] <= IM2COL_MAX_POSITIONS) return true;
  return g.k[0] * g.k[1] * g.k[2] > 1 && g.ci >= 16;
}

function geometryParams(g: ConvGeometry, total: number, ch: number) {
  return params()
    .u32(total).u32(ch)
    .u32(g.in[0]).u32(g.in[1]).u32(g.in[2])
    .u32(g.out[0]).u32(g.out[1]).u32(g.out[2])
    .u32(g.k[0]).u32(g.k[1]).u32(g.k[2])
    .u32(g.s[0]).u32(g.s[1]).u32(g.s[2])
    .i32(g.p[0]).i32(g.p[1]).i32(g.p[2]);
}

/** The geometry as shader constants (GEOM: the forward gather and col2im compile their index arithmetic to multiplications). */
function geometryDefines(g: ConvGeometry) {
  return {
    GEOM: true, NC: g.n * g.ci, CH: g.ci, ID: g.in[0], IH: g.in[1], IW: g.in[2], OD: g.out[0], OH: g.out[1], OW: g.out[2], KD: g.k[0], KH: g.k[1], KW: g.k[2],
    SD: g.s[0], SH: g.s[1], SW: g.s[2], PD: g.p[0], PH: g.p[1], PW: g.p[2],
  };
}

/** Placeholder constants for the modes that read the geometry from the uniform block (one pipeline for all shapes). */
const NO_GEOMETRY = {
  GEOM: false, NC: 1, CH: 1, ID: 1, IH: 1, IW: 1, OD: 1, OH: 1, OW: 1, KD: 1, KH: 1, KW: 1, SD: 1, SH: 1, SW: 1, PD: 0, PH: 0, PW: 0,
};


function checkBinding(e: Tensor['engine'], g: ConvGeometry, op: string): void {
  const bytes = im2colBytes(g);
  if (bytes > e.rt.maxBinding) {
    throw new VesselError(
      `${op}: the im2col column matrix of input [${g.n}, ${g.ci}, ${g.in.join(', ')}] with kernel ${fmtShape(g.k)} needs ${bytes} bytes, more than one ${e.rt.maxBinding}-byte storage binding; use a direct variant`,
    );
  }
}

/** Gather x (N, Cin, D, H, W) into f32 columns: [N, K, P] (per-sample K × P), or [N·P, K] with `transposed`. */
function im2col(x: Tensor, g: ConvGeometry, transposed: boolean): Tensor {
  const e = x.engine;
  const kk = g.ci * g.k[0] * g.k[1] * g.k[2];
  const P = g.out[0] * g.out[1] * g.out[2];
  const col = transposed ? e.empty([g.n * P, kk]) : e.empty([g.n, kk, P]);
  // One invocation per (sample, channel, kd, kh, output row): it loads the x row those taps read once and writes the
  // k_w column rows of its output row; transposed, one per (sample, position, channel), looping over the taps.
  const total = transposed ? g.n * P * g.ci : g.n * g.ci * g.k[0] * g.k[1] * g.out[0] * g.out[1];
  const k = e.rt.kernel('conv3d_im2col', source, {
    WG, IM2COL: true, COL2IM: false, COLT: transposed, HAS_BIAS: false, XT: x.dtype, OT: 'f32', ENABLE_F16: enableF16(x.dtype),
    ...(transposed ? NO_GEOMETRY : geometryDefines(g)),
  });
  e.rt.dispatch(k, [x.binding(), col.binding()], geometryParams(g, total, g.ci), grid1D(total, WG));
  return col;
}

/** y = conv3d(x, w) + bias through im2col + matmul. Shapes already validated by the caller (conv3d.ts). */
export function im2colForward(x: Tensor, w: Tensor, bias: Tensor | null, g: ConvGeometry): Tensor {
  const e = x.engine;
  checkBinding(e, g, 'conv3d (im2col)');
  const kk = g.ci * g.k[0] * g.k[1] * g.k[2];
  const P = g.out[0] * g.out[1] * g.out[2];
  const y = e.empty([g.n, g.co, ...g.out], x.dtype);
  const col = im2col(x, g, false);
  const w2 = w.reshape([g.co, kk]);
  // f32 without bias: the GEMM writes y itself. Else f32 products into a scratch, then one pass adds the bias
  // and stores in y's dtype (conv3d_reduce.wgsl with a single chunk).
  const direct = x.dtype === 'f32' && bias === null;
  const prod = direct ? y : e.empty([g.n, g.co, P]);
  matmulInto(prod, w2, col, { variant: chooseVariant(e, g.co, P, kk, false, false, true) });
  if (!direct) {
    const k = e.rt.kernel('conv3d_reduce', reduceSource, { WG: 256, OT: y.dtype, ENABLE_F16: enableF16(y.dtype), HAS_BIAS: bias !== null });
    const u = params().u32(y.size).u32(1).u32(P).u32(g.co);
    e.rt.dispatch(k, bias ? [prod.binding(), bias.binding(), y.binding()] : [prod.binding(), y.binding()], u, grid1D(y.size, 256));
    prod.dispose();
  }
  w2.dispose();
  col.dispose();
  return y;
}

/** dx (+ outBias per input channel) for y = conv3d(x, w), through Wᵀ·dy and col2im. dx has dy's dtype. */
export function im2colBackwardInput(dy: Tensor, w: Tensor, xShape: Shape, g: ConvGeometry, outBias: Tensor | null): Tensor {
  const e = dy.engine;
  checkBinding(e, g, 'conv3d backward (input, im2col)');
  const kk = g.ci * g.k[0] * g.k[1] * g.k[2];
  const P = g.out[0] * g.out[1] * g.out[2];
  const dyf = dy.dtype === 'f32' ? dy : cast(dy, 'f32');
  const dy3 = dyf.reshape([g.n, g.co, P]);
  const w2 = w.reshape([g.co, kk]);
  const dcol = e.empty([g.n, kk, P]);
  matmulInto(dcol, w2, dy3, { transA: true, variant: chooseVariant(e, kk, P, g.co, true, false, true) });
  const dx = e.empty([...xShape], dy.dtype);
  const k = e.rt.kernel('conv3d_im2col', source, {
    WG, IM2COL: false, COL2IM: true, COLT: false, HAS_BIAS: outBias !== null, XT: 'f32', OT: dx.dtype, ENABLE_F16: enableF16(dx.dtype),
    ...geometryDefines(g),
  });
  // One invocation per row segment of a stride class (⌈W/s_w⌉ dx elements): s_d·s_h·s_w classes of N·C·⌈D/s_d⌉·⌈H/s_h⌉.
  const total = g.s[0] * g.s[1] * g.s[2] * g.n * g.ci * Math.ceil(g.in[0] / g.s[0]) * Math.ceil(g.in[1] / g.s[1]);
  const u = geometryParams(g, total, g.ci);
  e.rt.dispatch(k, outBias ? [dcol.binding(), outBias.binding(), dx.binding()] : [dcol.binding(), dx.binding()], u, grid1D(total, WG));
  dcol.dispose();
  w2.dispose();
  dy3.dispose();
  if (dyf !== dy) dyf.dispose();
  return dx;
}

/** dW (f32, shape wShape) for y = conv3d(x, w): one GEMM dy (Cout × N·P) · colᵀ (N·P × K) over the whole batch. */
export function im2colBackwardWeight(dy: Tensor, x: Tensor, wShape: Shape, g: ConvGeometry): Tensor {
  const e = x.engine;
  checkBinding(e, g, 'conv3d backward (weight, im2col)');
  const P = g.out[0] * g.out[1] * g.out[2];
  const colT = im2col(x, g, true);
  let dyP: Tensor;
  if (g.n === 1 && dy.dtype === 'f32') {
    dyP = dy.reshape([g.co, P]);
  } else {
    dyP = e.empty([g.co, g.n * P]);
    const k = e.rt.kernel('conv3d_im2col', source, {
      WG, IM2COL: false, COL2IM: false, COLT: false, HAS_BIAS: false, XT: dy.dtype, OT: 'f32', ENABLE_F16: enableF16(dy.dtype), ...NO_GEOMETRY,
    });
    e.rt.dispatch(k, [dy.binding(), dyP.binding()], geometryParams(g, dy.size, g.co), grid1D(dy.size, WG));
  }
  const dw = e.empty([...wShape]);
  matmulInto(dw, dyP, colT, { variant: chooseVariant(e, g.co, colT.shape[1], g.n * P, false, false, true) });
  dyP.dispose();
  colT.dispose();
  return dw;
}
