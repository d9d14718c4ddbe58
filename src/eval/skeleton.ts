// Topology-preserving 3D skeletonisation: the medial-axis thinning of Lee, Kashyap & Chu (1994), "Building skeleton
// models via 3-D medial surface/axis thinning algorithms" (CVGIP: Graphical Models and Image Processing 56(6)), with
// a 26-connected foreground and 6-connected background.
//
// One iteration visits the 6 border directions in turn. For a direction, every foreground voxel whose 6-neighbour on
// that side is background (a border point of that type) becomes a candidate when it is
//   - not an end point (it has more than one foreground voxel among its 26 neighbours), so curves keep their length;
//   - Euler invariant: deleting it leaves χ unchanged (the change is summed over the 8 octants of the 3×3×3
//     neighbourhood with a 256-entry table of local Euler contributions);
//   - simple: the foreground voxels among its 26 neighbours form one 26-connected set.
// The candidates, collected against the image as it was when the sub-iteration began, are then deleted one by one
// in scan order, re-testing each against the image as it now is, because a deletion can make a later candidate
// non-simple. The re-test is simplicity only (Euler invariance and the 26-connectivity of the neighbours), not the
// end-point condition. Thinning stops when six directions in a row delete nothing. Every deleted voxel is simple at
// the moment of its deletion, so the number of components, tunnels and cavities never changes.
//
// On the test volumes (thresholded noise, the OCTA label, random vessel trees at 256³) the result equals
// scikit-image's skeletonize_3d voxel for voxel, except that scikit-image 0.19 can delete a small component
// entirely (a 2×2×2 cube vanishes), where we keep one voxel: its skeleton can lose components, ours cannot.
//
// Memory: one padded byte per voxel (image and bookkeeping bits), and a work list of foreground voxels that may still be
// deletable (surface voxels at first; a voxel found not deletable leaves it until a neighbour is deleted), so the
// full test runs only where the neighbourhood changed. No Node imports: the browser uses this module too.
import { EULER8_LUT } from './betti.js';
import { checkShape, type Shape3 } from './components.js';

/** Neighbourhood bit of the voxel at (dz, dy, dx) ∈ {−1, 0, 1}³: 9(dz+1) + 3(dy+1) + (dx+1); 13 is the centre. */
const CENTRE = 13;

function nbBit(dz: number, dy: number, dx: number): number {
  return 9 * (dz + 1) + 3 * (dy + 1) + (dx + 1);
}

/** For each neighbour bit k, the mask of the other non-centre neighbours that are 26-adjacent to it. */
const ADJ: Int32Array = (() => {
  const adj = new Int32Array(27);
  for (let k = 0; k < 27; k++) {
    if (k === CENTRE) continue;
    const kz = Math.floor(k / 9) - 1;
    const ky = (Math.floor(k / 3) % 3) - 1;
    const kx = (k % 3) - 1;
    for (let j = 0; j < 27; j++) {
      if (j === CENTRE || j === k) continue;
      const jz = Math.floor(j / 9) - 1;
      const jy = (Math.floor(j / 3) % 3) - 1;
      const jx = (j % 3) - 1;
      if (Math.abs(jz - kz) <= 1 && Math.abs(jy - ky) <= 1 && Math.abs(jx - kx) <= 1) adj[k] |= 1 << j;
    }
  }
  return adj;
})();

/**
 * The 8 octants: OCT_BITS[8·o + b] is the neighbourhood bit that sits at bit b of octant o's 2×2×2 block, in the
 * layout of EULER8_LUT (b = iy | iz << 1 | ix << 2, 0 = lower coordinate). OCT_DELTA[256·o + c] is 8 × the change of
 * χ in octant o's vertex share when the centre voxel is removed from configuration c.
 */
