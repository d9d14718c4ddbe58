// Foreground/background compositing of domain randomisation (spec §4.5), on the GPU, in upstream's order:
// background inversion (p 0.3) → μ_B → foreground intensity c with |c − μ_B| > 0.4 → one of seven foreground
// artifacts → paint or add/sub merge → clamp to [0, 1].
//
// The intensity is chosen on the GPU from the background mean (no readback): c is drawn uniformly on
// {c ∈ [0, 1] : |c − μ_B| > 0.4} by the inverse transform of one uniform number, which is exactly the law of
// upstream's rejection loop (U(0, 1) conditioned on the accepted set).
import { biasFieldKernel, gaussianNoiseKernel } from '../../../kernels/drand/pointwise.js';
import { gaussianFilter } from '../../../kernels/drand/blur.js';
import { stats } from '../../../kernels/drand/reduce.js';
import {
  chooseForeground,
  dropoutKernel,
  erodeKernel,
  fillForeground,
  FLAG,
  hullKernel,
  mergeKernel,
  rollKernel,
} from '../../../kernels/drand/composite.js';
import { VesselError } from '../../gpu/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { legendreCount, type ParamRng } from './params.js';

export const ARTIFACTS = ['none', 'bias_field', 'gauss_noise', 'gauss_smooth', 'dropout', 'roll', 'hull'] as const;
export type Artifact = (typeof ARTIFACTS)[number];

export const COMPOSITE_CONFIG = {
  pInvert: 0.3,
  delta: 0.4,
  artifactWeights: [0.15, 0.175, 0.2, 0.2, 0.15, 0.075, 0.05],
  pPaint: 0.5,
  biasCoeffs: [-0.5, 0.5] as const,
  noiseStd: [0, 1] as const,
  smoothSigma: [2, 6] as const,
  hullThickness: [2, 6] as const,
};

/** The artifacts whose merge mask is F > 0 instead of the label. */
export const SPECIAL_ARTIFACTS: readonly Artifact[] = ['gauss_smooth', 'dropout', 'roll', 'hull'];

export interface CompositeParams {
  invert: boolean;
  /** Uniform number in [0, 1) that picks the foreground intensity. */
  u: number;
  artifact: Artifact;
  mode: 'paint' | 'add_sub';
  /** bias_field: 20 Legendre coefficients U(−0.5, 0.5). */
  biasCoeffs: number[];
  /** gauss_noise: σ ~ U(0, 1). */
  noiseStd: number;
  /** gauss_smooth: σ along axis 1 ~ U(2, 6). */
  smoothSigma: number;
  /** hull: erosion steps, randint(2, 6). */
  hullThickness: number;
  /** Philox seed of the noise, dropout and roll artifacts. */
  seed: number;
}

/** Draw the compositing parameters of one sample (every parameter drawn, so choices do not shift later draws). */
export function sampleComposite(rng: ParamRng, opts: { artifact?: Artifact; mode?: 'paint' | 'add_sub'; invert?: boolean } = {}): CompositeParams {
  const c = COMPOSITE_CONFIG;
  const invert = rng.bernoulli(c.pInvert);
  const u = rng.next();
  const artifact = ARTIFACTS[rng.choice(c.artifactWeights)];
  const mode = rng.bernoulli(c.pPaint) ? 'paint' : 'add_sub';
  const biasCoeffs = Array.from({ length: legendreCount(3) }, () => rng.uniform(c.biasCoeffs[0], c.biasCoeffs[1]));
  const noiseStd = rng.uniform(c.noiseStd[0], c.noiseStd[1]);
  const smoothSigma = rng.uniform(c.smoothSigma[0], c.smoothSigma[1]);
  const hullThickness = rng.randint(c.hullThickness[0], c.hullThickness[1]);
  const seed = rng.seedInt();
  return {
    invert: opts.invert ?? invert,
    u,
    artifact: opts.artifact ?? artifact,
    mode: opts.mode ?? mode,
    biasCoeffs,
    noiseStd,
    smoothSigma,
    hullThickness,
    seed,
  };
}

/** Apply the foreground artifact to F (a new tensor; F is left as it is). */
export function applyArtifact(f: Tensor, label: Tensor, p: CompositeParams): Tensor {
  const e = f.engine;
  switch (p.artifact) {
    case 'none': {
      const out = e.empty(f.shape);
      e.rt.copy(f.buffer, 0, out.buffer, 0, f.size * 4);
      return out;
    }
    case 'bias_field':
      return biasFieldKernel(f, p.biasCoeffs);
    case 'gauss_noise':
      return gaussianNoiseKernel(f, 0, p.noiseStd, p.seed);
    case 'gauss_smooth':
      return gaussianFilter(f, [0, p.smoothSigma, 0]);
    case 'dropout':
      return dropoutKernel(f, p.seed);
    case 'roll':
      return rollKernel(f, p.seed);
    case 'hull':
      return e.scope(() => {
        let eroded = label;
        for (let t = 0; t < p.hullThickness; t++) eroded = erodeKernel(eroded);
        return hullKernel(f, label, eroded);
      });
    default:
      throw new VesselError(`composite: unknown artifact ${String(p.artifact)}`);
  }
}

/** The merge flags of a parameter set (see shaders/drand_composite.wgsl). */
export function compositeFlags(p: CompositeParams): number {
  const smooth = p.artifact === 'gauss_smooth';
  return (
    (p.invert ? FLAG.invert : 0) |
    (p.mode === 'add_sub' || smooth ? FLAG.signed : 0) |
    (p.mode === 'paint' && !smooth ? FLAG.paint : 0) |
    (SPECIAL_ARTIFACTS.includes(p.artifact) ? FLAG.special : 0)
  );
}

/**
 * Composite a binary label (f32 0/1) onto a background (f32 in [0, 1]), both [D, H, W]: a new tensor in [0, 1].
 * `onStage` sees the foreground after its artifact (previews); it must not keep it.
 */
export function composite(label: Tensor, background: Tensor, p: CompositeParams, onStage?: (name: string, y: Tensor) => void): Tensor {
  if (label.size !== background.size) throw new VesselError(`composite: label [${label.shape.join(', ')}] and background [${background.shape.join(', ')}] differ`);
  const e = label.engine;
  return e.scope(() => {
    const flags = compositeFlags(p);
    const st = stats(background);
    const scal = chooseForeground(background, st, p.u, p.invert, (flags & FLAG.signed) !== 0);
    const f0 = fillForeground(label, scal);
    const f = applyArtifact(f0, label, p);
    onStage?.('foreground', f);
    return mergeKernel(background, label, f, scal, flags);
  });
}
