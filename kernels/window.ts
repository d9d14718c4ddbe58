// Sliding-window crop and accumulate kernels (shaders/window.wgsl).
import source from '../shaders/window.wgsl';
import { VesselError } from '../src/gpu/errors.js';
import { params } from '../src/runtime/runtime.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { grid1D } from './util.js';

const WG = 256;
export type Vec3 = readonly [number, number, number];

function windowParams(vol: Vec3, origin: Vec3, patch: Vec3, flip: number, base: number) {
  for (let a = 0; a < 3; a++) {
    if (origin[a] < 0 || origin[a] + patch[a] > vol[a]) {
      throw new VesselError(`window [${origin.join(', ')}] + [${patch.join(', ')}] lies outside the volume [${vol.join(', ')}]`);
    }
  }
  const n = patch[0] * patch[1] * patch[2];
  const p = params();
  for (const v of [...vol, ...origin, ...patch, flip, base, n]) p.u32(v);
  return { p, n };
}

/** dst[base … base+n) ← the window of `volume` (shape [vz, vy, vx] in `vol`) at `origin`, mirrored per `flip` bits. */
export function cropWindow(volume: Tensor, vol: Vec3, origin: Vec3, patch: Vec3, flip: number, dst: Tensor, base: number): void {
  if (volume.dtype !== 'f32' || dst.dtype !== 'f32') throw new VesselError('cropWindow: f32 tensors expected');
  const { p, n } = windowParams(vol, origin, patch, flip, base);
  if (base + n > dst.size) throw new VesselError(`cropWindow: window slot ${base}+${n} exceeds the batch tensor (${dst.size})`);
  const rt = volume.engine.rt;
  rt.dispatch(rt.kernel('window', source, { WG }, 'crop'), [volume.binding(), dst.binding()], p, grid1D(n, WG));
}

/** sum[window at origin, un-mirrored] += src[base … base+n). */
export function accumulateWindow(src: Tensor, base: number, sum: Tensor, vol: Vec3, origin: Vec3, patch: Vec3, flip: number): void {
  if (src.dtype !== 'f32' || sum.dtype !== 'f32') throw new VesselError('accumulateWindow: f32 tensors expected');
  const { p, n } = windowParams(vol, origin, patch, flip, base);
  const rt = src.engine.rt;
  rt.dispatch(rt.kernel('window', source, { WG }, 'accumulate'), [src.binding(), sum.binding()], p, grid1D(n, WG));
}
