import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTiff, writeTiff, lzwDecode, packBitsDecode, type TiffData } from '../../src/io/tiff.js';
import { readZip, zipRead } from '../../src/io/zip.js';
import { readNpy } from '../../src/io/npy.js';
import { VesselError } from '../../src/gpu/errors.js';

const cases = readZip(new Uint8Array(readFileSync(join(process.cwd(), 'test/fixtures/tiff/tiff_cases.zip'))), 'tiff_cases.zip');
const member = (name: string) => zipRead(cases, cases.byName.get(name)!);
const files = JSON.parse(new TextDecoder().decode(member('files.json'))) as Record<string, string>;
// the MIT OCTA pair is in the project's fixtures; the GPL VesselExpress pair is read from the shared data
const real = (p: string) =>
  new Uint8Array(readFileSync(p.startsWith('tubenet_octa/') ? join(process.cwd(), 'test/fixtures/data/octa', p.slice('tubenet_octa/'.length)) : join(process.cwd(), '../shared/data/real', p)));

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

/** make_tiff.py's values(dtype) at (z, y, x), wrapped to the dtype like NumPy's astype */
function expectedValues(dtype: string): number[] {
  const out: number[] = [];
  const f32 = new Float32Array(1);
  for (let z = 0; z < 3; z++)
    for (let y = 0; y < 13; y++)
      for (let x = 0; x < 20; x++) {
        const base = (x * 7 + y * 13 + z * 31) % 200;
        switch (dtype) {
          case 'float32':
            f32[0] = (x - 2 * y + 3.5 * z) / 7;
            out.push(f32[0]);
            break;
          case 'float64':
            out.push((x - 2 * y + 3.5 * z) / 7);
            break;
          case 'uint8':
            out.push(base);
            break;
          case 'int8':
            out.push(base - 100);
            break;
          case 'uint16':
            out.push(base * 300);
            break;
          case 'int16':
            out.push(((((base * 300 - 30000) + 32768) % 65536) + 65536) % 65536 - 32768);
            break;
          case 'uint32':
            out.push((base * 20000000) % 2 ** 32);
            break;
          case 'int32':
            out.push(base * 20000000 - 2000000000 - (base * 20000000 - 2000000000 >= 2 ** 31 ? 2 ** 32 : 0));
            break;
        }
      }
  return out;
}

describe('TIFF reader on hand-packed files (every compression, predictor, byte order, strips, tiles, BigTIFF)', () => {
  for (const [name, dtype] of Object.entries(files)) {
    it(name, () => {
      const v = readTiff(member(name), name);
      expect(v.shape).toEqual([3, 13, 20]);
      expect(v.dtype).toBe(dtype);
      expect(v.littleEndian).toBe(!name.includes('_be'));
      expect(v.bigTiff).toBe(name.includes('bigtiff'));
      const want = expectedValues(dtype);
      const got = Array.from(v.data as ArrayLike<number>);
      let bad = 0;
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) bad++;
      expect(bad, `${bad} of ${want.length} values differ`).toBe(0);
      if (name.includes('imagej_spacing')) {
        expect(v.spacing).toEqual([2.5, 0.25, 0.5]);
        expect(v.unit).toBe('µm');
      } else expect(v.spacing).toEqual([1, 1, 1]);
    });
  }
  it('LZW stream that fills and clears the code table', () => {
    const v = readTiff(member('noise_lzw.tif'));
    const want = readNpy(member('noise.npy'));
    expect(v.shape).toEqual(want.shape);
    expect(Buffer.from(v.data as Uint8Array).equals(Buffer.from(want.data as Uint8Array))).toBe(true);
  });
  it('decoders on tiny hand-computed streams', () => {
    // PackBits example from the TIFF 6.0 specification
    const pb = Uint8Array.from([0xfe, 0xaa, 0x02, 0x80, 0x00, 0x2a, 0xfd, 0xaa, 0x03, 0x80, 0x00, 0x2a, 0x22, 0xf7, 0xaa]);
    expect(Array.from(packBitsDecode(pb, 24))).toEqual([0xaa, 0xaa, 0xaa, 0x80, 0x00, 0x2a, 0xaa, 0xaa, 0xaa, 0xaa, 0x80, 0x00, 0x2a, 0x22, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);
    // LZW of [7, 7, 7, 8]: codes Clear(256) 7 258(=7,7) 8 EOI(257), 9 bits each, MSB first
    const codes = [256, 7, 258, 8, 257];
    let bits = '';
    for (const c of codes) bits += c.toString(2).padStart(9, '0');
    bits = bits.padEnd(Math.ceil(bits.length / 8) * 8, '0');
    const lzw = Uint8Array.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
    expect(Array.from(lzwDecode(lzw, 4))).toEqual([7, 7, 7, 8]);
  });
});

