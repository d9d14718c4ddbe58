// Vessel moulds: the procedural tree generator (Murray's law at every bifurcation, the GPU render against the
// analytic capsules, connectivity, determinism, tile lists) and real mould files (formats and bad files).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderCapsules, tileLists, type CapsuleSegment } from '../../kernels/drand/tree.js';
import { listMouldFiles, loadMouldFile, mouldFiles } from '../../src/data/drand/moulds-node.js';
import { checkMould, MouldBank } from '../../src/data/drand/moulds.js';
import { ParamRng, type Vec3 } from '../../src/data/drand/params.js';
import { capsuleDistance, murrayAngle, renderVesselTree, sampleVesselTree } from '../../src/data/drand/tree.js';
import { countComponents } from '../../src/eval/components.js';
import { writeNpy } from '../../src/io/npy.js';
import { writeNifti } from '../../src/io/nifti.js';
import { writeTiff } from '../../src/io/tiff.js';
import { gzipSync } from 'node:zlib';
import { VesselError } from '../../src/gpu/errors.js';
import { getEngine } from '../helpers.js';

const SHAPE: Vec3 = [37, 41, 35];

function analyticMask(shape: Vec3, segs: CapsuleSegment[]): Float64Array {
  const d = new Float64Array(shape[0] * shape[1] * shape[2]).fill(Infinity);
  for (let z = 0; z < shape[0]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[2]; x++) {
        let m = Infinity;
        for (const s of segs) m = Math.min(m, capsuleDistance([z, y, x], s));
        d[(z * shape[1] + y) * shape[2] + x] = m;
      }
  return d;
}

describe('procedural vessel trees', () => {
  it("Murray's law r0³ = r1³ + r2³ holds at every bifurcation; radii taper from root to leaves", () => {
    let bifs = 0;
    for (let s = 0; s < 6; s++) {
      const t = sampleVesselTree(new ParamRng(s), [64, 64, 64]);
      expect(t.segments.length).toBeGreaterThan(10);
      expect(t.segments.length).toBeLessThanOrEqual(800);
      for (const b of t.bifurcations) {
        const r0 = t.segments[b.parent].rb;
        const [r1, r2] = b.children.map((c) => t.segments[c].ra);
        expect(Math.abs(r0 ** 3 - (r1 ** 3 + r2 ** 3)) / r0 ** 3).toBeLessThan(1e-9);
        expect(Math.max(r1, r2)).toBeLessThan(r0);
        // children start where the parent ends
        for (const c of b.children) for (let a = 0; a < 3; a++) expect(t.segments[c].a[a]).toBeCloseTo(t.segments[b.parent].b[a], 9);
        bifs++;
      }
      for (const seg of t.segments) expect(seg.rb).toBeLessThanOrEqual(seg.ra + 1e-12);
    }
    expect(bifs).toBeGreaterThan(20);
    // Murray's optimal angles: a symmetric split gives ≈ 37.5°, the smaller child of an asymmetric one branches wider.
    const r = Math.cbrt(0.5);
    expect((murrayAngle(1, r, r) * 180) / Math.PI).toBeCloseTo(37.47, 1);
    expect(murrayAngle(1, Math.cbrt(0.2), Math.cbrt(0.8))).toBeGreaterThan(murrayAngle(1, Math.cbrt(0.8), Math.cbrt(0.2)));
  });

  it('the GPU render agrees with the analytic capsules (inside ⇐ d < −1e-3, outside ⇐ d > 1e-3) and the tile lists lose nothing', async () => {
    const e = await getEngine();
    const tree = sampleVesselTree(new ParamRng(3), SHAPE, { trees: [2, 3], maxSegments: 120 });
    const got = await renderVesselTree(e, tree, 8).read();
    const d = analyticMask(SHAPE, tree.segments);
    let inside = 0;
    for (let i = 0; i < d.length; i++) {
      if (d[i] < -1e-3) {
        expect(got[i]).toBe(1);
        inside++;
      } else if (d[i] > 1e-3) expect(got[i]).toBe(0);
    }
    expect(inside).toBeGreaterThan(200);
    // A different tile size (and one tile = brute force) gives the same mask.
    const brute = await renderCapsules(e, SHAPE, tree.segments, 64).read();
    const t5 = await renderCapsules(e, SHAPE, tree.segments, 5).read();
    expect(Array.from(t5)).toEqual(Array.from(got));
    expect(Array.from(brute)).toEqual(Array.from(got));
    const lists = tileLists(SHAPE, tree.segments, 8);
    expect(lists.starts.at(-1)!).toBeLessThan(tree.segments.length * lists.tiles.reduce((a, b) => a * b, 1));
  });

  it('each tree, rendered with radii ≥ √3/2, is one 26-connected component', async () => {
    const e = await getEngine();
    for (const seed of [1, 2]) {
      const tree = sampleVesselTree(new ParamRng(seed), SHAPE, { maxSegments: 200 });
      const bounds = [...tree.roots, tree.segments.length];
      for (let k = 0; k < tree.roots.length; k++) {
        const segs = tree.segments.slice(bounds[k], bounds[k + 1]).map((s) => ({ ...s, ra: Math.max(s.ra, 0.87), rb: Math.max(s.rb, 0.87) }));
        const m = await renderCapsules(e, SHAPE, segs).read();
        if (m.some((v) => v)) expect(countComponents(m, SHAPE, 26)).toBe(1);
      }
    }
  });

  it('is deterministic: the same seed gives the same skeleton and bytes, another seed another', async () => {
    const e = await getEngine();
    const a = sampleVesselTree(new ParamRng(42), [24, 24, 24]);
    const b = sampleVesselTree(new ParamRng(42), [24, 24, 24]);
    const c = sampleVesselTree(new ParamRng(43), [24, 24, 24]);
    expect(b).toEqual(a);
    expect(c.segments).not.toEqual(a.segments);
    const ra = await renderVesselTree(e, a).read();
    const rb = await renderVesselTree(e, b).read();
    expect(Array.from(rb)).toEqual(Array.from(ra));
  });
});

