import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy, writeNpy, halfToFloat, floatToHalf, npyScalar, type NpyArray, type NpyDtype } from '../../src/io/npy.js';
import { readNpz, writeNpz, readNpzArray, listNpz } from '../../src/io/npz.js';
import { readZip, writeZip } from '../../src/io/zip.js';
import * as zipCrc from '../../src/io/zip.js';
import { VesselError } from '../../src/gpu/errors.js';

const dir = join(process.cwd(), 'test/fixtures/npy');
const shared = join(process.cwd(), '../shared/fixtures/torch');
const load = (name: string) => new Uint8Array(readFileSync(join(dir, name)));

// The formulas of make_npy.py
const idx = Array.from({ length: 24 }, (_, i) => i);
const ints = idx.map((i) => ((i * 7 + 3) % 23) - 11);
const uints = idx.map((i) => (i * 7 + 3) % 23);
const floats = idx.map((i) => (i - 5.5) / 4);

function errLine(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VesselError);
    const msg = (e as Error).message;
    expect(msg.includes('\n')).toBe(false);
    return msg;
  }
  throw new Error('expected an error');
}

describe('npy reader against NumPy-written files', () => {
  const cases: [string, NpyDtype, number[]][] = [
    ['i1', 'int8', ints],
    ['i2', 'int16', ints],
    ['i4', 'int32', ints],
    ['i8', 'int64', ints],
    ['u1', 'uint8', uints],
    ['u2', 'uint16', uints],
    ['u4', 'uint32', uints],
    ['u8', 'uint64', uints],
    ['f2', 'float16', floats],
    ['f4', 'float32', floats],
    ['f8', 'float64', floats],
  ];
  for (const [code, dtype, want] of cases) {
    for (const bo of ['le', 'be']) {
      it(`${code} ${bo}`, () => {
        const a = readNpy(load(`${code}_${bo}.npy`));
        expect(a.dtype).toBe(dtype);
        expect(a.shape).toEqual([2, 3, 4]);
        expect(a.fortranOrder).toBe(false);
        expect(Array.from(a.data as ArrayLike<number>)).toEqual(want);
        if (dtype === 'float16') expect(a.raw!.length).toBe(24);
        if (dtype === 'int64' || dtype === 'uint64') expect(Array.from(a.big!, Number)).toEqual(want);
      });
    }
  }
  it('bool', () => {
    const a = readNpy(load('b1.npy'));
    expect(a.dtype).toBe('bool');
    expect(Array.from(a.data as Uint8Array)).toEqual(ints.map((v) => (v > 0 ? 1 : 0)));
  });
  it('Fortran order is converted to C order', () => {
    const a = readNpy(load('f4_fortran.npy'));
    expect(a.fortranOrder).toBe(true);
    expect(a.shape).toEqual([2, 3, 4]);
    expect(Array.from(a.data as Float32Array)).toEqual(floats);
    const b = readNpy(load('i2_fortran_be.npy'));
    expect(b.fortranOrder).toBe(true);
    expect(Array.from(b.data as Int16Array)).toEqual(ints);
    const s = readNpy(load('U_fortran.npy'));
    expect(s.data).toEqual(['ab', 'cde', 'f', '', 'ghij', 'k']);
  });
  it('unicode and bytes strings', () => {
    const want = ['conv3d_k3s1p1', 'linear', 'µ-βeta', 'x'];
    for (const f of ['U.npy', 'U_be.npy']) {
      const a = readNpy(load(f));
      expect(a.dtype).toBe('unicode');
      expect(a.itemsize).toBe(13);
      expect(a.data).toEqual(want);
    }
    const s = readNpy(load('S.npy'));
    expect(s.dtype).toBe('bytes');
    expect(s.data).toEqual(['abc', 'de']);
  });
  it('scalars, empty arrays, header versions 2.0 and 3.0', () => {
    const k = readNpy(load('scalar_i8.npy'));
    expect(k.shape).toEqual([]);
    expect(npyScalar(k)).toBe(2);
    expect(npyScalar(readNpy(load('scalar_f8.npy')))).toBe(0.5);
    const e = readNpy(load('empty_f4.npy'));
    expect(e.shape).toEqual([0, 3]);
    expect(e.data.length).toBe(0);
    for (const f of ['v2.npy', 'v3.npy']) expect(Array.from(readNpy(load(f)).data as Float32Array)).toEqual(floats);
  });
});

