// NIfTI-1 (read and write) and NIfTI-2 (read), .nii and .nii.gz, on Uint8Array (browser-safe).
//
// Axis convention: NIfTI stores x (i) fastest, then y (j), then z (k). Read as a C-order array that is shape
// [nz, ny, nx] — the same (z, y, x) order SimpleITK's GetArrayFromImage gives — with no reordering of bytes.
// Geometry is kept as the NIfTI affine (voxel (i, j, k) → world RAS+ millimetres): the sform when sform_code > 0,
// else the qform (quaternion, qfac, pixdim, offsets) when qform_code > 0, else the pixdim scaling (method 1).
// The whole header is returned too, so that writing with it (writeNifti(…, like)) reproduces the geometry
// fields bit for bit.
import { compression } from './compress.js';
import { VesselError } from '../gpu/errors.js';
import { guarded } from './guard.js';
import { plainDtypeOf, plainView, type PlainArray, type PlainDtype } from './typed.js';

export type NiftiDtype = PlainDtype;
export type NiftiData = PlainArray;

export interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  /** dim[0..7] */
  dim: number[];
  /** pixdim[0..7]; pixdim[0] is qfac */
  pixdim: number[];
  datatype: number;
  bitpix: number;
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  quatern: [number, number, number];
  qoffset: [number, number, number];
  /** srow_x, srow_y, srow_z */
  srow: [number[], number[], number[]];
  xyztUnits: number;
  intentCode: number;
  intentP: [number, number, number];
  intentName: string;
  descrip: string;
  auxFile: string;
  calMin: number;
  calMax: number;
  dimInfo: number;
  sliceStart: number;
  sliceEnd: number;
  sliceCode: number;
  sliceDuration: number;
  toffset: number;
}

export interface NiftiImage {
  header: NiftiHeader;
  /** [nz, ny, nx] (C order; x fastest) */
  shape: [number, number, number];
  dtype: NiftiDtype;
  data: NiftiData;
  /** 4×4 row-major voxel (i, j, k, 1) → world (RAS+, mm) */
  affine: number[];
  /** which field gave the affine */
  affineSource: 'sform' | 'qform' | 'pixdim';
  /** [sz, sy, sx] = |pixdim[3]|, |pixdim[2]|, |pixdim[1]| */
  spacing: [number, number, number];
  /** True when scl_slope/scl_inter were applied (data became float). */
  scaled: boolean;
}

const DT: Record<number, { name: string; size: number; dtype?: NiftiDtype }> = {
  2: { name: 'uint8', size: 1, dtype: 'uint8' },
  4: { name: 'int16', size: 2, dtype: 'int16' },
  8: { name: 'int32', size: 4, dtype: 'int32' },
  16: { name: 'float32', size: 4, dtype: 'float32' },
  64: { name: 'float64', size: 8, dtype: 'float64' },
  256: { name: 'int8', size: 1, dtype: 'int8' },
  512: { name: 'uint16', size: 2, dtype: 'uint16' },
  768: { name: 'uint32', size: 4, dtype: 'uint32' },
  1024: { name: 'int64', size: 8 },
  1280: { name: 'uint64', size: 8 },
  1: { name: 'binary (1 bit)', size: 0 },
  32: { name: 'complex64', size: 8 },
  128: { name: 'rgb24', size: 3 },
  1536: { name: 'float128', size: 16 },
  1792: { name: 'complex128', size: 16 },
  2048: { name: 'complex256', size: 32 },
  2304: { name: 'rgba32', size: 4 },
};

export const NIFTI_DATATYPE: Record<NiftiDtype, number> = {
  uint8: 2,
  int16: 4,
  int32: 8,
  float32: 16,
  float64: 64,
  int8: 256,
  uint16: 512,
  uint32: 768,
};

function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

function cstr(b: Uint8Array): string {
  let end = b.indexOf(0);
  if (end < 0) end = b.length;
  return String.fromCharCode(...b.subarray(0, end));
}

