// Training data sources: folder layouts and pairing, one-line errors, the three-source mix (spec §1.7) and
// random patches.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { excludeClasses, FLOW_HELD_OUT_CLASSES, pairFiles, PairSource, type VolumePair } from '../../src/data/datasets.js';
import { listVolumeFiles, loadPair, sampleFolders } from '../../src/train/data-files.js';
import { CounterRng, MixSampler, parseMixSpec, PatchSampler } from '../../src/data/mix.js';
import { writeNpy } from '../../src/io/npy.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfm-data-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function npy(path: string, data: Float32Array | Uint8Array, shape: number[]): void {
  writeFileSync(path, writeNpy({ data, shape, dtype: data instanceof Uint8Array ? 'bool' : undefined }));
}

/** `count` sample folders with images whose first voxel is the sample index (so draws can be identified). */
function makeFolders(root: string, count: number, names: [string, string] = ['img.npy', 'mask.npy'], shape = [3, 4, 5]): void {
  const n = shape[0] * shape[1] * shape[2];
  for (let i = 0; i < count; i++) {
    const d = join(root, String(i));
    mkdirSync(d, { recursive: true });
    const img = new Float32Array(n).fill(0.25);
    img[0] = i;
    const m = new Uint8Array(n);
    m[1] = 1;
    npy(join(d, names[0]), img, shape);
    npy(join(d, names[1]), m, shape);
  }
}

function memSource(name: string, count: number): PairSource {
  const pairs: VolumePair[] = [];
  for (let i = 0; i < count; i++) pairs.push({ name: String(i), shape: [2, 2, 2], image: new Float32Array(8).fill(i), label: new Uint8Array(8) });
  return PairSource.fromArrays(name, pairs);
}