describe('npy writer', () => {
  const shapes = [[2, 3, 4], [5], [], [3, 1, 2, 2]];
  const dtypes: NpyDtype[] = ['bool', 'uint8', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float16', 'float32', 'float64'];
  for (const dtype of dtypes) {
    it(`round-trips ${dtype} in C and Fortran order`, () => {
      for (const shape of shapes) {
        const n = shape.reduce((a, b) => a * b, 1);
        const vals = Array.from({ length: n }, (_, i) => {
          if (dtype === 'bool') return i % 3 === 0 ? 1 : 0;
          if (dtype.startsWith('float')) return (i * 37 % 11) / 8 - 0.625;
          if (dtype.startsWith('u')) return (i * 37) % 200;
          return ((i * 37) % 200) - 100;
        });
        for (const fortranOrder of [false, true]) {
          const bytes = writeNpy({ data: Float64Array.from(vals), shape, dtype, fortranOrder });
                    const a = readNpy(bytes);
          expect(a.dtype).toBe(dtype);
          expect(a.shape).toEqual(shape);
          expect(a.fortranOrder).toBe(fortranOrder && shape.length > 1);
          expect(Array.from(a.data as ArrayLike<number>)).toEqual(vals);
        }
      }
    });
  }
  it('writes the same bytes NumPy writes (header and data)', () => {
    for (const f of ['f4_le.npy', 'i2_le.npy', 'u1_le.npy', 'f8_le.npy', 'U.npy', 'f4_fortran.npy']) {
      const orig = load(f);
      const a = readNpy(orig);
      const again = writeNpy(a);
      expect(Buffer.from(again).equals(Buffer.from(orig))).toBe(true);
    }
  });
  it('keeps exact int64 values beyond 2^53 and float16 raw bits (NaN payloads too)', () => {
    const big = BigInt64Array.from([2n ** 62n + 1n, -(2n ** 60n) - 3n]);
    const a = readNpy(writeNpy({ data: big, shape: [2] }));
    expect(a.dtype).toBe('int64');
    expect(a.big![0]).toBe(2n ** 62n + 1n);
    expect(a.big![1]).toBe(-(2n ** 60n) - 3n);
    const raw = Uint16Array.from([0x7e01, 0x3c00, 0x0001, 0xfbff]);
    const h = readNpy(writeNpy({ data: new Float32Array(4), raw, shape: [4], dtype: 'float16' }));
    expect(Array.from(h.raw!)).toEqual(Array.from(raw));
    expect(h.data[1]).toBe(1);
    expect(h.data[2]).toBe(2 ** -24);
    expect(h.data[3]).toBe(-65504);
  });
  it('float16 encode rounds to nearest even and handles subnormals, overflow and NaN', () => {
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(65520)).toBe(0x7c00); // rounds up to infinity
    expect(floatToHalf(2 ** -24)).toBe(1);
    expect(floatToHalf(2 ** -25)).toBe(0); // tie → even (0)
    expect(floatToHalf(3 * 2 ** -25)).toBe(2); // tie → even (2)
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(Number.isNaN(halfToFloat(floatToHalf(NaN)))).toBe(true);
    expect(floatToHalf(-0)).toBe(0x8000);
    // every finite half value survives decode → encode
    const bad: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) continue;
      if (floatToHalf(halfToFloat(h)) !== h) bad.push(h);
    }
    expect(bad).toEqual([]);
  });
  it('round-trips unicode strings', () => {
    const s = ['', 'ä', '𝔘nicode', 'plain'];
    const a = readNpy(writeNpy({ data: s, shape: [2, 2] }));
    expect(a.data).toEqual(s);
    expect(a.itemsize).toBe(7);
  });
});

