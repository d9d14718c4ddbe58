import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { readNifti, writeNifti, affineToQform, qformToAffine, type NiftiData } from '../../src/io/nifti.js';
import { VesselError } from '../../src/gpu/errors.js';
import { compression, setCompressionBackend, fflateBackend } from '../../src/io/compress.js';
import '../../src/io/files.js'; // installs the Node zlib backend
const nodeBackend = compression();

const dir = join(process.cwd(), 'test/fixtures/nifti');
const load = (f: string) => new Uint8Array(readFileSync(join(dir, f)));
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<
  string,
  { affine: number[]; dtype: string; shape: number[]; values: number[]; source: string; spacing?: number[] }
>;

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
const close = (a: number[], b: number[], tol: number) => a.every((v, i) => Math.abs(v - b[i]) <= tol);

describe('NIfTI reader on hand-packed files', () => {
  for (const [file, exp] of Object.entries(expected)) {
    it(file, () => {
      const img = readNifti(load(file), file);
      expect(img.shape).toEqual(exp.shape);
      expect(img.dtype).toBe(exp.dtype);
      expect(img.affineSource).toBe(exp.source);
      expect(close(img.affine, exp.affine, 1e-5), `${img.affine} vs ${exp.affine}`).toBe(true);
      if (exp.spacing) expect(close(img.spacing, exp.spacing, 1e-6)).toBe(true);
      const v = Array.from(img.data as ArrayLike<number>);
      expect(close(v, exp.values, 1e-6)).toBe(true);
    });
  }
});

describe('NIfTI writer', () => {
  beforeAll(() => setCompressionBackend(fflateBackend)); // the browser path
  afterAll(() => setCompressionBackend(nodeBackend));
  const shape: [number, number, number] = [3, 4, 5];
  const n = 60;
  const arrays: NiftiData[] = [
    Uint8Array.from({ length: n }, (_, i) => (i * 7) % 256),
    Int8Array.from({ length: n }, (_, i) => (i % 50) - 25),
    Int16Array.from({ length: n }, (_, i) => i * 100 - 3000),
    Uint16Array.from({ length: n }, (_, i) => i * 1000),
    Int32Array.from({ length: n }, (_, i) => i * 100000 - 3),
    Uint32Array.from({ length: n }, (_, i) => i * 70000000),
    Float32Array.from({ length: n }, (_, i) => i / 7 - 2),
    Float64Array.from({ length: n }, (_, i) => Math.PI * i - 1e10),
  ];
  for (const data of arrays) {
    for (const gzip of [false, true]) {
      it(`round-trips ${data.constructor.name}${gzip ? ' gzipped' : ''} with an oblique affine`, () => {
        // rotation by 30° about z, reflection in the third axis (qfac −1), spacing (0.5, 0.8, 2), offset
        const t = Math.PI / 6;
        const A = [0.5 * Math.cos(t), -0.8 * Math.sin(t), 0, 12.5, 0.5 * Math.sin(t), 0.8 * Math.cos(t), 0, -3, 0, 0, -2, 40, 0, 0, 0, 1];
        const bytes = writeNifti(data, shape, { affine: A, gzip });
        expect(bytes[0] === 0x1f).toBe(gzip);
        const img = readNifti(bytes);
        expect(img.shape).toEqual(shape);
        expect(img.data.constructor).toBe(data.constructor);
        expect(Array.from(img.data as ArrayLike<number>)).toEqual(Array.from(data as ArrayLike<number>));
        expect(close(img.affine, A, 1e-5)).toBe(true);
        expect(close(img.spacing, [2, 0.8, 0.5], 1e-6)).toBe(true);
        // the qform alone gives the same geometry
        expect(close(qformToAffine(img.header), A, 1e-5)).toBe(true);
        expect(img.header.qformCode).toBe(1);
        expect(img.header.pixdim[0]).toBe(-1);
      });
    }
  }
  it('writing with `like` keeps every geometry field bit for bit (the real VesSAP label)', () => {
    setCompressionBackend(nodeBackend); // 59 MB: use native zlib
    const src = new Uint8Array(readFileSync(join(process.cwd(), '../shared/data/molds/vessap_label.nii.gz')));
    const img = readNifti(src, 'vessap_label.nii.gz');
    setCompressionBackend(fflateBackend);
    expect(img.shape).toEqual([600, 304, 325]); // NIfTI dims (x, y, z) = (325, 304, 600)
    expect(img.dtype).toBe('uint8');
    let fg = 0;
    let other = 0;
    const d = img.data as Uint8Array;
    for (let i = 0; i < d.length; i++) {
      if (d[i] === 1) fg++;
      else if (d[i] !== 0) other++;
    }
    expect(other).toBe(0);
    expect(fg / img.data.length).toBeCloseTo(0.0199265, 6);
    expect(img.affineSource).toBe('sform');
    expect(img.affine).toEqual([-1, 0, 0, -0, 0, -1, 0, -0, 0, 0, 1, 0, 0, 0, 0, 1]);
    // its qform (code 2) is a 180° rotation about z: the same matrix
    expect(close(qformToAffine(img.header), img.affine, 1e-7)).toBe(true);
    // a small prediction written like the input
    const sub = new Uint8Array(2 * 3 * 4).fill(1);
    const out = readNifti(writeNifti(sub, [2, 3, 4], { like: img.header, gzip: true }));
    const h0 = img.header;
    const h1 = out.header;
    for (const k of ['qformCode', 'sformCode', 'quatern', 'qoffset', 'srow', 'xyztUnits'] as const) expect(h1[k], k).toEqual(h0[k]);
    expect(h1.pixdim.slice(0, 4)).toEqual(h0.pixdim.slice(0, 4));
    expect(out.affine).toEqual(img.affine);
  });
  it('affineToQform inverts qformToAffine for random rotations', () => {
    let seed = 1;
    const r = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    for (let k = 0; k < 200; k++) {
      let b = r(), c = r(), d = r();
      const s = Math.hypot(b, c, d) * (1 + Math.abs(r()));
      b /= s; c /= s; d /= s; // |(b,c,d)| < 1 so a > 0
      const pixdim = [k % 2 ? -1 : 1, 0.3 + Math.abs(r()), 0.3 + Math.abs(r()), 0.3 + Math.abs(r())];
      const A = qformToAffine({ quatern: [b, c, d], qoffset: [r(), r(), r()], pixdim });
      const q = affineToQform(A);
      expect(q.qfac).toBe(pixdim[0]);
      expect(close(q.quatern, [b, c, d], 1e-9)).toBe(true);
      expect(close(q.spacing, pixdim.slice(1), 1e-9)).toBe(true);
    }
  });
});

