import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, readdirSync, writeFileSync, readFileSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readVolume, writeVolume, makeVolume, checkFinite, castVolume, affineFrom, axisCodes, type Volume, type VolumeData } from '../../src/io/volume.js';
import { writeNpy } from '../../src/io/npy.js';
import { writeNpz } from '../../src/io/npz.js';
import { VesselError } from '../../src/gpu/errors.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfm-vol-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function errLine(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VesselError);
    expect((e as Error).message.includes('\n')).toBe(false);
    return (e as Error).message;
  }
  throw new Error('expected an error');
}
const close = (a: number[], b: number[], tol = 1e-5) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= tol);

/** An oblique geometry: 30° about z, spacing (z, y, x) = (2, 0.8, 0.5), origin (12.5, -3, 40). */
function oblique(v: Volume): Volume {
  const t = Math.PI / 6;
  const direction = [Math.cos(t), -Math.sin(t), 0, Math.sin(t), Math.cos(t), 0, 0, 0, 1];
  const spacing: [number, number, number] = [2, 0.8, 0.5];
  const origin: [number, number, number] = [12.5, -3, 40];
  return { ...v, direction, spacing, origin, affine: affineFrom(direction, spacing, origin) };
}

const shape: [number, number, number] = [3, 5, 7];
const n = 105;
const arrays: VolumeData[] = [
  Uint8Array.from({ length: n }, (_, i) => (i * 7) % 256),
  Int8Array.from({ length: n }, (_, i) => (i % 100) - 50),
  Int16Array.from({ length: n }, (_, i) => i * 300 - 15000),
  Uint16Array.from({ length: n }, (_, i) => i * 600),
  Int32Array.from({ length: n }, (_, i) => i * 1e7 - 5e8),
  Uint32Array.from({ length: n }, (_, i) => i * 3e7),
  Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 100),
  Float64Array.from({ length: n }, (_, i) => Math.cos(i) / 7),
];

describe('readVolume / writeVolume: every format and dtype', () => {
  const exts = ['nii', 'nii.gz', 'tif', 'mha', 'mhd', 'npy', 'npz'];
  for (const ext of exts) {
    it(`.${ext}`, () => {
      for (const data of arrays) {
        const v = oblique(makeVolume(data, shape));
        const p = join(dir, `v_${data.constructor.name}.${ext}`);
        writeVolume(p, v);
        const r = readVolume(p);
        expect(r.shape).toEqual(shape);
        expect(r.dtype, ext).toBe(v.dtype);
        expect(Array.from(r.data as ArrayLike<number>)).toEqual(Array.from(data as ArrayLike<number>));
        if (ext.startsWith('nii') || ext === 'mha' || ext === 'mhd') {
          expect(close(r.affine, v.affine), `${ext} affine ${r.affine}`).toBe(true);
          expect(close(r.spacing, v.spacing)).toBe(true);
          expect(close(r.origin, v.origin)).toBe(true);
        } else if (ext === 'tif') {
          expect(close(r.spacing, v.spacing)).toBe(true); // TIFF keeps spacing only
        }
      }
      // no temporary files left behind
      expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    });
  }
  it('.mha and .mhd with zlib, .npz with named arrays', () => {
    const v = oblique(makeVolume(arrays[6], shape));
    for (const ext of ['mha', 'mhd']) {
      const p = join(dir, `z.${ext}`);
      writeVolume(p, v, undefined, { compression: 'deflate' });
      expect(Array.from(readVolume(p).data as Float32Array)).toEqual(Array.from(arrays[6] as Float32Array));
    }
    expect(existsSync(join(dir, 'z.zraw'))).toBe(true);
    writeVolume(join(dir, 'named.npz:image'), v);
    expect(readVolume(join(dir, 'named.npz:image')).shape).toEqual(shape);
    expect(readVolume(join(dir, 'named.npz'), { array: 'image' }).shape).toEqual(shape);
    const multi = join(dir, 'multi.npz');
    writeFileSync(multi, writeNpz({ img: { data: arrays[0], shape: [...shape] }, mask: { data: new Uint8Array(n), shape: [...shape], dtype: 'bool' } }));
    expect(readVolume(multi + ':mask').dtype).toBe('uint8');
    expect(errLine(() => readVolume(multi))).toMatch(/holds 2 arrays \(img, mask\); name one as .*multi\.npz:<array>/);
  });
});

