// Synthetic binary volumes with known topology for the eval tests, and the skimage reference fixtures' decoder.
import { readFileSync } from 'node:fs';
import { unzlibSync } from 'fflate';

export type Shape3 = [number, number, number];

export interface Vol {
  data: Uint8Array;
  shape: Shape3;
}

export function empty(shape: Shape3): Vol {
  return { data: new Uint8Array(shape[0] * shape[1] * shape[2]), shape };
}

/** Set every voxel whose centre (z, y, x) satisfies `inside`. */
export function paint(v: Vol, inside: (z: number, y: number, x: number) => boolean, value = 1): Vol {
  const [Z, Y, X] = v.shape;
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++) for (let x = 0; x < X; x++) if (inside(z, y, x)) v.data[(z * Y + y) * X + x] = value;
  return v;
}

export function ball(shape: Shape3, c: [number, number, number], r: number, v = empty(shape)): Vol {
  return paint(v, (z, y, x) => (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r);
}

/** A solid torus around the z axis through c: ring radius R, tube radius r. */
export function torus(shape: Shape3, c: [number, number, number], R: number, r: number, v = empty(shape)): Vol {
  return paint(v, (z, y, x) => {
    const d = Math.hypot(y - c[1], x - c[2]) - R;
    return d * d + (z - c[0]) ** 2 <= r * r;
  });
}

/** A spherical shell: radii in (rIn, rOut]. */
export function hollowSphere(shape: Shape3, c: [number, number, number], rIn: number, rOut: number): Vol {
  return paint(empty(shape), (z, y, x) => {
    const d2 = (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2;
    return d2 <= rOut * rOut && d2 > rIn * rIn;
  });
}

/** An axis-aligned box [z0, z1) × [y0, y1) × [x0, x1). */
export function box(shape: Shape3, lo: [number, number, number], hi: [number, number, number], v = empty(shape)): Vol {
  return paint(v, (z, y, x) => z >= lo[0] && z < hi[0] && y >= lo[1] && y < hi[1] && x >= lo[2] && x < hi[2]);
}

/** A cylinder along x from x0 to x1 (exclusive), axis at (zc, yc), radius r. */
export function tubeX(shape: Shape3, zc: number, yc: number, r: number, x0: number, x1: number, v = empty(shape)): Vol {
  return paint(v, (z, y, x) => x >= x0 && x < x1 && (z - zc) ** 2 + (y - yc) ** 2 <= r * r);
}

export function count(a: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) n++;
  return n;
}

/** Number of foreground 26-neighbours of voxel i. */
export function neighbours26(a: ArrayLike<number>, shape: Shape3, i: number): number {
  const [Z, Y, X] = shape;
  const z = Math.floor(i / (Y * X));
  const y = Math.floor(i / X) % Y;
  const x = i % X;
  let n = 0;
  for (let dz = -1; dz <= 1; dz++)
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        if (!dz && !dy && !dx) continue;
        const zz = z + dz;
        const yy = y + dy;
        const xx = x + dx;
        if (zz < 0 || yy < 0 || xx < 0 || zz >= Z || yy >= Y || xx >= X) continue;
        if (a[(zz * Y + yy) * X + xx]) n++;
      }
  return n;
}

export interface RefVolume {
  shape: Shape3;
  volume: Uint8Array;
  skeleton: Uint8Array;
  rso50: Uint8Array;
  betti: { b0: number; b1: number; b2: number; euler: number };
  components6: number;
}

export interface Refs {
  volumes: Record<string, RefVolume>;
  percentiles: { n: number; dtype: string; q: number[]; values: number[] }[];
}

function unpack(b64: string, n: number): Uint8Array {
  const bytes = unzlibSync(new Uint8Array(Buffer.from(b64, 'base64')));
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (bytes[i >> 3] >> (i & 7)) & 1;
  return out;
}

/** scikit-image 0.19.3 / NumPy reference values (made by fixtures/make_skimage_fixtures.py). */
export function loadRefs(): Refs {
  const raw = JSON.parse(readFileSync(new URL('./fixtures/skimage_ref.json', import.meta.url), 'utf8'));
  const volumes: Record<string, RefVolume> = {};
  for (const [k, e] of Object.entries<any>(raw.volumes)) {
    const n = e.shape[0] * e.shape[1] * e.shape[2];
    volumes[k] = {
      shape: e.shape,
      volume: unpack(e.volume, n),
      skeleton: unpack(e.skeleton, n),
      rso50: unpack(e.rso50, n),
      betti: e.betti,
      components6: e.components6,
    };
  }
  return { volumes, percentiles: raw.percentiles };
}