/** Parse a NIfTI-1/-2 header (from uncompressed bytes). */
export function readNiftiHeader(b: Uint8Array, label = 'nifti'): NiftiHeader {
  if (b.length < 348) throw new VesselError(`${label}: truncated NIfTI header (${b.length} bytes)`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const sLE = dv.getInt32(0, true);
  const sBE = dv.getInt32(0, false);
  let version: 1 | 2;
  let le: boolean;
  if (sLE === 348 || sBE === 348) {
    version = 1;
    le = sLE === 348;
  } else if (sLE === 540 || sBE === 540) {
    version = 2;
    le = sLE === 540;
  } else throw new VesselError(`${label}: not a NIfTI file (sizeof_hdr is ${sLE}, expected 348 or 540)`);
  if (version === 1) {
    const magic = cstr(b.subarray(344, 348));
    if (magic !== 'n+1' && magic !== 'ni1') throw new VesselError(`${label}: not a NIfTI-1 file (magic '${magic}'; ANALYZE 7.5 is not supported)`);
    if (magic === 'ni1') throw new VesselError(`${label}: two-file NIfTI (.hdr/.img) is not supported; convert to .nii`);
    const i16 = (o: number) => dv.getInt16(o, le);
    const f32 = (o: number) => dv.getFloat32(o, le);
    return {
      version,
      littleEndian: le,
      dim: Array.from({ length: 8 }, (_, i) => i16(40 + 2 * i)),
      pixdim: Array.from({ length: 8 }, (_, i) => f32(76 + 4 * i)),
      datatype: i16(70),
      bitpix: i16(72),
      voxOffset: f32(108),
      sclSlope: f32(112),
      sclInter: f32(116),
      qformCode: i16(252),
      sformCode: i16(254),
      quatern: [f32(256), f32(260), f32(264)],
      qoffset: [f32(268), f32(272), f32(276)],
      srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f32(280 + 16 * r + 4 * c))) as [number[], number[], number[]],
      xyztUnits: b[123],
      intentCode: i16(68),
      intentP: [f32(56), f32(60), f32(64)],
      intentName: cstr(b.subarray(328, 344)),
      descrip: cstr(b.subarray(148, 228)),
      auxFile: cstr(b.subarray(228, 252)),
      calMax: f32(124),
      calMin: f32(128),
      dimInfo: b[39],
      sliceStart: i16(74),
      sliceEnd: i16(120),
      sliceCode: b[122],
      sliceDuration: f32(132),
      toffset: f32(136),
    };
  }
  if (b.length < 540) throw new VesselError(`${label}: truncated NIfTI-2 header (${b.length} bytes)`);
  const magic = cstr(b.subarray(4, 8));
  if (magic !== 'n+2') throw new VesselError(`${label}: not a single-file NIfTI-2 file (magic '${magic}')`);
  const i64 = (o: number) => Number(dv.getBigInt64(o, le));
  const f64 = (o: number) => dv.getFloat64(o, le);
  const i32 = (o: number) => dv.getInt32(o, le);
  return {
    version,
    littleEndian: le,
    dim: Array.from({ length: 8 }, (_, i) => i64(16 + 8 * i)),
    pixdim: Array.from({ length: 8 }, (_, i) => f64(104 + 8 * i)),
    datatype: dv.getInt16(12, le),
    bitpix: dv.getInt16(14, le),
    voxOffset: i64(168),
    sclSlope: f64(176),
    sclInter: f64(184),
    qformCode: i32(344),
    sformCode: i32(348),
    quatern: [f64(352), f64(360), f64(368)],
    qoffset: [f64(376), f64(384), f64(392)],
    srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f64(400 + 32 * r + 8 * c))) as [number[], number[], number[]],
    xyztUnits: i32(500),
    intentCode: i32(504),
    intentP: [f64(80), f64(88), f64(96)],
    intentName: cstr(b.subarray(508, 524)),
    descrip: cstr(b.subarray(240, 320)),
    auxFile: cstr(b.subarray(320, 344)),
    calMax: f64(192),
    calMin: f64(200),
    dimInfo: b[524],
    sliceStart: i64(224),
    sliceEnd: i64(232),
    sliceCode: i32(496),
    sliceDuration: f64(208),
    toffset: f64(216),
  };
}

