// Exact percentiles of a volume (numpy.percentile's default "linear" method) and the percentile intensity scaling
// that vesselFM inference applies (MONAI ScaleIntensityRangePercentiles(1, 99, b_min 0, b_max 1, clip True)).
//
// Selection is exact without sorting the whole volume: integer volumes of ≤ 16 bits use one counting pass; float32
// volumes use a two-level radix select on the order-preserving 32-bit key of each value (a 65536-bin histogram of the
// high halves, then one of the low halves inside each bin that holds a wanted rank), i.e. two passes and 0.5 MiB of
// counters per level even at 512³; other arrays are copied to float64 and quick-selected. No Node imports.
import { VesselError } from '../gpu/errors.js';

export type NumericArray =
  | Float32Array
  | Float64Array
  | Uint8Array
  | Uint8ClampedArray
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | readonly number[];

interface Rank {
  lo: number;
  hi: number;
  gamma: number;
}

/** numpy's virtual index for the linear method, (n − 1)·q/100, split into its two neighbours and the weight. */
function rankOf(q: number, n: number): Rank {
  const v = (n - 1) * (q / 100);
  let lo = Math.floor(v);
  const gamma = v - lo;
  lo = Math.min(Math.max(lo, 0), n - 1);
  const hi = Math.min(lo + 1, n - 1);
  return { lo, hi, gamma };
}

/**
 * numpy's _lerp: a + (b − a)·t, computed from b's side when t ≥ 0.5 so that t = 1 gives b exactly. numpy takes b − a
 * in the array's dtype, so for float32 data the difference is rounded to float32 (`f32`); the rest is float64.
 */
function lerp(a: number, b: number, t: number, f32: boolean): number {
  const d = f32 ? Math.fround(b - a) : b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/** The values at the given sorted-order ranks (0-based), for any numeric array. */
function selectRanks(data: NumericArray, ranks: number[]): number[] {
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray || data instanceof Int8Array) {
    return countingSelect(data, ranks, data instanceof Int8Array ? -128 : 0, 256);
  }
  if (data instanceof Uint16Array || data instanceof Int16Array) {
    return countingSelect(data, ranks, data instanceof Int16Array ? -32768 : 0, 65536);
  }
  if (data instanceof Float32Array) return radixSelectF32(data, ranks);
  const copy = Float64Array.from(data as ArrayLike<number>);
  return ranks.map((k) => quickSelect(copy, k));
}

function countingSelect(data: ArrayLike<number>, ranks: number[], offset: number, bins: number): number[] {
  const hist = new Float64Array(bins);
  for (let i = 0; i < data.length; i++) hist[data[i] - offset]++;
  return ranks.map((k) => {
    let acc = 0;
    for (let b = 0; b < bins; b++) {
      acc += hist[b];
      if (acc > k) return b + offset;
    }
    return bins - 1 + offset;
  });
}

/** Order-preserving key of a float32 bit pattern: flip all bits of negatives, the sign bit of positives. */
function f32Key(bits: number): number {
  return (bits & 0x80000000 ? ~bits : bits | 0x80000000) >>> 0;
}

function keyToF32(key: number): number {
  const bits = key & 0x80000000 ? key & 0x7fffffff : ~key;
  const u = new Uint32Array([bits >>> 0]);
  return new Float32Array(u.buffer)[0];
}

function radixSelectF32(data: Float32Array, ranks: number[]): number[] {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const high = new Float64Array(65536);
  for (let i = 0; i < bits.length; i++) high[f32Key(bits[i]) >>> 16]++;
  // For each rank: its high-half bin and its rank inside that bin.
  const wanted = ranks.map((k) => {
    let acc = 0;
    for (let b = 0; b < 65536; b++) {
      if (acc + high[b] > k) return { bin: b, inner: k - acc };
      acc += high[b];
    }
    throw new VesselError(`percentile: rank ${k} is outside ${data.length} values`);
  });
  // Second pass: a low-half histogram for each wanted bin (slot[bin] = its histogram, −1 for bins not wanted).
  const bins = [...new Set(wanted.map((w) => w.bin))];
  const slot = new Int32Array(65536).fill(-1);
  bins.forEach((b, k) => (slot[b] = k));
  const low = new Float64Array(bins.length * 65536);
  for (let i = 0; i < bits.length; i++) {
    const key = f32Key(bits[i]);
    const k = slot[key >>> 16];
    if (k >= 0) low[k * 65536 + (key & 0xffff)]++;
  }
  return wanted.map(({ bin, inner }) => {
    const base = slot[bin] * 65536;
    let acc = 0;
    for (let l = 0; l < 65536; l++) {
      acc += low[base + l];
      if (acc > inner) return keyToF32(((bin << 16) | l) >>> 0);
    }
    throw new VesselError('percentile: radix select lost a rank');
  });
}

