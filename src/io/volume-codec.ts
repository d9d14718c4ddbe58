// A common 3-D volume for every image format, and the byte-level encode/decode for each (browser-safe).
// volume.ts adds the Node file wrappers readVolume/writeVolume.
//
// Conventions (one for all formats):
// - `data` is C order with shape [z, y, x]: x varies fastest. This is the order SimpleITK's GetArrayFromImage
//   and vesselFM's inference use, and it is how NIfTI, MetaImage and TIFF store voxels (no byte reordering).
// - `spacing` is [sz, sy, sx] (per array axis, like `shape`).
// - World coordinates are NIfTI's RAS+ millimetres: `affine` maps voxel indices (x, y, z, 1) to world;
//   `origin` is the world position [x, y, z] of voxel (0, 0, 0); `direction` is 3×3 row-major whose columns
//   are the unit world directions of the array axes x, y, z. MetaImage/ITK files are LPS and are converted
//   on read and back on write (x and y negated), so geometry survives .mha ↔ .nii.gz like it does in ITK.
// - TIFF and NumPy files carry no orientation: identity direction, origin 0, spacing from ImageJ tags or 1.
import { VesselError } from '../gpu/errors.js';
import { readNifti, writeNifti, type NiftiHeader } from './nifti.js';
import { readTiff, writeTiff } from './tiff.js';
import { readMetaImage, writeMetaImage, type MetaHeader } from './metaimage.js';
import { readNpy, writeNpy, type NpyArray } from './npy.js';
import { listNpz, readNpzArray, writeNpz } from './npz.js';
import { PLAIN_CTORS, plainDtypeOf, type PlainArray, type PlainDtype } from './typed.js';

export type VolumeDtype = PlainDtype;
export type VolumeData = PlainArray;
export type VolumeFormat = 'nifti' | 'tiff' | 'metaimage' | 'npy' | 'npz';

export interface VolumeSource {
  format: VolumeFormat;
  /** the NIfTI header as read (geometry fields are copied verbatim on write) */
  nifti?: NiftiHeader;
  /** the MetaImage header lines as read */
  meta?: MetaHeader;
  /** physical unit (TIFF/ImageJ) */
  unit?: string;
  /** array name inside an .npz */
  array?: string;
  /** the stored dtype before scaling or conversion (e.g. NIfTI scl_slope, NumPy int64/bool/float16) */
  storedDtype?: string;
}

export interface Volume {
  data: VolumeData;
  shape: [number, number, number];
  dtype: VolumeDtype;
  spacing: [number, number, number];
  origin: [number, number, number];
  direction: number[];
  affine: number[];
  source?: VolumeSource;
}

export function dtypeOfVolumeData(d: VolumeData): VolumeDtype {
  return plainDtypeOf(d, 'volume');
}


/** A typed array of `dtype` with `n` elements. */
export function allocVolumeData(dtype: VolumeDtype, n: number): VolumeData {
  return new PLAIN_CTORS[dtype](n);
}

/** Convert the data to another dtype (a copy; float → integer rounds to nearest and clamps to the range). */
export function castVolume(v: Volume, dtype: VolumeDtype): Volume {
  if (v.dtype === dtype) return v;
  const out = allocVolumeData(dtype, v.data.length);
  const src = v.data;
  if (dtype === 'float32' || dtype === 'float64') for (let i = 0; i < src.length; i++) out[i] = src[i];
  else {
    const [lo, hi] = ({ uint8: [0, 255], int8: [-128, 127], int16: [-32768, 32767], uint16: [0, 65535], int32: [-2147483648, 2147483647], uint32: [0, 4294967295] } as const)[dtype];
    for (let i = 0; i < src.length; i++) {
      const x = Math.round(src[i]);
      out[i] = x < lo ? lo : x > hi ? hi : Number.isNaN(x) ? 0 : x;
    }
  }
  return { ...v, data: out, dtype };
}

/** Affine (row-major 4×4) from direction, spacing [sz, sy, sx] and origin. */
export function affineFrom(direction: number[], spacing: [number, number, number], origin: [number, number, number]): number[] {
  const s = [spacing[2], spacing[1], spacing[0]];
  const A = new Array<number>(16).fill(0);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) A[4 * r + c] = direction[3 * r + c] * s[c];
    A[4 * r + 3] = origin[r];
  }
  A[15] = 1;
  return A;
}

/** Direction, spacing [sz, sy, sx] and origin of an affine. */
export function geometryFromAffine(A: number[]): { direction: number[]; spacing: [number, number, number]; origin: [number, number, number] } {
  const norms = [0, 1, 2].map((c) => Math.hypot(A[c], A[4 + c], A[8 + c]) || 1);
  const direction = new Array<number>(9);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) direction[3 * r + c] = A[4 * r + c] / norms[c];
  return { direction, spacing: [norms[2], norms[1], norms[0]], origin: [A[3], A[7], A[11]] };
}

