// Image/label sources for training, browser-safe: sample descriptions, pairing of image and label files by name or
// sorted order, D_flow's held-out classes, and PairSource — an ordered set of samples loaded lazily through a loader
// and kept in a byte-bounded LRU cache, so a folder with hundreds of thousands of D_drand samples costs only what
// the sampler touches. Reading files and folders (Node) lives in src/train/data-files.ts; src/data/datasets.ts
// offers both together for Node callers.
//
// Layouts:
// - `--images a.nii.gz b.nii.gz … --labels …` (files, folders of files, or both): pairs matched by name when the
//   image and label names agree once tokens like img/image/label/mask/seg/gt are removed, else by sorted order.
// - `--data DIR` of sample folders `DIR/<i>/` each holding one file whose name contains `img` and one whose name
//   contains `mask` (`img.npy` + `mask.npy` as D_drand writes them, or upstream's `img_<c>.npy` + `mask_<c>.npy`);
//   a DIR that itself holds such a pair is one sample.
// Labels become masks as vesselFM reads them (stored value > 0). Images are used as stored unless percentile
// normalisation is asked for (1–99 → [0, 1], clipped, as inference does).
import { VesselError } from '../gpu/errors.js';

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

/** File names this project reads as volumes. */
export const VOLUME_EXT = /\.(nii|nii\.gz|tif|tiff|mha|mhd|npy|npz)$/i;

/** The file name without folder and volume extension. */
export function stemOf(path: string): string {
  return path.replace(/^.*[\\/]/, '').replace(VOLUME_EXT, '');
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

/** An ordered set of samples with lazy loading and an LRU cache bounded in bytes. */
export class PairSource {
  private readonly cache = new Map<number, VolumePair>();
  private cachedBytes = 0;

  private constructor(
    readonly name: string,
    private readonly refs: readonly SampleRef[] | null,
    private readonly memory: readonly VolumePair[] | null,
    private readonly load: ((ref: SampleRef) => VolumePair) | null,
    readonly cacheBytes: number,
  ) {}

  /**
   * Reads sample files (set by src/train/data-files.ts when it is loaded, so this module stays browser-safe);
   * used by fromFiles.
   */
  static fileLoader: ((ref: SampleRef, opts: LoadOptions) => VolumePair) | null = null;

  /** Samples from files, read on first use (Node: import src/data/datasets.ts or src/train/data-files.ts). */
  static fromFiles(name: string, refs: readonly SampleRef[], opts: LoadOptions = {}, cacheBytes = 2 ** 31): PairSource {
    const load = PairSource.fileLoader;
    if (!load) throw new VesselError('PairSource.fromFiles: no file reader in this environment (Node: import src/data/datasets.ts)');
    return PairSource.fromLoader(name, refs, (r) => load(r, opts), cacheBytes);
  }

  /** Samples read on first use by `load` (e.g. src/train/data-files.ts loadPair), cached up to `cacheBytes`. */
  static fromLoader(name: string, refs: readonly SampleRef[], load: (ref: SampleRef) => VolumePair, cacheBytes = 2 ** 31): PairSource {
    if (refs.length === 0) throw new VesselError(`source ${name}: no samples`);
    return new PairSource(name, refs, null, load, cacheBytes);
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
    return new PairSource(name, null, pairs, null, 0);
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
    const p = this.load!(this.refs![i]);
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
