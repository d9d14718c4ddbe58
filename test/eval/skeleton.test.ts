import { describe, expect, it } from 'vitest';
import { bettiNumbers } from '../../src/eval/betti.js';
import { labelComponents } from '../../src/eval/components.js';
import { skeletonize3d, type SkeletonStats } from '../../src/eval/skeleton.js';
import { ball, box, count, empty, hollowSphere, loadRefs, neighbours26, torus, tubeX, type Shape3, type Vol } from './shapes.js';

function isSubset(a: Uint8Array, b: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] && !b[i]) return false;
  return true;
}

function skel(v: Vol, stats?: SkeletonStats): Uint8Array {
  const s = skeletonize3d(v.data, v.shape, stats);
  expect(isSubset(s, v.data)).toBe(true);
  return s;
}

describe('Lee–Kashyap–Chu 3D skeletonisation', () => {
  it('thins a thick straight tube to a 1-voxel line on its axis of about its length', () => {
    const shape: Shape3 = [15, 15, 50];
    const s = skel(tubeX(shape, 7, 7, 4, 5, 45));
    const xs = new Set<number>();
    for (let i = 0; i < s.length; i++) {
      if (!s[i]) continue;
      const z = Math.floor(i / 750);
      const y = Math.floor(i / 50) % 15;
      xs.add(i % 50);
      expect(Math.abs(z - 7) + Math.abs(y - 7)).toBeLessThanOrEqual(1);
      expect(neighbours26(s, shape, i)).toBeLessThanOrEqual(2);
    }
    // One voxel per x position: a line, not a ribbon; the ends shorten by at most the radius.
    expect(xs.size).toBe(count(s));
    expect(count(s)).toBeGreaterThanOrEqual(40 - 2 * 4);
    expect(count(s)).toBeLessThanOrEqual(40);
    expect(bettiNumbers(s, shape)).toMatchObject({ b0: 1, b1: 0, b2: 0 });
  });

  it('thins a solid box and a ball to a few connected voxels', () => {
    const boxShape: Shape3 = [15, 15, 17];
    const sb = skel(box(boxShape, [3, 2, 2], [12, 13, 15]));
    expect(count(sb)).toBeGreaterThan(0);
    expect(count(sb)).toBeLessThanOrEqual(13);
    expect(bettiNumbers(sb, boxShape)).toMatchObject({ b0: 1, b1: 0, b2: 0 });
    const S: Shape3 = [25, 41, 41];
    const st: SkeletonStats = { iterations: 0, deleted: 0 };
    const sball = skel(ball(S, [12, 20, 20], 8), st);
    expect(count(sball)).toBeLessThanOrEqual(3);
    expect(bettiNumbers(sball, S)).toMatchObject({ b0: 1, b1: 0, b2: 0 });
    expect(st.deleted + count(sball)).toBe(count(ball(S, [12, 20, 20], 8).data));
    expect(st.iterations).toBeGreaterThan(1);
  });

  it('keeps the loop of a torus as a closed 1-voxel-wide ring', () => {
    const S: Shape3 = [25, 41, 41];
    const s = skel(torus(S, [12, 20, 20], 12, 3.5));
    expect(bettiNumbers(s, S)).toMatchObject({ b0: 1, b1: 1, b2: 0 });
    for (let i = 0; i < s.length; i++) if (s[i]) expect(neighbours26(s, S, i)).toBe(2);
    // Roughly the centre circle's 26-connected length (2π·12 ≈ 75 steps, diagonal steps shorten it).
    expect(count(s)).toBeGreaterThan(50);
    expect(count(s)).toBeLessThan(80);
  });

  it('keeps components separate, cavities enclosed and lone voxels in place', () => {
    const S: Shape3 = [21, 21, 45];
    const v = ball(S, [10, 10, 10], 7);
    ball(S, [10, 10, 30], 7, v);
    v.data[(0 * 21 + 0) * 45 + 44] = 1; // a lone voxel in a corner
    box(S, [0, 18, 0], [2, 20, 2], v); // a 2×2×2 cube (scikit-image 0.19 deletes these entirely; we keep one voxel)
    const s = skel(v);
    expect(labelComponents(s, S).count).toBe(4);
    expect(s[(0 * 21 + 0) * 45 + 44]).toBe(1);
    const hs: Shape3 = [21, 21, 21];
    const shell = hollowSphere(hs, [10, 10, 10], 5, 8);
    expect(bettiNumbers(skel({ data: shell.data, shape: hs }), hs)).toMatchObject({ b0: 1, b1: 0, b2: 1 });
  });

  it('leaves a skeleton unchanged when applied again, and an empty volume empty', () => {
    const S: Shape3 = [25, 41, 41];
    const v = torus(S, [12, 20, 20], 12, 3.5);
    tubeX(S, 12, 20, 3, 0, 41, v);
    const s = skel(v);
    expect(Array.from(skeletonize3d(s, S))).toEqual(Array.from(s));
    expect(count(skeletonize3d(empty([3, 4, 5]).data, [3, 4, 5]))).toBe(0);
    expect(skeletonize3d(new Uint8Array(0), [0, 3, 3]).length).toBe(0);
  });

  it('matches scikit-image skeletonize_3d, except where skimage deletes whole components', () => {
    for (const [name, r] of Object.entries(loadRefs().volumes)) {
      const s = skeletonize3d(r.volume, r.shape);
      // Topology as the input's (skimage 0.19's skeleton can lose components, so it cannot be the reference here).
      expect(bettiNumbers(s, r.shape), name).toEqual(r.betti);
      expect(isSubset(r.skeleton, s), `${name}: skimage's skeleton is inside ours`).toBe(true);
      // Every extra voxel of ours is a lone voxel standing for an input component that skimage's skeleton misses.
      const comps = labelComponents(r.volume, r.shape).labels;
      const skimageHas = new Set<number>();
      for (let i = 0; i < s.length; i++) if (r.skeleton[i]) skimageHas.add(comps[i]);
      let extra = 0;
      for (let i = 0; i < s.length; i++) {
        if (!s[i] || r.skeleton[i]) continue;
        extra++;
        expect(neighbours26(s, r.shape, i), name).toBe(0);
        expect(skimageHas.has(comps[i]), name).toBe(false);
      }
      expect(extra, name).toBeLessThanOrEqual(2);
    }
  });
});