const IDENTITY = [1, 0, 0, 0, 1, 0, 0, 0, 1];

/**
 * Orientation codes in nibabel's convention: for array axes x, y, z, the world direction each one points
 * towards (R/L, A/P, S/I). Identity → 'RAS'; a volume whose x and y run right-to-left and front-to-back → 'LPS'.
 */
export function axisCodes(direction: number[]): string {
  const names = ['RL', 'AP', 'SI'];
  let s = '';
  for (let c = 0; c < 3; c++) {
    const col = [direction[c], direction[3 + c], direction[6 + c]];
    let best = 0;
    for (let r = 1; r < 3; r++) if (Math.abs(col[r]) > Math.abs(col[best])) best = r;
    s += names[best][col[best] >= 0 ? 0 : 1];
  }
  return s;
}

/** A volume with default geometry (identity direction, origin 0) and the given spacing. */
export function makeVolume(data: VolumeData, shape: [number, number, number], spacing: [number, number, number] = [1, 1, 1]): Volume {
  const n = shape[0] * shape[1] * shape[2];
  if (data.length !== n) throw new VesselError(`volume: data has ${data.length} elements, shape [${shape.join(', ')}] needs ${n}`);
  return { data, shape, dtype: dtypeOfVolumeData(data), spacing, origin: [0, 0, 0], direction: [...IDENTITY], affine: affineFrom(IDENTITY, spacing, [0, 0, 0]) };
}

/** The format implied by a file name, or null. `.npz:name` selects an array. */
export function formatOf(path: string): VolumeFormat | null {
  const p = path.toLowerCase().replace(/\.npz:[^/\\]*$/, '.npz');
  if (p.endsWith('.nii') || p.endsWith('.nii.gz')) return 'nifti';
  if (p.endsWith('.tif') || p.endsWith('.tiff')) return 'tiff';
  if (p.endsWith('.mha') || p.endsWith('.mhd')) return 'metaimage';
  if (p.endsWith('.npy')) return 'npy';
  if (p.endsWith('.npz')) return 'npz';
  return null;
}

export const SUPPORTED_EXTENSIONS = '.nii, .nii.gz, .tif, .tiff, .mha, .mhd, .npy, .npz[:array]';

const LPS = (v: number[]) => [-v[0], -v[1], v[2]];
function dirLpsToRas(d: number[]): number[] {
  return [-d[0], -d[1], -d[2], -d[3], -d[4], -d[5], d[6], d[7], d[8]];
}

/** A NumPy array as a 3-D volume: leading size-1 axes (batch, channel) are dropped; bool → uint8, int64 → int32/float64, float16 → float32. */
export function volumeFromNpy(a: NpyArray, label: string): Volume {
  let shape = [...a.shape];
  while (shape.length > 3 && shape[0] === 1) shape = shape.slice(1);
  if (shape.length !== 3) throw new VesselError(`${label}: expected a 3-D array (z, y, x), got shape [${a.shape.join(', ')}]`);
  let data: VolumeData;
  const stored = a.dtype;
  switch (a.dtype) {
    case 'bool':
    case 'uint8':
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'float32':
    case 'float64':
      data = a.data as VolumeData;
      break;
    case 'float16':
      data = a.data as Float32Array;
      break;
    case 'int64':
    case 'uint64': {
      const f = a.data as Float64Array;
      let fits = true;
      for (let i = 0; i < f.length && fits; i++) fits = f[i] >= -2147483648 && f[i] <= 2147483647;
      data = fits ? Int32Array.from(f) : f;
      break;
    }
    default:
      throw new VesselError(`${label}: unsupported dtype ${a.dtype} for an image`);
  }
  const v = makeVolume(data, shape as [number, number, number]);
  v.source = { format: 'npy', storedDtype: stored };
  return v;
}

export interface DecodeOptions {
  /** .npz: which array (default: the only one) */
  array?: string;
  /** .mhd: the separate data file's bytes */
  dataFile?: Uint8Array;
}

