// Training data from files and folders (Node): expanding --images/--labels arguments into volume files, the sample
// folders of --data (D_drand's `<i>/img.npy` + `<i>/mask.npy`, upstream's `img_<c>.npy` + `mask_<c>.npy`), and
// reading one sample with its checks. The browser-safe part (pairing, PairSource) is src/data/datasets.ts.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { PairSource, VOLUME_EXT, type LoadOptions, type SampleRef, type Vec3, type VolumePair } from '../data/sources.js';
import { percentileScale } from '../eval/percentile.js';
import { VesselError } from '../gpu/errors.js';
import { readVolume } from '../io/volume.js';

/** Expand files and folders into a sorted list of volume files (a folder contributes the volume files directly inside it). */
export function listVolumeFiles(paths: readonly string[], what = 'images'): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (!existsSync(p)) throw new VesselError(`--${what}: ${p}: no such file or folder`);
    if (statSync(p).isDirectory()) {
      const files = readdirSync(p)
        .filter((f) => VOLUME_EXT.test(f) && !f.startsWith('.'))
        .sort()
        .map((f) => join(p, f))
        .filter((f) => statSync(f).isFile());
      if (files.length === 0) throw new VesselError(`--${what}: folder ${p} holds no volume files (.nii, .nii.gz, .tif, .mha, .mhd, .npy, .npz)`);
      out.push(...files);
    } else out.push(p);
  }
  if (out.length === 0) throw new VesselError(`--${what}: no files given`);
  return out;
}

/** The image and mask files of one sample folder (names containing `img` and `mask`), or null if it has neither. */
function folderPair(dir: string): { image: string | null; label: string | null; files: string[] } {
  const files = readdirSync(dir).filter((f) => VOLUME_EXT.test(f) && !f.startsWith('.'));
  const pick = (re: RegExp): string | null => {
    const hits = files.filter((f) => re.test(f)).sort();
    if (hits.length > 1) throw new VesselError(`${dir}: several files match ${re.source} (${hits.join(', ')}); a sample folder holds one image and one mask`);
    return hits.length ? join(dir, hits[0]) : null;
  };
  // D_drand's names first (img.npy, mask.npy), then any file whose name contains img / mask (upstream's rule).
  const image = files.includes('img.npy') ? join(dir, 'img.npy') : pick(/img/i);
  const label = files.includes('mask.npy') ? join(dir, 'mask.npy') : pick(/mask/i);
  return { image, label, files };
}

/** The samples of a `--data` folder: its sub-folders in natural order, or the folder itself when it holds a pair. */
export function sampleFolders(dir: string): SampleRef[] {
  if (!existsSync(dir)) throw new VesselError(`--data: ${dir}: no such folder`);
  if (!statSync(dir).isDirectory()) throw new VesselError(`--data: ${dir} is a file; expected a folder of <i>/img.npy + <i>/mask.npy samples`);
  const self = folderPair(dir);
  if (self.image || self.label) {
    if (!self.label) throw new VesselError(`${dir}: no mask file (expected mask.npy next to ${basename(self.image!)})`);
    if (!self.image) throw new VesselError(`${dir}: no image file (expected img.npy next to ${basename(self.label)})`);
    return [{ name: basename(dir), image: self.image, label: self.label }];
  }
  const subs = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (subs.length === 0) {
    const what = readdirSync(dir).length === 0 ? 'is empty' : 'holds no sample folders';
    throw new VesselError(`--data: ${dir} ${what} (expected <i>/img.npy + <i>/mask.npy)`);
  }
  return subs.map((s) => {
    const d = join(dir, s);
    const p = folderPair(d);
    if (!p.image) throw new VesselError(`${d}: no image file (expected img.npy)`);
    if (!p.label) throw new VesselError(`${d}: no mask file (expected mask.npy)`);
    return { name: s, image: p.image, label: p.label };
  });
}

/** Read one sample from disk: shapes must agree and the image must be finite. */
export function loadPair(ref: SampleRef, opts: LoadOptions = {}): VolumePair {
  const img = readVolume(ref.image);
  const lab = readVolume(ref.label);
  if (img.shape.some((s, i) => s !== lab.shape[i])) {
    throw new VesselError(`sample ${ref.name}: image ${ref.image} is [${img.shape.join(', ')}] but label ${ref.label} is [${lab.shape.join(', ')}]`);
  }
  const n = img.data.length;
  let image: Float32Array;
  if (opts.normalize === 'percentile') image = percentileScale(img.data).data;
  else image = img.data instanceof Float32Array ? img.data : Float32Array.from(img.data);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(image[i])) throw new VesselError(`${ref.image}: the image contains ${Number.isNaN(image[i]) ? 'NaN' : 'infinite values'}`);
  }
  const label = new Uint8Array(n);
  const ld = lab.data;
  for (let i = 0; i < n; i++) label[i] = ld[i] > 0 ? 1 : 0;
  return { name: ref.name, shape: [...img.shape] as Vec3, image, label };
}

/** A lazily loaded source of sample files. */
export function fileSource(name: string, refs: readonly SampleRef[], opts: LoadOptions = {}, cacheBytes?: number): PairSource {
  return PairSource.fromLoader(name, refs, (r) => loadPair(r, opts), cacheBytes);
}

PairSource.fileLoader = loadPair;
