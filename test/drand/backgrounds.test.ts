import { describe, expect, it } from 'vitest';
import { normalFromWord, normalTable, philoxCpu, seedKey } from '../../kernels/random.js';
import { backgroundLabels, backgroundSpec, generateBackground } from '../../src/data/drand/backgrounds.js';
import { perlinNoise, valueNoise } from '../../src/data/drand/noise.js';
import {
  ballsShareVoxel,
  ParamRng,
  regionCount,
  sampleBackground,
  sampleSpheres,
  type BackgroundParams,
  type Vec3,
} from '../../src/data/drand/params.js';
import type { BackgroundSpec } from '../../kernels/drand/background.js';
import { getEngine, relErr } from '../helpers.js';

// ---- float64 references -------------------------------------------------------------------------------------

function gridNormal(seed: number, pt: number, region: number, octave: number): number {
  // The exact sampler of the block's first word: the very f32 the GPU writes into the grid.
  return normalFromWord(philoxCpu([pt, region, 0x7a1e, octave], seedKey(seed))[0]);
}

function gradIndex(seed: number, pt: number, region: number, octave: number): number {
  return philoxCpu([pt, region, 0x9e71, octave], seedKey(seed))[0] % 12;
}

const GRADS = [
  [1, 1, 0], [-1, 1, 0], [1, -1, 0], [-1, -1, 0],
  [1, 0, 1], [-1, 0, 1], [1, 0, -1], [-1, 0, -1],
  [0, 1, 1], [0, -1, 1], [0, 1, -1], [0, -1, -1],
];

/** torch linear upsampling weights along one axis (align_corners False). */
function lin(i: number, g: number, n: number): [number, number, number] {
  const src = Math.max((i + 0.5) * (g / n) - 0.5, 0);
  const i0 = Math.floor(src);
  return [i0, Math.min(i0 + 1, g - 1), src - i0];
}

/** Raw texture of one region (Σ amp · octave sample) at every voxel. */
function textureRef(spec: BackgroundSpec, region: number): Float64Array {
  const [d, h, w] = spec.shape;
  const out = new Float64Array(d * h * w);
  const O = spec.octaves.length;
  spec.octaves.forEach((oc, o) => {
    const [gd, gh, gw] = oc.grid;
    const a = spec.amp[region * O + o];
    const gi = (z: number, y: number, x: number) => (z * gh + y) * gw + x;
    const pts = Float64Array.from({ length: gd * gh * gw }, (_, q) =>
      spec.texture === 'value' ? gridNormal(spec.seed, q, region, o) : gradIndex(spec.seed, q, region, o),
    );
    for (let z = 0; z < d; z++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          let v = 0;
          if (spec.texture === 'value') {
            const [az, ay, ax] = [lin(z, gd, d), lin(y, gh, h), lin(x, gw, w)];
            for (let c = 0; c < 8; c++) {
              const [bz, by, bx] = [(c >> 2) & 1, (c >> 1) & 1, c & 1];
              const wt = (bz ? az[2] : 1 - az[2]) * (by ? ay[2] : 1 - ay[2]) * (bx ? ax[2] : 1 - ax[2]);
              v += wt * pts[gi(az[bz], ay[by], ax[bx])];
            }
          } else {
            const f = oc.freq;
            const P0 = z * f, P1 = y * f, P2 = x * f;
            const c0 = Math.floor(P0), c1 = Math.floor(P1), c2 = Math.floor(P2);
            const r0 = P0 - c0, r1 = P1 - c1, r2 = P2 - c2;
            const fade = (t: number) => t * t * t * (t * (t * 6 - 15) + 10);
            const u0 = fade(r0), u1 = fade(r1), u2 = fade(r2);
            for (let c = 0; c < 8; c++) {
              const b0 = (c >> 2) & 1, b1 = (c >> 1) & 1, b2 = c & 1;
              const g = GRADS[pts[gi(c0 + b0, c1 + b1, c2 + b2)]];
              const wt = (b0 ? u0 : 1 - u0) * (b1 ? u1 : 1 - u1) * (b2 ? u2 : 1 - u2);
              v += wt * (g[0] * (r0 - b0) + g[1] * (r1 - b1) + g[2] * (r2 - b2));
            }
          }
          out[(z * h + y) * w + x] += a * v;
        }
  });
  return out;
}

