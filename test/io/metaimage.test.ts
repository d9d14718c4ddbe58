import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readMetaImage, writeMetaImage, orientationCode, type MetaData } from '../../src/io/metaimage.js';
import { VesselError } from '../../src/gpu/errors.js';

const dir = join(process.cwd(), 'test/fixtures/metaimage');
const load = (f: string) => new Uint8Array(readFileSync(join(dir, f)));
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<
  string,
  { dtype: string; values: number[]; spacing?: number[]; origin?: number[]; direction?: number[] }
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

describe('MetaImage reader on hand-written files', () => {
  for (const [file, exp] of Object.entries(expected)) {
    it(file, () => {
      const dataFile = file === 'u16.mhd' ? load('u16.raw') : file === 'u8.mhd' ? load('u8.zraw') : undefined;
      const m = readMetaImage(load(file), file, dataFile);
      expect(m.shape).toEqual([3, 4, 5]);
      expect(m.dtype).toBe(exp.dtype);
      expect(Array.from(m.data as ArrayLike<number>)).toEqual(exp.values);
      if (exp.spacing) expect(m.spacing).toEqual(exp.spacing);
      if (exp.origin) expect(m.origin).toEqual(exp.origin);
      if (exp.direction) expect(m.direction).toEqual(exp.direction);
    });
  }
});

describe('MetaImage writer', () => {
  const shape: [number, number, number] = [2, 3, 4];
  const arrays: MetaData[] = [
    Uint8Array.from({ length: 24 }, (_, i) => i * 10),
    Int8Array.from({ length: 24 }, (_, i) => i * 5 - 60),
    Int16Array.from({ length: 24 }, (_, i) => i * 1000 - 12000),
    Uint16Array.from({ length: 24 }, (_, i) => i * 2500),
    Int32Array.from({ length: 24 }, (_, i) => i * 1e8 - 1.2e9),
    Uint32Array.from({ length: 24 }, (_, i) => i * 1.5e8),
    Float32Array.from({ length: 24 }, (_, i) => i / 3 - 4),
    Float64Array.from({ length: 24 }, (_, i) => Math.sqrt(i) * 1e-3),
  ];
  for (const data of arrays) {
    for (const compress of [false, true]) {
      for (const separate of [false, true]) {
        it(`round-trips ${data.constructor.name}${compress ? ' zlib' : ''}${separate ? ' (.mhd + data file)' : ' (.mha)'}`, () => {
          const direction = [0, 0, 1, 1, 0, 0, 0, 1, 0];
          const r = writeMetaImage(data, shape, { spacing: [3, 2, 0.5], origin: [1, -2, 3.25], direction, compress, dataFile: separate ? 'x.raw' : undefined });
          const m = readMetaImage(r.header, 'x', r.data);
          expect(m.shape).toEqual(shape);
          expect(m.data.constructor).toBe(data.constructor);
          expect(Array.from(m.data as ArrayLike<number>)).toEqual(Array.from(data as ArrayLike<number>));
          expect(m.spacing).toEqual([3, 2, 0.5]);
          expect(m.origin).toEqual([1, -2, 3.25]);
          expect(m.direction).toEqual(direction);
        });
      }
    }
  }
  it('copies geometry lines verbatim from a `like` header', () => {
    const src = readMetaImage(load('oblique_f32.mha'));
    const r = writeMetaImage(new Uint8Array(60), [3, 4, 5], { like: src.header });
    const text = new TextDecoder().decode(r.header.subarray(0, 400));
    expect(text).toContain('TransformMatrix = 0 1 0 -1 0 0 0 0 1\n');
    expect(text).toContain('Offset = 10 -20 30.5\n');
    expect(text).toContain('ElementSpacing = 0.5 0.75 2\n');
    expect(text).toContain('ElementType = MET_UCHAR\n');
  });
  it('orientation codes follow ITK (identity is RAI)', () => {
    expect(orientationCode([1, 0, 0, 0, 1, 0, 0, 0, 1])).toBe('RAI');
    expect(orientationCode([-1, 0, 0, 0, -1, 0, 0, 0, 1])).toBe('LPI');
  });
});

describe('MetaImage malformed input', () => {
  it('gives one clear line each', () => {
    expect(errLine(() => readMetaImage(new TextEncoder().encode('\x89PNG garbage'), 'p.mha'))).toMatch(/^p\.mha: not a MetaImage file/);
    const good = load('oblique_f32.mha');
    expect(errLine(() => readMetaImage(good.subarray(0, 100), 'h.mha'))).toMatch(/no ElementDataFile line/);
    expect(errLine(() => readMetaImage(good.subarray(0, good.length - 4), 't.mha'))).toMatch(/^t\.mha: truncated MetaImage data/);
    const z = load('msb_zlib_i16.mha');
    expect(errLine(() => readMetaImage(z.subarray(0, z.length - 10), 'z.mha'))).toMatch(/^z\.mha: truncated MetaImage data \(CompressedDataSize/);
    const text = (s: string) => new TextEncoder().encode(s);
    expect(errLine(() => readMetaImage(text('ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_LONG_LONG\nElementDataFile = LOCAL\n'), 'l.mha'))).toBe(
      "l.mha: unsupported MetaImage ElementType 'MET_LONG_LONG'",
    );
    expect(errLine(() => readMetaImage(text('ObjectType = Image\nNDims = 4\nDimSize = 2 2 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n'), '4.mha'))).toBe(
      '4.mha: 4-D MetaImage is not a 3-D volume',
    );
    expect(errLine(() => readMetaImage(load('u16.mhd'), 'u16.mhd'))).toBe("u16.mhd: MetaImage data file 'u16.raw' was not given");
  });
});