describe('mould files', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'moulds-'));
  const n = 16;
  const vol = new Uint8Array(n * n * 18);
  for (let i = 0; i < vol.length; i += 7) vol[i] = 1;

  it('reads .npy (bool and uint8 0/255), NIfTI (.nii.gz) and TIFF masks; prefers files named *mask*', () => {
    const dir = join(tmp, 'ok');
    const sub = join(dir, 'case1');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'vessel_mask.npy'), writeNpy({ data: vol, shape: [18, n, n], dtype: 'bool' }));
    writeFileSync(join(sub, 'vessel_rad.npy'), writeNpy({ data: new Float32Array(vol.length), shape: [18, n, n] }));
    writeFileSync(join(dir, 'b_mask.nii.gz'), gzipSync(writeNifti(vol.map((v) => v * 255), [18, n, n])));
    writeFileSync(join(dir, 'c_mask.tif'), writeTiff(vol, [18, n, n]));
    const files = listMouldFiles(dir);
    expect(files.length).toBe(3);
    expect(files.some((f) => f.includes('rad'))).toBe(false);
    for (const f of files) {
      const m = loadMouldFile(f, n);
      expect(m.shape).toEqual([18, n, n]);
      expect(Array.from(m.data)).toEqual(Array.from(vol));
    }
    expect(mouldFiles(dir, n, true).kind).toBe('arrays');
  });

  it('the real VesSAP mould (600×304×325) loads as a binary mask', () => {
    const m = loadMouldFile(join(process.cwd(), '..', 'shared', 'data', 'molds', 'vessap_label.nii.gz'), 128);
    expect(m.shape).toEqual([600, 304, 325]);
    expect(m.data.some((v) => v === 1)).toBe(true);
  });

  it('bad moulds fail with one clear line naming the file', () => {
    const bad = (name: string, bytes: Uint8Array, size: number, pattern: RegExp) => {
      const p = join(tmp, name);
      writeFileSync(p, bytes);
      let err: unknown;
      try {
        loadMouldFile(p, size);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(VesselError);
      const msg = (err as Error).message;
      expect(msg).toContain(p);
      expect(msg).toMatch(pattern);
      expect(msg.includes('\n')).toBe(false);
    };
    const nb = Float32Array.from(vol, (v, i) => (v ? (i % 2 ? 1 : 0.5) : 0));
    bad('grey.npy', writeNpy({ data: nb, shape: [18, n, n] }), n, /not binary/);
    bad('small.npy', writeNpy({ data: vol, shape: [18, n, n], dtype: 'bool' }), 17, /smaller than the 17³ crop/);
    bad('junk.npy', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), n, /unreadable/);
    bad('empty.npy', writeNpy({ data: new Uint8Array(vol.length), shape: [18, n, n], dtype: 'bool' }), n, /empty/);
    expect(() => checkMould('x', [0, 1], [1, 1, 2], 1)).not.toThrow();
    expect(() => listMouldFiles(join(tmp, 'nope'))).toThrow(/no such file/);
  });

  it('a bank uploads a real mould once and crops different windows from it', async () => {
    const e = await getEngine();
    const data = checkMould('m', vol, [18, n, n], n);
    const bank = new MouldBank(e, { kind: 'arrays', count: 1, names: ['m'], load: () => data }, n);
    const c = bank.choose(new ParamRng(1));
    expect(c.kind).toBe('file');
    const a = bank.tensor(c);
    const b = bank.tensor(c);
    expect(a.mould).toBe(b.mould);
    expect(a.owned).toBe(false);
    expect(Array.from(await a.mould.read())).toEqual(Array.from(vol));
    bank.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });
});
