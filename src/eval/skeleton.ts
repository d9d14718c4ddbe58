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
// in scan order, re-testing each against the image as it now is (a deletion can make a later candidate non-simple).
// Iterations repeat until one deletes nothing. Every deleted voxel is simple at the moment of its deletion, so the
// number of components, tunnels and cavities never changes.
//
// Memory: one padded byte copy of the volume plus a list of the current foreground voxels; work per sub-iteration
// is proportional to the foreground, not the volume. No Node imports: the browser uses this module too.
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

/** Whether removing the centre leaves the Euler characteristic unchanged (nb: 27-bit neighbourhood). */
function eulerInvariant(nb: number): boolean {
  let d = 0;
  for (let o = 0; o < 8; o++) {
    let c = 0;
    const base = 8 * o;
    for (let b = 0; b < 8; b++) c |= ((nb >> OCT_BITS[base + b]) & 1) << b;
    d += OCT_DELTA[256 * o + c];
  }
  return d === 0;
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
  /** Full iterations (each over all 6 directions), including the last one that deleted nothing. */
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
  const img = new Uint8Array((Z + 2) * sz);
  let n = 0;
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++) {
      const src = (z * Y + y) * X;
      const dst = (z + 1) * sz + (y + 1) * sy + 1;
      for (let x = 0; x < X; x++)
        if (mask[src + x] !== 0) {
          img[dst + x] = 1;
          n++;
        }
    }
  // Foreground voxels in scan order (padded indices).
  const active = new Int32Array(n);
  n = 0;
  for (let i = 0; i < img.length; i++) if (img[i]) active[n++] = i;

  const off = new Int32Array(27);
  for (let dz = -1; dz <= 1; dz++)
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) off[nbBit(dz, dy, dx)] = dz * sz + dy * sy + dx;
  const gather = (i: number): number => {
    let nb = 0;
    for (let k = 0; k < 27; k++) if (img[i + off[k]] !== 0) nb |= 1 << k;
    return nb;
  };

  const candidates = new Int32Array(n);
  let iterations = 0;
  let deleted = 0;
  let changed = true;
  while (changed) {
    changed = false;
    iterations++;
    for (const [dz, dy, dx] of DIRECTIONS) {
      const side = dz * sz + dy * sy + dx;
      let nc = 0;
      for (let a = 0; a < n; a++) {
        const i = active[a];
        if (img[i] === 0 || img[i + side] !== 0) continue;
        const nb = gather(i);
        if (popcount(nb) <= 2) continue; // an end point (centre + one neighbour) or an isolated voxel stays
        if (!eulerInvariant(nb) || !oneNeighbourComponent(nb)) continue;
        candidates[nc++] = i;
      }
      for (let c = 0; c < nc; c++) {
        const i = candidates[c];
        const nb = gather(i);
        if (eulerInvariant(nb) && oneNeighbourComponent(nb)) {
          img[i] = 0;
          deleted++;
          changed = true;
        }
      }
    }
    // Drop deleted voxels from the active list.
    let m = 0;
    for (let a = 0; a < n; a++) if (img[active[a]] !== 0) active[m++] = active[a];
    n = m;
  }
  for (let a = 0; a < n; a++) {
    const i = active[a];
    const z = Math.floor(i / sz) - 1;
    const r = i - (z + 1) * sz;
    const y = Math.floor(r / sy) - 1;
    const x = r - (y + 1) * sy - 1;
    out[(z * Y + y) * X + x] = 1;
  }
  if (stats) {
    stats.iterations = iterations;
    stats.deleted = deleted;
  }
  return out;
}
