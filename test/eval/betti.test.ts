import { describe, expect, it } from 'vitest';
import { bettiErrors, bettiNumbers, EULER8_LUT, eulerCharacteristic } from '../../src/eval/betti.js';
import { rng } from '../helpers.js';
import { ball, box, empty, hollowSphere, loadRefs, paint, torus, type Shape3 } from './shapes.js';

/** χ = V − E + F − C of the union of closed unit cubes, counting distinct cells with sets: the reference. */
function cellEuler(m: Uint8Array, shape: Shape3): number {
  const [Z, Y, X] = shape;
  const verts = new Set<string>();
  const edges = new Set<string>();
  const faces = new Set<string>();
  let cubes = 0;
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0; x < X; x++) {
        if (!m[(z * Y + y) * X + x]) continue;
        cubes++;
        for (let a = 0; a < 2; a++)
          for (let b = 0; b < 2; b++) {
            for (let c = 0; c < 2; c++) verts.add(`${z + a},${y + b},${x + c}`);
            // Cells named by their lowest corner and the axes they extend along.
            edges.add(`z${z},${y + a},${x + b}`);
            edges.add(`y${z + a},${y},${x + b}`);
            edges.add(`x${z + a},${y + b},${x}`);
          }
        for (let a = 0; a < 2; a++) {
          faces.add(`yx${z + a},${y},${x}`);
          faces.add(`zx${z},${y + a},${x}`);
          faces.add(`zy${z},${y},${x + a}`);
        }
      }
  return verts.size - edges.size + faces.size - cubes;
}

describe('Euler characteristic', () => {
  it('the vertex-share table: 1 for one voxel, 0 fully inside, invariant under reflections and axis swaps', () => {
    expect(EULER8_LUT[0]).toBe(0);
    for (let b = 0; b < 8; b++) expect(EULER8_LUT[1 << b]).toBe(1); // a lone cube: 8 vertices × 1/8, ×8
    expect(EULER8_LUT[255]).toBe(0); // 8·1 − 4·6 + 2·12 − 8
    // Bit b = iy | iz << 1 | ix << 2. Map each configuration through a symmetry of the cube and compare.
    const remap = (c: number, f: (iy: number, iz: number, ix: number) => [number, number, number]): number => {
      let o = 0;
      for (let b = 0; b < 8; b++) {
        if (!((c >> b) & 1)) continue;
        const [y, z, x] = f(b & 1, (b >> 1) & 1, (b >> 2) & 1);
        o |= 1 << (y | (z << 1) | (x << 2));
      }
      return o;
    };
    for (let c = 0; c < 256; c++) {
      expect(EULER8_LUT[remap(c, (y, z, x) => [z, y, x])]).toBe(EULER8_LUT[c]);
      expect(EULER8_LUT[remap(c, (y, z, x) => [x, z, y])]).toBe(EULER8_LUT[c]);
      expect(EULER8_LUT[remap(c, (y, z, x) => [y, z, 1 - x])]).toBe(EULER8_LUT[c]);
    }
  });

  it('equals V − E + F − C counted cell by cell on random volumes', () => {
    for (const [shape, density, seed] of [
      [[7, 9, 11], 0.3, 1],
      [[5, 13, 6], 0.5, 2],
      [[10, 10, 10], 0.7, 3],
      [[1, 1, 17], 0.5, 4],
    ] as [Shape3, number, number][]) {
      const r = rng(seed);
      const m = new Uint8Array(shape[0] * shape[1] * shape[2]).map(() => (r() < density ? 1 : 0));
      expect(eulerCharacteristic(m, shape)).toBe(cellEuler(m, shape));
    }
  });

  it('treats values other than 1 as foreground and an empty volume as χ = 0', () => {
    const shape: Shape3 = [3, 4, 5];
    const v = empty(shape);
    expect(eulerCharacteristic(v.data, shape)).toBe(0);
    v.data[7] = 255;
    expect(eulerCharacteristic(v.data, shape)).toBe(1);
    expect(eulerCharacteristic(new Uint8Array(0), [0, 4, 4])).toBe(0);
  });
});

