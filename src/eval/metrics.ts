// Segmentation metrics on binary 3D volumes (shape [z, y, x], C order; non-zero = vessel): the confusion-matrix
// scores, clDice on Lee–Kashyap–Chu skeletons, and Betti-number errors — what vesselFM's evaluator reports
// (spec §3). No Node imports: the browser uses this module too.
//
// Empty masks (upstream would give 0/0 or NaN) are defined here so that every score is a finite number in [0, 1]:
//   - nothing predicted and nothing labelled is perfect agreement: dice = jaccard = precision = recall = clDice = 1;
//   - precision with nothing predicted (but something labelled) is 0; recall with nothing labelled (but something
//     predicted) is 0 — sklearn's zero_division=0 choice; specificity with no labelled background is 1;
//   - clDice's Tprec with an empty predicted skeleton is 1 when the label's is empty too, else 0 (likewise Tsens),
//     and clDice is 0 when Tprec + Tsens = 0.
// A skeleton is empty only when its mask is empty, since thinning keeps at least one voxel of every component.
import { VesselError } from '../gpu/errors.js';
import { bettiNumbers, type Betti } from './betti.js';
import { checkShape, type Shape3 } from './components.js';
import type { NumericArray } from './percentile.js';
import { skeletonize3d } from './skeleton.js';

/**
 * A 0/1 mask from any volume: non-zero voxels are vessel, or, with a threshold, voxels ≥ threshold (for probability
 * maps; vesselFM's metrics use ≥). NaN is never vessel.
 */
export function binarize(data: NumericArray, threshold?: number): Uint8Array {
  const n = data.length;
  const out = new Uint8Array(n);
  if (threshold === undefined) {
    for (let i = 0; i < n; i++) {
      const v = data[i];
      out[i] = v !== 0 && v === v ? 1 : 0;
    }
  } else {
    if (Number.isNaN(threshold)) throw new VesselError('binarize: the threshold is NaN');
    for (let i = 0; i < n; i++) out[i] = data[i] >= threshold ? 1 : 0;
  }
  return out;
}

/** One clear error when two volumes' shapes differ. */
export function assertSameShape(a: readonly number[], b: readonly number[], nameA = 'prediction', nameB = 'label'): void {
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
    throw new VesselError(`shape mismatch: ${nameA} is [${a.join(', ')}] but ${nameB} is [${b.join(', ')}]`);
  }
}

export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/** Voxel counts of the confusion matrix (non-zero = positive). */
export function confusion(prediction: ArrayLike<number>, label: ArrayLike<number>): Confusion {
  if (prediction.length !== label.length) {
    throw new VesselError(`confusion: prediction has ${prediction.length} voxels, label has ${label.length}`);
  }
  let tp = 0;
  let p = 0;
  let l = 0;
  for (let i = 0; i < prediction.length; i++) {
    const a = prediction[i] !== 0;
    const b = label[i] !== 0;
    if (a) p++;
    if (b) l++;
    if (a && b) tp++;
  }
  return { tp, fp: p - tp, fn: l - tp, tn: prediction.length - p - l + tp };
}

/** 2TP / (2TP + FP + FN); 1 when both masks are empty. */
export function diceFrom(c: Confusion): number {
  const d = 2 * c.tp + c.fp + c.fn;
  return d === 0 ? 1 : (2 * c.tp) / d;
}

/** TP / (TP + FP + FN); 1 when both masks are empty. */
export function jaccardFrom(c: Confusion): number {
  const d = c.tp + c.fp + c.fn;
  return d === 0 ? 1 : c.tp / d;
}

/** TP / (TP + FP); with nothing predicted: 1 if nothing is labelled either, else 0. */
export function precisionFrom(c: Confusion): number {
  const d = c.tp + c.fp;
  return d === 0 ? (c.fn === 0 ? 1 : 0) : c.tp / d;
}

/** TP / (TP + FN); with nothing labelled: 1 if nothing is predicted either, else 0. */
export function recallFrom(c: Confusion): number {
  const d = c.tp + c.fn;
  return d === 0 ? (c.fp === 0 ? 1 : 0) : c.tp / d;
}

