// Procedural vessel trees: a random branching skeleton drawn on the CPU from a seeded generator (a few hundred
// tapered capsule segments), rendered on the GPU as a distance field to the capsules and thresholded
// (kernels/drand/tree.ts), so that domain randomisation needs no external vessel masks.
//
// The skeleton: several trees per volume, each starting on a random face of the volume and heading inwards. A
// branch is a chain of short segments whose direction takes a random-walk bend at every joint (tortuosity) and
// whose radius tapers slightly; at its end it bifurcates with a random split ratio λ under Murray's law
// (r0³ = r1³ + r2³, r1 = r0 λ^⅓, r2 = r0 (1 − λ)^⅓) and Murray's optimal branching angles
// (cos θ1 = (r0⁴ + r1⁴ − r2⁴) / (2 r0² r1²), likewise θ2), jittered, on opposite sides of a random plane through
// the parent direction. A branch stops when its radius falls below the leaf radius, at the depth limit, when it
// leaves the volume, or when the segment budget is spent (a bifurcation is made whole or not at all).
import { renderCapsules, type CapsuleSegment } from '../../../kernels/drand/tree.js';
import type { Engine } from '../../engine.js';
import { VesselError } from '../../gpu/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ParamRng, Vec3 } from './params.js';

export type { CapsuleSegment };

export interface TreeOptions {
  /** Trees per volume, inclusive range. */
  trees?: readonly [number, number];
  /** Root radius range in voxels. */
  rootRadius?: readonly [number, number];
  /** Branches stop below this radius (voxels). */
  leafRadius?: number;
  /** Branch length as a multiple of its start radius, range. */
  lengthPerRadius?: readonly [number, number];
  /** Segment length in voxels, range. */
  segmentLength?: readonly [number, number];
  /** Tortuosity (random-walk bend strength per joint), range; one value per tree. */
  tortuosity?: readonly [number, number];
  /** Murray split ratio λ range (the share of r0³ taken by the first child). */
  split?: readonly [number, number];
  /** Jitter of the optimal branching angles, radians (uniform ±). */
  angleJitter?: number;
  /** Radius at the end of a branch relative to its start, range (tapering along a branch). */
  taper?: readonly [number, number];
  maxDepth?: number;
  /** Segment budget per volume. */
  maxSegments?: number;
}

export const TREE_DEFAULTS: Required<TreeOptions> = {
  trees: [2, 5],
  rootRadius: [1.6, 4.0],
  leafRadius: 0.7,
  lengthPerRadius: [6, 14],
  segmentLength: [3, 6],
  tortuosity: [0.1, 0.45],
  split: [0.25, 0.75],
  angleJitter: 0.25,
  taper: [0.85, 1.0],
  maxDepth: 9,
  maxSegments: 800,
};

/** A bifurcation: the parent's last segment and the first segments of its two children (indices into segments). */
export interface Bifurcation {
  parent: number;
  children: [number, number];
}

export interface VesselTree {
  shape: Vec3;
  segments: CapsuleSegment[];
  bifurcations: Bifurcation[];
  /** Index of each tree's root segment. */
  roots: number[];
}

type V = [number, number, number];
const add = (a: V, b: V): V => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
const scale = (a: V, s: number): V => [a[0] * s, a[1] * s, a[2] * s];
const dot = (a: V, b: V): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const norm = (a: V): V => {
  const l = Math.hypot(a[0], a[1], a[2]);
  return l > 0 ? scale(a, 1 / l) : [1, 0, 0];
};
const cross = (a: V, b: V): V => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

function randomUnit(rng: ParamRng): V {
  return norm([rng.normal(), rng.normal(), rng.normal()]);
}

