// convTranspose3d: forward, input gradient, weight gradient (and bias gradient) of a 3D transposed convolution,
// PyTorch ConvTranspose3d semantics and weight layout (in, out, kD, kH, kW). Mixed precision as for conv3d: x / dy
// f32 or f16 (outputs and dx in their dtype), w and bias f32, dw and db f32, every sum f32.
//   y[n, o, z·s − p + a, …] += x[n, i, z, …] · W[i, o, a, …],   output size (D − 1)·s − 2p + k + output_padding.
// A transposed convolution is the adjoint of a Conv3d whose weight (out, in, k…) is exactly W read as
// (Cin_T, Cout_T, k…). So the three passes reuse the conv3d kernels (kernels/conv3d.ts) with roles swapped:
//   forward          = conv3d input gradient of dy := x                 (per-residue dispatches: for kernel 2
//                      stride 2, the decoder's upsampling, each of the 8 output parities is one dense GEMM with
//                      one tap, so no work is spent on the zeros of a dilated input)
//   input gradient   = conv3d forward of dy with W, stride s, padding p
//   weight gradient  = conv3d weight gradient with (dy, x) := (x, dy)
import { VesselError } from '../src/gpu/errors.js';
import { fmtShape, type Shape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import {
  checkAct,
  checkParam,
  checkSameAct,
  conv3dBackwardBias,
  conv3dBackwardInputWith,
  conv3dBackwardWeightWith,
  conv3dForwardWith,
  conv3dGeometry,
  directCandidates,
  directDefault,
  directVariants,
  triple,
  wgradDefault,
  wgradCandidates,
  wgradVariants,
  type ConvGeometry,
  type Triple,
} from './conv3d.js';
import { choose, sizeBucket, tune } from './autotune.js';
import type { Engine } from '../src/engine.js';
import type { DType } from '../src/tensor/dtype.js';

export interface ConvTranspose3dOptions {
  /** Default 2 (the decoder's upsampling). */
  stride?: number | readonly number[];
  /** Default 0. */
  padding?: number | readonly number[];
  /** Extra size added to one side of the output, < stride. Default 0. */
  outputPadding?: number | readonly number[];
}

interface TGeometry {
  s: Triple;
  p: Triple;
  op: Triple;
  outShape: number[];
  /** The adjoint conv: input = our output, weight = W, output = our input. */
  conv: ConvGeometry;
}

function geometry(xShape: Shape, wShape: Shape, opts: ConvTranspose3dOptions, op: string): TGeometry {
  if (xShape.length !== 5) throw new VesselError(`${op}: input must have rank 5 (N, C, D, H, W), got ${fmtShape(xShape)}`);
  if (wShape.length !== 5) throw new VesselError(`${op}: weight must have rank 5 (in, out, kD, kH, kW), got ${fmtShape(wShape)}`);
  const s = triple(opts.stride, 2, 'stride', op);
  const p = triple(opts.padding, 0, 'padding', op);
  const opad = triple(opts.outputPadding, 0, 'outputPadding', op);
  if (xShape[1] !== wShape[0]) {
    throw new VesselError(`${op}: input ${fmtShape(xShape)} has ${xShape[1]} channels but weight ${fmtShape(wShape)} expects ${wShape[0]}`);
  }
  for (let a = 0; a < 3; a++) {
    if (opad[a] < 0 || opad[a] >= Math.max(s[a], 1)) throw new VesselError(`${op}: outputPadding ${fmtShape(opad)} must be ≥ 0 and smaller than stride ${fmtShape(s)}`);
  }
  const out = [0, 1, 2].map((a) => (xShape[2 + a] - 1) * s[a] - 2 * p[a] + wShape[2 + a] + opad[a]);
  if (out.some((v) => v < 1)) {
    throw new VesselError(`${op}: input ${fmtShape(xShape)} with weight ${fmtShape(wShape)}, stride ${fmtShape(s)} and padding ${fmtShape(p)} gives an empty output ${fmtShape(out)}`);
  }
  const outShape = [xShape[0], wShape[1], ...out];
  const conv = conv3dGeometry(outShape, wShape, { stride: s, padding: p }, op);
  if (conv.out.some((v, a) => v !== xShape[2 + a])) {
    throw new VesselError(`${op}: input ${fmtShape(xShape)} is inconsistent with output ${fmtShape(outShape)} for stride ${fmtShape(s)}, padding ${fmtShape(p)}`);
  }
  return { s, p, op: opad, outShape, conv };
}

/** Output shape of convTranspose3d(x, w). */
export function convTranspose3dOutputShape(xShape: Shape, wShape: Shape, opts: ConvTranspose3dOptions = {}): number[] {
  return geometry(xShape, wShape, opts, 'convTranspose3d').outShape;
}

function cls(g: TGeometry, what: string, xShape: Shape, dtype: DType): string {
  const vox = g.outShape.slice(2).reduce((a, b) => a * b, 1) * g.outShape[0];
  return `T${what}:ci${xShape[1]}:co${g.outShape[1]}:k${g.conv.k.join('')}:s${g.s.join('')}:v${sizeBucket(vox)}:${dtype}`;
}

/** Output positions and K channels of the forward (a conv input gradient) / input gradient (a conv forward). */
function dims(g: TGeometry, xShape: Shape, what: 'fwd' | 'dgrad'): [number, number] {
  const sp = what === 'fwd' ? g.outShape.slice(2) : xShape.slice(2);
  return [xShape[0] * sp[0] * sp[1] * sp[2], what === 'fwd' ? xShape[1] : g.outShape[1]];
}

/** Heuristic variant for the forward (a conv input gradient over x) and input gradient (a conv forward over dy). */
function heuristic(e: Engine, g: TGeometry, xShape: Shape, what: 'fwd' | 'dgrad', dtype: DType = 'f32'): string {
  const sp = what === 'fwd' ? g.outShape.slice(2) : xShape.slice(2);
  const outC = what === 'fwd' ? g.outShape[1] : xShape[1];
  const gw = what === 'fwd' ? xShape[4] : sp[2];
  return directDefault(e, outC, gw, xShape[0] * sp[0] * sp[1] * sp[2], dtype);
}

function directPick(e: Engine, kernel: string, shapeClass: string, fallback: string, dtype: DType) {
  return choose(e, kernel, shapeClass, directVariants(e, dtype), fallback).config;
}

/** y = convTranspose3d(x, w) + bias. x (N, Cin, D, H, W), w (Cin, Cout, kD, kH, kW), bias (Cout) or null. */
export function convTranspose3dForward(x: Tensor, w: Tensor, bias: Tensor | null, opts: ConvTranspose3dOptions = {}): Tensor {
  const op = 'convTranspose3d';
  checkAct(x, 'input', op);
  checkParam(w, 'weight', op);
  const g = geometry(x.shape, w.shape, opts, op);
  const cfg = directPick(x.engine, 'convT3d.fwd', cls(g, 'fwd', x.shape, x.dtype), heuristic(x.engine, g, x.shape, 'fwd', x.dtype), x.dtype);
  // The adjoint conv's weight (out = Cin, in = Cout) is w itself; conv3dBackwardInput reads W as (out, in, …).
  return conv3dBackwardInputWith(x, w, g.outShape, { stride: g.s, padding: g.p }, cfg, bias, op);
}

/** dx for y = convTranspose3d(x, w): dy (N, Cout, …out), w, and x's shape. */
export function convTranspose3dBackwardInput(dy: Tensor, w: Tensor, xShape: Shape, opts: ConvTranspose3dOptions = {}): Tensor {
  const op = 'convTranspose3d backward (input)';
  checkAct(dy, 'dy', op);
  checkParam(w, 'weight', op);
  const g = geometry(xShape, w.shape, opts, op);
  if (dy.shape.length !== 5 || dy.shape.some((v, i) => v !== g.outShape[i])) {
    throw new VesselError(`${op}: dy ${fmtShape(dy.shape)} does not match the output shape ${fmtShape(g.outShape)} of input ${fmtShape(xShape)} and weight ${fmtShape(w.shape)}`);
  }
  const cfg = directPick(dy.engine, 'convT3d.dgrad', cls(g, 'dgrad', xShape, dy.dtype), heuristic(dy.engine, g, xShape, 'dgrad', dy.dtype), dy.dtype);
  return conv3dForwardWith(dy, w, null, { stride: g.s, padding: g.p }, cfg);
}

/**
 * The weight-gradient variants without the explicit im2col path: that path's column-matrix size gate is written for
 * conv3d's geometry, and the decoder's kernel-2 stride-2 transposed convs have no long-K GEMM for it to help.
 */
function directWgradVariants(e: Engine, dtype: DType, tuning = false) {
  return (tuning ? wgradCandidates(e, dtype) : wgradVariants(e, dtype)).filter((v) => !v.config.im2col);
}

/** dw for y = convTranspose3d(x, w): dy (N, Cout, …out), x, and w's shape (Cin, Cout, k…). */
export function convTranspose3dBackwardWeight(dy: Tensor, x: Tensor, wShape: Shape, opts: ConvTranspose3dOptions = {}): Tensor {
  const op = 'convTranspose3d backward (weight)';
  checkAct(dy, 'dy', op);
  checkAct(x, 'input', op);
  checkSameAct(dy, 'dy', x, 'input', op);
  const g = geometry(x.shape, wShape, opts, op);
  if (dy.shape.length !== 5 || dy.shape.some((v, i) => v !== g.outShape[i])) {
    throw new VesselError(`${op}: dy ${fmtShape(dy.shape)} does not match the output shape ${fmtShape(g.outShape)} of input ${fmtShape(x.shape)} and weight ${fmtShape(wShape)}`);
  }
  const cfg = choose(x.engine, 'convT3d.wgrad', cls(g, 'wgrad', x.shape, x.dtype), directWgradVariants(x.engine, x.dtype), wgradDefault(x.engine, wShape[0], x.dtype)).config;
  // Adjoint conv: its input is our dy (channels Cout), its output gradient is our x (channels Cin), its weight
  // (Cin, Cout, k…) has exactly our layout.
  return conv3dBackwardWeightWith(x, dy, wShape, { stride: g.s, padding: g.p }, cfg, op);
}

/** Bias gradient: Σ of dy over batch and voxels per output channel. */
export function convTranspose3dBackwardBias(dy: Tensor): Tensor {
  return conv3dBackwardBias(dy);
}

/** Tune the variants of the three passes for one shape and activation dtype (see kernels/autotune.ts). */
export async function tuneConvTranspose3d(e: Engine, xShape: Shape, wShape: Shape, opts: ConvTranspose3dOptions = {}, dtype: DType = 'f32'): Promise<Record<string, string>> {
  const g = geometry(xShape, wShape, opts, 'convTranspose3d');
  const x = e.full([...xShape], 0.5, dtype);
  const w = e.full([...wShape], 0.25);
  const dy = e.full(g.outShape, 0.5, dtype);
  const co = { stride: g.s, padding: g.p };
  try {
    const f = await tune(e, 'convT3d.fwd', cls(g, 'fwd', xShape, dtype), directCandidates(e, ...dims(g, xShape, 'fwd'), false, dtype), heuristic(e, g, xShape, 'fwd', dtype), (c) => {
      conv3dBackwardInputWith(x, w, g.outShape, co, c.config, null);
    });
    const d = await tune(e, 'convT3d.dgrad', cls(g, 'dgrad', xShape, dtype), directCandidates(e, ...dims(g, xShape, 'dgrad'), false, dtype), heuristic(e, g, xShape, 'dgrad', dtype), (c) => {
      conv3dForwardWith(dy, w, null, co, c.config);
    });
    const wg = await tune(e, 'convT3d.wgrad', cls(g, 'wgrad', xShape, dtype), directWgradVariants(e, dtype, true), wgradDefault(e, wShape[0], dtype), (c) => {
      conv3dBackwardWeightWith(x, dy, wShape, co, c.config);
    });
    return { fwd: f.name, dgrad: d.name, wgrad: wg.name };
  } finally {
    x.dispose();
    w.dispose();
    dy.dispose();
  }
}