const OCT_BITS = new Int32Array(64);
const OCT_DELTA = new Int8Array(8 * 256);
(() => {
  for (let o = 0; o < 8; o++) {
    const ox = o & 1;
    const oy = (o >> 1) & 1;
    const oz = (o >> 2) & 1;
    let centreBit = -1;
    for (let b = 0; b < 8; b++) {
      const iy = b & 1;
      const iz = (b >> 1) & 1;
      const ix = (b >> 2) & 1;
      // Octant side 0 spans offsets −1, 0 along that axis; side 1 spans 0, +1.
      const dx = ix - 1 + ox;
      const dy = iy - 1 + oy;
      const dz = iz - 1 + oz;
      OCT_BITS[8 * o + b] = nbBit(dz, dy, dx);
      if (dx === 0 && dy === 0 && dz === 0) centreBit = b;
    }
    for (let c = 0; c < 256; c++) {
      OCT_DELTA[256 * o + c] = EULER8_LUT[c | (1 << centreBit)] - EULER8_LUT[c & ~(1 << centreBit)];
    }
  }
})();

/**
 * The octant configurations straight from the neighbourhood word: OCT_PLANE[(3·o + p)·512 + w] is the part of octant
 * o's configuration contributed by plane p (the 9 bits of offsets dz = p − 1) holding the bits w. Octants with
 * oz = 0 draw on planes 0 and 1, those with oz = 1 on planes 1 and 2.
 */
const OCT_PLANE = (() => {
  const t = new Uint8Array(8 * 3 * 512);
  for (let o = 0; o < 8; o++)
    for (let p = 0; p < 3; p++)
      for (let w = 0; w < 512; w++) {
        let c = 0;
        for (let b = 0; b < 8; b++) {
          const k = OCT_BITS[8 * o + b];
          if (Math.floor(k / 9) === p && (w >> (k - 9 * p)) & 1) c |= 1 << b;
        }
        t[(3 * o + p) * 512 + w] = c;
      }
  return t;
})();

/** Whether removing the centre leaves the Euler characteristic unchanged (nb: 27-bit neighbourhood). */
function eulerInvariant(nb: number): boolean {
  const p0 = nb & 511;
  const p1 = (nb >> 9) & 511;
  const p2 = nb >>> 18;
  const t = OCT_PLANE;
  let d = 0;
  for (let o = 0; o < 4; o++) d += OCT_DELTA[(o << 8) | t[3 * o * 512 + p0] | t[(3 * o + 1) * 512 + p1]];
  for (let o = 4; o < 8; o++) d += OCT_DELTA[(o << 8) | t[(3 * o + 1) * 512 + p1] | t[(3 * o + 2) * 512 + p2]];
  return d === 0;
}

/** Whether the centre voxel may be deleted, given its 27-bit neighbourhood: not an end point, Euler invariant, simple. */
function deletable(nb: number): boolean {
  // popcount ≤ 2: an end point (centre + one neighbour) or an isolated voxel stays.
  return popcount(nb) > 2 && eulerInvariant(nb) && oneNeighbourComponent(nb);
}

/** Whether the foreground neighbours (centre excluded) form exactly one 26-connected set. */
function oneNeighbourComponent(nb: number): boolean {
  const fg = nb & ~(1 << CENTRE);
  if (fg === 0) return false;
  let comp = fg & -fg;
  let frontier = comp;
  while (frontier !== 0) {
    const low = frontier & -frontier;
    frontier ^= low;
    const k = 31 - Math.clz32(low);
    const grow = ADJ[k] & fg & ~comp;
    comp |= grow;
    frontier |= grow;
  }
  return comp === fg;
}

