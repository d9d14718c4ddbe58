// Compositing (spec §4.5) on the GPU against a float64 CPU reference of upstream's add_background: inversion,
// the foreground intensity gap, every artifact in both merge modes with the merge-mask rules, clamping.
import { describe, expect, it } from 'vitest';
import { chooseForeground, COMPOSITE_STREAM, erodeKernel } from '../../kernels/drand/composite.js';
import { STREAM } from '../../kernels/drand/pointwise.js';
import { stats } from '../../kernels/drand/reduce.js';
import { randomWordCpu } from '../../kernels/random.js';
import { ARTIFACTS, composite, COMPOSITE_CONFIG, sampleComposite, SPECIAL_ARTIFACTS, type CompositeParams } from '../../src/data/drand/composite.js';
import { ParamRng } from '../../src/data/drand/params.js';
import { getEngine, relErr, rng } from '../helpers.js';
import { biasFieldRef, gaussianFilterRef, voxelNormals, type Dims } from './reference.js';

const DIMS: Dims = [9, 10, 11];
const N = 990;

function chooseRef(mu: number, u: number): number {
  const len1 = Math.max(0, mu - 0.4);
  const len2 = Math.max(0, 0.6 - mu);
  const t = u * (len1 + len2);
  return t < len1 ? t : mu + 0.4 + (t - len1);
}

function erodeRef(l: Float64Array): Float64Array {
  const [d, h, w] = DIMS;
  return l.map((v, i) => {
    const x = i % w;
    const y = Math.floor(i / w) % h;
    const z = Math.floor(i / (h * w));
    if (v < 0.5 || x === 0 || y === 0 || z === 0 || x === w - 1 || y === h - 1 || z === d - 1) return 0;
    const nb = [i - 1, i + 1, i - w, i + w, i - h * w, i + h * w];
    return nb.every((j) => l[j] > 0.5) ? 1 : 0;
  });
}

function compositeRef(L: Float64Array, B0: Float64Array, p: CompositeParams): Float64Array {
  const [d, h, w] = DIMS;
  const B = p.invert ? B0.map((v) => 1 - v) : B0;
  const mu = B.reduce((a, b) => a + b, 0) / B.length;
  let c = chooseRef(mu, p.u);
  const smooth = p.artifact === 'gauss_smooth';
  if (p.mode === 'add_sub' || smooth) c = c - mu;
  let F: Float64Array = L.map((v) => (v === 1 ? Math.abs(c) : 0));
  switch (p.artifact) {
    case 'bias_field': {
      const f = biasFieldRef(DIMS, p.biasCoeffs);
      F = F.map((v, i) => v * Math.exp(f[i]));
      break;
    }
    case 'gauss_noise':
      F = F.map((v, i) => v + p.noiseStd * voxelNormals(p.seed, STREAM.gaussian, i)[0]);
      break;
    case 'gauss_smooth':
      F = gaussianFilterRef(F, DIMS, [0, p.smoothSigma, 0]);
      break;
    case 'dropout':
      F = F.map((v, i) => (v > 0 && randomWordCpu(p.seed, i, COMPOSITE_STREAM.dropout) >>> 31 === 1 ? 0 : v));
      break;
    case 'roll': {
      const src = F;
      F = new Float64Array(F.length);
      for (let y = 0; y < h; y++) {
        const s = (randomWordCpu(p.seed, y, COMPOSITE_STREAM.roll) % 7) - 3;
        const slab = Array.from({ length: d * w }, (_, j) => src[(Math.floor(j / w) * h + y) * w + (j % w)]);
        for (let j = 0; j < d * w; j++) F[(Math.floor(j / w) * h + y) * w + (j % w)] = slab[(((j - s) % (d * w)) + d * w) % (d * w)];
      }
      break;
    }
    case 'hull': {
      let E = L;
      for (let t = 0; t < p.hullThickness; t++) E = erodeRef(E);
      F = F.map((v, i) => (L[i] === 1 && E[i] === 0 ? v : 0));
      break;
    }
    default:
  }
  const special = SPECIAL_ARTIFACTS.includes(p.artifact);
  return B.map((b, i) => {
    const m = special ? F[i] > 0 : L[i] === 1;
    let v = b;
    if (m) v = p.mode === 'paint' && !smooth ? F[i] : c < 0 ? b - F[i] : b + F[i];
    return Math.min(1, Math.max(0, v));
  });
}

