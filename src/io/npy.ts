// NumPy .npy files (format versions 1.0, 2.0 and 3.0), read and written on Uint8Array (browser-safe).
//
// What a read gives (NpyArray):
// - `data` is always in C (row-major) order; a Fortran-ordered file is transposed on read and `fortranOrder`
//   says it was.
// - bool, uint8 → Uint8Array; int8 → Int8Array; int16/uint16/int32/uint32/float32/float64 → their typed arrays.
// - float16 → Float32Array (exact decode); the raw half bits are kept in `raw` (Uint16Array).
// - int64/uint64 → Float64Array (exact up to 2^53); the exact values are kept in `big` (BigInt64Array /
//   BigUint64Array) and are what a write uses.
// - `<U` (UTF-32) and `|S` (bytes) arrays → string[]; `itemsize` keeps the declared width in characters.
// Both byte orders are read; writes are little-endian.
import { VesselError } from '../gpu/errors.js';
import { guarded } from './guard.js';
import { PLAIN_CTORS, plainDtypeOf, plainView, type PlainArray, type PlainDtype } from './typed.js';

export type NpyDtype =
  | 'bool'
  | 'uint8'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'float16'
  | 'float32'
  | 'float64'
  | 'unicode'
  | 'bytes';

export type NpyData =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | string[];

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
  /** True when the file stored the array in Fortran order (data here is already converted to C order). */
  fortranOrder: boolean;
  /** float16 only: the raw IEEE half bits, C order. */
  raw?: Uint16Array;
  /** int64/uint64 only: exact values, C order. */
  big?: BigInt64Array | BigUint64Array;
  /** unicode/bytes only: characters per element as declared (`<U7` → 7). */
  itemsize?: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

interface DescrInfo {
  dtype: NpyDtype;
  size: number;
  little: boolean;
  chars?: number;
}

function parseDescr(descr: string, label: string): DescrInfo {
  const m = /^([<>|=]?)([a-zA-Z])(\d+)$/.exec(descr);
  if (!m) throw new VesselError(`${label}: unsupported dtype descr '${descr}' (structured or unknown dtypes are not supported)`);
  const order = m[1];
  const kind = m[2];
  const n = Number(m[3]);
  const little = order !== '>';
  const table: Record<string, NpyDtype> = {
    b1: 'bool',
    u1: 'uint8',
    i1: 'int8',
    i2: 'int16',
    u2: 'uint16',
    i4: 'int32',
    u4: 'uint32',
    i8: 'int64',
    u8: 'uint64',
    f2: 'float16',
    f4: 'float32',
    f8: 'float64',
  };
  if (kind === 'U') return { dtype: 'unicode', size: 4 * n, little, chars: n };
  if (kind === 'S') return { dtype: 'bytes', size: n, little, chars: n };
  const dt = table[kind + n];
  if (!dt) throw new VesselError(`${label}: unsupported dtype '${descr}'`);
  return { dtype: dt, size: n, little };
}

export function dtypeDescr(dtype: NpyDtype, itemsize = 1): string {
  switch (dtype) {
    case 'bool':
      return '|b1';
    case 'uint8':
      return '|u1';
    case 'int8':
      return '|i1';
    case 'int16':
      return '<i2';
    case 'uint16':
      return '<u2';
    case 'int32':
      return '<i4';
    case 'uint32':
      return '<u4';
    case 'int64':
      return '<i8';
    case 'uint64':
      return '<u8';
    case 'float16':
      return '<f2';
    case 'float32':
      return '<f4';
    case 'float64':
      return '<f8';
    case 'unicode':
      return `<U${itemsize}`;
    case 'bytes':
      return `|S${itemsize}`;
  }
}

