// Label spatial transforms on the GPU (shaders/drand_spatial.wgsl): one gather that applies crop, flips, rot90s,
// dilation, zoom and the elastic field together (nearest-neighbour, so the label stays binary), and the threshold
// of binary smoothing.
import source from '../../shaders/drand_spatial.wgsl';
import { VesselError } from '../../src/gpu/errors.js';
import { params } from '../../src/runtime/runtime.js';
import { fmtShape } from '../../src/tensor/shape.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { grid1D } from '../util.js';

const WG = 256;

export interface GatherSpec {
  /** Output shape [D, H, W] (also the crop window's size). */
  shape: [number, number, number];
  /** Crop window start in the mould [z, y, x]. */
  crop: [number, number, number];
  /** Row-major 3×4 affine from the (zoomed-back) volume's voxel r to crop-window coordinates. */
  affine: number[];
  /** Zoom: per axis, centre-crop start in the zoomed volume and the torch nearest scale n / floor(n z). */
  zoom: { start: [number, number, number]; scale: [number, number, number] } | null;
  dilate: boolean;
  /** Elastic: displacement field f32 [3, D, H, W] (voxel units before `magnitude`). */
  elastic: { disp: Tensor; magnitude: number } | null;
}

/** The transformed label, f32 [D, H, W] of 0/1, from a u8 mould [MD, MH, MW]. */
export function gatherLabel(mould: Tensor, g: GatherSpec): Tensor {
  if (mould.dtype !== 'u8' || mould.rank !== 3) throw new VesselError(`label transform: expected a u8 mould [D, H, W], got ${fmtShape(mould.shape)} ${mould.dtype}`);
  const [d, h, w] = g.shape;
  const [md, mh, mw] = mould.shape;
  if (g.crop.some((c, a) => !Number.isInteger(c) || c < 0 || c + g.shape[a] > mould.shape[a])) {
    throw new VesselError(`label transform: crop [${g.crop.join(', ')}] + ${fmtShape(g.shape)} does not fit the mould ${fmtShape(mould.shape)}`);
  }
  if (g.affine.length !== 12 || !g.affine.every(Number.isFinite)) throw new VesselError('label transform: the affine must be 12 finite numbers (3×4, row-major)');
  const n = d * h * w;
  if (g.elastic && (g.elastic.disp.size !== 3 * n || g.elastic.disp.dtype !== 'f32')) {
    throw new VesselError(`label transform: displacement ${fmtShape(g.elastic.disp.shape)} does not match 3 × ${fmtShape(g.shape)}`);
  }
  const e = mould.engine;
  const out = e.empty([d, h, w]);
  const k = e.rt.kernel('drand_spatial', source, { WG, GATHER: true, ELASTIC: !!g.elastic, DILATE: g.dilate });
  const z = g.zoom;
  const u = params()
    .u32(n)
    .u32(d)
    .u32(h)
    .u32(w)
    .u32(md)
    .u32(mh)
    .u32(mw)
    .u32(z ? 1 : 0)
    .u32(g.crop[0])
    .u32(g.crop[1])
    .u32(g.crop[2])
    .u32(z?.start[0] ?? 0)
    .u32(z?.start[1] ?? 0)
    .u32(z?.start[2] ?? 0)
    .f32(z?.scale[0] ?? 1)
    .f32(z?.scale[1] ?? 1)
    .f32(z?.scale[2] ?? 1)
    .f32(g.elastic?.magnitude ?? 0)
    .f32(0);
  for (const v of g.affine) u.f32(v);
  const bufs = [mould.binding(), out.binding()];
  if (g.elastic) bufs.push(g.elastic.disp.binding());
  e.rt.dispatch(k, bufs, u, grid1D(n, WG));
  return out;
}

/** 1 where x > thresh, else 0 (f32). */
export function thresholdKernel(x: Tensor, thresh: number): Tensor {
  if (x.dtype !== 'f32') throw new VesselError(`threshold: expected f32, got ${x.dtype}`);
  const e = x.engine;
  const out = e.empty(x.shape);
  const k = e.rt.kernel('drand_spatial', source, { WG, GATHER: false, ELASTIC: false, DILATE: false });
  const u = params().u32(x.size);
  for (let i = 0; i < 17; i++) u.u32(0);
  u.f32(thresh);
  for (let i = 0; i < 12; i++) u.f32(0);
  e.rt.dispatch(k, [x.binding(), out.binding()], u, grid1D(x.size, WG));
  return out;
}