/** The qform affine (NIfTI method 2) from quaternion, qfac, pixdim and offsets. */
export function qformToAffine(h: Pick<NiftiHeader, 'quatern' | 'qoffset' | 'pixdim'>): number[] {
  let [b, c, d] = h.quatern;
  let a: number;
  const s2 = b * b + c * c + d * d;
  if (1 - s2 < 1e-7) {
    // (b, c, d) describe a 180° rotation: renormalise them and take a = 0, as the reference library does
    const k = 1 / Math.sqrt(s2);
    b *= k;
    c *= k;
    d *= k;
    a = 0;
  } else a = Math.sqrt(1 - s2);
  const a2 = a * a;
  const qfac = h.pixdim[0] < 0 ? -1 : 1;
  const dx = h.pixdim[1] > 0 ? h.pixdim[1] : 1;
  const dy = h.pixdim[2] > 0 ? h.pixdim[2] : 1;
  const dz = (h.pixdim[3] > 0 ? h.pixdim[3] : 1) * qfac;
  const R = [
    [a2 + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a2 + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a2 + d * d - c * c - b * b],
  ];
  return [
    R[0][0] * dx, R[0][1] * dy, R[0][2] * dz, h.qoffset[0],
    R[1][0] * dx, R[1][1] * dy, R[1][2] * dz, h.qoffset[1],
    R[2][0] * dx, R[2][1] * dy, R[2][2] * dz, h.qoffset[2],
    0, 0, 0, 1,
  ];
}

/**
 * Quaternion form of an affine: rotation (b, c, d), offsets, spacing and qfac. The rotation is the orthogonal
 * part of the affine's 3×3 (columns normalised); a shear cannot be expressed and is dropped (the sform keeps it).
 */
export function affineToQform(A: number[]): { quatern: [number, number, number]; qoffset: [number, number, number]; spacing: [number, number, number]; qfac: 1 | -1 } {
  const col = (j: number) => [A[j], A[4 + j], A[8 + j]];
  const cols = [col(0), col(1), col(2)];
  const spacing = cols.map((v) => Math.hypot(v[0], v[1], v[2]) || 1) as [number, number, number];
  const R = cols.map((v, j) => v.map((x) => x / spacing[j])); // R[j] = column j
  // Orthogonalise (Gram–Schmidt) so a slightly non-orthogonal matrix still gives a rotation.
  const dot = (u: number[], v: number[]) => u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
  const norm = (u: number[]) => {
    const n = Math.hypot(u[0], u[1], u[2]) || 1;
    return u.map((x) => x / n);
  };
  R[0] = norm(R[0]);
  R[1] = norm(R[1].map((x, i) => x - dot(R[1], R[0]) * R[0][i]));
  const cross = [R[0][1] * R[1][2] - R[0][2] * R[1][1], R[0][2] * R[1][0] - R[0][0] * R[1][2], R[0][0] * R[1][1] - R[0][1] * R[1][0]];
  const qfac: 1 | -1 = dot(cross, R[2]) < 0 ? -1 : 1;
  R[2] = cross; // right-handed; qfac carries the reflection
  // rotation matrix m[r][c] with columns R[c]
  const m = (r: number, c: number) => R[c][r];
  const tr = m(0, 0) + m(1, 1) + m(2, 2);
  let a: number, b: number, c: number, d: number;
  if (tr > 0) {
    a = 0.5 * Math.sqrt(1 + tr);
    b = (m(2, 1) - m(1, 2)) / (4 * a);
    c = (m(0, 2) - m(2, 0)) / (4 * a);
    d = (m(1, 0) - m(0, 1)) / (4 * a);
  } else if (m(0, 0) > m(1, 1) && m(0, 0) > m(2, 2)) {
    b = 0.5 * Math.sqrt(1 + m(0, 0) - m(1, 1) - m(2, 2));
    a = (m(2, 1) - m(1, 2)) / (4 * b);
    c = (m(0, 1) + m(1, 0)) / (4 * b);
    d = (m(0, 2) + m(2, 0)) / (4 * b);
  } else if (m(1, 1) > m(2, 2)) {
    c = 0.5 * Math.sqrt(1 + m(1, 1) - m(0, 0) - m(2, 2));
    a = (m(0, 2) - m(2, 0)) / (4 * c);
    b = (m(0, 1) + m(1, 0)) / (4 * c);
    d = (m(1, 2) + m(2, 1)) / (4 * c);
  } else {
    d = 0.5 * Math.sqrt(1 + m(2, 2) - m(0, 0) - m(1, 1));
    a = (m(1, 0) - m(0, 1)) / (4 * d);
    b = (m(0, 2) + m(2, 0)) / (4 * d);
    c = (m(1, 2) + m(2, 1)) / (4 * d);
  }
  if (a < 0) (b = -b), (c = -c), (d = -d);
  return { quatern: [b, c, d], qoffset: [A[3], A[7], A[11]], spacing, qfac };
}