/** A unit vector perpendicular to d, in a random direction. */
function randomPerp(rng: ParamRng, d: V): V {
  for (let i = 0; i < 8; i++) {
    const v = randomUnit(rng);
    const p = add(v, scale(d, -dot(v, d)));
    if (Math.hypot(...p) > 1e-3) return norm(p);
  }
  return norm(cross(d, Math.abs(d[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0]));
}

/** Murray's optimal angle between the parent direction and a child of radius rc (other child ro), radians. */
export function murrayAngle(r0: number, rc: number, ro: number): number {
  const c = (r0 ** 4 + rc ** 4 - ro ** 4) / (2 * r0 * r0 * rc * rc);
  return Math.acos(Math.max(-1, Math.min(1, c)));
}

/** Draw the skeleton of the vessel trees of one volume of spatial shape [D, H, W]. */
export function sampleVesselTree(rng: ParamRng, shape: Vec3, options: TreeOptions = {}): VesselTree {
  const o = { ...TREE_DEFAULTS, ...options };
  if (!(o.leafRadius > 0) || o.rootRadius[0] < o.leafRadius) throw new VesselError(`vessel tree: root radius ${o.rootRadius.join('–')} must exceed the leaf radius ${o.leafRadius} > 0`);
  const segments: CapsuleSegment[] = [];
  const bifurcations: Bifurcation[] = [];
  const roots: number[] = [];
  const inside = (p: V, r: number) => p.every((c, a) => c >= -r && c <= shape[a] - 1 + r);

  interface Branch {
    start: V;
    dir: V;
    r: number;
    depth: number;
    parentSeg: number;
    tort: number;
    /** index into bifurcations and child slot, when this branch is a child */
    bif: [number, number] | null;
  }

  const nTrees = rng.randint(o.trees[0], o.trees[1]);
  const stack: Branch[] = [];
  for (let t = 0; t < nTrees; t++) {
    // Start on a random face, aimed at a random interior point.
    const axis = rng.randint(0, 2);
    const side = rng.bernoulli(0.5);
    const start: V = [rng.uniform(0, shape[0] - 1), rng.uniform(0, shape[1] - 1), rng.uniform(0, shape[2] - 1)];
    start[axis] = side ? shape[axis] - 1 : 0;
    const target: V = [rng.uniform(0.2, 0.8) * (shape[0] - 1), rng.uniform(0.2, 0.8) * (shape[1] - 1), rng.uniform(0.2, 0.8) * (shape[2] - 1)];
    const dir = norm(add(target, scale(start, -1)));
    const r = rng.uniform(o.rootRadius[0], o.rootRadius[1]);
    stack.push({ start, dir, r, depth: 0, parentSeg: -1, tort: rng.uniform(o.tortuosity[0], o.tortuosity[1]), bif: null });
  }
  // Depth-first per tree, trees in order (the stack is reversed so tree 0 grows first).
  stack.reverse();
  // Children waiting on the stack, each with one segment reserved, so that a bifurcation is never half-made.
  let pendingChildren = 0;
  while (stack.length) {
    const b = stack.pop()!;
    if (b.bif) pendingChildren--;
    const length = b.r * rng.uniform(o.lengthPerRadius[0], o.lengthPerRadius[1]);
    const rEnd = b.r * rng.uniform(o.taper[0], o.taper[1]);
    let nSeg = Math.max(1, Math.round(length / rng.uniform(o.segmentLength[0], o.segmentLength[1])));
    const room = o.maxSegments - segments.length - pendingChildren;
    if (b.bif) nSeg = Math.max(1, Math.min(nSeg, room));
    else if (nSeg > room) continue;
    let p = b.start;
    let d = b.dir;
    let last = -1;
    let left = false;
    for (let s = 0; s < nSeg; s++) {
      const ra = b.r + ((rEnd - b.r) * s) / nSeg;
      const rb = b.r + ((rEnd - b.r) * (s + 1)) / nSeg;
      if (s > 0) d = norm(add(d, scale(randomUnit(rng), b.tort)));
      const q = add(p, scale(d, length / nSeg));
      segments.push({ a: [...p], b: [...q], ra, rb });
      const idx = segments.length - 1;
      if (s === 0) {
        if (b.bif) bifurcations[b.bif[0]].children[b.bif[1]] = idx;
        else roots.push(idx);
      }
      last = idx;
      p = q;
      if (!inside(q, rb)) {
        left = true;
        break;
      }
    }
    if (left || b.depth + 1 > o.maxDepth) continue;
    const lambda = rng.uniform(o.split[0], o.split[1]);
    const r1 = rEnd * Math.cbrt(lambda);
    const r2 = rEnd * Math.cbrt(1 - lambda);
    if (Math.max(r1, r2) < o.leafRadius) continue;
    // Children below the leaf radius are still made (Murray holds at every bifurcation); they end there.
    const perp = randomPerp(rng, d);
    const th1 = Math.max(0.05, murrayAngle(rEnd, r1, r2) + rng.uniform(-o.angleJitter, o.angleJitter));
    const th2 = Math.max(0.05, murrayAngle(rEnd, r2, r1) + rng.uniform(-o.angleJitter, o.angleJitter));
    const d1 = norm(add(scale(d, Math.cos(th1)), scale(perp, Math.sin(th1))));
    const d2 = norm(add(scale(d, Math.cos(th2)), scale(perp, -Math.sin(th2))));
    // Both children need at least one segment each; reserve them now.
    if (segments.length + pendingChildren + 2 > o.maxSegments) continue;
    pendingChildren += 2;
    const bi = bifurcations.length;
    bifurcations.push({ parent: last, children: [-1, -1] });
    const leaf = (r: number) => r < o.leafRadius;
    // Push the second child first so the first grows first (depth-first order).
    stack.push({ start: p, dir: d2, r: r2, depth: leaf(r2) ? o.maxDepth : b.depth + 1, parentSeg: last, tort: b.tort, bif: [bi, 1] });
    stack.push({ start: p, dir: d1, r: r1, depth: leaf(r1) ? o.maxDepth : b.depth + 1, parentSeg: last, tort: b.tort, bif: [bi, 0] });
  }
  return { shape, segments, bifurcations, roots };
}

/** Render a skeleton as a binary mask u8 [D, H, W] on the GPU (voxel centres at integer coordinates). */
export function renderVesselTree(e: Engine, tree: VesselTree, tile = 8): Tensor {
  return renderCapsules(e, tree.shape, tree.segments, tile);
}

/**
 * Signed distance of point q to a tapered capsule (float64): distance to the axis at the closest parameter t minus
 * the radius interpolated there. The renderer evaluates the same expression in f32.
 */
export function capsuleDistance(q: Vec3, s: CapsuleSegment): number {
  const ab: V = [s.b[0] - s.a[0], s.b[1] - s.a[1], s.b[2] - s.a[2]];
  const l2 = dot(ab, ab);
  const aq: V = [q[0] - s.a[0], q[1] - s.a[1], q[2] - s.a[2]];
  const t = l2 > 0 ? Math.min(1, Math.max(0, dot(aq, ab) / l2)) : 0;
  const c: V = [s.a[0] + t * ab[0], s.a[1] + t * ab[1], s.a[2] + t * ab[2]];
  return Math.hypot(q[0] - c[0], q[1] - c[1], q[2] - c[2]) - (s.ra + t * (s.rb - s.ra));
}
