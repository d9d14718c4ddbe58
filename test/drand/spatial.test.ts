// Label transforms (spec §4.4) on the GPU against CPU references of upstream's operations, applied one after the
// other in upstream's order: crop, flips, torch.rot90, conv3d box dilation, torch nearest zoom + MONAI centre crop,
// grid_sample (nearest, reflection, align_corners False), scipy gaussian_filter + threshold.
import { describe, expect, it } from 'vitest';
import { gatherLabel } from '../../kernels/drand/spatial.js';
import { applySpatial, binarySmooth, identitySpatial, labelAffine, sampleSpatial, scipyGaussianWeights, zoomGeometry, type SpatialParams } from '../../src/data/drand/spatial.js';
import { ParamRng, type Vec3 } from '../../src/data/drand/params.js';
import type { Engine } from '../../src/engine.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { getEngine, poison, rng } from '../helpers.js';

type Vol = { d: Float64Array; s: Vec3 };
const at = (v: Vol, z: number, y: number, x: number) => v.d[(z * v.s[1] + y) * v.s[2] + x];

function mapVol(s: Vec3, f: (z: number, y: number, x: number) => number): Vol {
  const d = new Float64Array(s[0] * s[1] * s[2]);
  for (let z = 0; z < s[0]; z++) for (let y = 0; y < s[1]; y++) for (let x = 0; x < s[2]; x++) d[(z * s[1] + y) * s[2] + x] = f(z, y, x);
  return { d, s };
}

function cropRef(v: Vol, c: Vec3, n: number): Vol {
  return mapVol([n, n, n], (z, y, x) => at(v, z + c[0], y + c[1], x + c[2]));
}

function flipRef(v: Vol, axis: number): Vol {
  return mapVol(v.s, (z, y, x) => {
    const i = [z, y, x];
    i[axis] = v.s[axis] - 1 - i[axis];
    return at(v, i[0], i[1], i[2]);
  });
}

/** torch.rot90(x, 1, dims=(a, b)) = x.flip(b).transpose(a, b): out[.., i_a, .., i_b, ..] = x[.., i_b, .., n−1−i_a, ..]. */
function rot90Ref(v: Vol, a: number, b: number): Vol {
  return mapVol(v.s, (z, y, x) => {
    const o = [z, y, x];
    const i = [...o];
    i[a] = o[b];
    i[b] = v.s[b] - 1 - o[a];
    return at(v, i[0], i[1], i[2]);
  });
}

function dilateRef(v: Vol): Vol {
  return mapVol(v.s, (z, y, x) => {
    let s = 0;
    for (let dz = -1; dz <= 1; dz++)
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const [a, b, c] = [z + dz, y + dy, x + dx];
          if (a >= 0 && b >= 0 && c >= 0 && a < v.s[0] && b < v.s[1] && c < v.s[2]) s += at(v, a, b, c);
        }
    return Math.min(1, s);
  });
}

/** torch nearest to floor(n z) (f32 scale in/out), then MONAI centre crop (start L//2 − n//2). */
function zoomRef(v: Vol, zoom: number): Vol {
  const n = v.s[0];
  const L = Math.floor(n * zoom);
  const scale = Math.fround(n / L);
  const src = (q: number) => Math.min(Math.floor(Math.fround(q * scale)), n - 1);
  const st = Math.floor(L / 2) - Math.floor(n / 2);
  return mapVol(v.s, (z, y, x) => at(v, src(z + st), src(y + st), src(x + st)));
}

/** grid_sample nearest with reflection padding, align_corners False, position = index + displacement. */
function elasticRef(v: Vol, disp: Float32Array, mag: number): Vol {
  const n = v.s[0] * v.s[1] * v.s[2];
  const refl = (x: number, size: number) => {
    const t = Math.abs(x + 0.5);
    const extra = t % size;
    const flips = Math.floor(t / size);
    let r = flips % 2 === 0 ? extra - 0.5 : size - extra - 0.5;
    r = Math.min(Math.max(r, 0), size - 1);
    // round half to even, like nearbyint
    const f = Math.floor(r);
    const d = r - f;
    return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
  };
  return mapVol(v.s, (z, y, x) => {
    const i = (z * v.s[1] + y) * v.s[2] + x;
    const f = Math.fround;
    return at(v, refl(f(z + f(mag * disp[i])), v.s[0]), refl(f(y + f(mag * disp[n + i])), v.s[1]), refl(f(x + f(mag * disp[2 * n + i])), v.s[2]));
  });
}

function smoothRef(v: Vol): Vol {
  const w = scipyGaussianWeights(1, 4);
  const r = (w.length - 1) / 2;
  let cur = v;
  for (let a = 0; a < 3; a++) {
    const src = cur;
    cur = mapVol(v.s, (z, y, x) => {
      let s = 0;
      for (let t = -r; t <= r; t++) {
        const i = [z, y, x];
        const L = v.s[a];
        let q = i[a] + t;
        const period = 2 * L;
        q = ((q % period) + period) % period;
        if (q >= L) q = period - 1 - q;
        i[a] = q;
        s += w[t + r] * at(src, i[0], i[1], i[2]);
      }
      return s;
    });
  }
  return cur;
}

