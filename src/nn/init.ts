// Initialisers with PyTorch's defaults, drawn from the engine's Philox generator (kernels/random.ts) on the GPU.
// A seeded Generator hands out disjoint counter ranges, so every parameter gets its own numbers and a run is
// reproducible from its seed.
import { randomInto } from '../../kernels/random.js';
import type { Engine } from '../engine.js';
import { VesselError } from '../gpu/errors.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

export class Generator {
  private offset = 0;
  constructor(public seed: number) {}

  manualSeed(seed: number): void {
    this.seed = seed;
    this.offset = 0;
  }

  /** Fill `t` with U(lo, hi) in place. */
  uniform_(t: Tensor, lo: number, hi: number): Tensor {
    randomInto(t, 'uniform', this.seed, this.take(t.size), lo, hi);
    return t;
  }

  /** Fill `t` with N(mean, std²) in place. */
  normal_(t: Tensor, mean = 0, std = 1): Tensor {
    randomInto(t, 'normal', this.seed, this.take(t.size), mean, std);
    return t;
  }

  private take(n: number): number {
    const o = this.offset;
    // whole Philox blocks of four words per tensor
    this.offset += Math.ceil(n / 4) * 4;
    return o;
  }
}

const generators = new WeakMap<Engine, Generator>();

/** The engine's default generator (seed 0 until manualSeed is called). */
export function defaultGenerator(e: Engine): Generator {
  let g = generators.get(e);
  if (!g) generators.set(e, (g = new Generator(0)));
  return g;
}

/** Seed the engine's default generator (PyTorch's torch.manual_seed). */
export function manualSeed(e: Engine, seed: number): void {
  defaultGenerator(e).manualSeed(seed);
}

/**
 * fan_in as PyTorch's _calculate_fan_in_and_fan_out computes it: weight.size(1) × receptive field. For Conv3d
 * weights (out, in, k…) that is in·k³; for ConvTranspose3d weights (in, out, k…) it is out·k³; for Linear (out, in) in.
 */
export function fanIn(shape: readonly number[]): number {
  if (shape.length < 2) throw new VesselError(`fan_in needs a weight with at least 2 dimensions, got ${fmtShape(shape)}`);
  return shape.slice(1).reduce((a, b) => a * b, 1);
}

/**
 * kaiming_uniform_(w, a = √5), PyTorch's default for Conv and Linear weights: bound = gain·√(3/fan_in) with
 * gain = √(2/(1+a²)) = √(1/3), i.e. U(−1/√fan_in, 1/√fan_in).
 */
export function kaimingUniformDefault(w: Tensor, gen = defaultGenerator(w.engine)): Tensor {
  const bound = 1 / Math.sqrt(fanIn(w.shape));
  return gen.uniform_(w, -bound, bound);
}

/** PyTorch's default bias init for Conv/Linear: U(−1/√fan_in, 1/√fan_in) with the weight's fan_in. */
export function biasUniformDefault(b: Tensor, weightShape: readonly number[], gen = defaultGenerator(b.engine)): Tensor {
  const fi = fanIn(weightShape);
  const bound = fi > 0 ? 1 / Math.sqrt(fi) : 0;
  return gen.uniform_(b, -bound, bound);
}
