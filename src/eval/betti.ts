// Betti numbers of binary 3D volumes (shape [z, y, x], C order): β0 = 26-connected foreground components,
// β2 = enclosed cavities (6-connected background components that do not reach the border), β1 = β0 + β2 − χ,
// where χ is the Euler characteristic of the union of the closed unit cubes of the foreground voxels
// (26-connected foreground, 6-connected background), computed exactly as vertices − edges + faces − cubes.
import { VesselError } from '../gpu/errors.js';
import { checkShape, countComponents, countEnclosedCavities, type Shape3 } from './components.js';

/**
 * 8 × the share of χ = V − E + F − C that belongs to one lattice vertex, given the 8 voxels around it.
 * `occ(ix, iy, iz)` tells whether the voxel on the lower (0) or upper (1) side of the vertex along x, y, z is set.
 * The vertex itself counts 1 when any voxel is set; each of its 6 edges counts −1/2 (an edge has 2 ends) when one of
 * the 4 voxels around it is set; each of its 12 faces +1/4 (4 corners) when one of its 2 voxels is set; each set
 * cube −1/8. Summed over every lattice vertex this is exactly V − E + F − C; ×8 keeps it an integer.
 */
export function vertexEuler8(occ: (ix: number, iy: number, iz: number) => boolean): number {
  let any = false;
  let cubes = 0;
  for (let ix = 0; ix < 2; ix++)
    for (let iy = 0; iy < 2; iy++)
      for (let iz = 0; iz < 2; iz++)
        if (occ(ix, iy, iz)) {
          any = true;
          cubes++;
        }
  let edges = 0;
  let faces = 0;
  for (let s = 0; s < 2; s++) {
    // The edge leaving the vertex along x on side s is shared by the 4 voxels with ix = s; likewise y and z.
    let ex = false;
    let ey = false;
    let ez = false;
    for (let a = 0; a < 2; a++)
      for (let b = 0; b < 2; b++) {
        ex ||= occ(s, a, b);
        ey ||= occ(a, s, b);
        ez ||= occ(a, b, s);
      }
    edges += (ex ? 1 : 0) + (ey ? 1 : 0) + (ez ? 1 : 0);
    for (let t = 0; t < 2; t++) {
      // Faces in the planes through the vertex: ⊥z at (x side s, y side t), ⊥y at (s, z side t), ⊥x at (y s, z t).
      if (occ(s, t, 0) || occ(s, t, 1)) faces++;
      if (occ(s, 0, t) || occ(s, 1, t)) faces++;
      if (occ(0, s, t) || occ(1, s, t)) faces++;
    }
  }
  return 8 * (any ? 1 : 0) - 4 * edges + 2 * faces - cubes;
}

/**
 * 8 × the vertex share of χ for each 2×2×2 configuration, indexed by bit (iy | iz << 1 | ix << 2): the low nibble is
 * the voxel column at the lower x, the high nibble the one at the upper x, each as (y−,z−), (y+,z−), (y−,z+), (y+,z+).
 */
export const EULER8_LUT: Int8Array = (() => {
  const lut = new Int8Array(256);
  for (let c = 0; c < 256; c++) lut[c] = vertexEuler8((ix, iy, iz) => ((c >> (iy | (iz << 1) | (ix << 2))) & 1) === 1);
  return lut;
})();

/** Exact Euler characteristic of the foreground (non-zero voxels) as a union of closed unit cubes. */
export function eulerCharacteristic(mask: ArrayLike<number>, shape: Shape3): number {
  checkShape(mask.length, shape, 'mask');
  const [Z, Y, X] = shape;
  if (Z === 0 || Y === 0 || X === 0) return 0;
  const rowHas = new Uint8Array(Z * Y);
  for (let r = 0; r < Z * Y; r++) {
    const base = r * X;
    for (let x = 0; x < X; x++)
      if (mask[base + x] !== 0) {
        rowHas[r] = 1;
        break;
      }
  }
  const lut = EULER8_LUT;
  let sum = 0;
  // Lattice vertex (z, y, x) sits between voxel rows z−1, z and y−1, y, and between voxels x−1, x.
  for (let z = 0; z <= Z; z++) {
    for (let y = 0; y <= Y; y++) {
      const rA = z > 0 && y > 0 && rowHas[(z - 1) * Y + y - 1] ? ((z - 1) * Y + y - 1) * X : -1; // (y−, z−)
      const rB = z > 0 && y < Y && rowHas[(z - 1) * Y + y] ? ((z - 1) * Y + y) * X : -1; // (y+, z−)
      const rC = z < Z && y > 0 && rowHas[z * Y + y - 1] ? (z * Y + y - 1) * X : -1; // (y−, z+)
      const rD = z < Z && y < Y && rowHas[z * Y + y] ? (z * Y + y) * X : -1; // (y+, z+)
      if (rA < 0 && rB < 0 && rC < 0 && rD < 0) continue;
      let prev = 0;
      for (let x = 0; x < X; x++) {
        const col =
          (rA >= 0 && mask[rA + x] !== 0 ? 1 : 0) |
          (rB >= 0 && mask[rB + x] !== 0 ? 2 : 0) |
          (rC >= 0 && mask[rC + x] !== 0 ? 4 : 0) |
          (rD >= 0 && mask[rD + x] !== 0 ? 8 : 0);
        sum += lut[prev | (col << 4)];
        prev = col;
      }
      sum += lut[prev];
    }
  }
  if (sum % 8 !== 0) throw new VesselError(`Euler characteristic: vertex shares sum to ${sum}/8, not an integer`);
  return sum / 8;
}

export interface Betti {
  /** Connected foreground components (26-connectivity). */
  b0: number;
  /** Independent tunnels / loops: β0 + β2 − χ. */
  b1: number;
  /** Enclosed cavities (6-connected background components not touching the border). */
  b2: number;
  /** Euler characteristic χ = β0 − β1 + β2. */
  euler: number;
}

/** Betti numbers β0, β1, β2 of the foreground (non-zero voxels) of a 3D volume. */
export function bettiNumbers(mask: ArrayLike<number>, shape: Shape3): Betti {
  const euler = eulerCharacteristic(mask, shape);
  const b0 = countComponents(mask, shape, 26);
  const b2 = countEnclosedCavities(mask, shape);
  return { b0, b1: b0 + b2 - euler, b2, euler };
}

export interface BettiErrors {
  /** |β0(prediction) − β0(label)| */
  betti0Error: number;
  /** |β1(prediction) − β1(label)| */
  betti1Error: number;
  prediction: Betti;
  label: Betti;
}

/** Betti-0 and Betti-1 errors between a binary prediction and a binary label of the same shape. */
export function bettiErrors(prediction: ArrayLike<number>, label: ArrayLike<number>, shape: Shape3): BettiErrors {
  const p = bettiNumbers(prediction, shape);
  const l = bettiNumbers(label, shape);
  return { betti0Error: Math.abs(p.b0 - l.b0), betti1Error: Math.abs(p.b1 - l.b1), prediction: p, label: l };
}