function upstreamRef(mould: Vol, p: SpatialParams, n: number, disp?: Float32Array): Vol {
  let v = cropRef(mould, p.crop, n);
  for (let a = 0; a < 3; a++) if (p.flips[a]) v = flipRef(v, a);
  const planes: [number, number][] = [
    [0, 1],
    [0, 2],
    [1, 2],
  ];
  planes.forEach(([a, b], i) => {
    for (let k = 0; k < p.rot90[i]; k++) v = rot90Ref(v, a, b);
  });
  if (p.dilate) v = dilateRef(v);
  if (p.zoom !== null) v = zoomRef(v, p.zoom);
  if (p.elastic && disp) v = elasticRef(v, disp, p.elastic.magnitude);
  if (p.binarySmooth) v = { d: smoothRef(v).d.map((x) => (x > 0.2 ? 1 : 0)), s: v.s };
  return v;
}

function randomMould(e: Engine, s: Vec3, seed: number, density = 0.3): { t: Tensor; v: Vol } {
  const r = rng(seed);
  const d = new Uint8Array(s[0] * s[1] * s[2]);
  for (let i = 0; i < d.length; i++) d[i] = r() < density ? 1 : 0;
  return { t: e.tensor(d, s, 'u8'), v: { d: Float64Array.from(d), s } };
}

function mismatches(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) m++;
  return m;
}

const N = 13;
const MOULD: Vec3 = [19, 17, 15];