/** Parse the Python dict literal of an .npy header: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } */
function parseHeader(text: string, label: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) throw new VesselError(`${label}: malformed .npy header ${JSON.stringify(text.trim().slice(0, 120))}`);
  const dims = shape[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const v = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(v) || v < 0) throw new VesselError(`${label}: bad shape entry '${s}' in .npy header`);
      return v;
    });
  return { descr: descr[1], fortran: fortran[1] === 'True', shape: dims };
}

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 5.960464477539063e-8; // 2^-24
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * Math.pow(2, e - 15);
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);
/** float → IEEE half bits, round to nearest even (via float32, like NumPy's astype(float16) from float32). */
export function floatToHalf(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** For each element in C order (last axis fastest), its offset in Fortran order (first axis fastest). */
function fortranOffsets(shape: number[], total: number): Float64Array {
  const nd = shape.length;
  const fstr = new Array<number>(nd);
  let s = 1;
  for (let d = 0; d < nd; d++) {
    fstr[d] = s;
    s *= shape[d];
  }
  const off = new Float64Array(total);
  const idx = new Array<number>(nd).fill(0);
  let f = 0;
  for (let c = 0; c < total; c++) {
    off[c] = f;
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      f += fstr[d];
      if (idx[d] < shape[d]) break;
      f -= fstr[d] * shape[d];
      idx[d] = 0;
    }
  }
  return off;
}

/** A Fortran-ordered element list in C order. */
function fortranToC<T extends { length: number; [i: number]: any }>(src: T, dst: T, shape: number[]): T {
  const off = fortranOffsets(shape, src.length);
  for (let c = 0; c < src.length; c++) dst[c] = src[off[c]];
  return dst;
}

function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

export interface NpyHeaderInfo {
  version: [number, number];
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  dataOffset: number;
}

export function readNpyHeader(bytes: Uint8Array, label = 'npy'): NpyHeaderInfo {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new VesselError(`${label}: not a .npy file (wrong magic bytes)`);
  const major = bytes[6];
  const minor = bytes[7];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let hlen: number;
  let start: number;
  if (major === 1) {
    hlen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new VesselError(`${label}: truncated .npy header`);
    hlen = dv.getUint32(8, true);
    start = 12;
  } else throw new VesselError(`${label}: unsupported .npy format version ${major}.${minor}`);
  if (start + hlen > bytes.length) throw new VesselError(`${label}: truncated .npy header (needs ${start + hlen} bytes, have ${bytes.length})`);
  const hb = bytes.subarray(start, start + hlen);
  const text = major === 3 ? new TextDecoder('utf-8').decode(hb) : String.fromCharCode(...hb);
  const h = parseHeader(text, label);
  return { version: [major, minor], descr: h.descr, fortranOrder: h.fortran, shape: h.shape, dataOffset: start + hlen };
}

/** Parse a .npy file. `label` names the file in error messages. */
export function readNpy(bytes: Uint8Array, label = 'npy'): NpyArray {
  return guarded(label, '.npy file', () => readNpyUnguarded(bytes, label));
}