describe('TIFF on the real data', () => {
  it('OCTA pair (tUbeNet): 64×128×128 uint8, labels 0/255 with 15.9 % vessel', () => {
    const img = readTiff(real('tubenet_octa/OCTA-Data.tif'), 'OCTA-Data.tif');
    const lab = readTiff(real('tubenet_octa/OCTA-Labels.tif'), 'OCTA-Labels.tif');
    for (const v of [img, lab]) {
      expect(v.shape).toEqual([64, 128, 128]);
      expect(v.dtype).toBe('uint8');
      expect(v.littleEndian).toBe(false);
      expect(v.spacing).toEqual([1, 1, 1]); // ImageJ unit=pixel: not calibrated
    }
    const d = img.data as Uint8Array;
    let mn = 255;
    let mx = 0;
    for (let i = 0; i < d.length; i++) {
      if (d[i] < mn) mn = d[i];
      if (d[i] > mx) mx = d[i];
    }
    expect(mx - mn).toBeGreaterThan(100);
    const l = lab.data as Uint8Array;
    let fg = 0;
    let other = 0;
    for (let i = 0; i < l.length; i++) {
      if (l[i] === 255) fg++;
      else if (l[i] !== 0) other++;
    }
    expect(other).toBe(0);
    expect(fg / l.length).toBeCloseTo(0.159, 3);
  });
  it('VesselExpress pair: 100³ uint16 image and 8-bit label, 6.6 % vessel', () => {
    const img = readTiff(real('vesselexpress/000.tif'), '000.tif');
    const lab = readTiff(real('vesselexpress/Binary_000.tif'), 'Binary_000.tif');
    expect(img.shape).toEqual([100, 100, 100]);
    expect(img.dtype).toBe('uint16');
    expect(lab.shape).toEqual([100, 100, 100]);
    expect(lab.dtype).toBe('uint8');
    const d = img.data as Uint16Array;
    let mn = 65535;
    let mx = 0;
    for (let i = 0; i < d.length; i++) {
      if (d[i] < mn) mn = d[i];
      if (d[i] > mx) mx = d[i];
    }
    expect(mn).toBeGreaterThanOrEqual(50); // the ImageJ description says min=50, max=65535
    expect(mx).toBeLessThanOrEqual(65535);
    expect(mx).toBeGreaterThan(mn);
    const l = lab.data as Uint8Array;
    let fg = 0;
    for (let i = 0; i < l.length; i++) if (l[i] !== 0) fg++;
    expect(fg / l.length).toBeCloseTo(0.066, 3);
  });
});

