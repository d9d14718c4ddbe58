// MetaImage (ITK/SimpleITK): .mha (header and data in one file, ElementDataFile = LOCAL) and .mhd + raw data file.
// Header lines are `Key = Value`; data are raw or zlib-compressed (CompressedData = True), little- or big-endian
// (BinaryDataByteOrderMSB). Geometry is ITK's: physical space is LPS; `Offset` is the position of voxel (0,0,0);
// `TransformMatrix` lists the direction vector of axis 0 (x), then axis 1 (y), then axis 2 (z); `ElementSpacing`
// is per axis x, y, z. Data are returned C-order [nz, ny, nx] (x fastest, as stored). Browser-safe: the .mhd
// data file is passed in by the caller (see volume.ts for the Node wrapper).
import { VesselError } from '../gpu/errors.js';
import { guarded } from './guard.js';
import { compression } from './compress.js';
import { plainDtypeOf, plainView, type PlainArray, type PlainDtype } from './typed.js';

export type MetaDtype = PlainDtype;
export type MetaData = PlainArray;

const ELEMENT_TYPES: Record<string, MetaDtype> = {
  MET_UCHAR: 'uint8',
  MET_CHAR: 'int8',
  MET_SHORT: 'int16',
  MET_USHORT: 'uint16',
  MET_INT: 'int32',
  MET_UINT: 'uint32',
  MET_FLOAT: 'float32',
  MET_DOUBLE: 'float64',
};
const TYPE_NAMES: Record<MetaDtype, string> = Object.fromEntries(Object.entries(ELEMENT_TYPES).map(([k, v]) => [v, k])) as Record<MetaDtype, string>;
const SIZES: Record<MetaDtype, number> = { uint8: 1, int8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, float64: 8 };

export interface MetaHeader {
  /** Every `Key = Value` line in file order (values as written). */
  fields: [string, string][];
  /** Byte offset of the data in the header file (LOCAL), or -1 for a separate data file. */
  dataOffset: number;
  /** ElementDataFile value */
  dataFile: string;
}

export interface MetaImage {
  header: MetaHeader;
  /** [nz, ny, nx] */
  shape: [number, number, number];
  dtype: MetaDtype;
  data: MetaData;
  /** [sz, sy, sx] */
  spacing: [number, number, number];
  /** LPS position of voxel (0, 0, 0): [x, y, z] */
  origin: [number, number, number];
  /** 3×3 row-major; column i is the LPS direction of array axis x (i=0), y (1), z (2) */
  direction: number[];
}

function field(h: MetaHeader, key: string): string | undefined {
  const k = key.toLowerCase();
  for (const [a, b] of h.fields) if (a.toLowerCase() === k) return b;
  return undefined;
}

/** Parse the text header; for .mha the data start right after the ElementDataFile line. */
export function readMetaHeader(bytes: Uint8Array, label = 'metaimage'): MetaHeader {
  const fields: [string, string][] = [];
  let pos = 0;
  let dataFile = '';
  const limit = Math.min(bytes.length, 1 << 20);
  while (pos < limit) {
    let end = bytes.indexOf(0x0a, pos);
    if (end < 0 || end > limit) end = limit;
    const line = String.fromCharCode(...bytes.subarray(pos, Math.min(end, pos + 65536))).replace(/\r$/, '');
    pos = end + 1;
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    if (eq < 0) {
      if (fields.length === 0) throw new VesselError(`${label}: not a MetaImage file (first line is not 'Key = Value')`);
      throw new VesselError(`${label}: malformed MetaImage header line '${line.slice(0, 60)}'`);
    }
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (fields.length === 0 && !/^(ObjectType|NDims|Comment|ObjectSubType|FileFormatVersion)$/i.test(key)) {
      throw new VesselError(`${label}: not a MetaImage file (starts with '${key.slice(0, 30)}')`);
    }
    fields.push([key, value]);
    if (key.toLowerCase() === 'elementdatafile') {
      dataFile = value;
      break;
    }
  }
  if (!dataFile) throw new VesselError(`${label}: MetaImage header has no ElementDataFile line (truncated?)`);
  return { fields, dataOffset: dataFile.toUpperCase() === 'LOCAL' ? Math.min(pos, bytes.length) : -1, dataFile };
}

const nums = (s: string | undefined, label: string, key: string): number[] | undefined => {
  if (s === undefined) return undefined;
  const v = s.split(/\s+/).filter(Boolean).map(Number);
  if (v.some((x) => !Number.isFinite(x))) throw new VesselError(`${label}: bad MetaImage ${key} '${s}'`);
  return v;
};