describe('data sources', () => {
  it('reads D_drand folders (img.npy + mask.npy) and upstream names (img_<c>.npy + mask_<c>.npy), in natural order', () => {
    const a = join(dir, 'drand');
    makeFolders(a, 11);
    const refs = sampleFolders(a);
    expect(refs.map((r) => r.name)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    expect(refs[3].label.endsWith(join('3', 'mask.npy'))).toBe(true);
    const p = loadPair(refs[10]);
    expect(p.shape).toEqual([3, 4, 5]);
    expect(p.image[0]).toBe(10);
    expect(p.label[1]).toBe(1);
    expect(p.label[0]).toBe(0);

    const b = join(dir, 'upstream');
    makeFolders(b, 2, ['img_7.npy', 'mask_7.npy']);
    expect(sampleFolders(b).map((r) => [r.image.endsWith('img_7.npy'), r.label.endsWith('mask_7.npy')])).toEqual([
      [true, true],
      [true, true],
    ]);
    // a folder that is itself one sample
    expect(sampleFolders(join(b, '1'))).toHaveLength(1);
  });

  it('skips D_flow samples of the held-out classes (img_<c>.npy with c in 2, 10, 12, 13)', () => {
    const refs = [1, 2, 3, 10, 12, 13, 21].map((c) => ({ name: String(c), image: `/f/${c}/img_${c}.npy`, label: `/f/${c}/mask_${c}.npy` }));
    expect(excludeClasses(refs, FLOW_HELD_OUT_CLASSES).map((r) => r.name)).toEqual(['1', '3', '21']);
    expect(excludeClasses([{ name: 'a', image: '/d/0/img.npy', label: '/d/0/mask.npy' }], FLOW_HELD_OUT_CLASSES)).toHaveLength(1);
  });

  it('pairs --images with --labels by name, else by sorted order', () => {
    expect(pairFiles(['x/case2_img.nii.gz', 'x/case1_img.nii.gz'], ['y/case1_label.nii.gz', 'y/case2_label.nii.gz']).map((r) => [r.image, r.label])).toEqual([
      ['x/case2_img.nii.gz', 'y/case2_label.nii.gz'],
      ['x/case1_img.nii.gz', 'y/case1_label.nii.gz'],
    ]);
    expect(pairFiles(['i/b.tif', 'i/a.tif'], ['l/2.tif', 'l/1.tif']).map((r) => [r.image, r.label])).toEqual([
      ['i/a.tif', 'l/1.tif'],
      ['i/b.tif', 'l/2.tif'],
    ]);
    expect(() => pairFiles(['a.npy', 'b.npy'], ['a.npy'])).toThrow(/2 image file\(s\) but 1 label file\(s\)/);
  });

  it('bad layouts are one clear line each', () => {
    const one = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        const m = (e as Error).message;
        expect(m.split('\n')).toHaveLength(1);
        return m;
      }
      throw new Error('no error');
    };
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expect(one(() => sampleFolders(empty))).toMatch(/--data: .*empty is empty \(expected <i>\/img\.npy \+ <i>\/mask\.npy\)/);
    const noMask = join(dir, 'nomask');
    makeFolders(noMask, 3);
    rmSync(join(noMask, '1', 'mask.npy'));
    expect(one(() => sampleFolders(noMask))).toMatch(/nomask\/1: no mask file \(expected mask\.npy\)/);
    expect(one(() => sampleFolders(join(dir, 'missing')))).toMatch(/no such folder/);
    const mis = join(dir, 'mismatch');
    mkdirSync(mis);
    npy(join(mis, 'img.npy'), new Float32Array(24), [2, 3, 4]);
    npy(join(mis, 'mask.npy'), new Uint8Array(24), [2, 4, 3]);
    expect(one(() => loadPair(sampleFolders(mis)[0]))).toMatch(/image .*img\.npy is \[2, 3, 4\] but label .*mask\.npy is \[2, 4, 3\]/);
    const nan = join(dir, 'nan');
    mkdirSync(nan);
    const bad = new Float32Array(24);
    bad[7] = Number.NaN;
    npy(join(nan, 'img.npy'), bad, [2, 3, 4]);
    npy(join(nan, 'mask.npy'), new Uint8Array(24), [2, 3, 4]);
    expect(one(() => loadPair(sampleFolders(nan)[0]))).toMatch(/img\.npy: the image contains NaN/);
    const files = join(dir, 'nofiles');
    mkdirSync(files);
    writeFileSync(join(files, 'readme.txt'), 'x');
    expect(one(() => listVolumeFiles([files]))).toMatch(/holds no volume files/);
    expect(one(() => parseMixSpec(['drand=/d:0']))).toMatch(/weight "0" must be a positive number/);
    expect(one(() => parseMixSpec(['a=/x:1', 'a=/y:1']))).toMatch(/"a" is given twice/);
  });

  it('parses the three-source mix and normalises its weights', () => {
    const m = parseMixSpec(['drand=/data/d:0.7', 'flow=/data/f:0.1', 'real=/data/r:0.2']);
    expect(m).toEqual([
      { name: 'drand', dir: '/data/d', weight: 0.7 },
      { name: 'flow', dir: '/data/f', weight: 0.1 },
      { name: 'real', dir: '/data/r', weight: 0.2 },
    ]);
    expect(parseMixSpec(['/plain/dir'])).toEqual([{ name: 'source0', dir: '/plain/dir', weight: 1 }]);
    const s = new MixSampler([memSource('a', 1), memSource('b', 1)], [3, 1], new CounterRng(1));
    expect(s.probs).toEqual([0.75, 0.25]);
  });

  it('draws sources in proportion to their weights and samples uniformly inside each (chi-squared), reproducibly for a seed', () => {
    const sources = [memSource('drand', 50), memSource('flow', 7), memSource('real', 19)];
    const weights = [0.7, 0.1, 0.2];
    const N = 20000;
    const draw = (seed: number) => {
      const s = new MixSampler(sources, weights, new CounterRng(seed));
      return Array.from({ length: N }, () => s.pick());
    };
    const picks = draw(404);
    const bySource = [0, 0, 0];
    const inDrand = new Array(50).fill(0);
    for (const p of picks) {
      bySource[p.source]++;
      if (p.source === 0) inDrand[p.index]++;
    }
    // Source counts: chi-squared with 2 degrees of freedom; 13.8 is the 0.1 % critical value.
    const chi = bySource.reduce((a, c, i) => a + (c - N * weights[i]) ** 2 / (N * weights[i]), 0);
    expect(chi).toBeLessThan(13.8);
    for (let i = 0; i < 3; i++) expect(Math.abs(bySource[i] / N - weights[i])).toBeLessThan(0.015);
    // Uniform inside a source: 49 degrees of freedom, 0.1 % critical value 85.4.
    const e = bySource[0] / 50;
    expect(inDrand.reduce((a, c) => a + (c - e) ** 2 / e, 0)).toBeLessThan(85.4);
    // Same seed, same sequence; another seed, another.
    expect(draw(404)).toEqual(picks);
    expect(draw(405)).not.toEqual(picks);
    // A sampler restarted from a saved counter continues the sequence.
    const s = new MixSampler(sources, weights, new CounterRng(404));
    for (let i = 0; i < 100; i++) s.pick();
    const resumed = new MixSampler(sources, weights, new CounterRng(404, s.rng.counter));
    expect(Array.from({ length: 50 }, () => resumed.pick())).toEqual(picks.slice(100, 150));
  });

  it('cuts random patches inside a volume, zero-pads (centred) where it is smaller, and takes whole volumes in order when they are patch-sized', () => {
    // A 6×7×9 volume whose voxel value is its flat index + 1.
    const shape: [number, number, number] = [6, 7, 9];
    const n = 6 * 7 * 9;
    const image = Float32Array.from({ length: n }, (_, i) => i + 1);
    const label = Uint8Array.from({ length: n }, (_, i) => i % 2);
    const src = PairSource.fromArrays('v', [{ name: 'v', shape, image, label }]);
    const ps = new PatchSampler(new MixSampler([src], [1], new CounterRng(3)), [4, 8, 5]);
    for (let k = 0; k < 20; k++) {
      const b = ps.next(1);
      // y is padded (7 < 8): one zero row before the volume's rows (floor(1/2) = 0 before, 1 after).
      const at = (z: number, y: number, x: number) => b.image[(z * 8 + y) * 5 + x];
      expect(at(0, 7, 0)).toBe(0);
      const v0 = at(0, 0, 0) - 1;
      const z0 = Math.floor(v0 / 63);
      const x0 = v0 % 9;
      expect(Math.floor((v0 % 63) / 9)).toBe(0);
      expect(z0).toBeGreaterThanOrEqual(0);
      expect(z0).toBeLessThanOrEqual(2);
      expect(x0).toBeLessThanOrEqual(4);
      for (let z = 0; z < 4; z++)
        for (let y = 0; y < 7; y++)
          for (let x = 0; x < 5; x++) {
            const i = ((z0 + z) * 7 + y) * 9 + x0 + x;
            expect(at(z, y, x)).toBe(i + 1);
            expect(b.label[(z * 8 + y) * 5 + x]).toBe(i % 2);
          }
    }
    // Patch-sized volumes, batch = all of them: each batch is every volume in order.
    const vols: VolumePair[] = [0, 1, 2].map((k) => ({ name: `s${k}`, shape: [2, 2, 2], image: new Float32Array(8).fill(k + 1), label: new Uint8Array(8) }));
    const whole = new PatchSampler(new MixSampler([PairSource.fromArrays('w', vols)], [1], new CounterRng(9)), [2, 2, 2]);
    for (let k = 0; k < 3; k++) {
      const b = whole.next(3);
      expect(b.names).toEqual(['w/s0', 'w/s1', 'w/s2']);
      expect([b.image[0], b.image[8], b.image[16]]).toEqual([1, 2, 3]);
    }
  });
});