describe('npz', () => {
  it('reads stored (np.savez) and deflated (np.savez_compressed) archives', () => {
    const s = readNpz(load('stored.npz'));
    expect([...s.keys()]).toEqual(['x', 'names', 'k']);
    expect(Array.from(s.get('x')!.data as Float32Array)).toEqual(floats);
    expect(s.get('names')!.data).toEqual(['a', 'bb']);
    expect(npyScalar(s.get('k')!)).toBe(3);
    const d = readNpz(load('deflated.npz'));
    expect([...d.keys()]).toEqual(['case.x', 'case.idx', 'manifest']);
    expect(Array.from(d.get('case.idx')!.data as Int32Array)).toEqual(ints);
    expect(readNpzArray(load('deflated.npz'), 'manifest').data).toEqual(['case']);
    expect(listNpz(load('deflated.npz'))).toEqual(['case.x', 'case.idx', 'manifest']);
  });
  it('round-trips through writeNpz, stored and compressed', () => {
    const arrays = new Map<string, NpyArray>([
      ['a', { dtype: 'float32', shape: [3], data: Float32Array.from([1, 2, 3]), fortranOrder: false }],
      ['b.c', { dtype: 'unicode', shape: [2], data: ['x', 'yz'], fortranOrder: false }],
      ['m', { dtype: 'bool', shape: [2, 2], data: Uint8Array.from([1, 0, 0, 1]), fortranOrder: false }],
    ]);
    for (const compress of [false, true]) {
      const back = readNpz(writeNpz(arrays, { compress }));
      expect([...back.keys()]).toEqual(['a', 'b.c', 'm']);
      expect(Array.from(back.get('a')!.data as Float32Array)).toEqual([1, 2, 3]);
      expect(back.get('b.c')!.data).toEqual(['x', 'yz']);
      expect(back.get('m')!.dtype).toBe('bool');
    }
  });
  it('reads the shared PyTorch fixture ops.npz', () => {
    const ops = readNpz(new Uint8Array(readFileSync(join(shared, 'ops.npz'))));
    const manifest = ops.get('manifest')!;
    expect(manifest.dtype).toBe('unicode');
    expect(manifest.data).toContain('conv3d_k3s1p1');
    const x = ops.get('conv3d_k3s1p1.x')!;
    expect(x.shape).toEqual([2, 3, 9, 10, 11]);
    expect(x.dtype).toBe('float64'); // the fixtures were made in float64
    expect(x.data).toBeInstanceOf(Float64Array);
    expect(npyScalar(ops.get('conv3d_k3s1p1.stride')!)).toBe(1);
    for (const [name, a] of ops) {
      if (a.dtype === 'unicode') continue;
      expect((a.data as Float64Array).every((v) => Number.isFinite(v)), name).toBe(true);
    }
  });
});

describe('npy/npz malformed input: one clear line each', () => {
  const good = load('f4_le.npy');
  it('wrong magic', () => expect(errLine(() => readNpy(new Uint8Array(200)))).toMatch(/not a \.npy file/));
  it('truncated header', () => expect(errLine(() => readNpy(good.subarray(0, 40)))).toMatch(/truncated \.npy header/));
  it('truncated data', () => expect(errLine(() => readNpy(good.subarray(0, good.length - 1), 'f.npy'))).toMatch(/^f\.npy: truncated \.npy data/));
  it('unsupported dtype', () => {
    const bad = writeNpy({ data: Float32Array.from([1]), shape: [1] });
    const patched = bad.slice();
    const at = Buffer.from(patched).indexOf("'<f4'");
    patched.set(Buffer.from("'<c8'"), at);
    expect(errLine(() => readNpy(patched))).toMatch(/unsupported dtype '<c8'/);
  });
  it('unsupported version', () => {
    const v = good.slice();
    v[6] = 9;
    expect(errLine(() => readNpy(v))).toMatch(/version 9/);
  });
  it('not a zip / truncated zip / corrupt member / missing array', () => {
    expect(errLine(() => readNpz(good))).toMatch(/not a zip archive/);
    const z = load('deflated.npz');
    expect(errLine(() => readNpz(z.subarray(0, z.length - 30)))).toMatch(/truncated zip archive/);
    const c = z.slice();
    const e = readZip(c).entries[0];
    c[e.dataOffset + 5] ^= 0xff;
    expect(errLine(() => readNpz(c, 'c.npz'))).toMatch(/^c\.npz: (corrupt deflate data|CRC mismatch|.*decompressed)/);
    expect(errLine(() => readNpzArray(z, 'nope', 'z.npz'))).toMatch(/no array named 'nope'/);
  });
  it('zip writer aligns stored members', () => {
    const z = writeZip([
      { name: 'a', data: Uint8Array.from([1, 2, 3]) },
      { name: 'dir/bb', data: new Uint8Array(100).fill(7), align: 64 },
    ]);
    const r = readZip(z);
    expect(r.entries[1].dataOffset % 64).toBe(0);
  });
});