/** The k-th smallest value of `a` (0-based); reorders `a`. Hoare partitioning with median-of-three pivots. */
function quickSelect(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of three as the pivot value.
    let x = a[lo];
    let y = a[mid];
    let z = a[hi];
    if (x > y) [x, y] = [y, x];
    if (y > z) [y, z] = [z, y];
    if (x > y) [x, y] = [y, x];
    const pivot = y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

function hasNaN(data: NumericArray): boolean {
  if (!(data instanceof Float32Array || data instanceof Float64Array || Array.isArray(data))) return false;
  for (let i = 0; i < data.length; i++) if (data[i] !== data[i]) return true;
  return false;
}

/**
 * The q-th percentiles (q in [0, 100]) of all values, as numpy.percentile(data, q) with its default linear
 * interpolation: bit-identical to NumPy's float64 results for an array of q (NumPy 2 rounds a scalar q's result on
 * float32 data to float32). NaN anywhere gives NaN (as numpy does).
 */
export function percentiles(data: NumericArray, qs: readonly number[]): number[] {
  if (data.length === 0) throw new VesselError('percentile of an empty volume');
  for (const q of qs) {
    if (!(q >= 0 && q <= 100)) throw new VesselError(`percentile ${q} is outside [0, 100]`);
  }
  if (hasNaN(data)) return qs.map(() => NaN);
  const rs = qs.map((q) => rankOf(q, data.length));
  const need = [...new Set(rs.flatMap((r) => [r.lo, r.hi]))];
  const vals = selectRanks(data, need);
  const at = new Map(need.map((k, i) => [k, vals[i]]));
  const f32 = data instanceof Float32Array;
  return rs.map((r) => lerp(at.get(r.lo)!, at.get(r.hi)!, r.gamma, f32));
}

/** numpy.percentile(data, q) for one q. */
export function percentile(data: NumericArray, q: number): number {
  return percentiles(data, [q])[0];
}

export interface PercentileScaling {
  /** Lower percentile (default 1). */
  lower?: number;
  /** Upper percentile (default 99). */
  upper?: number;
  /** Output value at the lower percentile (default 0). */
  bMin?: number;
  /** Output value at the upper percentile (default 1). */
  bMax?: number;
  /** Clip the output to [bMin, bMax] (default true). */
  clip?: boolean;
}

export interface ScaledVolume {
  data: Float32Array;
  /** The value at the lower percentile. */
  low: number;
  /** The value at the upper percentile. */
  high: number;
}

/**
 * Percentile intensity scaling as MONAI's ScaleIntensityRangePercentiles (vesselFM inference: 1 and 99 → [0, 1],
 * clipped): a, b = the lower and upper percentiles of the whole volume; out = (x − a)/(b − a)·(bMax − bMin) + bMin,
 * clipped to [bMin, bMax] when `clip`. When b == a MONAI does not scale and returns x − a + bMin (then clipped);
 * so do we. Arithmetic in float64, output float32 (into `out` when given, which may alias a Float32Array input).
 */
export function percentileScale(data: NumericArray, options: PercentileScaling = {}, out?: Float32Array): ScaledVolume {
  const { lower = 1, upper = 99, bMin = 0, bMax = 1, clip = true } = options;
  if (!(lower <= upper)) throw new VesselError(`percentile scaling: lower percentile ${lower} exceeds upper ${upper}`);
  if (hasNaN(data)) throw new VesselError('percentile scaling: the volume contains NaN');
  const [low, high] = percentiles(data, [lower, upper]);
  const n = data.length;
  if (out && out.length !== n) {
    throw new VesselError(`percentile scaling: output has ${out.length} values, the volume has ${n}`);
  }
  const res = out ?? new Float32Array(n);
  const range = high - low;
  const span = bMax - bMin;
  const lo = Math.min(bMin, bMax);
  const hi = Math.max(bMin, bMax);
  for (let i = 0; i < n; i++) {
    // MONAI's order of operations: (x − a)/(b − a), then ·(bMax − bMin) + bMin.
    let v = range === 0 ? data[i] - low + bMin : ((data[i] - low) / range) * span + bMin;
    if (clip) v = v < lo ? lo : v > hi ? hi : v;
    res[i] = v;
  }
  return { data: res, low, high };
}