function popcount(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/** The order in which the six border directions are visited in each iteration, as (dz, dy, dx). */
const DIRECTIONS: readonly (readonly [number, number, number])[] = [
  [0, -1, 0],
  [0, 1, 0],
  [0, 0, 1],
  [0, 0, -1],
  [1, 0, 0],
  [-1, 0, 0],
];

export interface SkeletonStats {
  /** Passes over the 6 directions started (the last one ends after six directions in a row deleted nothing). */
  iterations: number;
  /** Voxels deleted. */
  deleted: number;
}

/**
 * Skeletonise the foreground (non-zero voxels) of a 3D volume by Lee–Kashyap–Chu medial-axis thinning.
 * Returns a new 0/1 mask of the same shape; `stats`, when given, receives iteration and deletion counts.
 */
export function skeletonize3d(mask: ArrayLike<number>, shape: Shape3, stats?: SkeletonStats): Uint8Array {
  checkShape(mask.length, shape, 'mask');
  const [Z, Y, X] = shape;
  const out = new Uint8Array(Z * Y * X);
  if (out.length === 0) return out;
  // Zero-padded copy so that every voxel has 26 neighbours in the array.
  const PX = X + 2;
  const PY = Y + 2;
  const sy = PX;
  const sz = PY * PX;
  const vox = new Uint8Array((Z + 2) * sz);
  let n = 0;
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++) {
      const src = (z * Y + y) * X;
      const dst = (z + 1) * sz + (y + 1) * sy + 1;
      for (let x = 0; x < X; x++)
        if (mask[src + x] !== 0) {
          vox[dst + x] = 1;
          n++;
        }
    }
  const off = new Int32Array(27);
  for (let dz = -1; dz <= 1; dz++)
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) off[nbBit(dz, dy, dx)] = dz * sz + dy * sy + dx;
  // vox[i] bit 0: foreground; bit 1: in the work list; bit 2: known not deletable. One byte array keeps the random
  // accesses of the image and of the bookkeeping on the same cache lines.
  const FG = 1;
  const LISTED = 2;
  const KNOWN = 4;
  const gather = (i: number): number => {
    let nb = 0;
    for (let k = 0; k < 27; k++) nb |= (vox[i + off[k]] & FG) << k;
    return nb;
  };

  // The work list: foreground voxels that may still be deletable. Deletability depends only on the 26-neighbourhood,
  // so a voxel found not deletable leaves the list until a neighbour is deleted. Interior voxels (no background
  // 6-neighbour) are never border points; they join when a neighbour goes.
  const list = new Int32Array(n);
  let len = 0;
  for (let z = 1; z <= Z; z++)
    for (let y = 1; y <= Y; y++)
      for (let i = z * sz + y * sy + 1, e = i + X; i < e; i++) {
        if (vox[i] === 0) continue;
        if (vox[i - 1] && vox[i + 1] && vox[i - sy] && vox[i + sy] && vox[i - sz] && vox[i + sz]) continue;
        list[len++] = i;
        vox[i] = FG | LISTED;
      }

  const candidates = new Int32Array(n);
  let iterations = 0;
  let deleted = 0;
  let idle = 0; // directions in a row that deleted nothing
  while (idle < 6) {
    iterations++;
    for (const [dz, dy, dx] of DIRECTIONS) {
      if (idle >= 6) break;
      const side = dz * sz + dy * sy + dx;
      let nc = 0;
      for (let a = 0; a < len; a++) {
        const i = list[a];
        if (vox[i] !== (FG | LISTED) || (vox[i + side] & FG) !== 0) continue;
        if (deletable(gather(i))) candidates[nc++] = i;
        else vox[i] |= KNOWN;
      }
      // The list is not in scan order once voxels join it; the deletions must be.
      if (nc > 1) candidates.subarray(0, nc).sort();
      let removed = 0;
      for (let c = 0; c < nc; c++) {
        const i = candidates[c];
        const nb = gather(i);
        if (eulerInvariant(nb) && oneNeighbourComponent(nb)) {
          vox[i] = LISTED; // background, dropped at compaction
          removed++;
          for (let k = 0; k < 27; k++) {
            const j = i + off[k];
            const v = vox[j];
            if ((v & FG) === 0) continue;
            if ((v & LISTED) === 0) list[len++] = j;
            vox[j] = FG | LISTED;
          }
        } else vox[i] |= KNOWN;
      }
      deleted += removed;
      idle = removed > 0 ? 0 : idle + 1;
      // Drop deleted voxels and those known not deletable.
      let m = 0;
      for (let a = 0; a < len; a++) {
        const i = list[a];
        if (vox[i] === (FG | LISTED)) list[m++] = i;
        else vox[i] &= FG;
      }
      len = m;
    }
  }
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++) {
      const src = (z + 1) * sz + (y + 1) * sy + 1;
      const dst = (z * Y + y) * X;
      for (let x = 0; x < X; x++) out[dst + x] = vox[src + x] & FG;
    }
  if (stats) {
    stats.iterations = iterations;
    stats.deleted = deleted;
  }
  return out;
}