describe('compositing', () => {
  it('the foreground intensity keeps |c − μ_B| > 0.4 for any background mean, uniformly over the allowed set', async () => {
    const e = await getEngine();
    for (const mu of [0, 0.1, 0.35, 0.4, 0.5, 0.63, 0.9, 1]) {
      const bg = e.full([4, 4, 4], mu);
      const st = stats(bg);
      const cs: number[] = [];
      for (let k = 0; k < 40; k++) {
        const u = (k + 0.5) / 40;
        const s = await chooseForeground(bg, st, u, false, false).read();
        expect(Math.abs(s[0] - mu)).toBeGreaterThan(0.4 - 1e-6);
        expect(s[0]).toBeGreaterThanOrEqual(0);
        expect(s[0]).toBeLessThanOrEqual(1);
        expect(s[0]).toBeCloseTo(chooseRef(mu, u), 6);
        cs.push(s[0]);
      }
      // the inverse transform is monotone in u: evenly spaced u cover the allowed set in order
      for (let k = 1; k < cs.length; k++) expect(cs[k]).toBeGreaterThan(cs[k - 1]);
      const inv = await chooseForeground(bg, st, 0.3, true, true).read();
      expect(inv[3]).toBeCloseTo(1 - mu, 6);
      expect(Math.abs(inv[1])).toBeGreaterThan(0.4 - 1e-6);
      bg.dispose();
      st.dispose();
    }
  });

  it('every artifact × paint/add_sub × inversion equals the float64 reference (merge masks included)', async () => {
    const e = await getEngine();
    const r = rng(5);
    const L = Float64Array.from({ length: N }, () => (r() < 0.35 ? 1 : 0));
    const lt = e.tensor(L, DIMS);
    let k = 0;
    for (const artifact of ARTIFACTS) {
      for (const mode of ['paint', 'add_sub'] as const) {
        const invert = k++ % 2 === 1;
        const B = Float64Array.from({ length: N }, () => r() * 0.6 + (invert ? 0.35 : 0.05));
        const bt = e.tensor(B, DIMS);
        const p = sampleComposite(new ParamRng(k), { artifact, mode, invert });
        p.noiseStd = 0.3;
        const got = await composite(lt, bt, p).read();
        const want = compositeRef(L, Float64Array.from(await bt.read()), p);
        expect(relErr(got, want), `${artifact} ${mode} invert ${invert}`).toBeLessThan(1e-5);
        bt.dispose();
      }
    }
    lt.dispose();
  });

  it('merge masks: paint replaces exactly the label (non-special) or F > 0 (special); outside them the background stays', async () => {
    const e = await getEngine();
    const r = rng(8);
    const L = Float64Array.from({ length: N }, () => (r() < 0.4 ? 1 : 0));
    const B = Float64Array.from({ length: N }, () => 0.05 + 0.1 * r());
    const lt = e.tensor(L, DIMS);
    const bt = e.tensor(B, DIMS);
    for (const artifact of ['none', 'dropout'] as const) {
      const p = sampleComposite(new ParamRng(3), { artifact, mode: 'paint', invert: false });
      const got = await composite(lt, bt, p).read();
      let changedOutside = 0;
      let droppedInside = 0;
      for (let i = 0; i < N; i++) {
        if (L[i] === 0 && Math.abs(got[i] - B[i]) > 1e-6) changedOutside++;
        if (L[i] === 1 && Math.abs(got[i] - B[i]) < 1e-6) droppedInside++;
      }
      expect(changedOutside).toBe(0);
      if (artifact === 'none') expect(droppedInside).toBe(0);
      // dropout keeps the background on about half of the label
      else expect(droppedInside / L.reduce((a, b) => a + b, 0)).toBeGreaterThan(0.3);
    }
    lt.dispose();
    bt.dispose();
  });

  it('erosion with the 6-cross (border 0) is exact', async () => {
    const e = await getEngine();
    const r = rng(11);
    const L = Float64Array.from({ length: N }, () => (r() < 0.8 ? 1 : 0));
    const t = e.tensor(L, DIMS);
    expect(Array.from(await erodeKernel(t).read())).toEqual(Array.from(erodeRef(L)));
    t.dispose();
  });

  it('artifacts are drawn with upstream probabilities', () => {
    const rg = new ParamRng(77);
    const counts = new Array(ARTIFACTS.length).fill(0);
    const M = 20000;
    let paint = 0;
    let inv = 0;
    for (let i = 0; i < M; i++) {
      const p = sampleComposite(rg);
      counts[ARTIFACTS.indexOf(p.artifact)]++;
      if (p.mode === 'paint') paint++;
      if (p.invert) inv++;
      expect(p.hullThickness).toBeGreaterThanOrEqual(2);
      expect(p.hullThickness).toBeLessThanOrEqual(6);
    }
    COMPOSITE_CONFIG.artifactWeights.forEach((w, i) => expect(Math.abs(counts[i] / M - w)).toBeLessThan(4 * Math.sqrt((w * (1 - w)) / M)));
    expect(Math.abs(paint / M - 0.5)).toBeLessThan(0.015);
    expect(Math.abs(inv / M - 0.3)).toBeLessThan(0.015);
  });
});
