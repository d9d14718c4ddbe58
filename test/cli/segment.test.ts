// `vesselfm segment` end to end: spawns the real command on the project's OCTA fixture with the small PyTorch DynUNet
// (dynunet_small.pt: filters 4-8-8-16-16-16, divisor 32) and checks the files it writes against the library call.
// Window counts are kept small (overlap 0) because the CI machine runs WebGPU on a CPU driver.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWeights } from '../../src/io/checkpoint.js';
import { writeBytesAtomic } from '../../src/io/files.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { affineFrom, makeVolume, readVolume, writeVolume, type Volume } from '../../src/io/volume.js';
import { segment } from '../../src/segment-node.js';
import { getEngine } from '../helpers.js';

const root = process.cwd();
const octa = resolve(root, 'test/fixtures/data/octa/OCTA-Data.tif');
const pt = resolve(root, '../shared/fixtures/torch/dynunet_small.pt');
let dir = '';
let st = '';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** stderr without Dawn's device-creation warnings (they come from the native library, not from vesselfm) */
  errors: string[];
}

function run(...args: string[]): Promise<Run> {
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, ['bin/vesselfm.mjs', ...args], { cwd: root, env: { ...process.env, VESSELFM_NO_PROGRESS: '1' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', fail);
    p.on('close', (code) => {
      const errors = stderr.split('\n').filter((l) => l.trim() !== '' && !/^Warning: .*artificially reduced/.test(l));
      done({ code: code ?? -1, stdout, stderr, errors });
    });
  });
}

