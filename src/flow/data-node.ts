// Training batches for D_flow (spec §5.3): image/mask sample folders (`<i>/img.npy` + `<i>/mask.npy`, D_drand
// output or real data; upstream's `img_<c>.npy` names give the class c), a uniformly drawn sample per slot, a random
// crop (or centred zero padding) to the training size, upstream's augmentation (flips of the three axes and 90°
// rotations in the three planes, each p 0.5, applied jointly to image and mask), and the image mapped from [0, 1]
// to [−1, 1] (img·2 − 1). Randomness is the counter-based CounterRng, so (seed, counter) is the whole state.
import { basename } from 'node:path';
import type { PairSource, SampleRef, VolumePair } from '../data/datasets.js';
import type { CounterRng } from '../data/mix.js';
import { VesselError } from '../gpu/errors.js';

export interface FlowBatch {
  /** [B, 1, S, S, S] in [−1, 1] */
  image: Float32Array;
  /** [B, 1, S, S, S] 0/1 */
  mask: Float32Array;
  classes: number[];
  names: string[];
}

/** The class of a sample: `img_<c>.npy` (upstream's sample names) → c, else the default. */
export function classOfRef(ref: SampleRef, fallback: number): number {
  const m = /_(\d+)\.[^.]+(\.gz)?$/.exec(basename(ref.image));
  return m ? Number(m[1]) : fallback;
}

export class FlowBatcher {
  constructor(
    readonly source: PairSource,
    readonly classes: readonly number[],
    readonly size: number,
    readonly rng: CounterRng,
    readonly augment = true,
  ) {
    if (classes.length !== source.size) throw new VesselError(`flow data: ${source.size} samples but ${classes.length} classes`);
  }

  next(batch: number): FlowBatch {
    const S = this.size;
    const n = S * S * S;
    const image = new Float32Array(batch * n);
    const mask = new Float32Array(batch * n);
    const classes: number[] = [];
    const names: string[] = [];
    for (let b = 0; b < batch; b++) {
      const i = this.source.size === batch ? b : this.rng.int(this.source.size);
      const vol = this.source.get(i);
      classes.push(this.classes[i]);
      names.push(this.source.sampleName(i));
      const img = new Float32Array(n);
      const msk = new Float32Array(n);
      this.cut(vol, img, msk);
      if (this.augment) {
        for (let ax = 0; ax < 3; ax++) if (this.rng.next() < 0.5) flip(img, msk, S, ax);
        for (const [a, c] of [[0, 1], [0, 2], [1, 2]] as const) if (this.rng.next() < 0.5) rot90(img, msk, S, a, c);
      }
      for (let k = 0; k < n; k++) img[k] = img[k] * 2 - 1;
      image.set(img, b * n);
      mask.set(msk, b * n);
    }
    return { image, mask, classes, names };
  }

  private cut(vol: VolumePair, img: Float32Array, msk: Float32Array): void {
    const S = this.size;
    const V = vol.shape;
    const src = [0, 0, 0];
    const dst = [0, 0, 0];
    const len = [0, 0, 0];
    for (let a = 0; a < 3; a++) {
      if (V[a] > S) {
        src[a] = this.rng.int(V[a] - S + 1);
        len[a] = S;
      } else {
        dst[a] = Math.floor((S - V[a]) / 2);
        len[a] = V[a];
      }
    }
    // padding: image 0 (→ −1 after mapping, upstream's background), mask 0
    for (let z = 0; z < len[0]; z++) {
      for (let y = 0; y < len[1]; y++) {
        const s = ((src[0] + z) * V[1] + src[1] + y) * V[2] + src[2];
        const d = ((dst[0] + z) * S + dst[1] + y) * S + dst[2];
        img.set(vol.image.subarray(s, s + len[2]), d);
        for (let x = 0; x < len[2]; x++) msk[d + x] = vol.label[s + x];
      }
    }
  }
}

function flip(img: Float32Array, msk: Float32Array, S: number, axis: number): void {
  const a = Float32Array.from(img);
  const m = Float32Array.from(msk);
  for (let z = 0; z < S; z++)
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const c = [z, y, x];
        c[axis] = S - 1 - c[axis];
        const s = (c[0] * S + c[1]) * S + c[2];
        const d = (z * S + y) * S + x;
        img[d] = a[s];
        msk[d] = m[s];
      }
}

/** np.rot90(k=1, axes=(p, q)) of a cube: out[.., i_p, .., i_q, ..] = in[.., i_q, .., S−1−i_p, ..]. */
function rot90(img: Float32Array, msk: Float32Array, S: number, p: number, q: number): void {
  const a = Float32Array.from(img);
  const m = Float32Array.from(msk);
  for (let z = 0; z < S; z++)
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const o = [z, y, x];
        const c = [z, y, x];
        c[p] = o[q];
        c[q] = S - 1 - o[p];
        const s = (c[0] * S + c[1]) * S + c[2];
        const d = (z * S + y) * S + x;
        img[d] = a[s];
        msk[d] = m[s];
      }
}