/** Decode a volume from bytes in the given format. `label` (usually the path) names the file in errors. */
export function decodeVolume(bytes: Uint8Array, format: VolumeFormat, label: string, options: DecodeOptions = {}): Volume {
  switch (format) {
    case 'nifti': {
      const img = readNifti(bytes, label);
      const g = geometryFromAffine(img.affine);
      return {
        data: img.data,
        shape: img.shape,
        dtype: img.dtype,
        spacing: g.spacing,
        origin: g.origin,
        direction: g.direction,
        affine: img.affine,
        source: { format, nifti: img.header, storedDtype: img.scaled ? `scaled datatype ${img.header.datatype}` : img.dtype },
      };
    }
    case 'tiff': {
      const t = readTiff(bytes, label);
      const v = makeVolume(t.data, t.shape, t.spacing);
      v.source = { format, unit: t.unit };
      return v;
    }
    case 'metaimage': {
      const m = readMetaImage(bytes, label, options.dataFile);
      const direction = dirLpsToRas(m.direction);
      const origin = LPS(m.origin) as [number, number, number];
      return {
        data: m.data,
        shape: m.shape,
        dtype: m.dtype,
        spacing: m.spacing,
        origin,
        direction,
        affine: affineFrom(direction, m.spacing, origin),
        source: { format, meta: m.header },
      };
    }
    case 'npy':
      return volumeFromNpy(readNpy(bytes, label), label);
    case 'npz': {
      let name = options.array;
      if (!name) {
        const names = listNpz(bytes, label);
        if (names.length !== 1) throw new VesselError(`${label}: holds ${names.length} arrays (${names.slice(0, 6).join(', ')}${names.length > 6 ? ', …' : ''}); name one as ${label}:<array>`);
        name = names[0];
      }
      const v = volumeFromNpy(readNpzArray(bytes, name, label), `${label}:${name}`);
      v.source = { ...v.source!, format: 'npz', array: name };
      return v;
    }
  }
}

export interface EncodeOptions {
  /** gzip NIfTI (default: true for .nii.gz — decided by the caller from the name) */
  gzip?: boolean;
  /** TIFF: 'none' | 'deflate'; MetaImage: zlib when 'deflate' */
  compression?: 'none' | 'deflate';
  /** .npz: array name (default 'volume') */
  array?: string;
  /** .mhd: the data file name to reference (its bytes come back in `extra`) */
  dataFile?: string;
}

/** Encode a volume. Geometry comes from `like` when given (its shape must match), else from the volume itself. */
export function encodeVolume(vol: Volume, format: VolumeFormat, options: EncodeOptions = {}, like?: Volume): { bytes: Uint8Array; extra?: Uint8Array } {
  const n = vol.shape[0] * vol.shape[1] * vol.shape[2];
  if (vol.data.length !== n) throw new VesselError(`volume: data has ${vol.data.length} elements, shape [${vol.shape.join(', ')}] needs ${n}`);
  if (like && like.shape.some((s, i) => s !== vol.shape[i])) {
    throw new VesselError(`volume: output shape [${vol.shape.join(', ')}] differs from the reference image's [${like.shape.join(', ')}]`);
  }
  const ref = like ?? vol;
  switch (format) {
    case 'nifti': {
      const header = ref.source?.nifti;
      return {
        bytes: writeNifti(vol.data, vol.shape, header ? { like: header, gzip: options.gzip } : { affine: ref.affine, gzip: options.gzip, unit: spatialUnit(ref) }),
      };
    }
    case 'tiff':
      return {
        bytes: writeTiff(vol.data, vol.shape, {
          compression: options.compression ?? 'none',
          spacing: ref.spacing.every((s) => s === 1) ? undefined : ref.spacing,
          unit: spatialUnit(ref),
        }),
      };
    case 'metaimage': {
      const header = ref.source?.meta;
      const r = writeMetaImage(vol.data, vol.shape, {
        like: header,
        spacing: ref.spacing,
        origin: LPS(ref.origin) as [number, number, number],
        direction: dirLpsToRas(ref.direction),
        compress: options.compression === 'deflate',
        dataFile: options.dataFile,
      });
      return { bytes: r.header, extra: r.data };
    }
    case 'npy':
      return { bytes: writeNpy({ data: vol.data, shape: [...vol.shape] }) };
    case 'npz':
      return { bytes: writeNpz({ [options.array ?? 'volume']: { data: vol.data, shape: [...vol.shape] } }, { compress: options.compression !== 'none' }) };
  }
}

/** The physical unit of a volume's spacing: TIFF's ImageJ unit, NIfTI's xyzt_units, 'mm' for MetaImage (ITK). */
export function spatialUnit(v: Volume): string | undefined {
  const src = v.source;
  if (!src) return undefined;
  if (src.unit) return src.unit;
  if (src.nifti) return ({ 1: 'm', 2: 'mm', 3: 'µm' } as Record<number, string>)[src.nifti.xyztUnits & 7];
  if (src.format === 'metaimage') return 'mm';
  return undefined;
}

/**
 * Throw a one-line error if the image holds NaN or ±Infinity (names the first voxel and the count).
 * Integer volumes pass at once.
 */
export function checkFinite(vol: Volume, label = 'image'): void {
  if (vol.dtype !== 'float32' && vol.dtype !== 'float64') return;
  const d = vol.data;
  let count = 0;
  let first = -1;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v - v !== 0) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (count > 0) {
    const [, ny, nx] = vol.shape;
    const z = Math.floor(first / (ny * nx));
    const y = Math.floor((first % (ny * nx)) / nx);
    const x = first % nx;
    throw new VesselError(`${label}: image contains ${count} non-finite value(s) (NaN or Inf), first at voxel (z=${z}, y=${y}, x=${x})`);
  }
}
