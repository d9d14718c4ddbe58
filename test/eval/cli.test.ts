// `vesselfm eval` end to end: spawns the real command on files written through src/io.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeVolume, readVolume, writeVolume, type Volume } from '../../src/io/volume.js';
import { evaluateSegmentation } from '../../src/eval/metrics.js';

const root = process.cwd();
const octaLabel = resolve(root, '../shared/data/real/tubenet_octa/OCTA-Labels.tif');
let dir = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfm-eval-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/vesselfm.mjs', 'eval', ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function json(...args: string[]): Record<string, any> {
  const r = run('--json', ...args);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines.length).toBe(1);
  return JSON.parse(lines[0]);
}

/** 6-neighbour erosion (out-of-volume counts as background). */
function erode(v: Volume): Volume {
  const [Z, Y, X] = v.shape;
  const d = v.data;
  const out = new Uint8Array(d.length);
  const at = (z: number, y: number, x: number) => z >= 0 && y >= 0 && x >= 0 && z < Z && y < Y && x < X && d[(z * Y + y) * X + x] !== 0;
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0; x < X; x++)
        out[(z * Y + y) * X + x] =
          at(z, y, x) && at(z - 1, y, x) && at(z + 1, y, x) && at(z, y - 1, x) && at(z, y + 1, x) && at(z, y, x - 1) && at(z, y, x + 1) ? 1 : 0;
  return { ...v, data: out, dtype: 'uint8' };
}

describe('vesselfm eval', () => {
  it('the OCTA label against itself: Dice 1, clDice 1, Betti errors 0 (text and JSON)', () => {
    const r = run(octaLabel, octaLabel);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Dice +1\.0000$/m);
    expect(r.stdout).toMatch(/^clDice +1\.0000/m);
    expect(r.stdout).toMatch(/^Betti-0 error +0 /m);
    expect(r.stdout).toMatch(/^Betti-1 error +0 /m);
    expect(r.stdout).toMatch(/^precision +1\.0000$/m);
    expect(r.stdout).toMatch(/^recall +1\.0000$/m);
    const j = json(octaLabel, octaLabel);
    expect(j).toMatchObject({ dice: 1, clDice: 1, betti0Error: 0, betti1Error: 0, precision: 1, recall: 1, shape: [64, 128, 128] });
    expect(j.labelBetti).toEqual({ b0: 20, b1: 203, b2: 39, euler: -144 }); // scikit-image's values (fixtures)
  });

  it('an eroded copy (NIfTI) and a shifted copy (NumPy) score below 1, as the library computes', () => {
    const label = readVolume(octaLabel);
    const eroded = erode(label);
    const ePath = join(dir, 'eroded.nii.gz');
    writeVolume(ePath, eroded, label);
    const [Z, Y, X] = label.shape;
    const shifted = new Uint8Array(label.data.length);
    for (let r = 0; r < Z * Y; r++) for (let x = 1; x < X; x++) shifted[r * X + x] = label.data[r * X + x - 1];
    const sPath = join(dir, 'shifted.npy');
    writeVolume(sPath, makeVolume(shifted, label.shape));
    for (const [path, pred] of [
      [ePath, eroded.data],
      [sPath, shifted],
    ] as const) {
      const j = json(path, octaLabel);
      // Erosion keeps every predicted voxel inside the label.
      if (path === ePath) expect(j.precision).toBe(1);
      expect(j.dice).toBeLessThan(1);
      expect(j.clDice).toBeLessThan(1);
      expect(j.dice).toBeGreaterThan(0.1);
      const ref = evaluateSegmentation(pred, label.data, label.shape);
      for (const k of ['dice', 'clDice', 'betti0Error', 'betti1Error', 'precision', 'recall'] as const) expect(j[k], k).toBe(ref[k]);
    }
  });

  it('binarises a float probability map at ≥ 0.5 by default, or at --threshold', () => {
    const shape: [number, number, number] = [5, 6, 7];
    const n = 5 * 6 * 7;
    const prob = new Float32Array(n);
    const lab = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      prob[i] = (i % 10) / 10; // 0, 0.1, …, 0.9
      lab[i] = i % 10 >= 5 ? 3 : 0; // any non-zero label value is vessel
    }
    const pPath = join(dir, 'prob.npy');
    const lPath = join(dir, 'lab.tif');
    writeVolume(pPath, makeVolume(prob, shape));
    writeVolume(lPath, makeVolume(lab, shape));
    const d = json(pPath, lPath);
    expect(d.threshold).toBe(0.5);
    expect(d.dice).toBe(1);
    const t = json('--threshold', '0.65', pPath, lPath); // 0.7, 0.8, 0.9 of the labelled 0.5 … 0.9
    expect(t.threshold).toBe(0.65);
    expect(t.precision).toBe(1);
    expect(t.recall).toBeCloseTo(3 / 5, 12);
    expect(t.dice).toBeCloseTo((2 * 3) / (3 + 5), 12);
  });

  it('two empty masks agree perfectly', () => {
    const zPath = join(dir, 'zeros.mha');
    writeVolume(zPath, makeVolume(new Uint8Array(4 * 4 * 4), [4, 4, 4]));
    expect(json(zPath, zPath)).toMatchObject({ dice: 1, clDice: 1, betti0Error: 0, betti1Error: 0, precision: 1, recall: 1 });
  });

  it('mismatched shapes, bad thresholds and missing files fail with one line', () => {
    const aPath = join(dir, 'a.npy');
    writeVolume(aPath, makeVolume(new Uint8Array(2 * 3 * 4), [2, 3, 4]));
    const r = run(aPath, octaLabel);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n').length).toBe(1);
    expect(r.stderr).toContain('shape mismatch');
    expect(r.stderr).toContain('[2, 3, 4]');
    expect(r.stderr).toContain('[64, 128, 128]');
    const b = run('--threshold', 'abc', aPath, aPath);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/--threshold must be a number/);
    const c = run(join(dir, 'missing.nii'), aPath);
    expect(c.code).toBe(1);
    expect(c.stderr.trim().split('\n').length).toBe(1);
    expect(c.stderr).toContain('missing.nii');
  });
});
