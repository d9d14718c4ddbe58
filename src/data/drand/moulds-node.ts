// Real vessel moulds from files (Node): a folder of .npy / NIfTI / TIFF masks (searched one level of sub-folders
// deep, as upstream's folder of sub-folders), validated as binary and large enough for the crop.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { VesselError } from '../../gpu/errors.js';
import { readVolume } from '../../io/volume.js';
import { checkMould, type MouldArray, type MouldSource } from './moulds.js';

const MOULD_EXT = /\.(npy|nii|nii\.gz|tif|tiff)$/i;

/**
 * Mould files under `dir` (or `dir` itself when it is a file): volume files directly inside it or in its
 * sub-folders. Where any file name contains "mask", only those are moulds (upstream's convention; its "rad" and
 * "ang" companions are ignored).
 */
export function listMouldFiles(dir: string): string[] {
  if (!existsSync(dir)) throw new VesselError(`--moulds: ${dir}: no such file or folder`);
  if (statSync(dir).isFile()) return [dir];
  const found: string[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (f.startsWith('.')) continue;
    const p = join(dir, f);
    const st = statSync(p);
    if (st.isFile() && MOULD_EXT.test(f)) found.push(p);
    else if (st.isDirectory()) {
      for (const g of readdirSync(p).sort()) if (!g.startsWith('.') && MOULD_EXT.test(g) && statSync(join(p, g)).isFile()) found.push(join(p, g));
    }
  }
  const masks = found.filter((p) => /mask/i.test(basename(p)));
  const files = masks.length ? masks : found;
  if (files.length === 0) throw new VesselError(`--moulds: ${dir} holds no mould files (.npy, .nii, .nii.gz, .tif, .tiff)`);
  return files;
}

/** Read and validate one mould file. */
export function loadMouldFile(path: string, minSize: number): MouldArray {
  let vol;
  try {
    vol = readVolume(path);
  } catch (e) {
    throw new VesselError(`mould ${path}: unreadable: ${(e as Error).message.split('\n')[0]}`);
  }
  return checkMould(path, vol.data, vol.shape, minSize);
}

/**
 * A mould source over files. With `validate` true every file is read and checked now ('auto': when there are at most
 * 32 of them), so a bad file stops the run before it starts; otherwise a bad file stops it when first drawn. Either
 * way the error is one line naming the file.
 */
export function mouldFiles(dir: string, size: number, validate: boolean | 'auto' = false): MouldSource {
  const files = listMouldFiles(dir);
  if (validate === true || (validate === 'auto' && files.length <= 32)) for (const f of files) loadMouldFile(f, size);
  return { kind: 'arrays', count: files.length, names: files, load: (i) => loadMouldFile(files[i], size) };
}