describe('geometry survives conversion between formats', () => {
  it('.nii.gz → .mha → .mhd → .nii.gz keeps the affine; output written `like` the input keeps header fields', () => {
    const src = oblique(makeVolume(arrays[6], shape));
    writeVolume(join(dir, 'g0.nii.gz'), src);
    const a = readVolume(join(dir, 'g0.nii.gz'));
    writeVolume(join(dir, 'g1.mha'), a);
    const b = readVolume(join(dir, 'g1.mha'));
    expect(close(b.affine, a.affine)).toBe(true);
    writeVolume(join(dir, 'g2.mhd'), b);
    const c = readVolume(join(dir, 'g2.mhd'));
    writeVolume(join(dir, 'g3.nii.gz'), c);
    const d = readVolume(join(dir, 'g3.nii.gz'));
    expect(close(d.affine, src.affine)).toBe(true);
    // a uint8 prediction written like the input: same NIfTI geometry fields, bit for bit
    const pred = makeVolume(Uint8Array.from(a.data as Float32Array, (x) => (x > 0 ? 1 : 0)), shape);
    writeVolume(join(dir, 'pred.nii.gz'), pred, a);
    const p = readVolume(join(dir, 'pred.nii.gz'));
    expect(p.dtype).toBe('uint8');
    expect(p.affine).toEqual(a.affine);
    for (const k of ['srow', 'quatern', 'qoffset', 'qformCode', 'sformCode'] as const) expect(p.source!.nifti![k]).toEqual(a.source!.nifti![k]);
    // the same prediction as MetaImage, like a MetaImage input
    writeVolume(join(dir, 'pred.mha'), pred, b);
    expect(close(readVolume(join(dir, 'pred.mha')).affine, b.affine)).toBe(true);
    // from NIfTI to TIFF: spacing survives
    writeVolume(join(dir, 'pred.tif'), pred, a);
    const t = readVolume(join(dir, 'pred.tif'));
    expect(close(t.spacing, a.spacing)).toBe(true);
    expect(t.source!.unit).toBe('mm'); // NIfTI xyzt_units: millimetres
    // and a calibrated TIFF (µm) written as NIfTI says micrometres
    writeVolume(join(dir, 'um.tif'), makeVolume(new Uint8Array(8), [2, 2, 2], [2, 0.5, 0.5]));
    const um = readVolume(join(dir, 'um.tif'));
    expect(um.source!.unit).toBe('µm');
    writeVolume(join(dir, 'um.nii'), um);
    expect(readVolume(join(dir, 'um.nii')).source!.nifti!.xyztUnits & 7).toBe(3);
  });
  it('reads the real VesSAP label and a TIFF pair with their stated geometry', () => {
    const lab = readVolume(join(process.cwd(), '../shared/data/molds/vessap_label.nii.gz'));
    expect(lab.shape).toEqual([600, 304, 325]);
    expect(lab.direction).toEqual([-1, 0, 0, 0, -1, 0, 0, 0, 1]);
    expect(axisCodes(lab.direction)).toBe('LPS');
    expect(axisCodes([0, 0, -1, 1, 0, 0, 0, 1, 0])).toBe('ASL'); // x→A, y→S, z→L
    const octa = readVolume(join(process.cwd(), 'test/fixtures/data/octa/OCTA-Labels.tif'));
    expect(octa.shape).toEqual([64, 128, 128]);
    expect(octa.spacing).toEqual([1, 1, 1]);
  });
});

describe('volume errors: one clear line', () => {
  it('unknown extension, missing file, wrong magic, truncated, non-3-D, unsupported dtype, NaN, shape mismatch', () => {
    expect(errLine(() => readVolume(join(dir, 'x.png')))).toMatch(/x\.png: unknown image file extension \(supported: \.nii, \.nii\.gz/);
    expect(errLine(() => readVolume(join(dir, 'missing.nii.gz')))).toMatch(/missing\.nii\.gz: no such file/);
    const fake = join(dir, 'fake.nii');
    copyFileSync(join(process.cwd(), 'test/fixtures/data/octa/OCTA-Labels.tif'), fake);
    expect(errLine(() => readVolume(fake))).toMatch(/fake\.nii: not a NIfTI file/);
    const tif = join(dir, 'cut.tif');
    writeFileSync(tif, readFileSync(join(process.cwd(), 'test/fixtures/data/octa/OCTA-Labels.tif')).subarray(0, 300000));
    expect(errLine(() => readVolume(tif))).toMatch(/cut\.tif: truncated TIFF/);
    const flat = join(dir, 'flat.npy');
    writeFileSync(flat, writeNpy({ data: new Float32Array(12), shape: [3, 4] }));
    expect(errLine(() => readVolume(flat))).toMatch(/flat\.npy: expected a 3-D array \(z, y, x\), got shape \[3, 4\]/);
    const batched = join(dir, 'batched.npy');
    writeFileSync(batched, writeNpy({ data: new Float32Array(24), shape: [1, 1, 2, 3, 4] }));
    expect(readVolume(batched).shape).toEqual([2, 3, 4]); // batch and channel axes of size 1 are dropped
    const str = join(dir, 'str.npy');
    writeFileSync(str, writeNpy({ data: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], shape: [2, 2, 2] }));
    expect(errLine(() => readVolume(str))).toMatch(/str\.npy: unsupported dtype unicode for an image/);
    const nan = makeVolume(Float32Array.from({ length: 24 }, (_, i) => (i === 17 || i === 20 ? NaN : i)), [2, 3, 4]);
    expect(errLine(() => checkFinite(nan, 'scan.nii.gz'))).toBe('scan.nii.gz: image contains 2 non-finite value(s) (NaN or Inf), first at voxel (z=1, y=1, x=1)');
    checkFinite(makeVolume(new Float32Array(8), [2, 2, 2]));
    const like = makeVolume(new Uint8Array(8), [2, 2, 2]);
    const out = join(dir, 'mismatch.nii.gz');
    expect(errLine(() => writeVolume(out, makeVolume(new Uint8Array(27), [3, 3, 3]), like))).toMatch(/output shape \[3, 3, 3\] differs from the reference image's \[2, 2, 2\]/);
    expect(existsSync(out)).toBe(false);
    expect(errLine(() => writeVolume(join(dir, 'nodir', 'a.nii'), like))).toMatch(/folder .* does not exist/);
  });
  it('castVolume rounds and clamps', () => {
    const v = castVolume(makeVolume(Float32Array.from([-3.6, 0.4, 0.5, 254.6, 300, NaN, 1.5, 2.5]), [2, 2, 2]), 'uint8');
    expect(Array.from(v.data as Uint8Array)).toEqual([0, 0, 1, 255, 255, 0, 2, 3]);
  });
});