describe('label transforms', () => {
  it('identity gather is the crop; every flip, every rot90 (k 1–3, three planes) and their compositions are exact', async () => {
    const e = await getEngine();
    const { t, v } = randomMould(e, MOULD, 1);
    const r = rng(7);
    const cases: SpatialParams[] = [identitySpatial([3, 2, 1])];
    for (let a = 0; a < 3; a++) cases.push({ ...identitySpatial([1, 0, 2]), flips: [a === 0, a === 1, a === 2] });
    for (let pl = 0; pl < 3; pl++)
      for (let k = 1; k <= 3; k++) {
        const rot: [number, number, number] = [0, 0, 0];
        rot[pl] = k;
        cases.push({ ...identitySpatial([0, 1, 0]), rot90: rot });
      }
    for (let c = 0; c < 6; c++) {
      cases.push({
        ...identitySpatial([Math.floor(r() * 7), Math.floor(r() * 5), Math.floor(r() * 3)]),
        flips: [r() < 0.5, r() < 0.5, r() < 0.5],
        rot90: [Math.floor(r() * 4), Math.floor(r() * 4), Math.floor(r() * 4)],
      });
    }
    for (const p of cases) {
      const got = await applySpatial(t, p, N).read();
      expect(mismatches(got, upstreamRef(v, p, N).d), JSON.stringify(p)).toBe(0);
    }
    t.dispose();
  });

  it('the composed affine has integer or half-integer entries for flips and rot90s', () => {
    const A = labelAffine({ flips: [true, false, true], rot90: [1, 2, 3], rotation: null }, [N, N, N]);
    for (const x of A) expect(Math.abs(x * 2 - Math.round(x * 2))).toBeLessThan(1e-6);
  });

  it('26-neighbourhood dilation (zero padding at the crop window) is exact, also after flips and rot90s', async () => {
    const e = await getEngine();
    const { t, v } = randomMould(e, MOULD, 2, 0.04);
    for (const p of [
      { ...identitySpatial([2, 3, 1]), dilate: true },
      { ...identitySpatial([5, 0, 2]), dilate: true, flips: [true, false, true] as [boolean, boolean, boolean], rot90: [1, 0, 3] as [number, number, number] },
    ]) {
      const got = await applySpatial(t, p, N).read();
      expect(mismatches(got, upstreamRef(v, p, N).d)).toBe(0);
    }
    t.dispose();
  });

  it('nearest zoom with keep_size (torch indexing, MONAI centre crop) is exact for several factors', async () => {
    const e = await getEngine();
    const { t, v } = randomMould(e, MOULD, 3);
    for (const z of [1, 1.07, 1.33, 1.5, 1.81, 1.999]) {
      const p = { ...identitySpatial([1, 2, 0]), zoom: z, rot90: [0, 2, 0] as [number, number, number] };
      const got = await applySpatial(t, p, N).read();
      expect(mismatches(got, upstreamRef(v, p, N).d), `zoom ${z}`).toBe(0);
    }
    expect(zoomGeometry(1.5, [128, 128, 128]).start).toEqual([32, 32, 32]);
    t.dispose();
  });

  it('elastic with a zero field is the identity; with a smoothed random field it matches grid_sample nearest/reflection', async () => {
    const e = await getEngine();
    const { t, v } = randomMould(e, MOULD, 4);
    const base = identitySpatial([2, 2, 2]);
    const zero = e.zeros([3, N, N, N]);
    const out = gatherLabel(t, { shape: [N, N, N], crop: base.crop, affine: labelAffine(base, [N, N, N]), zoom: null, dilate: false, elastic: { disp: zero, magnitude: 1000 } });
    expect(mismatches(await out.read(), upstreamRef(v, base, N).d)).toBe(0);
    // A random field big enough to reflect at the borders.
    const r = rng(9);
    const disp = new Float32Array(3 * N * N * N).map(() => (r() * 2 - 1) * 0.01);
    const dt = e.tensor(disp, [3, N, N, N]);
    const p: SpatialParams = { ...base, flips: [false, true, false], zoom: 1.4, elastic: { sigma: 1, magnitude: 900, seed: 0 } };
    poison(out);
    const z = zoomGeometry(1.4, [N, N, N]);
    const got = gatherLabel(t, { shape: [N, N, N], crop: p.crop, affine: labelAffine(p, [N, N, N]), zoom: { start: z.start, scale: z.scale }, dilate: false, elastic: { disp: dt, magnitude: 900 } });
    expect(mismatches(await got.read(), upstreamRef(v, p, N, disp).d)).toBeLessThanOrEqual(2);
    for (const x of [zero, out, dt, got, t]) x.dispose();
  });

  it('the GPU elastic field has the smoothed-uniform statistics (RMS ≈ 3–7 voxels at 128³ scaled to n)', async () => {
    const e = await getEngine();
    const p = sampleSpatial(new ParamRng(5), [24, 24, 24], 24);
    const { elasticField } = await import('../../src/data/drand/spatial.js');
    const el = { sigma: 17.5 * (24 / 128), magnitude: 3750 * (24 / 128) ** 2.5, seed: 11 };
    const f = await elasticField(e, [24, 24, 24], el).read();
    let s = 0;
    // interior voxels only (zero padding lowers the field near the borders)
    let m = 0;
    for (let c = 0; c < 3; c++)
      for (let z = 8; z < 16; z++)
        for (let y = 8; y < 16; y++)
          for (let x = 8; x < 16; x++) {
            const d = el.magnitude * f[c * 24 ** 3 + (z * 24 + y) * 24 + x];
            s += d * d;
            m++;
          }
    const rms = Math.sqrt(s / m);
    // Expected ≈ 5.5 · 24/128 ≈ 1.0 voxel per axis; a wide band because one field is a single random draw.
    expect(rms).toBeGreaterThan(0.3);
    expect(rms).toBeLessThan(3);
    expect(p.crop.every((c) => c === 0)).toBe(true);
  });

  it('binary smoothing equals scipy gaussian_filter(σ 1, truncate 4, reflect) > 0.2 in float64', async () => {
    const e = await getEngine();
    const s: Vec3 = [11, 9, 13];
    const r = rng(12);
    const d = new Float32Array(11 * 9 * 13).map(() => (r() < 0.2 ? 1 : 0));
    const x = e.tensor(d, s);
    const got = await binarySmooth(x).read();
    const sm = smoothRef({ d: Float64Array.from(d), s });
    let bad = 0;
    for (let i = 0; i < d.length; i++) {
      const want = sm.d[i] > 0.2 ? 1 : 0;
      // f32 vs float64 may differ only where the smoothed value sits on the threshold
      if (got[i] !== want && Math.abs(sm.d[i] - 0.2) > 1e-5) bad++;
    }
    expect(bad).toBe(0);
    const w = scipyGaussianWeights(1, 4);
    expect(w.length).toBe(9);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    x.dispose();
  });

  it('a whole random chain (sampled parameters, all gates forced on except elastic) equals the sequential reference', async () => {
    const e = await getEngine();
    const { t, v } = randomMould(e, [21, 18, 16], 5, 0.1);
    for (let s = 0; s < 4; s++) {
      const p = sampleSpatial(new ParamRng(100 + s), [21, 18, 16], N);
      p.elastic = null;
      p.binarySmooth = false;
      p.dilate = s % 2 === 0;
      p.zoom = s < 2 ? 1 + s * 0.45 : null;
      const got = await applySpatial(t, p, N).read();
      const want = upstreamRef(v, p, N).d;
      expect(mismatches(got, want), JSON.stringify(p)).toBe(0);
    }
    t.dispose();
  });

  it('an optional arbitrary rotation by 90° about axis 2 equals rot90 in plane (0, 1) up to direction', async () => {
    const e = await getEngine();
    const { t } = randomMould(e, MOULD, 6);
    const a = await applySpatial(t, { ...identitySpatial([1, 1, 1]), rotation: { axis: [0, 0, 1], angle: Math.PI / 2 } }, N).read();
    const b1 = await applySpatial(t, { ...identitySpatial([1, 1, 1]), rot90: [1, 0, 0] }, N).read();
    const b3 = await applySpatial(t, { ...identitySpatial([1, 1, 1]), rot90: [3, 0, 0] }, N).read();
    expect(Math.min(mismatches(a, b1), mismatches(a, b3))).toBe(0);
    t.dispose();
  });
});
