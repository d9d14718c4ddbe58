// Procedural vessel moulds on the GPU (shaders/drand_tree.wgsl): the u8 mask of a union of tapered capsules,
// with per-tile candidate lists built on the CPU so each voxel tests only the few segments that can reach it.
import source from '../../shaders/drand_tree.wgsl';
import type { Engine } from '../../src/engine.js';
import { VesselError } from '../../src/gpu/errors.js';
import { params } from '../../src/runtime/runtime.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { grid1D } from '../util.js';

const WG = 256;

/** A tapered capsule: axis from a to b ([z, y, x] voxel coordinates), radius ra at a and rb at b. */
export interface CapsuleSegment {
  a: [number, number, number];
  b: [number, number, number];
  ra: number;
  rb: number;
}

function axisDistance(q: readonly number[], s: CapsuleSegment): number {
  const ab = [s.b[0] - s.a[0], s.b[1] - s.a[1], s.b[2] - s.a[2]];
  const l2 = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2];
  const aq = [q[0] - s.a[0], q[1] - s.a[1], q[2] - s.a[2]];
  const t = l2 > 0 ? Math.min(1, Math.max(0, (aq[0] * ab[0] + aq[1] * ab[1] + aq[2] * ab[2]) / l2)) : 0;
  return Math.hypot(q[0] - s.a[0] - t * ab[0], q[1] - s.a[1] - t * ab[1], q[2] - s.a[2] - t * ab[2]);
}

/**
 * Candidate lists: segment s is listed for tile k when the distance from the tile's centre to its axis, minus its
 * larger radius, is at most the tile's half-diagonal plus a margin. The signed distance of any voxel of the tile to
 * an unlisted segment is then positive, so leaving it out cannot change the mask.
 */
export function tileLists(shape: readonly number[], segs: readonly CapsuleSegment[], tile: number): { starts: Uint32Array; list: Uint32Array; tiles: number[] } {
  const nt = shape.map((n) => Math.ceil(n / tile));
  const ntiles = nt[0] * nt[1] * nt[2];
  const per: number[][] = Array.from({ length: ntiles }, () => []);
  const half = (Math.sqrt(3) * (tile - 1)) / 2 + 0.5;
  segs.forEach((s, si) => {
    const rmax = Math.max(s.ra, s.rb);
    const lo = [0, 1, 2].map((a) => Math.max(0, Math.floor((Math.min(s.a[a], s.b[a]) - rmax - 1) / tile)));
    const hi = [0, 1, 2].map((a) => Math.min(nt[a] - 1, Math.floor((Math.max(s.a[a], s.b[a]) + rmax + 1) / tile)));
    for (let z = lo[0]; z <= hi[0]; z++)
      for (let y = lo[1]; y <= hi[1]; y++)
        for (let x = lo[2]; x <= hi[2]; x++) {
          const c = [z, y, x].map((t, a) => (t * tile + Math.min(shape[a], (t + 1) * tile) - 1) / 2);
          if (axisDistance(c, s) - rmax <= half) per[(z * nt[1] + y) * nt[2] + x].push(si);
        }
  });
  const starts = new Uint32Array(ntiles + 1);
  for (let k = 0; k < ntiles; k++) starts[k + 1] = starts[k] + per[k].length;
  const list = new Uint32Array(Math.max(1, starts[ntiles]));
  per.forEach((l, k) => list.set(l, starts[k]));
  return { starts, list, tiles: nt };
}

/** The binary mask (u8 [D, H, W], 1 inside) of the union of `segs`. */
export function renderCapsules(e: Engine, shape: readonly [number, number, number], segs: readonly CapsuleSegment[], tile = 8): Tensor {
  if (!shape.every((n) => Number.isInteger(n) && n > 0)) throw new VesselError(`vessel tree: invalid shape [${shape.join(', ')}]`);
  if (!Number.isInteger(tile) || tile < 1) throw new VesselError(`vessel tree: tile must be a positive integer, got ${tile}`);
  for (const s of segs) {
    if (![...s.a, ...s.b, s.ra, s.rb].every(Number.isFinite) || s.ra < 0 || s.rb < 0) throw new VesselError('vessel tree: a segment has a non-finite point or a negative radius');
  }
  const [d, h, w] = shape;
  const n = d * h * w;
  const out = e.empty([d, h, w], 'u8');
  const { starts, list, tiles } = tileLists(shape, segs, tile);
  // One upload: segments, then tile starts and lists at an aligned offset.
  const align = Math.max(16, e.rt.storageAlign) / 4;
  const segWords = Math.max(8, 8 * segs.length);
  const tileOff = Math.ceil(segWords / align) * align;
  const tileWords = starts.length + list.length;
  const buf = new Uint32Array(tileOff + tileWords);
  const f = new Float32Array(buf.buffer);
  segs.forEach((s, i) => f.set([s.a[0], s.a[1], s.a[2], s.ra, s.b[0], s.b[1], s.b[2], s.rb], 8 * i));
  buf.set(starts, tileOff);
  buf.set(list, tileOff + starts.length);
  const t = e.tensor(buf, [buf.length], 'u32');
  const k = e.rt.kernel('drand_tree', source, { WG });
  const words = Math.ceil(n / 4);
  e.rt.dispatch(
    k,
    [
      { buffer: t.buffer, offset: 0, size: 4 * segWords },
      { buffer: t.buffer, offset: 4 * tileOff, size: 4 * tileWords },
      out.binding(),
    ],
    params().u32(n).u32(d).u32(h).u32(w).u32(tile).u32(tiles[1]).u32(tiles[2]).u32(tiles[0] * tiles[1] * tiles[2]),
    grid1D(words, WG),
  );
  t.dispose();
  return out;
}
