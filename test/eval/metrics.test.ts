import { describe, expect, it } from 'vitest';
import {
  assertSameShape,
  binarize,
  clDice,
  confusion,
  dice,
  evaluateSegmentation,
} from '../../src/eval/metrics.js';
import { skeletonize3d } from '../../src/eval/skeleton.js';
import { ball, count, empty, loadRefs, torus, tubeX, type Shape3 } from './shapes.js';

describe('segmentation metrics', () => {
  it('Dice, precision, recall and clDice on a tiny volume worked by hand', () => {
    const shape: Shape3 = [1, 3, 5];
    const L = empty(shape);
    const P = empty(shape);
    for (let x = 0; x < 5; x++) L.data[5 + x] = 1; // the middle row: a 5-voxel line
    for (let x = 0; x < 3; x++) P.data[5 + x] = 1; // its first 3 voxels
    P.data[4] = 1; // and a stray voxel (y 0, x 4)
    // TP 3, FP 1, FN 2, TN 9.
    const m = evaluateSegmentation(P.data, L.data, shape);
    expect([m.tp, m.fp, m.fn, m.tn]).toEqual([3, 1, 2, 9]);
    expect(m.dice).toBeCloseTo(6 / 9, 15);
    expect(m.precision).toBeCloseTo(3 / 4, 15);
    expect(m.recall).toBeCloseTo(3 / 5, 15);
    expect(m.jaccard).toBeCloseTo(3 / 6, 15);
    expect(m.specificity).toBeCloseTo(9 / 10, 15);
    expect(m.accuracy).toBeCloseTo(12 / 15, 15);
    // Lines and lone voxels are their own skeletons: S(P) = P, S(L) = L.
    expect(Array.from(skeletonize3d(L.data, shape))).toEqual(Array.from(L.data));
    expect(Array.from(skeletonize3d(P.data, shape))).toEqual(Array.from(P.data));
    // Tprec = |S(P) ∩ L| / |S(P)| = 3/4, Tsens = |S(L) ∩ P| / |S(L)| = 3/5, clDice = 2·(3/4)(3/5)/(3/4 + 3/5) = 2/3.
    expect(m.tprec).toBeCloseTo(3 / 4, 15);
    expect(m.tsens).toBeCloseTo(3 / 5, 15);
    expect(m.clDice).toBeCloseTo(2 / 3, 15);
    // β: P has 2 components, L has 1; neither has loops.
    expect(m.betti0Error).toBe(1);
    expect(m.betti1Error).toBe(0);
  });

  it('clDice ignores vessel thickness but not missing centreline', () => {
    const shape: Shape3 = [11, 11, 30];
    const label = tubeX(shape, 5, 5, 2, 3, 27);
    const thick = tubeX(shape, 5, 5, 3.2, 2, 28);
    const m = evaluateSegmentation(thick.data, label.data, shape);
    expect(m.dice).toBeLessThan(0.75);
    expect(m.clDice).toBe(1);
    // Half of the label's length: the predicted skeleton lies inside the label (Tprec 1); Tsens is the share of the
    // label's skeleton with x < 15.
    const half = tubeX(shape, 5, 5, 2, 3, 15);
    const sl = skeletonize3d(label.data, shape);
    let covered = 0;
    for (let i = 0; i < sl.length; i++) if (sl[i] && i % 30 < 15) covered++;
    const c = clDice(half.data, label.data, shape);
    expect(c.tprec).toBe(1);
    expect(c.tsens).toBeCloseTo(covered / count(sl), 15);
    expect(c.clDice).toBeCloseTo((2 * c.tsens) / (1 + c.tsens), 15);
    expect(c.labelSkeleton).toBe(count(sl));
  });

  it('defines the empty cases', () => {
    const shape: Shape3 = [4, 5, 6];
    const z = empty(shape).data;
    const b = ball(shape, [2, 2, 3], 1.5).data;
    const both = evaluateSegmentation(z, z, shape);
    expect(both).toMatchObject({ dice: 1, clDice: 1, precision: 1, recall: 1, jaccard: 1, betti0Error: 0, betti1Error: 0 });
    const missed = evaluateSegmentation(z, b, shape);
    expect(missed).toMatchObject({ dice: 0, clDice: 0, precision: 0, recall: 0, betti0Error: 1 });
    const spurious = evaluateSegmentation(b, z, shape);
    expect(spurious).toMatchObject({ dice: 0, clDice: 0, precision: 0, recall: 0, specificity: 1 - count(b) / b.length });
    for (const m of [both, missed, spurious]) {
      for (const v of Object.values(m)) if (typeof v === 'number') expect(Number.isFinite(v)).toBe(true);
    }
  });

  it('a volume against itself is perfect; a shifted copy scores lower; the OCTA label too', () => {
    const { volume, shape } = loadRefs().volumes.octa;
    const self = evaluateSegmentation(volume, volume, shape);
    expect(self).toMatchObject({ dice: 1, clDice: 1, betti0Error: 0, betti1Error: 0, precision: 1, recall: 1 });
    // Shift by 2 voxels along x.
    const [Z, Y, X] = shape;
    const shifted = new Uint8Array(volume.length);
    for (let r = 0; r < Z * Y; r++) for (let x = 2; x < X; x++) shifted[r * X + x] = volume[r * X + x - 2];
    const m = evaluateSegmentation(shifted, volume, shape);
    expect(m.dice).toBeLessThan(1);
    expect(m.clDice).toBeLessThan(1);
    expect(m.dice).toBeGreaterThan(0.2);
    // Independent Dice from the raw counts.
    let inter = 0;
    for (let i = 0; i < volume.length; i++) if (shifted[i] && volume[i]) inter++;
    expect(m.dice).toBeCloseTo((2 * inter) / (count(shifted) + count(volume)), 14);
    expect(dice(shifted, volume)).toBe(m.dice);
  });

  it('Betti errors count lost loops and split components', () => {
    const S: Shape3 = [25, 41, 41];
    const ring = torus(S, [12, 20, 20], 12, 3.5);
    const cut = torus(S, [12, 20, 20], 12, 3.5);
    for (let z = 0; z < 25; z++) for (let y = 18; y < 23; y++) for (let x = 0; x < 12; x++) cut.data[(z * 41 + y) * 41 + x] = 0;
    const m = evaluateSegmentation(cut.data, ring.data, S);
    expect(m.betti1Error).toBe(1);
    expect(m.betti0Error).toBe(0);
    expect(m.labelBetti).toMatchObject({ b0: 1, b1: 1, b2: 0 });
    expect(m.clDice).toBeGreaterThan(0.8);
    expect(m.clDice).toBeLessThan(1);
  });

  it('binarises: non-zero, or ≥ threshold; NaN is background', () => {
    expect(Array.from(binarize(new Float32Array([0, 0.2, -1, NaN, 255])))).toEqual([0, 1, 1, 0, 1]);
    expect(Array.from(binarize(new Float32Array([0.49, 0.5, 0.51, NaN, 1]), 0.5))).toEqual([0, 1, 1, 0, 1]);
    expect(Array.from(binarize(new Uint16Array([0, 1, 700]), 2))).toEqual([0, 0, 1]);
    expect(() => binarize(new Float32Array(2), NaN)).toThrow(/NaN/);
  });

  it('errors name both shapes or sizes', () => {
    expect(() => assertSameShape([4, 5, 6], [4, 6, 5])).toThrow('shape mismatch: prediction is [4, 5, 6] but label is [4, 6, 5]');
    expect(() => confusion(new Uint8Array(3), new Uint8Array(4))).toThrow(/3 voxels, label has 4/);
    expect(() => evaluateSegmentation(new Uint8Array(8), new Uint8Array(9), [2, 2, 2])).toThrow(/label: 9 voxels/);
  });
});