describe('TIFF writer', () => {
  const shape: [number, number, number] = [4, 7, 9];
  const n = 4 * 7 * 9;
  const arrays: TiffData[] = [
    Uint8Array.from({ length: n }, (_, i) => (i * 37) % 256),
    Int8Array.from({ length: n }, (_, i) => ((i * 37) % 256) - 128),
    Uint16Array.from({ length: n }, (_, i) => (i * 977) % 65536),
    Int16Array.from({ length: n }, (_, i) => ((i * 977) % 65536) - 32768),
    Uint32Array.from({ length: n }, (_, i) => i * 16777259),
    Int32Array.from({ length: n }, (_, i) => i * 16777259 - 2 ** 31),
    Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e3),
    Float64Array.from({ length: n }, (_, i) => Math.cos(i) / 3),
  ];
  for (const data of arrays) {
    for (const comp of ['none', 'deflate'] as const) {
      it(`round-trips ${data.constructor.name} (${comp})`, () => {
        const bytes = writeTiff(data, shape, { compression: comp, spacing: [3, 0.5, 0.25] });
        const v = readTiff(bytes);
        expect(v.shape).toEqual(shape);
        expect(v.data.constructor).toBe(data.constructor);
        expect(Array.from(v.data as ArrayLike<number>)).toEqual(Array.from(data as ArrayLike<number>));
        expect(v.spacing).toEqual([3, 0.5, 0.25]);
        expect(v.compression).toBe(comp === 'deflate' ? 8 : 1);
      });
    }
  }
  it('single page and uncalibrated', () => {
    const v = readTiff(writeTiff(Uint8Array.from([1, 2, 3, 4, 5, 6]), [1, 2, 3]));
    expect(v.shape).toEqual([1, 2, 3]);
    expect(v.spacing).toEqual([1, 1, 1]);
    expect(v.description.startsWith('ImageJ=')).toBe(true);
  });
});

describe('TIFF malformed input', () => {
  const good = member('u2_le_lzw.tif');
  it('gives one clear line each', () => {
    expect(errLine(() => readTiff(new TextEncoder().encode('GIF89a.........'), 'x.gif'))).toBe('x.gif: not a TIFF file (wrong magic bytes)');
    expect(errLine(() => readTiff(good.subarray(0, 4), 'a.tif'))).toBe('a.tif: not a TIFF file (4 bytes)');
    const octa = real('tubenet_octa/OCTA-Data.tif');
    expect(errLine(() => readTiff(octa.subarray(0, 500000), 'cut.tif'))).toMatch(/^cut\.tif: truncated TIFF/);
    // an RGB page: SamplesPerPixel 3
    const rgb = writeTiff(new Uint8Array(6), [1, 2, 3]);
    const dv = new DataView(rgb.buffer);
    const ifd = dv.getUint32(4, true);
    const count = dv.getUint16(ifd, true);
    for (let i = 0; i < count; i++) {
      const e = ifd + 2 + 12 * i;
      if (dv.getUint16(e, true) === 277) dv.setUint16(e + 8, 3, true);
      if (dv.getUint16(e, true) === 262) dv.setUint16(e + 8, 2, true);
    }
    expect(errLine(() => readTiff(rgb, 'rgb.tif'))).toBe('rgb.tif: page 0 has 3 samples per pixel (RGB); only single-channel TIFF volumes are supported');
    const jpeg = writeTiff(new Uint8Array(6), [1, 2, 3]);
    const jv = new DataView(jpeg.buffer);
    for (let i = 0; i < count; i++) {
      const e = ifd + 2 + 12 * i;
      if (jv.getUint16(e, true) === 259) jv.setUint16(e + 8, 7, true);
    }
    expect(errLine(() => readTiff(jpeg, 'j.tif'))).toBe('j.tif: unsupported TIFF compression 7 (JPEG)');
    const hyper = writeTiff(new Uint8Array(12), [2, 2, 3]);
    const at = Buffer.from(hyper).indexOf('images=2');
    hyper.set(new TextEncoder().encode('frames=2'), Buffer.from(hyper).indexOf('slices=2', at)); // a time series, not a z-stack
    expect(errLine(() => readTiff(hyper, 'h.tif'))).toBe('h.tif: ImageJ hyperstack with 1 channel(s) and 2 frame(s): only a single-channel, single-time-point z-stack is a volume');
    const corrupt = good.slice();
    // smash the first strip's LZW codes
    corrupt.fill(0xff, 16, 40);
    expect(errLine(() => readTiff(corrupt, 'c.tif'))).toMatch(/^c\.tif: (corrupt LZW data|truncated TIFF)/);
  });
});