function labelsRef(spec: BackgroundSpec): Uint32Array {
  const [d, h, w] = spec.shape;
  const out = new Uint32Array(d * h * w);
  for (let z = 0; z < d; z++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let label = 0;
        if (spec.geometry === 'spheres') {
          const s = spec.shapes.findIndex((c) => (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= c[3]);
          label = s + 1;
        } else if (spec.geometry === 'voronoi') {
          let best = Infinity;
          spec.shapes.forEach((c, s) => {
            const dd = (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2;
            if (dd < best) {
              best = dd;
              label = s;
            }
          });
        }
        out[(z * h + y) * w + x] = label;
      }
  return out;
}

function backgroundRef(spec: BackgroundSpec): Float64Array {
  const labels = labelsRef(spec);
  const out = new Float64Array(labels.length);
  const tex: Float64Array[] = [];
  for (let r = 0; r < spec.regions; r++) {
    if (spec.texture === 'plain') continue;
    const t = textureRef(spec, r);
    let mn = Infinity;
    let mx = -Infinity;
    for (const v of t) (mn = Math.min(mn, v)), (mx = Math.max(mx, v));
    tex.push(t.map((v) => (mx > mn ? (v - mn) / (mx - mn) : 0)));
  }
  for (let i = 0; i < out.length; i++) {
    const r = labels[i];
    out[i] = (spec.texture === 'plain' ? spec.plain[r] : tex[r][i]) * spec.scale[r];
  }
  return out;
}

describe('noise textures', () => {
  const shape: Vec3 = [9, 10, 11];

  it('value noise follows the upstream recipe (Philox grids, torch trilinear upsampling, min-max)', async () => {
    const e = await getEngine();
    const o = { scales: [2, 4, 8], sigma: [0.5, 2, 4.5], seed: 123 };
    const t = valueNoise(e, shape, o);
    const got = await t.read();
    const spec: BackgroundSpec = {
      shape, geometry: 'none', shapes: [], regions: 1, texture: 'value',
      octaves: o.scales.map((s) => ({ grid: shape.map((n) => Math.ceil(n / s)) as Vec3, freq: 0 })),
      amp: o.sigma, scale: [1], plain: [], seed: o.seed,
    };
    expect(relErr(got, backgroundRef(spec))).toBeLessThan(1e-5);
    let mn = Infinity;
    let mx = -Infinity;
    for (const v of got) (mn = Math.min(mn, v)), (mx = Math.max(mx, v));
    expect(mn).toBe(0);
    expect(mx).toBeCloseTo(1, 6);
    const raw = await valueNoise(e, shape, { ...o, raw: true }).read();
    expect(relErr(raw, textureRef(spec, 0))).toBeLessThan(1e-5);
    // Determinism per seed, and another seed gives another texture.
    expect(Buffer.from((await valueNoise(e, shape, o).read()).buffer).equals(Buffer.from(got.buffer))).toBe(true);
    expect(relErr(await valueNoise(e, shape, { ...o, seed: 124 }).read(), got)).toBeGreaterThan(0.05);
  });

  it('value-noise grids are the exact normals of their Philox words, bit for bit', async () => {
    const e = await getEngine();
    // Scale 1: the grid has the volume's shape and upsampling weights are 0, so the raw texture is the grid itself.
    const dims: Vec3 = [5, 7, 9];
    const seed = 2 ** 41 + 5;
    const raw = await valueNoise(e, dims, { scales: [1], sigma: [1], seed, raw: true }).read();
    const want = Float32Array.from({ length: raw.length }, (_, q) => gridNormal(seed, q, 0, 0));
    expect(Array.from(raw)).toEqual(Array.from(want));
  });

  it('Perlin noise matches its reference, is zero at lattice points and continuous', async () => {
    const e = await getEngine();
    const p = { frequency: 0.25, octaves: 3, persistence: 0.5, lacunarity: 2, seed: 9 };
    const dims: Vec3 = [13, 12, 17];
    const raw = await perlinNoise(e, dims, { ...p, raw: true }).read();
    const spec: BackgroundSpec = {
      shape: dims, geometry: 'none', shapes: [], regions: 1, texture: 'perlin',
      octaves: [0, 1, 2].map((o) => ({ grid: dims.map((n) => Math.floor((n - 1) * 0.25 * 2 ** o) + 3) as Vec3, freq: 0.25 * 2 ** o })),
      amp: [1, 0.5, 0.25], scale: [1], plain: [], seed: 9,
    };
    expect(relErr(raw, textureRef(spec, 0))).toBeLessThan(1e-5);
    const [, h, w] = dims;
    let sd = 0;
    for (let z = 0; z < dims[0]; z++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const v = raw[(z * h + y) * w + x];
          sd += v * v;
          if (z % 4 === 0 && y % 4 === 0 && x % 4 === 0) expect(v).toBe(0);
        }
    expect(Math.sqrt(sd / raw.length)).toBeGreaterThan(0.05);
    // Continuity on a fine lattice: neighbouring voxels differ by at most (max slope) × step.
    const fine = await perlinNoise(e, [24, 24, 24], { frequency: 1 / 16, octaves: 1, persistence: 0.5, lacunarity: 2, seed: 4, raw: true }).read();
    let jump = 0;
    for (let i = 0; i < fine.length; i++) {
      if (i % 24 !== 23) jump = Math.max(jump, Math.abs(fine[i + 1] - fine[i]));
      if (i + 24 < fine.length && Math.floor(i / 24) % 24 !== 23) jump = Math.max(jump, Math.abs(fine[i + 24] - fine[i]));
      if (i + 576 < fine.length) jump = Math.max(jump, Math.abs(fine[i + 576] - fine[i]));
    }
    expect(jump).toBeLessThan(3 / 16);
    expect(jump).toBeGreaterThan(0);
    const norm = await perlinNoise(e, dims, p).read();
    expect(Math.min(...norm)).toBe(0);
    expect(Math.max(...norm)).toBeCloseTo(1, 6);
  });
});

describe('backgrounds', () => {
  const shape: Vec3 = [16, 14, 15];

  it('sphere placement never overlaps and stays inside; the overlap test is exact', () => {
    expect(ballsShareVoxel({ c: [0, 0, 0], r: 1 }, { c: [0, 0, 2], r: 1 })).toBe(true);
    expect(ballsShareVoxel({ c: [0, 0, 0], r: 1 }, { c: [0, 0, 3], r: 1 })).toBe(false);
    // Continuous balls overlap (distance √8 < 2 + 1) but share no integer voxel.
    expect(ballsShareVoxel({ c: [0, 0, 0], r: 2 }, { c: [0, 2, 2], r: 1 })).toBe(false);
    expect(ballsShareVoxel({ c: [0, 0, 0], r: 2 }, { c: [0, 0, 3], r: 1 })).toBe(true);
    expect(ballsShareVoxel({ c: [0, 0, 0], r: 1 }, { c: [0, 2, 1], r: 1 })).toBe(false);
    for (let s = 0; s < 5; s++) {
      const sp = sampleSpheres(new ParamRng(s), [128, 128, 128]);
      expect(sp.length).toBeGreaterThan(0);
      for (const a of sp) {
        expect(a.r).toBeGreaterThanOrEqual(20);
        expect(a.r).toBeLessThanOrEqual(50);
        for (const c of a.c) expect(c >= a.r && c <= 127 - a.r).toBe(true);
        for (const b of sp) if (a !== b) expect(ballsShareVoxel(a, b)).toBe(false);
      }
    }
  });

  for (const [geometry, texture] of [
    ['spheres', 'value'],
    ['voronoi', 'value'],
    ['voronoi', 'perlin'],
    ['none', 'plain'],
    ['spheres', 'plain'],
    ['none', 'perlin'],
  ] as const) {
    it(`${geometry} + ${texture}: labels and volume match the float64 reference`, async () => {
      const e = await getEngine();
      const p = sampleBackground(new ParamRng(31), shape, { geometry, texture });
      const spec = backgroundSpec(shape, p);
      expect(spec.regions).toBe(regionCount(p));
      normalTable(e); // value noise binds the exact sampler's table, kept per engine: create it before counting
      const live = e.liveTensors;
      const lt = backgroundLabels(e, shape, p);
      const labels = await lt.read();
      lt.dispose();
      expect(e.liveTensors).toBe(live);
      expect(Array.from(labels)).toEqual(Array.from(labelsRef(spec)));
      const bg = generateBackground(e, shape, p);
      const got = await bg.read();
      expect(relErr(got, backgroundRef(spec))).toBeLessThan(1e-5);
      expect(got.every((v) => v >= 0 && v <= 1)).toBe(true);
      if (geometry !== 'none') expect(new Set(labels).size).toBeGreaterThan(1);
      const bg2 = generateBackground(e, shape, sampleBackground(new ParamRng(31), shape, { geometry, texture }));
      const again = await bg2.read();
      expect(Buffer.from(again.buffer).equals(Buffer.from(got.buffer))).toBe(true);
      bg.dispose();
      bg2.dispose();
      expect(e.liveTensors).toBe(live);
    });
  }

  it('a normalisation stride approximates the exact min-max and stays in [0, 1]', async () => {
    const e = await getEngine();
    const p = sampleBackground(new ParamRng(12), shape, { geometry: 'spheres', texture: 'value' });
    const exact = await generateBackground(e, shape, p).read();
    const fast = await generateBackground(e, shape, p, { normStride: 2 }).read();
    expect(fast.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(relErr(fast, exact)).toBeLessThan(0.15);
    expect(relErr(fast, exact)).toBeGreaterThan(0);
    expect(() => generateBackground(e, shape, p, { normStride: 0 })).toThrow(/normStride must be a positive integer/);
  });

  it('samples upstream’s mix of geometries and textures', () => {
    const counts = new Map<string, number>();
    const rng = new ParamRng(5);
    for (let i = 0; i < 400; i++) {
      const p: BackgroundParams = sampleBackground(rng, [16, 16, 16]);
      const k = `${p.geometry}/${p.texture}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
      expect(p.scale.length).toBe(regionCount(p));
      if (p.texture === 'value') {
        expect(p.amp.length).toBe(regionCount(p) * 6);
        expect(p.amp.every((a) => a >= 0 && a < 5)).toBe(true);
      }
    }
    expect([...counts.keys()].sort()).toEqual(['none/plain', 'none/value', 'spheres/value', 'voronoi/value']);
    expect(counts.get('none/value')! / 400).toBeGreaterThan(0.3);
    expect(counts.get('none/value')! / 400).toBeLessThan(0.5);
    const g = sampleBackground(new ParamRng(6), [16, 16, 16], { pGradient: 1, geometry: 'none', mix: [1, 0, 0, 0] });
    expect(g.texture).toBe('perlin');
    for (const n of [16, 64, 128]) {
      for (let i = 0; i < 20; i++) {
        const q = sampleBackground(new ParamRng(i), [n, n, n], { texture: 'perlin' }).perlin;
        expect(q.octaves).toBeGreaterThanOrEqual(1);
        expect(q.frequency * q.lacunarity ** (q.octaves - 1)).toBeLessThanOrEqual(0.5 + 1e-12);
      }
    }
  });

  it('rejects inconsistent parameters with one clear line', async () => {
    const e = await getEngine();
    const p = sampleBackground(new ParamRng(1), shape, { geometry: 'spheres', texture: 'value' });
    expect(() => generateBackground(e, shape, { ...p, scale: [0.5] })).toThrow(/1 region scales for \d+ regions/);
    expect(() => generateBackground(e, shape, { ...p, geometry: 'voronoi', seeds: [] })).toThrow(/at least one seed/);
    expect(() => perlinNoise(e, shape, { frequency: 0, octaves: 2, persistence: 0.5, lacunarity: 2, seed: 1 })).toThrow(/must be positive/);
  });
});
