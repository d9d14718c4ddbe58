// Connected components of binary 3D volumes (shape [z, y, x], C order), by union-find over runs.
//
// A run is a maximal stretch of equal voxels along x inside one (z, y) row. Runs of one row are joined with the runs
// of the already-scanned neighbouring rows; for 26-connectivity those are (z, y−1), (z−1, y−1), (z−1, y), (z−1, y+1)
// and two runs touch when their x-intervals overlap after widening one of them by one voxel; for 6-connectivity only
// (z, y−1) and (z−1, y) count, with strict overlap. Memory scales with the number of runs, not voxels, so a 512³
// vessel mask costs a few MB. No Node imports: the browser uses this module too.
import { VesselError } from '../gpu/errors.js';

export type Shape3 = readonly [number, number, number];
/** Voxel connectivity: 6 (faces), 18 (faces and edges) or 26 (faces, edges and corners). */
export type Connectivity = 6 | 18 | 26;

/** Check that `length` matches `shape` and return the voxel count. */
export function checkShape(length: number, shape: Shape3, what = 'volume'): number {
  if (shape.length !== 3 || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new VesselError(`${what}: shape [${shape.join(', ')}] is not a 3D shape of non-negative integers`);
  }
  const n = shape[0] * shape[1] * shape[2];
  if (length !== n) {
    throw new VesselError(`${what}: ${length} voxels do not fill shape [${shape.join(', ')}] (${n} voxels)`);
  }
  return n;
}

/** Runs of one value (foreground = non-zero, or background = zero) of a volume, grouped by (z, y) row. */
export interface Runs {
  /** First x of each run. */
  start: Int32Array;
  /** One past the last x of each run. */
  end: Int32Array;
  /** Runs of row r = z·Y + y are rowPtr[r] .. rowPtr[r+1]−1. */
  rowPtr: Int32Array;
  count: number;
}

/** The x-runs of non-zero voxels (`foreground` true) or of zero voxels (`foreground` false). */
export function extractRuns(mask: ArrayLike<number>, shape: Shape3, foreground = true): Runs {
  checkShape(mask.length, shape, 'mask');
  const [Z, Y, X] = shape;
  const rows = Z * Y;
  const rowPtr = new Int32Array(rows + 1);
  let cap = Math.max(1024, rows);
  let start = new Int32Array(cap);
  let end = new Int32Array(cap);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    rowPtr[r] = count;
    const base = r * X;
    let x = 0;
    while (x < X) {
      // Skip voxels of the other value.
      if (foreground) while (x < X && mask[base + x] === 0) x++;
      else while (x < X && mask[base + x] !== 0) x++;
      if (x >= X) break;
      const s = x;
      if (foreground) while (x < X && mask[base + x] !== 0) x++;
      else while (x < X && mask[base + x] === 0) x++;
      if (count === cap) {
        cap *= 2;
        const ns = new Int32Array(cap);
        ns.set(start);
        start = ns;
        const ne = new Int32Array(cap);
        ne.set(end);
        end = ne;
      }
      start[count] = s;
      end[count] = x;
      count++;
    }
  }
  rowPtr[rows] = count;
  return { start, end, rowPtr, count };
}

function find(parent: Int32Array, a: number): number {
  while (parent[a] !== a) {
    parent[a] = parent[parent[a]]; // path halving
    a = parent[a];
  }
  return a;
}

function union(parent: Int32Array, a: number, b: number): void {
  a = find(parent, a);
  b = find(parent, b);
  if (a === b) return;
  // Keep the smaller index as root so that labels follow scan order.
  if (a < b) parent[b] = a;
  else parent[a] = b;
}

/** Join the runs of row `r` with those of row `q`; `slack` 1 lets runs touch diagonally along x, 0 needs overlap. */
function joinRows(runs: Runs, parent: Int32Array, r: number, q: number, slack: number): void {
  const { start, end, rowPtr } = runs;
  let i = rowPtr[r];
  const iEnd = rowPtr[r + 1];
  let j = rowPtr[q];
  const jEnd = rowPtr[q + 1];
  while (i < iEnd && j < jEnd) {
    if (start[i] < end[j] + slack && start[j] < end[i] + slack) union(parent, i, j);
    if (end[i] <= end[j]) i++;
    else j++;
  }
}

/** Union-find parents (each run's root index) after joining all touching runs. */
function linkRuns(runs: Runs, shape: Shape3, connectivity: Connectivity): Int32Array {
  if (connectivity !== 6 && connectivity !== 18 && connectivity !== 26) {
    throw new VesselError(`connectivity must be 6, 18 or 26, got ${String(connectivity)}`);
  }
  const [Z, Y] = shape;
  const parent = new Int32Array(runs.count);
  for (let i = 0; i < runs.count; i++) parent[i] = i;
  const face = connectivity === 6 ? 0 : 1; // slack for the face-adjacent rows
  for (let z = 0; z < Z; z++) {
    for (let y = 0; y < Y; y++) {
      const r = z * Y + y;
      if (runs.rowPtr[r] === runs.rowPtr[r + 1]) continue;
      if (y > 0) joinRows(runs, parent, r, r - 1, face);
      if (z > 0) {
        const q = r - Y;
        joinRows(runs, parent, r, q, face);
        if (connectivity !== 6) {
          const slack = connectivity === 26 ? 1 : 0;
          if (y > 0) joinRows(runs, parent, r, q - 1, slack);
          if (y < Y - 1) joinRows(runs, parent, r, q + 1, slack);
        }
      }
    }
  }
  for (let i = 0; i < runs.count; i++) parent[i] = find(parent, i);
  return parent;
}