/**
 * Decode a MetaImage. `bytes` is the header file (.mha/.mhd); `dataBytes` the separate data file for .mhd.
 */
export function readMetaImage(bytes: Uint8Array, label = 'metaimage', dataBytes?: Uint8Array): MetaImage {
  return guarded(label, 'MetaImage file', () => readMetaImageUnguarded(bytes, label, dataBytes));
}

function readMetaImageUnguarded(bytes: Uint8Array, label = 'metaimage', dataBytes?: Uint8Array): MetaImage {
  const header = readMetaHeader(bytes, label);
  const get = (k: string) => field(header, k);
  const ndims = Number(get('NDims') ?? '3');
  const dims = nums(get('DimSize'), label, 'DimSize');
  if (!dims || dims.length !== ndims || dims.some((d) => !Number.isInteger(d) || d < 1)) throw new VesselError(`${label}: bad MetaImage DimSize '${get('DimSize')}'`);
  if (ndims < 2 || ndims > 3) throw new VesselError(`${label}: ${ndims}-D MetaImage is not a 3-D volume`);
  const channels = Number(get('ElementNumberOfChannels') ?? '1');
  if (channels !== 1) throw new VesselError(`${label}: MetaImage with ${channels} channels; only single-channel volumes are supported`);
  const et = get('ElementType') ?? '';
  const dtype = ELEMENT_TYPES[et.toUpperCase()];
  if (!dtype) throw new VesselError(`${label}: unsupported MetaImage ElementType '${et}'`);
  const [nx, ny, nz] = [dims[0], dims[1], dims[2] ?? 1];
  const n = nx * ny * nz;
  const size = SIZES[dtype];
  const msb = /^true$/i.test(get('BinaryDataByteOrderMSB') ?? get('ElementByteOrderMSB') ?? 'false');
  const compressed = /^true$/i.test(get('CompressedData') ?? 'false');
  let raw: Uint8Array;
  if (header.dataOffset >= 0) raw = bytes.subarray(header.dataOffset);
  else {
    if (/^LIST$/i.test(header.dataFile) || header.dataFile.includes('%')) throw new VesselError(`${label}: MetaImage ElementDataFile '${header.dataFile}' (a list of slice files) is not supported`);
    if (!dataBytes) throw new VesselError(`${label}: MetaImage data file '${header.dataFile}' was not given`);
    const hs = Number(get('HeaderSize') ?? '0');
    if (hs === -1) raw = dataBytes.subarray(Math.max(0, dataBytes.length - n * size));
    else raw = dataBytes.subarray(hs);
  }
  const nbytes = n * size;
  let body: Uint8Array;
  if (compressed) {
    const csize = Number(get('CompressedDataSize') ?? raw.length);
    if (csize > raw.length) throw new VesselError(`${label}: truncated MetaImage data (CompressedDataSize ${csize}, have ${raw.length} bytes)`);
    try {
      body = compression().unzlib(raw.subarray(0, csize), nbytes);
    } catch (e) {
      throw new VesselError(`${label}: corrupt or truncated zlib data in MetaImage (${(e as Error).message})`);
    }
    if (body.length < nbytes) throw new VesselError(`${label}: truncated MetaImage data (${body.length} bytes after decompression, [${nx}, ${ny}, ${nz}] ${dtype} needs ${nbytes})`);
    body = body.slice(0, nbytes);
  } else {
    if (raw.length < nbytes) throw new VesselError(`${label}: truncated MetaImage data ([${nx}, ${ny}, ${nz}] ${dtype} needs ${nbytes} bytes, have ${raw.length})`);
    body = raw.slice(0, nbytes);
  }
  if (msb && size > 1) for (let i = 0; i < body.length; i += size) body.subarray(i, i + size).reverse();
  const data = typed(dtype, body.buffer);
  const sp = nums(get('ElementSpacing') ?? get('ElementSize'), label, 'ElementSpacing') ?? [1, 1, 1];
  const off = nums(get('Offset') ?? get('Origin') ?? get('Position'), label, 'Offset') ?? [0, 0, 0];
  const tm = nums(get('TransformMatrix') ?? get('Rotation') ?? get('Orientation'), label, 'TransformMatrix');
  const direction = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  if (tm && tm.length === ndims * ndims) {
    // axis i's direction = tm[i*nd .. i*nd+nd-1] → column i
    for (let i = 0; i < ndims; i++) for (let j = 0; j < ndims; j++) direction[j * 3 + i] = tm[i * ndims + j];
  }
  return {
    header,
    shape: [nz, ny, nx],
    dtype,
    data,
    spacing: [sp[2] ?? 1, sp[1] ?? 1, sp[0] ?? 1],
    origin: [off[0] ?? 0, off[1] ?? 0, off[2] ?? 0],
    direction,
  };
}