function readNpyUnguarded(bytes: Uint8Array, label = 'npy'): NpyArray {
  const h = readNpyHeader(bytes, label);
  const info = parseDescr(h.descr, label);
  const shape = h.shape;
  const count = shape.reduce((a, b) => a * b, 1);
  const nbytes = count * info.size;
  if (h.dataOffset + nbytes > bytes.length) {
    throw new VesselError(`${label}: truncated .npy data (shape [${shape.join(', ')}] ${h.descr} needs ${nbytes} bytes, file has ${bytes.length - h.dataOffset})`);
  }
  // Always copy: gives alignment and lets us swap bytes in place.
  const body = bytes.slice(h.dataOffset, h.dataOffset + nbytes);
  const fortran = h.fortranOrder && shape.length > 1;
  const out: NpyArray = { dtype: info.dtype, shape: [...shape], data: new Uint8Array(0), fortranOrder: h.fortranOrder };

  if (info.dtype === 'unicode' || info.dtype === 'bytes') {
    const chars = info.chars!;
    const strs: string[] = new Array(count);
    const dv = new DataView(body.buffer);
    for (let i = 0; i < count; i++) {
      let s = '';
      for (let c = 0; c < chars; c++) {
        const code = info.dtype === 'unicode' ? dv.getUint32((i * chars + c) * 4, info.little) : body[i * chars + c];
        if (code === 0) break; // NumPy pads with NULs
        if (code > 0x10ffff || (code >= 0xd800 && code < 0xe000)) throw new VesselError(`${label}: corrupt string array (invalid character code ${code} in element ${i})`);
        s += String.fromCodePoint(code);
      }
      strs[i] = s;
    }
    out.data = fortran ? fortranToC(strs, new Array<string>(count), shape) : strs;
    out.itemsize = chars;
    return out;
  }

  if (!info.little) swapBytes(body, info.size);
  const buf = body.buffer;
  let data: NpyData;
  const plain = info.dtype === 'bool' ? 'uint8' : info.dtype;
  if (plain in PLAIN_CTORS) data = plainView(plain as PlainDtype, buf);
  else switch (info.dtype) {
    case 'float16': {
      let raw = new Uint16Array(buf);
      if (fortran) raw = fortranToC(raw, new Uint16Array(count), shape);
      const f = new Float32Array(count);
      for (let i = 0; i < count; i++) f[i] = halfToFloat(raw[i]);
      out.raw = raw;
      out.data = f;
      return out;
    }
    case 'int64':
    case 'uint64': {
      let big: BigInt64Array | BigUint64Array = info.dtype === 'int64' ? new BigInt64Array(buf) : new BigUint64Array(buf);
      if (fortran) big = fortranToC(big, info.dtype === 'int64' ? new BigInt64Array(count) : new BigUint64Array(count), shape);
      const f = new Float64Array(count);
      for (let i = 0; i < count; i++) f[i] = Number(big[i]);
      out.big = big;
      out.data = f;
      return out;
    }
    default:
      throw new VesselError(`${label}: unsupported dtype '${h.descr}'`);
  }
  if (info.dtype === 'bool') {
    for (let i = 0; i < data.length; i++) if ((data as Uint8Array)[i] > 1) (data as Uint8Array)[i] = 1;
  }
  if (fortran) {
    const Ctor = (data as any).constructor as new (n: number) => any;
    data = fortranToC(data as any, new Ctor(count), shape);
  }
  out.data = data;
  return out;
}

/** Infer the dtype of a typed array for writing. */
export function dtypeOfData(data: NpyData): NpyDtype {
  if (Array.isArray(data)) return 'unicode';
  return plainDtypeOf(data, 'npy: writing');
}

export interface NpyWriteInput {
  data: NpyData | BigInt64Array | BigUint64Array;
  shape: number[];
  /** Defaults to the typed array's own dtype (Uint8Array → uint8; pass 'bool' for masks, 'float16' to encode). */
  dtype?: NpyDtype;
  /** float16 raw bits to write verbatim (takes precedence over data). */
  raw?: Uint16Array;
  big?: BigInt64Array | BigUint64Array;
  /** Write in Fortran order (data is given in C order and transposed on the way out). */
  fortranOrder?: boolean;
  itemsize?: number;
}

/** A C-ordered element list in Fortran order (the inverse of fortranToC). */
function cToFortran<T extends { length: number; [i: number]: any }>(src: T, dst: T, shape: number[]): T {
  const off = fortranOffsets(shape, src.length);
  for (let c = 0; c < src.length; c++) dst[off[c]] = src[c];
  return dst;
}