describe('gzip with several members (bgzip, concatenated files)', () => {
  it('reads the whole volume with both compression backends', () => {
    const raw = load('qform_be_i16.nii');
    const cut = 200;
    const two = new Uint8Array([...gzipSync(raw.subarray(0, cut)), ...gzipSync(raw.subarray(cut))]);
    for (const b of [fflateBackend, nodeBackend]) {
      setCompressionBackend(b);
      const img = readNifti(two, 'two.nii.gz');
      expect(Array.from(img.data as Int16Array)).toEqual(expected['qform_be_i16.nii'].values);
    }
    setCompressionBackend(nodeBackend);
  });
});

describe('NIfTI malformed input', () => {
  const good = load('qform_be_i16.nii');
  it('gives one clear line each', () => {
    expect(errLine(() => readNifti(new Uint8Array(400), 'z.nii'))).toMatch(/^z\.nii: not a NIfTI file \(sizeof_hdr is 0/);
    expect(errLine(() => readNifti(good.subarray(0, 100), 'h.nii'))).toMatch(/truncated NIfTI header/);
    expect(errLine(() => readNifti(good.subarray(0, good.length - 2), 't.nii'))).toMatch(/^t\.nii: truncated NIfTI data/);
    const gz = gzipSync(good);
    expect(errLine(() => readNifti(gz.subarray(0, gz.length - 9), 'g.nii.gz'))).toMatch(/^g\.nii\.gz: corrupt or truncated gzip data|truncated NIfTI/);
    const rgb = good.slice();
    new DataView(rgb.buffer).setInt16(70, 128, false);
    expect(errLine(() => readNifti(rgb, 'rgb.nii'))).toBe('rgb.nii: unsupported NIfTI datatype 128 (rgb24)');
    const d4 = good.slice();
    new DataView(d4.buffer).setInt16(40, 4, false);
    new DataView(d4.buffer).setInt16(48, 2, false);
    expect(errLine(() => readNifti(d4, '4d.nii'))).toMatch(/4-D NIfTI image \[5, 4, 3, 2\] is not a 3-D volume/);
    // a 4-D header with one time point is a volume
    new DataView(d4.buffer).setInt16(48, 1, false);
    expect(readNifti(d4, 't1.nii').shape).toEqual([3, 4, 5]);
  });
});