/** The affine a reader should use, and where it came from. */
export function niftiAffine(h: NiftiHeader): { affine: number[]; source: 'sform' | 'qform' | 'pixdim' } {
  if (h.sformCode > 0) return { affine: [...h.srow[0], ...h.srow[1], ...h.srow[2], 0, 0, 0, 1], source: 'sform' };
  if (h.qformCode > 0) return { affine: qformToAffine(h), source: 'qform' };
  const p = (i: number) => (h.pixdim[i] > 0 ? h.pixdim[i] : 1);
  return { affine: [p(1), 0, 0, 0, 0, p(2), 0, 0, 0, 0, p(3), 0, 0, 0, 0, 1], source: 'pixdim' };
}

function ungzip(bytes: Uint8Array, label: string): Uint8Array {
  try {
    return compression().gunzip(bytes);
  } catch (e) {
    throw new VesselError(`${label}: corrupt or truncated gzip data (${(e as Error).message})`);
  }
}

/**
 * Read a .nii or .nii.gz (detected from the bytes). For an uncompressed little-endian file the returned data
 * view `input`'s memory (no copy).
 */
export function readNifti(input: Uint8Array, label = 'nifti'): NiftiImage {
  return guarded(label, 'NIfTI file', () => readNiftiUnguarded(input, label));
}