describe('Betti numbers', () => {
  const S: Shape3 = [25, 41, 41];
  const c: [number, number, number] = [12, 20, 20];

  it('ball: (1, 0, 0)', () => {
    expect(bettiNumbers(ball(S, c, 8).data, S)).toMatchObject({ b0: 1, b1: 0, b2: 0 });
  });

  it('solid torus: (1, 1, 0)', () => {
    expect(bettiNumbers(torus(S, c, 12, 3.5).data, S)).toMatchObject({ b0: 1, b1: 1, b2: 0, euler: 0 });
  });

  it('hollow sphere: (1, 0, 1)', () => {
    expect(bettiNumbers(hollowSphere(S, c, 6, 9).data, S)).toMatchObject({ b0: 1, b1: 0, b2: 1, euler: 2 });
  });

  it('two separate rings: (2, 2, 0)', () => {
    const v = torus(S, [6, 20, 20], 10, 2.5);
    torus(S, [18, 20, 20], 10, 2.5, v);
    expect(bettiNumbers(v.data, S)).toMatchObject({ b0: 2, b1: 2, b2: 0 });
  });

  it('figure-eight (two rings fused side by side): (1, 2, 0)', () => {
    const shape: Shape3 = [13, 31, 55];
    const v = torus(shape, [6, 15, 15], 9, 3);
    torus(shape, [6, 15, 38], 9, 3, v);
    const b = bettiNumbers(v.data, shape);
    expect(b).toMatchObject({ b0: 1, b1: 2, b2: 0 });
  });

  it('hollow torus surface: (1, 2, 1); a box with two through-holes: (1, 2, 0)', () => {
    const hollow = paint(empty(S), (z, y, x) => {
      const d = Math.hypot(y - 20, x - 20) - 12;
      const r2 = d * d + (z - 12) ** 2;
      return r2 <= 5 * 5 && r2 > 2.5 * 2.5;
    });
    expect(bettiNumbers(hollow.data, S)).toMatchObject({ b0: 1, b1: 2, b2: 1 });
    const shape: Shape3 = [6, 9, 15];
    const b = box(shape, [1, 1, 1], [5, 8, 14]);
    paint(b, (z, y, x) => y >= 3 && y < 6 && ((x >= 3 && x < 6) || (x >= 9 && x < 12)), 0);
    expect(bettiNumbers(b.data, shape)).toMatchObject({ b0: 1, b1: 2, b2: 0 });
  });

  it('counts corner-touching voxels as one component and a diagonal ring of voxels as a loop', () => {
    const shape: Shape3 = [1, 3, 3];
    // Four voxels around an empty centre, touching only at corners: a 26-connected loop.
    const v = empty(shape);
    for (const i of [1, 3, 5, 7]) v.data[i] = 1;
    expect(bettiNumbers(v.data, shape)).toMatchObject({ b0: 1, b1: 1, b2: 0 });
  });

  it('matches scikit-image (as vesselFM computes them) on thresholded noise and the OCTA label', () => {
    for (const [name, r] of Object.entries(loadRefs().volumes)) {
      expect(bettiNumbers(r.volume, r.shape), name).toEqual(r.betti);
    }
  });

  it('Betti errors compare prediction and label; two empty volumes give zero errors', () => {
    const pred = torus(S, c, 12, 3.5);
    ball(S, [12, 3, 3], 2, pred);
    const label = ball(S, c, 8);
    const e = bettiErrors(pred.data, label.data, S);
    expect(e.betti0Error).toBe(1);
    expect(e.betti1Error).toBe(1);
    expect(e.prediction.b0).toBe(2);
    const z = empty(S).data;
    expect(bettiErrors(z, z, S)).toMatchObject({ betti0Error: 0, betti1Error: 0 });
  });
});
