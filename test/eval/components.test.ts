import { describe, expect, it } from 'vitest';
import {
  countComponents,
  countEnclosedCavities,
  labelComponents,
  removeSmallObjects,
  type Connectivity,
} from '../../src/eval/components.js';
import { rng } from '../helpers.js';
import { ball, box, count, empty, hollowSphere, loadRefs, type Shape3 } from './shapes.js';

/** Plain breadth-first labelling over voxels: the reference. */
function bfsLabels(m: Uint8Array, shape: Shape3, conn: Connectivity): { labels: Int32Array; count: number } {
  const [Z, Y, X] = shape;
  const labels = new Int32Array(m.length);
  const offs: [number, number, number][] = [];
  for (let dz = -1; dz <= 1; dz++)
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        const k = Math.abs(dz) + Math.abs(dy) + Math.abs(dx);
        if (k === 0 || (conn === 6 && k > 1) || (conn === 18 && k > 2)) continue;
        offs.push([dz, dy, dx]);
      }
  let n = 0;
  const queue = new Int32Array(m.length);
  for (let s = 0; s < m.length; s++) {
    if (!m[s] || labels[s]) continue;
    labels[s] = ++n;
    let head = 0;
    let tail = 0;
    queue[tail++] = s;
    while (head < tail) {
      const i = queue[head++];
      const z = Math.floor(i / (Y * X));
      const y = Math.floor(i / X) % Y;
      const x = i % X;
      for (const [dz, dy, dx] of offs) {
        const zz = z + dz;
        const yy = y + dy;
        const xx = x + dx;
        if (zz < 0 || yy < 0 || xx < 0 || zz >= Z || yy >= Y || xx >= X) continue;
        const j = (zz * Y + yy) * X + xx;
        if (m[j] && !labels[j]) {
          labels[j] = n;
          queue[tail++] = j;
        }
      }
    }
  }
  return { labels, count: n };
}

function randomMask(shape: Shape3, density: number, seed: number): Uint8Array {
  const r = rng(seed);
  const m = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < m.length; i++) m[i] = r() < density ? 1 : 0;
  return m;
}

describe('connected components', () => {
  it('labels exactly as a voxel BFS, in scan order, for 6, 18 and 26 connectivity', () => {
    const shape: Shape3 = [13, 17, 19];
    for (const conn of [6, 18, 26] as const) {
      for (const [density, seed] of [
        [0.04, 1],
        [0.1, 2],
        [0.25, 3],
      ]) {
        const m = randomMask(shape, density, seed + conn);
        const ref = bfsLabels(m, shape, conn);
        const got = labelComponents(m, shape, conn);
        expect(got.count).toBe(ref.count);
        expect(ref.count).toBeGreaterThan(1);
        expect(Array.from(got.labels)).toEqual(Array.from(ref.labels));
        const sizes = new Float64Array(ref.count);
        for (const l of ref.labels) if (l) sizes[l - 1]++;
        expect(Array.from(got.sizes)).toEqual(Array.from(sizes));
        expect(countComponents(m, shape, conn)).toBe(ref.count);
      }
    }
  });

  it('distinguishes face, edge and corner contact', () => {
    const shape: Shape3 = [3, 3, 3];
    const corner = empty(shape);
    corner.data[0] = 1; // (0,0,0)
    corner.data[13] = 1; // (1,1,1)
    expect([6, 18, 26].map((c) => countComponents(corner.data, shape, c as Connectivity))).toEqual([2, 2, 1]);
    const edge = empty(shape);
    edge.data[0] = 1; // (0,0,0)
    edge.data[4] = 1; // (0,1,1)
    expect([6, 18, 26].map((c) => countComponents(edge.data, shape, c as Connectivity))).toEqual([2, 1, 1]);
  });

  it('matches scikit-image on thresholded noise and the OCTA label', () => {
    const refs = loadRefs();
    for (const [name, r] of Object.entries(refs.volumes)) {
      expect(countComponents(r.volume, r.shape, 26), name).toBe(r.betti.b0);
      expect(countComponents(r.volume, r.shape, 6), name).toBe(r.components6);
      const kept = removeSmallObjects(r.volume, r.shape, 50, 26);
      expect(Array.from(kept).every((v, i) => v === r.rso50[i]), `${name} remove_small_objects`).toBe(true);
    }
  });

  it('removeSmallObjects drops components with fewer than minSize voxels, in place too', () => {
    const shape: Shape3 = [20, 20, 20];
    const v = ball(shape, [10, 10, 10], 4); // 257 voxels
    box(shape, [0, 0, 0], [2, 2, 2], v); // 8 voxels
    box(shape, [17, 17, 17], [20, 20, 20], v); // 27 voxels
    const big = count(ball(shape, [10, 10, 10], 4).data);
    expect(count(removeSmallObjects(v.data, shape, 27))).toBe(big + 27);
    expect(count(removeSmallObjects(v.data, shape, 28))).toBe(big);
    expect(count(removeSmallObjects(v.data, shape, big + 1))).toBe(0);
    expect(count(removeSmallObjects(v.data, shape, 0))).toBe(big + 35);
    const copy = v.data.slice();
    removeSmallObjects(copy, shape, 9, 26, copy);
    expect(count(copy)).toBe(big + 27);
    expect(copy[0]).toBe(0);
  });

  it('counts enclosed cavities, not background touching the border', () => {
    const shape: Shape3 = [21, 21, 21];
    expect(countEnclosedCavities(hollowSphere(shape, [10, 10, 10], 4, 7).data, shape)).toBe(1);
    expect(countEnclosedCavities(ball(shape, [10, 10, 10], 7).data, shape)).toBe(0);
    // A cavity is enclosed only if 6-connected background cannot leave: a diagonal-only gap keeps it closed.
    const s: Shape3 = [5, 5, 5];
    const shell = box(s, [1, 1, 1], [4, 4, 4]);
    shell.data[(2 * 5 + 2) * 5 + 2] = 0;
    expect(countEnclosedCavities(shell.data, s)).toBe(1);
    shell.data[(2 * 5 + 2) * 5 + 1] = 0; // open a face channel to the outside
    expect(countEnclosedCavities(shell.data, s)).toBe(0);
    // A volume that is entirely foreground but for an interior voxel.
    const full = box(s, [0, 0, 0], [5, 5, 5]);
    full.data[62] = 0;
    expect(countEnclosedCavities(full.data, s)).toBe(1);
  });

  it('rejects a mask that does not fill its shape, and bad connectivity', () => {
    expect(() => countComponents(new Uint8Array(10), [2, 2, 2])).toThrow(/10 voxels do not fill shape \[2, 2, 2\]/);
    expect(() => countComponents(new Uint8Array(8), [2, 2, 2], 4 as Connectivity)).toThrow(/connectivity/);
  });
});