function readNiftiUnguarded(input: Uint8Array, label = 'nifti'): NiftiImage {
  const b = isGzip(input) ? ungzip(input, label) : input;
  const h = readNiftiHeader(b, label);
  const nd = h.dim[0];
  if (nd < 1 || nd > 7) throw new VesselError(`${label}: bad NIfTI dim[0] = ${nd}`);
  const dims = h.dim.slice(1, nd + 1);
  if (dims.some((d) => d < 1)) throw new VesselError(`${label}: bad NIfTI dimensions [${dims.join(', ')}]`);
  if (dims.slice(3).some((d) => d !== 1)) throw new VesselError(`${label}: ${nd}-D NIfTI image [${dims.join(', ')}] is not a 3-D volume`);
  const nx = dims[0];
  const ny = dims[1] ?? 1;
  const nz = dims[2] ?? 1;
  const info = DT[h.datatype];
  if (!info) throw new VesselError(`${label}: unknown NIfTI datatype ${h.datatype}`);
  const n = nx * ny * nz;
  const minOffset = h.version === 1 ? 348 : 540;
  const off = Number.isFinite(h.voxOffset) && h.voxOffset !== 0 ? Math.round(h.voxOffset) : h.version === 1 ? 352 : 544;
  if (off < minOffset) throw new VesselError(`${label}: corrupt NIfTI header (vox_offset ${h.voxOffset} lies inside the header)`);
  if (info.size === 0 || (!info.dtype && h.datatype !== 1024 && h.datatype !== 1280)) {
    throw new VesselError(`${label}: unsupported NIfTI datatype ${h.datatype} (${info.name})`);
  }
  const nbytes = n * info.size;
  if (off + nbytes > b.length) throw new VesselError(`${label}: truncated NIfTI data ([${nx}, ${ny}, ${nz}] ${info.name} needs ${off + nbytes} bytes, have ${b.length})`);
  // A view (no copy) when the data are little-endian and aligned, which they are in a decompressed .nii.gz
  // (vox_offset 352 or 544); a copy otherwise.
  const aligned = h.littleEndian && (b.byteOffset + off) % Math.max(1, info.size) === 0 && info.dtype !== undefined;
  const body = aligned ? b.subarray(off, off + nbytes) : b.slice(off, off + nbytes);
  if (!h.littleEndian && info.size > 1) for (let i = 0; i < body.length; i += info.size) body.subarray(i, i + info.size).reverse();
  let data: NiftiData;
  let dtype: NiftiDtype;
  if (h.datatype === 1024 || h.datatype === 1280) {
    // 64-bit integers (nibabel's default for int arrays): int32 when every value fits, else float64.
    const big = h.datatype === 1024 ? new BigInt64Array(body.buffer, body.byteOffset, n) : new BigUint64Array(body.buffer, body.byteOffset, n);
    let fits = true;
    for (let i = 0; i < n && fits; i++) fits = big[i] >= -2147483648n && big[i] <= 2147483647n;
    data = fits ? new Int32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) data[i] = Number(big[i]);
    dtype = fits ? 'int32' : 'float64';
  } else {
    dtype = info.dtype!;
    data = makeTyped(dtype, body.buffer, body.byteOffset, n);
  }
  let scaled = false;
  const slope = h.sclSlope;
  if (Number.isFinite(slope) && slope !== 0 && !(slope === 1 && (h.sclInter === 0 || !Number.isFinite(h.sclInter)))) {
    const inter = Number.isFinite(h.sclInter) ? h.sclInter : 0;
    const out = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = data[i] * slope + inter;
    data = out;
    dtype = dtype === 'float64' ? 'float64' : 'float32';
    scaled = true;
  }
  const { affine, source } = niftiAffine(h);
  const sp = (i: number) => Math.abs(h.pixdim[i]) || 1;
  return { header: h, shape: [nz, ny, nx], dtype, data, affine, affineSource: source, spacing: [sp(3), sp(2), sp(1)], scaled };
}

function makeTyped(dtype: NiftiDtype, buf: ArrayBufferLike, offset: number, n: number): NiftiData {
  return plainView(dtype, buf, offset, n);
}

export function niftiDtypeOf(data: NiftiData): NiftiDtype {
  return plainDtypeOf(data, 'nifti');
}

export interface NiftiWriteOptions {
  /** voxel → world RAS affine (row-major 4×4); default: identity scaled by spacing */
  affine?: number[];
  /** [sz, sy, sx]; default from the affine's column norms */
  spacing?: [number, number, number];
  /** A header (e.g. the input's) whose geometry, units, codes and description are copied verbatim. */
  like?: NiftiHeader;
  /** gzip the output (.nii.gz); default false */
  gzip?: boolean;
  /** gzip level 0–9 (default 6) */
  gzipLevel?: number;
  descrip?: string;
  /** sform/qform code when no `like` header is given (default 1, scanner anatomical) */
  xformCode?: number;
  /** spatial unit when no `like` header is given: 'm', 'mm' (default) or 'µm' */
  unit?: string;
}