async function json(...args: string[]): Promise<Record<string, any>[]> {
  const r = await run('segment', '--json', ...args);
  expect(r.errors, r.stderr).toEqual([]);
  expect(r.code).toBe(0);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

function expectBinary(v: Volume): void {
  expect(v.dtype).toBe('uint8');
  for (let i = 0; i < v.data.length; i++) if (v.data[i] !== 0 && v.data[i] !== 1) throw new Error(`voxel ${i} is ${v.data[i]}`);
}

function expectSameGeometry(a: Volume, b: Volume): void {
  expect(a.shape).toEqual(b.shape);
  for (const k of ['spacing', 'origin', 'direction', 'affine'] as const) {
    const x = a[k];
    const y = b[k];
    expect(x.length, k).toBe(y.length);
    for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - y[i]), `${k}[${i}]`).toBeLessThan(1e-5);
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vfm-segment-'));
  st = join(dir, 'small.safetensors');
  const r = await run('convert', pt, st);
  expect(r.code, r.stderr).toBe(0);
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('vesselfm segment', () => {
  it('OCTA with --patch 64: a 0/1 mask with the input geometry, a probability map whose > threshold is the mask, and the library call (from the converted safetensors) gives the same mask', async () => {
    const out = join(dir, 'octa_mask.tif');
    const prob = join(dir, 'octa_prob.nii.gz');
    const [j] = await json(octa, '--weights', pt, '-o', out, '--prob', prob, '--patch', '64', '--overlap', '0', '--batch', '2');
    expect(j).toMatchObject({ input: octa, output: out, probabilities: prob, shape: [64, 128, 128], voxels: 64 * 128 * 128, windows: 4, patch: [64, 64, 64] });
    expect(j.filters).toEqual([4, 8, 8, 16, 16, 16]);
    expect(['gpu', 'stream']).toContain(j.mode);
    expect(j.precision).toBe('f32');
    const img = readVolume(octa);
    const mask = readVolume(out);
    expectSameGeometry(mask, img);
    expectBinary(mask);
    let fg = 0;
    for (let i = 0; i < mask.data.length; i++) fg += mask.data[i];
    expect(j.vesselVoxels).toBe(fg);
    expect(fg).toBeGreaterThan(0);
    expect(fg).toBeLessThan(mask.data.length);
    const p = readVolume(prob);
    expect(p.dtype).toBe('float32');
    expectSameGeometry(p, img);
    for (let i = 0; i < p.data.length; i++) {
      const v = p.data[i];
      if (!(v >= 0 && v <= 1) || (v > 0.5 ? 1 : 0) !== mask.data[i]) throw new Error(`voxel ${i}: probability ${v}, mask ${mask.data[i]}`);
    }
    // The library call, in this process, from the safetensors the convert command wrote.
    const e = await getEngine();
    const lib = await segment(e, octa, { weights: st, patch: 64, overlap: 0, batch: 1 });
    expect(lib.stats.windows).toBe(4);
    let diff = 0;
    for (let i = 0; i < mask.data.length; i++) diff += lib.mask.data[i] !== mask.data[i] ? 1 : 0;
    expect(diff).toBe(0);
    expectSameGeometry(lib.mask, img);
  }, 300_000);

  it('.pt and its safetensors conversion hold the same tensors', () => {
    const a = loadWeights(pt);
    const b = loadWeights(st);
    expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
    for (const [k, t] of a.tensors) expect(Array.from(b.tensors.get(k)!.data as Float32Array), k).toEqual(Array.from(t.data as Float32Array));
  });

  it('several inputs (NIfTI with an oblique affine, MetaImage) with --patch 32 into a folder: <stem>_pred keeps format and geometry; the safetensors and the .pt agree', async () => {
    const img = readVolume(octa);
    // A 32×64×64 crop, stored as float32 NIfTI with rotation, anisotropic spacing and an origin.
    const [Z, Y, X] = [32, 64, 64];
    const crop = new Float32Array(Z * Y * X);
    for (let z = 0; z < Z; z++) for (let y = 0; y < Y; y++) for (let x = 0; x < X; x++) crop[(z * Y + y) * X + x] = img.data[((z + 16) * 128 + y + 32) * 128 + x + 32];
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    const direction = [c, -s, 0, s, c, 0, 0, 0, 1];
    const spacing: [number, number, number] = [2.5, 0.8, 0.7];
    const origin: [number, number, number] = [-12.5, 30.25, 7];
    const vol: Volume = { ...makeVolume(crop, [Z, Y, X], spacing), direction, origin, affine: affineFrom(direction, spacing, origin) };
    const nii = join(dir, 'crop.nii.gz');
    const mha = join(dir, 'crop2.mha');
    writeVolume(nii, vol);
    writeVolume(mha, vol);
    const outDir = join(dir, 'out');
    const rows = await json(nii, mha, '--weights', st, '-o', outDir, '--patch', '32', '--overlap', '0', '--batch', '4', '--mode', 'stream');
    expect(rows.map((r) => r.mode)).toEqual(['stream', 'stream']);
    expect(rows.map((r) => r.output)).toEqual([join(outDir, 'crop_pred.nii.gz'), join(outDir, 'crop2_pred.mha')]);
    expect(rows.map((r) => r.windows)).toEqual([4, 4]);
    const niiIn = readVolume(nii);
    const a = readVolume(join(outDir, 'crop_pred.nii.gz'));
    const b = readVolume(join(outDir, 'crop2_pred.mha'));
    expectSameGeometry(a, niiIn);
    expectSameGeometry(b, readVolume(mha));
    for (let i = 0; i < 16; i++) expect(Math.abs(a.affine[i] - vol.affine[i])).toBeLessThan(1e-5);
    expectBinary(a);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    // The same NIfTI from the .pt on the GPU path, written beside the input by default, with the summary line.
    const k = await run('segment', nii, '--weights', pt, '--patch', '32', '--overlap', '0', '--mode', 'gpu');
    expect(k.errors, k.stderr).toEqual([]);
    const beside = join(dir, 'crop_pred.nii.gz');
    expect(k.stdout).toMatch(/^.*crop_pred\.nii\.gz: \[32, 64, 64\] 131,072 voxels, vessel [\d.]+ % \([\d,]+\); 4 windows of 32×32×32 in [\d.]+ s \([\d.]+ windows\/s, gpu\)\n$/);
    expect(Array.from(readVolume(beside).data)).toEqual(Array.from(a.data));
    expect(readdirSync(outDir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  }, 300_000);

  it('the library call takes a state dict, caps the batch to what one storage binding holds, and keeps float64 input geometry', async () => {
    const e = await getEngine();
    const data = Float64Array.from({ length: 32 * 32 * 40 }, (_, i) => Math.cos(i * 0.37) + (i % 11) / 11);
    const vol: Volume = { ...makeVolume(data, [32, 32, 40], [0.5, 0.6, 0.7]), origin: [1, 2, 3] };
    vol.affine = affineFrom(vol.direction, vol.spacing, vol.origin);
    const w = loadWeights(st);
    // Canonical keys only (no skip_layers aliases): buildSegmenter fills the aliases in from the module tree.
    const a = await segment(e, vol, { weights: w.tensors, patch: 32, batch: 100_000, probabilities: true });
    const perWindow = 2 * 4 * 32 ** 3 * 4; // the [upsampled, skip] concatenation at full resolution, f32
    expect(a.stats.batch).toBe(Math.min(100_000, Math.floor(e.rt.maxBinding / perWindow)));
    expect(a.stats.windows).toBe(2);
    const calls: [number, number][] = [];
    const b = await segment(e, vol, { weights: w.tensors, patch: 32, batch: 1, onProgress: (d, t) => calls.push([d, t]) });
    expect(calls).toEqual([
      [0, 2],
      [1, 2],
      [2, 2],
    ]);
    expect(Array.from(b.mask.data)).toEqual(Array.from(a.mask.data));
    expectSameGeometry(a.mask, vol);
    expectSameGeometry(a.probabilities!, vol);
    expect(a.probabilities!.dtype).toBe('float32');
    expect(a.stats.vesselVoxels).toBe(Array.from(a.mask.data).reduce((s, v) => s + v, 0));
  }, 120_000);

  it('--precision mixed segments with f16 activations: the mask agrees with f32 away from the threshold', async () => {
    const e = await getEngine();
    if (!e.gpu.hasF16) return;
    const cube = join(dir, 'mixed_cube.npy');
    writeVolume(cube, makeVolume(Float32Array.from({ length: 32 * 32 * 40 }, (_, i) => Math.sin(i * 0.37) + Math.cos(i * 0.011)), [32, 32, 40]));
    const outs = ['f32', 'mixed'].map((p) => [p, join(dir, `mixed_${p}.npy`), join(dir, `mixed_${p}_prob.npy`)]);
    const runs = [];
    for (const [p, out, prob] of outs) runs.push((await json(cube, '--weights', pt, '--patch', '32', '--precision', p, '-o', out, '--prob', prob))[0]);
    expect(runs.map((j) => j.precision)).toEqual(['f32', 'mixed']);
    const [p32, p16] = outs.map(([, , prob]) => readVolume(prob).data);
    const [m32, m16] = outs.map(([, out]) => readVolume(out).data);
    let maxErr = 0;
    for (let i = 0; i < p32.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(p32[i] - p16[i]));
      if (Math.abs(p32[i] - 0.5) > 0.01 && m32[i] !== m16[i]) throw new Error(`voxel ${i}: f32 ${p32[i]}, mixed ${p16[i]}`);
    }
    expect(maxErr).toBeLessThan(0.01);
  }, 300_000);

  it('bad input fails with one clear line and writes nothing', async () => {
    const cube = join(dir, 'cube.npy');
    writeVolume(cube, makeVolume(Float32Array.from({ length: 32 ** 3 }, (_, i) => Math.sin(i)), [32, 32, 32]));
    const nan = join(dir, 'nan.npy');
    const nanData = new Float32Array(32 ** 3).fill(0.5);
    nanData[3 * 32 * 32 + 2 * 32 + 1] = NaN;
    writeVolume(nan, makeVolume(nanData, [32, 32, 32]));
    const txt = join(dir, 'x.txt');
    writeFileSync(txt, 'not an image');
    const junk = join(dir, 'junk.nii');
    writeFileSync(junk, new Uint8Array(100).fill(7));
    const notNet = join(dir, 'not_a_net.safetensors');
    writeBytesAtomic(notNet, writeSafetensors([['encoder.weight', { dtype: 'float32', shape: [2, 2], data: new Float32Array(4) }]]));
    const w = loadWeights(pt);
    const bad = new Map(w.tensors);
    const k = 'downsamples.0.conv2.conv.weight';
    const t = bad.get(k)!;
    bad.set(k, { dtype: 'float32', shape: [t.shape[0], t.shape[1], 1, 3, 9], data: t.data });
    const badShape = join(dir, 'bad_shape.safetensors');
    writeBytesAtomic(badShape, writeSafetensors(bad));
    const missingOut = join(dir, 'never.npy');
    const cases: [string[], RegExp][] = [
      [[join(dir, 'missing.nii.gz'), '--weights', pt], /missing\.nii\.gz: no such file/],
      [[txt, '--weights', pt], /x\.txt: unknown image file extension/],
      [[cube, '--weights', join(dir, 'none.pt')], /none\.pt: no such file/],
      [[cube, '--weights', pt, '--patch', '48', '-o', missingOut], /--patch 48: every window edge must be a multiple of 32/],
      [[cube, '--weights', pt, '--overlap', '1'], /--overlap must be a number in \[0, 1\)/],
      [[cube, '--weights', pt, '--mode', 'fast'], /--mode must be auto, gpu or stream/],
      [[cube, '--weights', pt, '--precision', 'bf16'], /--precision must be f32 or mixed, got "bf16"/],
      [[nan, '--weights', pt, '--patch', '32', '-o', missingOut], /non-finite value.*z=3, y=2, x=1/],
      [[junk, '--weights', pt, '--patch', '32', '-o', missingOut], /junk\.nii/],
      [[cube, '--weights', notNet, '--patch', '32', '-o', missingOut], /Not a DynUNet checkpoint: key input_block\.conv1\.conv\.weight is missing/],
      [[cube, '--weights', badShape, '--patch', '32', '-o', missingOut], /downsamples\.0\.conv2\.conv\.weight has shape \[8, 8, 1, 3, 9\] in the state dict but \[8, 8, 3, 3, 3\] in the model/],
      [[cube, nan, '--weights', pt, '-o', junk], /junk\.nii: with several inputs this must be a folder/],
      [[cube, nan, '--weights', pt, '--prob', join(dir, 'p.nii.gz')], /--prob .*p\.nii\.gz: with several inputs this must be a folder, not an image file name/],
    ];
    // One at a time: bin/vesselfm.mjs rebuilds the bundle when a source is newer, and parallel rebuilds race.
    const results: Run[] = [];
    for (const [args] of cases) results.push(await run('segment', ...args));
    results.forEach((r, i) => {
      const [args, want] = cases[i];
      expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(1);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.errors.length, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.errors[0]).toMatch(/^vesselfm: /);
      expect(r.errors[0], args.join(' ')).toMatch(want);
    });
    expect(existsSync(missingOut)).toBe(false);
  }, 300_000);
});
