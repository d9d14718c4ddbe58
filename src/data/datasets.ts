// Image/label sources for training (Node: reads files through src/io). A source is an ordered list of samples, each
// an image volume and its label volume; samples load lazily and stay in a byte-bounded cache, so a folder with
// hundreds of thousands of D_drand samples costs only what the sampler touches.
//
// Layouts:
// - `--images a.nii.gz b.nii.gz … --labels …` (files, folders of files, or both): pairs matched by name when the
//   image and label names agree once tokens like img/image/label/mask/seg/gt are removed, else by sorted order.
// - `--data DIR` of sample folders `DIR/<i>/` each holding one file whose name contains `img` and one whose name
//   contains `mask` (`img.npy` + `mask.npy` as D_drand writes them, or upstream's `img_<c>.npy` + `mask_<c>.npy`);
//   a DIR that itself holds such a pair is one sample.
// Labels become masks as vesselFM reads them (stored value > 0). Images are used as stored unless percentile
// normalisation is asked for (1–99 → [0, 1], clipped, as inference does).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { VesselError } from '../gpu/errors.js';
import { percentileScale } from '../eval/percentile.js';
import { readVolume } from '../io/volume.js';

export type Vec3 = [number, number, number];

/** One loaded training sample: image as float32, mask as 0/1, both C order [z, y, x]. */
export interface VolumePair {
  name: string;
  shape: Vec3;
  image: Float32Array;
  label: Uint8Array;
}

/** Where a sample's files are. */
export interface SampleRef {
  name: string;
  image: string;
  label: string;
}

export interface LoadOptions {
  /** 'percentile': 1–99 percentile scaling to [0, 1], clipped; 'none' (default): values as stored. */
  normalize?: 'none' | 'percentile';
}

const VOLUME_EXT = /\.(nii|nii\.gz|tif|tiff|mha|mhd|npy|npz)$/i;

function stemOf(path: string): string {
  return basename(path).replace(VOLUME_EXT, '');
}

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

/** A name with the usual image/label tokens removed, for matching images to labels by name. */
function pairKey(path: string): string {
  return stemOf(path)
    .toLowerCase()
    .replace(/(^|[_\-. ])(img|image|images|label|labels|mask|masks|seg|gt|data)(?=$|[_\-. ])/g, '$1')
    .replace(/[_\-. ]+/g, '_')
    .replace(/^_|_$/g, '');
}

/** Pair image files with label files: by name when the names correspond one to one, else by sorted order. */
export function pairFiles(images: readonly string[], labels: readonly string[]): SampleRef[] {
  const imgKeys = images.map(pairKey);
  const labKeys = labels.map(pairKey);
  const labByKey = new Map(labKeys.map((k, i) => [k, labels[i]]));
  const byName =
    images.length === labels.length &&
    new Set(imgKeys).size === images.length &&
    labByKey.size === labels.length &&
    imgKeys.every((k) => labByKey.has(k));
  if (byName) return images.map((im, i) => ({ name: stemOf(im), image: im, label: labByKey.get(imgKeys[i])! }));
  if (images.length !== labels.length) {
    throw new VesselError(`${images.length} image file(s) but ${labels.length} label file(s), and their names do not pair up`);
  }
  const si = [...images].sort();
  const sl = [...labels].sort();
  return si.map((im, i) => ({ name: stemOf(im), image: im, label: sl[i] }));
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

/**
 * D_flow's held-out classes (spec §1.7: `filter_dataset_IDs: [2, 10, 12, 13]`, the evaluation sets): samples whose
 * image file name ends in `_<class>` are skipped when a mix source is named `flow`.
 */
export const FLOW_HELD_OUT_CLASSES: readonly number[] = [2, 10, 12, 13];

/** Drop samples whose image file name ends in `_<c>` (before the extension) for a class c in `classes`. */
export function excludeClasses(refs: readonly SampleRef[], classes: readonly number[]): SampleRef[] {
  const set = new Set(classes);
  return refs.filter((r) => {
    const m = /_(\d+)$/.exec(stemOf(r.image));
    return !(m && set.has(Number(m[1])));
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

/** An ordered set of samples with lazy loading and an LRU cache bounded in bytes. */
export class PairSource {
  private readonly cache = new Map<number, VolumePair>();
  private cachedBytes = 0;

  private constructor(
    readonly name: string,
    private readonly refs: readonly SampleRef[] | null,
    private readonly memory: readonly VolumePair[] | null,
    private readonly opts: LoadOptions,
    readonly cacheBytes: number,
  ) {}

  static fromFiles(name: string, refs: readonly SampleRef[], opts: LoadOptions = {}, cacheBytes = 2 ** 31): PairSource {
    if (refs.length === 0) throw new VesselError(`source ${name}: no samples`);
    return new PairSource(name, refs, null, opts, cacheBytes);
  }

  /** In-memory samples (used as given: no normalisation, no checks beyond shapes). */
  static fromArrays(name: string, pairs: readonly VolumePair[]): PairSource {
    if (pairs.length === 0) throw new VesselError(`source ${name}: no samples`);
    for (const p of pairs) {
      const n = p.shape[0] * p.shape[1] * p.shape[2];
      if (p.image.length !== n || p.label.length !== n) {
        throw new VesselError(`sample ${p.name}: shape [${p.shape.join(', ')}] needs ${n} values, image has ${p.image.length} and label ${p.label.length}`);
      }
    }
    return new PairSource(name, null, pairs, {}, 0);
  }

  get size(): number {
    return this.refs ? this.refs.length : this.memory!.length;
  }

  sampleName(i: number): string {
    return this.refs ? this.refs[i].name : this.memory![i].name;
  }

  get(i: number): VolumePair {
    if (this.memory) return this.memory[i];
    const hit = this.cache.get(i);
    if (hit) {
      // move to the most-recent end
      this.cache.delete(i);
      this.cache.set(i, hit);
      return hit;
    }
    const p = loadPair(this.refs![i], this.opts);
    const bytes = p.image.byteLength + p.label.byteLength;
    this.cache.set(i, p);
    this.cachedBytes += bytes;
    while (this.cachedBytes > this.cacheBytes && this.cache.size > 1) {
      const [k, old] = this.cache.entries().next().value as [number, VolumePair];
      this.cache.delete(k);
      this.cachedBytes -= old.image.byteLength + old.label.byteLength;
    }
    return p;
  }
}