/** Write a NIfTI-1 single file (.nii, or .nii.gz with gzip). Data are C order [nz, ny, nx]; always little-endian. */
export function writeNifti(data: NiftiData, shape: [number, number, number], options: NiftiWriteOptions = {}): Uint8Array {
  const [nz, ny, nx] = shape;
  const n = nx * ny * nz;
  if (data.length !== n) throw new VesselError(`nifti: data has ${data.length} elements, shape [${shape.join(', ')}] needs ${n}`);
  if (nx > 32767 || ny > 32767 || nz > 32767) throw new VesselError(`nifti: shape [${shape.join(', ')}] exceeds NIfTI-1's 32767 per axis`);
  const dtype = niftiDtypeOf(data);
  const size = data.BYTES_PER_ELEMENT;
  const out = new Uint8Array(352 + n * size);
  const dv = new DataView(out.buffer);
  const like = options.like;
  dv.setInt32(0, 348, true);
  out[38] = 0x72; // 'r' (regular)
  const dim = [3, nx, ny, nz, 1, 1, 1, 1];
  for (let i = 0; i < 8; i++) dv.setInt16(40 + 2 * i, dim[i], true);
  dv.setInt16(70, NIFTI_DATATYPE[dtype], true);
  dv.setInt16(72, size * 8, true);
  dv.setFloat32(108, 352, true);
  dv.setFloat32(112, 1, true); // scl_slope: data are stored as they are
  dv.setFloat32(116, 0, true);
  const putStr = (s: string, off: number, len: number) => {
    for (let i = 0; i < Math.min(s.length, len - 1); i++) out[off + i] = s.charCodeAt(i) & 0x7f;
  };
  let pixdim: number[];
  if (like) {
    // Geometry copied verbatim from the reference header.
    pixdim = [like.pixdim[0] < 0 ? -1 : 1, like.pixdim[1], like.pixdim[2], like.pixdim[3], like.pixdim[4] || 0, 0, 0, 0];
    dv.setInt16(252, like.qformCode, true);
    dv.setInt16(254, like.sformCode, true);
    like.quatern.forEach((v, i) => dv.setFloat32(256 + 4 * i, v, true));
    like.qoffset.forEach((v, i) => dv.setFloat32(268 + 4 * i, v, true));
    like.srow.forEach((row, r) => row.forEach((v, c) => dv.setFloat32(280 + 16 * r + 4 * c, v, true)));
    out[123] = like.xyztUnits & 0xff;
    out[39] = like.dimInfo & 0xff;
    putStr(options.descrip ?? like.descrip, 148, 80);
  } else {
    const sp = options.spacing;
    const A = options.affine ?? [sp?.[2] ?? 1, 0, 0, 0, 0, sp?.[1] ?? 1, 0, 0, 0, 0, sp?.[0] ?? 1, 0, 0, 0, 0, 1];
    const q = affineToQform(A);
    const code = options.xformCode ?? 1;
    pixdim = [q.qfac, q.spacing[0], q.spacing[1], q.spacing[2], 0, 0, 0, 0];
    dv.setInt16(252, code, true);
    dv.setInt16(254, code, true);
    q.quatern.forEach((v, i) => dv.setFloat32(256 + 4 * i, v, true));
    q.qoffset.forEach((v, i) => dv.setFloat32(268 + 4 * i, v, true));
    for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) dv.setFloat32(280 + 16 * r + 4 * c, A[4 * r + c], true);
    const u = options.unit;
    out[123] = (u === 'm' ? 1 : u === 'µm' || u === 'um' || u === 'micron' ? 3 : 2) | 8; // space unit | seconds
    putStr(options.descrip ?? 'vesselfm', 148, 80);
  }
  for (let i = 0; i < 8; i++) dv.setFloat32(76 + 4 * i, pixdim[i], true);
  out.set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 352);
  return options.gzip ? compression().gzip(out, options.gzipLevel ?? 6) : out;
}