export interface RunComponents {
  runs: Runs;
  /** Component id (0 … count−1, numbered in scan order of each component's first voxel) of every run. */
  runLabel: Int32Array;
  count: number;
  /** Voxel count of each component. */
  sizes: Float64Array;
}

/** Components of the runs of non-zero (or zero) voxels. */
export function runComponents(
  mask: ArrayLike<number>,
  shape: Shape3,
  connectivity: Connectivity = 26,
  foreground = true,
): RunComponents {
  const runs = extractRuns(mask, shape, foreground);
  const parent = linkRuns(runs, shape, connectivity);
  // Roots are the smallest run index of their component, so numbering roots in order gives scan order.
  const runLabel = new Int32Array(runs.count);
  let count = 0;
  for (let i = 0; i < runs.count; i++) runLabel[i] = parent[i] === i ? count++ : runLabel[parent[i]];
  const sizes = new Float64Array(count);
  for (let i = 0; i < runs.count; i++) sizes[runLabel[i]] += runs.end[i] - runs.start[i];
  return { runs, runLabel, count, sizes };
}

/** Number of connected components of non-zero voxels. */
export function countComponents(mask: ArrayLike<number>, shape: Shape3, connectivity: Connectivity = 26): number {
  return runComponents(mask, shape, connectivity, true).count;
}

export interface Labelling {
  /** 0 for background, 1 … count for the components, numbered in scan order of their first voxel. */
  labels: Int32Array;
  count: number;
  /** sizes[k−1] is the voxel count of component k. */
  sizes: Float64Array;
}

/** Label the connected components of non-zero voxels (what scipy.ndimage.label / skimage.measure.label give). */
export function labelComponents(mask: ArrayLike<number>, shape: Shape3, connectivity: Connectivity = 26): Labelling {
  const c = runComponents(mask, shape, connectivity, true);
  const [Z, Y, X] = shape;
  const labels = new Int32Array(Z * Y * X);
  const { start, end, rowPtr } = c.runs;
  for (let r = 0; r < Z * Y; r++) {
    const base = r * X;
    for (let i = rowPtr[r]; i < rowPtr[r + 1]; i++) labels.fill(c.runLabel[i] + 1, base + start[i], base + end[i]);
  }
  return { labels, count: c.count, sizes: c.sizes };
}

/**
 * Drop the connected components with fewer than `minSize` voxels (skimage.morphology.remove_small_objects; its
 * `connectivity=3` is our 26). Returns a new 0/1 mask, or writes into `out` when given (which may be `mask` itself).
 */
export function removeSmallObjects(
  mask: ArrayLike<number>,
  shape: Shape3,
  minSize: number,
  connectivity: Connectivity = 26,
  out?: Uint8Array,
): Uint8Array {
  const n = checkShape(mask.length, shape, 'mask');
  if (!(minSize >= 0)) throw new VesselError(`removeSmallObjects: minSize must be a non-negative number, got ${minSize}`);
  if (out && out.length !== n) {
    throw new VesselError(`removeSmallObjects: output has ${out.length} voxels, the mask has ${n}`);
  }
  const c = runComponents(mask, shape, connectivity, true);
  const [Z, Y, X] = shape;
  const res = out ?? new Uint8Array(n);
  res.fill(0); // the runs are already extracted, so this is safe when `out` is `mask`
  const { start, end, rowPtr } = c.runs;
  for (let r = 0; r < Z * Y; r++) {
    const base = r * X;
    for (let i = rowPtr[r]; i < rowPtr[r + 1]; i++) {
      res.fill(c.sizes[c.runLabel[i]] >= minSize ? 1 : 0, base + start[i], base + end[i]);
    }
  }
  return res;
}

/**
 * Number of 6-connected components of zero voxels that do not touch the volume's border: the cavities enclosed by
 * the foreground (skimage's count of background components after zero-padding, minus the outside one).
 */
export function countEnclosedCavities(mask: ArrayLike<number>, shape: Shape3): number {
  const c = runComponents(mask, shape, 6, false);
  const [Z, Y, X] = shape;
  const touches = new Uint8Array(c.count);
  const { start, end, rowPtr } = c.runs;
  for (let z = 0; z < Z; z++) {
    for (let y = 0; y < Y; y++) {
      const r = z * Y + y;
      const edgeRow = z === 0 || z === Z - 1 || y === 0 || y === Y - 1;
      for (let i = rowPtr[r]; i < rowPtr[r + 1]; i++) {
        if (edgeRow || start[i] === 0 || end[i] === X) touches[c.runLabel[i]] = 1;
      }
    }
  }
  let enclosed = 0;
  for (let k = 0; k < c.count; k++) if (!touches[k]) enclosed++;
  return enclosed;
}
