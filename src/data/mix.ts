// Drawing training batches: the three-source mix of spec §1.7 (pick a source with probability weight / Σ weights,
// then a uniformly random sample inside it) and random patches cut from the chosen volumes (zero padding where a
// volume is smaller than the patch), optionally flipped. Randomness is counter-based Philox (the engine's own
// generator, kernels/random.ts, evaluated on the CPU): the whole sampler state is (seed, counter), so a resumed
// run continues the exact sequence it would have drawn.
import { randomWordCpu } from '../../kernels/random.js';
import { VesselError } from '../gpu/errors.js';
import type { PairSource, Vec3, VolumePair } from './sources.js';

/** Philox words as a stream: state = (seed, counter). Stream 1 keeps it apart from the GPU initialisers' stream 0. */
export class CounterRng {
  constructor(
    readonly seed: number,
    public counter = 0,
  ) {}
  /** Uniform in [0, 1) with 32 random bits. */
  next(): number {
    return randomWordCpu(this.seed, this.counter++, 1) / 2 ** 32;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.min(n - 1, Math.floor(this.next() * n));
  }
}

export interface MixEntry {
  name: string;
  dir: string;
  weight: number;
}

/**
 * Parse `--data` arguments: `name=DIR:weight` (e.g. `drand=/d:0.7 flow=/f:0.1 real=/r:0.2`), `name=DIR` or a bare
 * `DIR` (weight 1). Weights must be positive finite numbers; names must be distinct.
 */
export function parseMixSpec(args: readonly string[]): MixEntry[] {
  if (args.length === 0) throw new VesselError('--data: no folder given');
  const out: MixEntry[] = [];
  args.forEach((a, i) => {
    let name = `source${i}`;
    let rest = a;
    const eq = /^([A-Za-z_][\w-]*)=(.+)$/.exec(a);
    if (eq) [name, rest] = [eq[1], eq[2]];
    let weight = 1;
    const colon = /^(.+):([^:/\\]*)$/.exec(rest);
    if (colon && eq) {
      const w = Number(colon[2]);
      if (colon[2].trim() === '' || !Number.isFinite(w) || w <= 0) throw new VesselError(`--data ${a}: weight "${colon[2]}" must be a positive number`);
      rest = colon[1];
      weight = w;
    }
    if (out.some((e) => e.name === name)) throw new VesselError(`--data: source name "${name}" is given twice`);
    out.push({ name, dir: rest, weight });
  });
  return out;
}

/** Picks (source, sample) pairs: a source by normalised weight, then a sample uniformly inside it (spec §1.7). */
export class MixSampler {
  readonly probs: number[];
  private readonly cdf: number[];
  constructor(
    readonly sources: readonly PairSource[],
    weights: readonly number[],
    readonly rng: CounterRng,
  ) {
    if (sources.length === 0) throw new VesselError('mix: no sources');
    if (weights.length !== sources.length) throw new VesselError(`mix: ${sources.length} sources but ${weights.length} weights`);
    if (weights.some((w) => !(w > 0) || !Number.isFinite(w))) throw new VesselError(`mix: weights must be positive, got ${weights.join(', ')}`);
    const total = weights.reduce((a, b) => a + b, 0);
    this.probs = weights.map((w) => w / total);
    let acc = 0;
    this.cdf = this.probs.map((p) => (acc += p));
    this.cdf[this.cdf.length - 1] = 1;
  }

  pick(): { source: number; index: number } {
    const u = this.rng.next();
    let s = 0;
    while (s < this.cdf.length - 1 && u >= this.cdf[s]) s++;
    return { source: s, index: this.rng.int(this.sources[s].size) };
  }

  get total(): number {
    return this.sources.reduce((a, s) => a + s.size, 0);
  }
}

export interface PatchOptions {
  /** Random flips (spec §1.8's fine-tune flips: axes 0 and 1, each with probability 0.3). */
  augment?: boolean;
}

export interface Batch {
  /** [batch, 1, pz, py, px] float32 images */
  image: Float32Array;
  /** [batch, 1, pz, py, px] float32 0/1 masks */
  label: Float32Array;
  /** "<source>/<sample>" of each patch */
  names: string[];
}

/** Cuts batches of random patches from the mix. */
export class PatchSampler {
  private ordered: boolean | null = null;

  constructor(
    readonly mix: MixSampler,
    readonly patch: Vec3,
    readonly opts: PatchOptions = {},
  ) {
    if (patch.some((p) => !Number.isInteger(p) || p < 1)) throw new VesselError(`patch [${patch.join(', ')}] must be positive integers`);
  }

  get rng(): CounterRng {
    return this.mix.rng;
  }

  /**
   * Every volume exactly patch-sized and a batch as large as the whole data set: then each batch is all volumes in
   * order (whole-volume training, and the case that reproduces a PyTorch step on a given batch).
   */
  private isOrdered(batch: number): boolean {
    if (this.ordered !== null) return this.ordered;
    let ok = this.mix.total === batch;
    if (ok) {
      for (const s of this.mix.sources) {
        for (let i = 0; i < s.size && ok; i++) ok = s.get(i).shape.every((v, a) => v === this.patch[a]);
      }
    }
    this.ordered = ok;
    return ok;
  }

  next(batch: number): Batch {
    const pn = this.patch[0] * this.patch[1] * this.patch[2];
    const image = new Float32Array(batch * pn);
    const label = new Float32Array(batch * pn);
    const names: string[] = [];
    const picks: { source: number; index: number }[] = [];
    if (this.isOrdered(batch)) {
      this.mix.sources.forEach((s, si) => {
        for (let i = 0; i < s.size; i++) picks.push({ source: si, index: i });
      });
    } else for (let b = 0; b < batch; b++) picks.push(this.mix.pick());
    picks.forEach((pk, b) => {
      const src = this.mix.sources[pk.source];
      const vol = src.get(pk.index);
      names.push(`${src.name}/${src.sampleName(pk.index)}`);
      this.cut(vol, image, label, b * pn);
    });
    return { image, label, names };
  }

  /** Copy a random patch of `vol` (zero-padded, centred, where the volume is smaller) into slot `base`. */
  private cut(vol: VolumePair, image: Float32Array, label: Float32Array, base: number): void {
    const P = this.patch;
    const S = vol.shape;
    const src = [0, 0, 0];
    const dst = [0, 0, 0];
    const len = [0, 0, 0];
    for (let a = 0; a < 3; a++) {
      if (S[a] > P[a]) {
        src[a] = this.rng.int(S[a] - P[a] + 1);
        len[a] = P[a];
      } else {
        dst[a] = Math.floor((P[a] - S[a]) / 2);
        len[a] = S[a];
      }
    }
    let flipZ = false;
    let flipY = false;
    if (this.opts.augment) {
      flipZ = this.rng.next() < 0.3;
      flipY = this.rng.next() < 0.3;
    }
    for (let z = 0; z < len[0]; z++) {
      const dz = flipZ ? P[0] - 1 - (dst[0] + z) : dst[0] + z;
      for (let y = 0; y < len[1]; y++) {
        const dy = flipY ? P[1] - 1 - (dst[1] + y) : dst[1] + y;
        const s = ((src[0] + z) * S[1] + src[1] + y) * S[2] + src[2];
        const d = base + (dz * P[1] + dy) * P[2] + dst[2];
        image.set(vol.image.subarray(s, s + len[2]), d);
        for (let x = 0; x < len[2]; x++) label[d + x] = vol.label[s + x];
      }
    }
  }
}