/** Serialise an array as a .npy file (version 1.0, or 2.0 when the header needs it), little-endian. */
export function writeNpy(arr: NpyWriteInput | NpyArray): Uint8Array {
  const shape = arr.shape;
  const count = shape.reduce((a, b) => a * b, 1);
  const dtype: NpyDtype = arr.dtype ?? (arr.data instanceof BigInt64Array ? 'int64' : arr.data instanceof BigUint64Array ? 'uint64' : dtypeOfData(arr.data as NpyData));
  if (arr.data.length !== count && !(dtype === 'float16' && arr.raw?.length === count) && !(arr.big && arr.big.length === count)) {
    throw new VesselError(`npy: data has ${arr.data.length} elements but shape [${shape.join(', ')}] needs ${count}`);
  }
  const fortran = !!arr.fortranOrder && shape.length > 1;
  let itemsize = 1;
  if (dtype === 'unicode' || dtype === 'bytes') {
    const strs = arr.data as string[];
    itemsize = arr.itemsize ?? 1;
    for (const s of strs) itemsize = Math.max(itemsize, [...s].length);
  }
  const descr = dtypeDescr(dtype, itemsize);
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shapeStr}, }`;
  let version = 1;
  let pre = 10;
  if (header.length + 1 + pre > 65535) {
    version = 2;
    pre = 12;
  }
  const padTo = 64;
  const total = pre + header.length + 1;
  header += ' '.repeat((padTo - (total % padTo)) % padTo) + '\n';

  // body (C order in, maybe Fortran order out)
  let body: Uint8Array;
  const order = <T extends { length: number; [i: number]: any }>(src: T, mk: (n: number) => T): T => (fortran ? cToFortran(src, mk(count), shape) : src);
  switch (dtype) {
    case 'unicode':
    case 'bytes': {
      const strs = order(arr.data as string[], (n) => new Array<string>(n));
      const w = dtype === 'unicode' ? 4 : 1;
      body = new Uint8Array(count * itemsize * w);
      const dv = new DataView(body.buffer);
      for (let i = 0; i < count; i++) {
        const cps = [...strs[i]].map((c) => c.codePointAt(0)!);
        for (let c = 0; c < cps.length; c++) {
          if (dtype === 'unicode') dv.setUint32((i * itemsize + c) * 4, cps[c], true);
          else {
            if (cps[c] > 255) throw new VesselError(`npy: character U+${cps[c].toString(16)} does not fit a bytes (|S) array`);
            body[i * itemsize + c] = cps[c];
          }
        }
      }
      break;
    }
    case 'float16': {
      let raw = arr.raw;
      if (!raw) {
        raw = new Uint16Array(count);
        const d = arr.data as ArrayLike<number>;
        for (let i = 0; i < count; i++) raw[i] = floatToHalf(d[i]);
      }
      body = new Uint8Array(order(raw, (n) => new Uint16Array(n)).slice().buffer);
      break;
    }
    case 'int64':
    case 'uint64': {
      let big = arr.big ?? (arr.data instanceof BigInt64Array || arr.data instanceof BigUint64Array ? arr.data : undefined);
      if (!big) {
        const d = arr.data as ArrayLike<number>;
        big = dtype === 'int64' ? new BigInt64Array(count) : new BigUint64Array(count);
        for (let i = 0; i < count; i++) {
          if (!Number.isInteger(d[i])) throw new VesselError(`npy: value ${d[i]} is not an integer (dtype ${dtype})`);
          big[i] = BigInt(d[i]);
        }
      }
      const o = order(big, (n) => (dtype === 'int64' ? new BigInt64Array(n) : new BigUint64Array(n)) as typeof big);
      body = new Uint8Array(o.buffer.slice(o.byteOffset, o.byteOffset + o.byteLength));
      break;
    }
    default: {
      const Ctor = PLAIN_CTORS[dtype === 'bool' ? 'uint8' : (dtype as PlainDtype)];
      const src = arr.data as ArrayLike<number>;
      let typed: PlainArray;
      if (src instanceof Ctor) typed = src as PlainArray;
      else {
        typed = new Ctor(src.length);
        for (let i = 0; i < src.length; i++) typed[i] = src[i];
      }
      if (dtype === 'bool') typed = Uint8Array.from(typed as Uint8Array, (v: number) => (v ? 1 : 0));
      const o = order(typed, (n) => new Ctor(n));
      body = new Uint8Array(o.buffer, o.byteOffset, o.byteLength);
    }
  }
  const out = new Uint8Array(pre + header.length + body.length);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  out.set(body, pre + header.length);
  return out;
}

/** Any numeric NpyArray as float32 (C order). */
export function npyToFloat32(a: NpyArray): Float32Array {
  if (Array.isArray(a.data)) throw new VesselError(`npy: a ${a.dtype} array is not numeric`);
  return a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as ArrayLike<number>);
}

/** Any numeric NpyArray as float64 (C order). */
export function npyToFloat64(a: NpyArray): Float64Array {
  if (Array.isArray(a.data)) throw new VesselError(`npy: a ${a.dtype} array is not numeric`);
  return a.data instanceof Float64Array ? a.data : Float64Array.from(a.data as ArrayLike<number>);
}

/** The single value of a size-1 numeric array (e.g. a stored scalar). */
export function npyScalar(a: NpyArray): number {
  if (Array.isArray(a.data) || a.data.length !== 1) throw new VesselError(`npy: expected a numeric scalar, got ${a.dtype} shape [${a.shape.join(', ')}]`);
  return (a.data as ArrayLike<number>)[0];
}