function typed(dtype: MetaDtype, buf: ArrayBufferLike): MetaData {
  return plainView(dtype, buf);
}

export function metaDtypeOf(data: MetaData): MetaDtype {
  return plainDtypeOf(data, 'metaimage');
}

export interface MetaWriteOptions {
  spacing?: [number, number, number];
  /** LPS [x, y, z] */
  origin?: [number, number, number];
  /** 3×3 row-major LPS, columns = axis directions */
  direction?: number[];
  /** zlib-compress the data (CompressedData = True) */
  compress?: boolean;
  level?: number;
  /** A header whose geometry lines (TransformMatrix, Offset, CenterOfRotation, AnatomicalOrientation,
   *  ElementSpacing) are copied verbatim. */
  like?: MetaHeader;
  /** For .mhd: the data file name written in ElementDataFile (default: LOCAL, i.e. .mha) */
  dataFile?: string;
}

const fmt = (v: number) => (Object.is(v, -0) ? '0' : String(v));

/**
 * Encode a MetaImage. Returns the header (with the data appended for LOCAL/.mha) and, for .mhd, the data file bytes.
 */
export function writeMetaImage(data: MetaData, shape: [number, number, number], options: MetaWriteOptions = {}): { header: Uint8Array; data?: Uint8Array } {
  const [nz, ny, nx] = shape;
  if (data.length !== nx * ny * nz) throw new VesselError(`metaimage: data has ${data.length} elements, shape [${shape.join(', ')}] needs ${nx * ny * nz}`);
  const dtype = metaDtypeOf(data);
  let body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (options.compress) body = compression().zlib(body, options.level ?? 6);
  const like = options.like;
  const keep = (k: string) => (like ? field(like, k) : undefined);
  const sp = options.spacing ?? [1, 1, 1];
  const o = options.origin ?? [0, 0, 0];
  const d = options.direction ?? [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const tm = [0, 1, 2].flatMap((i) => [d[i], d[3 + i], d[6 + i]]);
  const lines: [string, string][] = [
    ['ObjectType', 'Image'],
    ['NDims', '3'],
    ['BinaryData', 'True'],
    ['BinaryDataByteOrderMSB', 'False'],
    ['CompressedData', options.compress ? 'True' : 'False'],
  ];
  if (options.compress) lines.push(['CompressedDataSize', String(body.length)]);
  lines.push(
    ['TransformMatrix', keep('TransformMatrix') ?? tm.map(fmt).join(' ')],
    ['Offset', keep('Offset') ?? keep('Origin') ?? o.map(fmt).join(' ')],
    ['CenterOfRotation', keep('CenterOfRotation') ?? '0 0 0'],
    ['AnatomicalOrientation', keep('AnatomicalOrientation') ?? orientationCode(d)],
    ['ElementSpacing', keep('ElementSpacing') ?? [sp[2], sp[1], sp[0]].map(fmt).join(' ')],
    ['DimSize', `${nx} ${ny} ${nz}`],
    ['ElementType', TYPE_NAMES[dtype]],
    ['ElementDataFile', options.dataFile ?? 'LOCAL'],
  );
  const text = new TextEncoder().encode(lines.map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
  if (options.dataFile && options.dataFile.toUpperCase() !== 'LOCAL') return { header: text, data: body.slice() };
  const out = new Uint8Array(text.length + body.length);
  out.set(text, 0);
  out.set(body, text.length);
  return { header: out };
}

/** ITK's three-letter orientation code (the anatomical direction each axis points *from*) for LPS directions. */
export function orientationCode(direction: number[]): string {
  // ITK names the axis by where it comes from: +x in LPS points to L, so it is "R" (from right).
  const names = [
    ['R', 'L'],
    ['A', 'P'],
    ['I', 'S'],
  ];
  let s = '';
  for (let i = 0; i < 3; i++) {
    const col = [direction[i], direction[3 + i], direction[6 + i]];
    let best = 0;
    for (let j = 1; j < 3; j++) if (Math.abs(col[j]) > Math.abs(col[best])) best = j;
    s += col[best] >= 0 ? names[best][0] : names[best][1];
  }
  return s;
}
