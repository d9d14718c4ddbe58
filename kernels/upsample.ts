// Nearest / trilinear resampling (shaders/upsample.wgsl) with PyTorch's align_corners=False index rules, forward
// and gradient, from per-axis index/weight tables built once per (mode, sizes, scale) and cached on the engine.
import source from '../shaders/upsample.wgsl';
import type { Engine } from '../src/engine.js';
import { VesselError } from '../src/gpu/errors.js';
import { params } from '../src/runtime/runtime.js';
import { fmtShape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { grid1D } from './util.js';

export type UpsampleMode = 'nearest' | 'trilinear';
const WG = 256;

/** Per output index: (i0, i1, λ1). `scale` is input/output as PyTorch uses it (1/scale_factor when given). */
export function axisTable(mode: UpsampleMode, lin: number, lout: number, scale: number): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let o = 0; o < lout; o++) {
    if (mode === 'nearest') {
      const i = Math.min(Math.floor(o * scale), lin - 1);
      out.push([i, i, 0]);
    } else {
      const src = Math.max(scale * (o + 0.5) - 0.5, 0);
      const i0 = Math.min(Math.floor(src), lin - 1);
      const i1 = i0 + (i0 < lin - 1 ? 1 : 0);
      out.push([i0, i1, src - i0]);
    }
  }
  return out;
}

interface Tables {
  tab: Tensor;
  off: number[];
}
const cache = new WeakMap<Engine, Map<string, Tables>>();

function tables(e: Engine, mode: UpsampleMode, ins: number[], outs: number[], scales: number[]): Tables {
  let m = cache.get(e);
  if (!m) cache.set(e, (m = new Map()));
  const key = `${mode}|${ins}|${outs}|${scales}`;
  const hit = m.get(key);
  if (hit) return hit;
  const words: number[] = [];
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const bits = (v: number) => ((f32[0] = v), u32[0]);
  const fwdOff: number[] = [];
  const ptrOff: number[] = [];
  const entOff: number[] = [];
  const fw = ins.map((lin, a) => axisTable(mode, lin, outs[a], scales[a]));
  for (let a = 0; a < 3; a++) {
    fwdOff.push(words.length);
    for (const [i0, i1, l1] of fw[a]) words.push(i0, i1, bits(l1));
  }
  for (let a = 0; a < 3; a++) {
    // CSR of (o, λ) per input index; nearest rows carry weight 1 once, trilinear rows λ0 and λ1
    const rows: Array<Array<[number, number]>> = Array.from({ length: ins[a] }, () => []);
    fw[a].forEach(([i0, i1, l1], o) => {
      if (mode === 'nearest') rows[i0].push([o, 1]);
      else {
        rows[i0].push([o, 1 - l1]);
        rows[i1].push([o, l1]);
      }
    });
    ptrOff.push(words.length);
    let acc = 0;
    words.push(0);
    for (const r of rows) words.push((acc += r.length));
    entOff.push(words.length);
    for (const r of rows) for (const [o, w] of r) words.push(o, bits(w));
  }
  const tab = e.keep(e.tensor(new Uint32Array(words), [words.length], 'u32'));
  const t = { tab, off: [...fwdOff, ...ptrOff, ...entOff] };
  m.set(key, t);
  return t;
}

export interface UpsampleGeometry {
  planes: number;
  ins: number[];
  outs: number[];
  scales: number[];
}

/** Output size and PyTorch's per-axis scale from either `size` or `scaleFactor`. */
export function upsampleGeometry(shape: readonly number[], size?: readonly number[], scaleFactor?: number | readonly number[]): UpsampleGeometry {
  if (shape.length !== 5) throw new VesselError(`upsample: input must be [N, C, D, H, W], got ${fmtShape(shape)}`);
  const ins = shape.slice(2);
  let outs: number[];
  let scales: number[];
  if (size) {
    if (size.length !== 3 || size.some((v) => !Number.isInteger(v) || v < 1)) throw new VesselError(`upsample: size ${JSON.stringify(size)} must be three positive integers`);
    outs = [...size];
    scales = ins.map((v, a) => v / outs[a]);
  } else if (scaleFactor !== undefined) {
    const sf = typeof scaleFactor === 'number' ? [scaleFactor, scaleFactor, scaleFactor] : [...scaleFactor];
    if (sf.length !== 3 || sf.some((v) => !(v > 0))) throw new VesselError(`upsample: scale factor ${JSON.stringify(scaleFactor)} must be positive`);
    outs = ins.map((v, a) => Math.floor(v * sf[a]));
    scales = sf.map((v) => 1 / v);
  } else {
    throw new VesselError('upsample: give either size or scaleFactor');
  }
  if (outs.some((v) => v < 1)) throw new VesselError(`upsample: output size ${fmtShape(outs)} of input ${fmtShape(shape)} is empty`);
  return { planes: shape[0] * shape[1], ins, outs, scales };
}

function run(src: Tensor, dst: Tensor, g: UpsampleGeometry, mode: UpsampleMode, grad: boolean): void {
  const e = src.engine;
  const t = tables(e, mode, g.ins, g.outs, g.scales);
  const n = dst.size;
  const pr = params().u32(n);
  for (const v of g.ins) pr.u32(v);
  for (const v of g.outs) pr.u32(v);
  for (const v of t.off) pr.u32(v);
  const f16 = src.dtype === 'f16';
  const k = e.rt.kernel('upsample', source, { WG, GRAD: grad, NEAREST: mode === 'nearest', F16: f16 });
  // f16: one invocation per output word (two elements)
  e.rt.dispatch(k, [t.tab.binding(), src.binding(), dst.binding()], pr, grid1D(f16 ? Math.ceil(n / 2) : n, WG));
}

function checkDtype(t: Tensor, what: string): void {
  if (t.dtype !== 'f32' && t.dtype !== 'f16') throw new VesselError(`upsample: ${what} ${fmtShape(t.shape)} must be f32 or f16, got ${t.dtype}`);
  if (t.dtype === 'f16' && !t.engine.gpu.hasF16) throw new VesselError(`upsample: f16 ${what} ${fmtShape(t.shape)} needs an adapter with shader-f16`);
}

/** y in x's dtype (f32, or f16 interpolated in f32 and rounded once). */
export function upsampleForward(x: Tensor, g: UpsampleGeometry, mode: UpsampleMode): Tensor {
  checkDtype(x, 'input');
  const y = x.engine.empty([x.shape[0], x.shape[1], ...g.outs], x.dtype);
  run(x, y, g, mode, false);
  return y;
}

export function upsampleBackward(gy: Tensor, g: UpsampleGeometry, mode: UpsampleMode, xShape: readonly number[]): Tensor {
  checkDtype(gy, 'gradient');
  const gx = gy.engine.empty(xShape, gy.dtype);
  run(gy, gx, g, mode, true);
  return gx;
}