/** TN / (TN + FP); 1 when the label has no background. */
export function specificityFrom(c: Confusion): number {
  const d = c.tn + c.fp;
  return d === 0 ? 1 : c.tn / d;
}

/** Dice coefficient of two binary masks. */
export function dice(prediction: ArrayLike<number>, label: ArrayLike<number>): number {
  return diceFrom(confusion(prediction, label));
}

export interface ClDice {
  clDice: number;
  /** Topology precision |S(P) ∩ L| / |S(P)|: the share of the predicted centreline inside the label. */
  tprec: number;
  /** Topology sensitivity |S(L) ∩ P| / |S(L)|: the share of the labelled centreline covered by the prediction. */
  tsens: number;
  /** Voxels in the skeletons of the prediction and of the label. */
  predictionSkeleton: number;
  labelSkeleton: number;
}

/** Count of voxels set in `a` and, of those, set in `b`. */
function overlap(a: Uint8Array, b: ArrayLike<number>): [number, number] {
  let na = 0;
  let both = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== 0) {
      na++;
      if (b[i] !== 0) both++;
    }
  }
  return [na, both];
}

/**
 * clDice (Shit et al., CVPR 2021) with 3D Lee–Kashyap–Chu skeletons S: Tprec = |S(P) ∩ L| / |S(P)|,
 * Tsens = |S(L) ∩ P| / |S(L)|, clDice = 2·Tprec·Tsens / (Tprec + Tsens). Precomputed skeletons may be passed.
 */
export function clDice(
  prediction: ArrayLike<number>,
  label: ArrayLike<number>,
  shape: Shape3,
  skeletons: { prediction?: Uint8Array; label?: Uint8Array } = {},
): ClDice {
  checkShape(prediction.length, shape, 'prediction');
  checkShape(label.length, shape, 'label');
  const sp = skeletons.prediction ?? skeletonize3d(prediction, shape);
  const sl = skeletons.label ?? skeletonize3d(label, shape);
  const [np, pInL] = overlap(sp, label);
  const [nl, lInP] = overlap(sl, prediction);
  const tprec = np === 0 ? (nl === 0 ? 1 : 0) : pInL / np;
  const tsens = nl === 0 ? (np === 0 ? 1 : 0) : lInP / nl;
  const cl = tprec + tsens === 0 ? 0 : (2 * tprec * tsens) / (tprec + tsens);
  return { clDice: cl, tprec, tsens, predictionSkeleton: np, labelSkeleton: nl };
}

export interface SegmentationMetrics extends Confusion {
  dice: number;
  clDice: number;
  /** |β0(prediction) − β0(label)|: difference in the number of connected components. */
  betti0Error: number;
  /** |β1(prediction) − β1(label)|: difference in the number of loops / tunnels. */
  betti1Error: number;
  precision: number;
  recall: number;
  jaccard: number;
  specificity: number;
  accuracy: number;
  tprec: number;
  tsens: number;
  predictionBetti: Betti;
  labelBetti: Betti;
}

/** Every metric of a binary prediction against a binary label of the same shape (non-zero = vessel). */
export function evaluateSegmentation(
  prediction: ArrayLike<number>,
  label: ArrayLike<number>,
  shape: Shape3,
): SegmentationMetrics {
  checkShape(prediction.length, shape, 'prediction');
  checkShape(label.length, shape, 'label');
  const c = confusion(prediction, label);
  const cl = clDice(prediction, label, shape);
  const pb = bettiNumbers(prediction, shape);
  const lb = bettiNumbers(label, shape);
  return {
    ...c,
    dice: diceFrom(c),
    clDice: cl.clDice,
    betti0Error: Math.abs(pb.b0 - lb.b0),
    betti1Error: Math.abs(pb.b1 - lb.b1),
    precision: precisionFrom(c),
    recall: recallFrom(c),
    jaccard: jaccardFrom(c),
    specificity: specificityFrom(c),
    accuracy: prediction.length === 0 ? 1 : (c.tp + c.tn) / prediction.length,
    tprec: cl.tprec,
    tsens: cl.tsens,
    predictionBetti: pb,
    labelBetti: lb,
  };
}
