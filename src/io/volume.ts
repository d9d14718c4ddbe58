// Reading and writing 3-D volumes as files (Node): the format comes from the extension, outputs are written
// atomically (temporary name, then rename) and keep a reference image's geometry when `like` is given.
// The Volume type and the conventions (shape [z, y, x], spacing [sz, sy, sx], RAS world) are in volume-codec.ts.
import { basename, dirname, join } from 'node:path';
import { VesselError } from '../gpu/errors.js';
import { readBytes, writeBytesAtomic } from './files.js';
import { decodeVolume, encodeVolume, formatOf, SUPPORTED_EXTENSIONS, type Volume, type VolumeFormat } from './volume-codec.js';
import { readMetaHeader } from './metaimage.js';

export * from './volume-codec.js';

/** Split `file.npz:array` into the file and the array name. */
export function splitArrayName(path: string): { file: string; array?: string } {
  const m = /^(.*\.npz):([^/\\]+)$/i.exec(path);
  return m ? { file: m[1], array: m[2] } : { file: path };
}

function formatOrThrow(path: string): VolumeFormat {
  const f = formatOf(path);
  if (!f) throw new VesselError(`${path}: unknown image file extension (supported: ${SUPPORTED_EXTENSIONS})`);
  return f;
}

export interface ReadVolumeOptions {
  /** .npz: which array (or write `file.npz:name`) */
  array?: string;
}

/** Read a volume from a file: .nii/.nii.gz, .tif/.tiff, .mha, .mhd (+ its data file), .npy, .npz[:array]. */
export function readVolume(path: string, options: ReadVolumeOptions = {}): Volume {
  const { file, array } = splitArrayName(path);
  const format = formatOrThrow(file);
  const bytes = readBytes(file);
  let dataFile: Uint8Array | undefined;
  if (format === 'metaimage') {
    const h = readMetaHeader(bytes, file);
    if (h.dataOffset < 0 && !/^LIST$/i.test(h.dataFile) && !h.dataFile.includes('%')) dataFile = readBytes(join(dirname(file), h.dataFile));
  }
  return decodeVolume(bytes, format, file, { array: options.array ?? array, dataFile });
}

export interface WriteVolumeOptions {
  /** TIFF and MetaImage: 'deflate' compresses (zlib); .npz: 'none' stores. NIfTI compresses by the .gz name. */
  compression?: 'none' | 'deflate';
  /** .npz array name (or write `file.npz:name`); default 'volume' */
  array?: string;
}

/**
 * Write a volume; the format comes from the extension. With `like` (usually the input image), the output keeps
 * its geometry (NIfTI/MetaImage header fields verbatim, spacing, origin, direction); shapes must match.
 * Written atomically: a crash leaves no half-written file under `path`.
 */
export function writeVolume(path: string, vol: Volume, like?: Volume, options: WriteVolumeOptions = {}): void {
  const { file, array } = splitArrayName(path);
  const format = formatOrThrow(file);
  const lower = file.toLowerCase();
  if (format === 'metaimage' && lower.endsWith('.mhd')) {
    const compressed = options.compression === 'deflate';
    const dataName = basename(file).replace(/\.mhd$/i, compressed ? '.zraw' : '.raw');
    const { bytes, extra } = encodeVolume(vol, format, { compression: options.compression, dataFile: dataName }, like);
    writeBytesAtomic(join(dirname(file), dataName), extra!);
    writeBytesAtomic(file, bytes);
    return;
  }
  const { bytes } = encodeVolume(vol, format, { gzip: lower.endsWith('.gz'), compression: options.compression, array: options.array ?? array }, like);
  writeBytesAtomic(file, bytes);
}