describe('CRC-32', () => {
  it('the JavaScript and native implementations agree with the standard check value', async () => {
    const { crc32Js, crc32 } = await import('../../src/io/zip.js');
    await import('../../src/io/files.js');
    const check = new TextEncoder().encode('123456789');
    expect(crc32Js(check)).toBe(0xcbf43926);
    expect(crc32(check)).toBe(0xcbf43926);
    const big = Uint8Array.from({ length: 100003 }, (_, i) => (i * 2654435761) >>> 24);
    expect(crc32Js(big)).toBe(crc32(big));
    expect(crc32Js(big.subarray(5000), crc32Js(big.subarray(0, 5000)))).toBe(crc32Js(big));
  });
});

describe('ZIP64 archives', () => {
  it('reads a ZIP64 directory (all sizes and offsets in the extended records)', () => {
    const payload = writeNpy({ data: Float32Array.from([1.5, -2, 3]), shape: [3] });
    const name = new TextEncoder().encode('x.npy');
    const { crc32Js } = zipCrc;
    const crc = crc32Js(payload);
    const parts: Uint8Array[] = [];
    // local header: sizes 0xFFFFFFFF + ZIP64 extra (size, csize)
    const local = new Uint8Array(30 + name.length + 20);
    let dv = new DataView(local.buffer);
    dv.setUint32(0, 0x04034b50, true);
    dv.setUint16(4, 45, true);
    dv.setUint32(14, crc, true);
    dv.setUint32(18, 0xffffffff, true);
    dv.setUint32(22, 0xffffffff, true);
    dv.setUint16(26, name.length, true);
    dv.setUint16(28, 20, true);
    local.set(name, 30);
    dv.setUint16(30 + name.length, 1, true);
    dv.setUint16(32 + name.length, 16, true);
    dv.setBigUint64(34 + name.length, BigInt(payload.length), true);
    dv.setBigUint64(42 + name.length, BigInt(payload.length), true);
    parts.push(local, payload);
    const cdOffset = local.length + payload.length;
    const cd = new Uint8Array(46 + name.length + 28);
    dv = new DataView(cd.buffer);
    dv.setUint32(0, 0x02014b50, true);
    dv.setUint16(4, 45, true);
    dv.setUint16(6, 45, true);
    dv.setUint32(16, crc, true);
    dv.setUint32(20, 0xffffffff, true);
    dv.setUint32(24, 0xffffffff, true);
    dv.setUint16(28, name.length, true);
    dv.setUint16(30, 28, true);
    dv.setUint32(42, 0xffffffff, true);
    cd.set(name, 46);
    const e = 46 + name.length;
    dv.setUint16(e, 1, true);
    dv.setUint16(e + 2, 24, true);
    dv.setBigUint64(e + 4, BigInt(payload.length), true); // size
    dv.setBigUint64(e + 12, BigInt(payload.length), true); // compressed size
    dv.setBigUint64(e + 20, 0n, true); // local header offset
    parts.push(cd);
    const z64At = cdOffset + cd.length;
    const z64 = new Uint8Array(56);
    dv = new DataView(z64.buffer);
    dv.setUint32(0, 0x06064b50, true);
    dv.setBigUint64(4, 44n, true);
    dv.setBigUint64(24, 1n, true);
    dv.setBigUint64(32, 1n, true);
    dv.setBigUint64(40, BigInt(cd.length), true);
    dv.setBigUint64(48, BigInt(cdOffset), true);
    const loc = new Uint8Array(20);
    dv = new DataView(loc.buffer);
    dv.setUint32(0, 0x07064b50, true);
    dv.setBigUint64(8, BigInt(z64At), true);
    dv.setUint32(16, 1, true);
    const eocd = new Uint8Array(22);
    dv = new DataView(eocd.buffer);
    dv.setUint32(0, 0x06054b50, true);
    dv.setUint16(8, 0xffff, true);
    dv.setUint16(10, 0xffff, true);
    dv.setUint32(12, 0xffffffff, true);
    dv.setUint32(16, 0xffffffff, true);
    parts.push(z64, loc, eocd);
    const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let p = 0;
    for (const part of parts) {
      all.set(part, p);
      p += part.length;
    }
    const m = readNpz(all, 'z64.npz');
    expect(Array.from(m.get('x')!.data as Float32Array)).toEqual([1.5, -2, 3]);
  });
});
