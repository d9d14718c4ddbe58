// Layers with PyTorch's parameter names, shapes and default initialisation.
import type { Engine } from '../engine.js';
import { VesselError } from '../gpu/errors.js';
import { leakyRelu, silu } from '../ops/activation.js';
import { conv3d } from '../ops/conv.js';
import { convTranspose3d } from '../ops/convtranspose.js';
import { embedding } from '../ops/embedding.js';
import { linear } from '../ops/linear.js';
import { groupNorm, instanceNorm } from '../ops/norm.js';
import type { Tensor } from '../tensor/tensor.js';
import { biasUniformDefault, defaultGenerator, kaimingUniformDefault, type Generator } from './init.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';

type Triple = number | [number, number, number];
const triple = (v: Triple): [number, number, number] => (typeof v === 'number' ? [v, v, v] : v);

export interface ConvOptions {
  stride?: Triple;
  padding?: Triple;
  bias?: boolean;
  generator?: Generator;
}

/**
 * The parameters and geometry PyTorch's convolution modules share: weight Kaiming-uniform(a = √5) with fan_in
 * computed from the weight's dims 1.. (PyTorch's rule, so a transposed conv's fan_in is out·k³), bias U(±1/√fan_in).
 * `transposed` only swaps the weight's first two dims to (in, out, k…).
 */
abstract class ConvNd extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly stride: [number, number, number];
  readonly padding: [number, number, number];
  constructor(e: Engine, readonly inChannels: number, readonly outChannels: number, kernel: Triple, o: ConvOptions, transposed: boolean) {
    super();
    const k = triple(kernel);
    this.stride = triple(o.stride ?? 1);
    this.padding = triple(o.padding ?? 0);
    const gen = o.generator ?? defaultGenerator(e);
    const dims = transposed ? [inChannels, outChannels] : [outChannels, inChannels];
    this.weight = this.registerParameter('weight', Parameter.from(kaimingUniformDefault(e.empty([...dims, ...k]), gen)));
    this.bias = this.registerParameter('bias', o.bias === false ? null : Parameter.from(biasUniformDefault(e.empty([outChannels]), this.weight.shape, gen)));
  }
}

/** nn.Conv3d: weight (out, in, kD, kH, kW). */
export class Conv3d extends ConvNd {
  constructor(e: Engine, inChannels: number, outChannels: number, kernel: Triple, o: ConvOptions = {}) {
    super(e, inChannels, outChannels, kernel, o, false);
  }
  forward(x: Tensor): Tensor {
    return conv3d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding });
  }
}

/** nn.ConvTranspose3d: weight (in, out, kD, kH, kW); fan_in = out·k³ as PyTorch computes it. */
export class ConvTranspose3d extends ConvNd {
  constructor(e: Engine, inChannels: number, outChannels: number, kernel: Triple, o: ConvOptions = {}) {
    super(e, inChannels, outChannels, kernel, o, true);
  }
  forward(x: Tensor): Tensor {
    return convTranspose3d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding });
  }
}

/** nn.Linear: weight (out, in), bias (out). */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  constructor(e: Engine, readonly inFeatures: number, readonly outFeatures: number, o: { bias?: boolean; generator?: Generator } = {}) {
    super();
    const gen = o.generator ?? defaultGenerator(e);
    this.weight = this.registerParameter('weight', Parameter.from(kaimingUniformDefault(e.empty([outFeatures, inFeatures]), gen)));
    this.bias = this.registerParameter('bias', o.bias === false ? null : Parameter.from(biasUniformDefault(e.empty([outFeatures]), this.weight.shape, gen)));
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** nn.InstanceNorm3d(affine=True, track_running_stats=False): per-sample statistics in training and eval. */
export class InstanceNorm3d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  constructor(e: Engine, readonly numFeatures: number, readonly eps = 1e-5) {
    super();
    this.weight = this.registerParameter('weight', Parameter.full(e, [numFeatures], 1));
    this.bias = this.registerParameter('bias', Parameter.zeros(e, [numFeatures]));
  }
  forward(x: Tensor): Tensor {
    if (x.rank !== 5 || x.shape[1] !== this.numFeatures) {
      throw new VesselError(`InstanceNorm3d(${this.numFeatures}): input must be [N, ${this.numFeatures}, D, H, W], got [${x.shape.join(', ')}]`);
    }
    return instanceNorm(x, this.weight, this.bias, this.eps);
  }
}

/** nn.GroupNorm(numGroups, numChannels, eps, affine=True). */
export class GroupNorm extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  constructor(e: Engine, readonly numGroups: number, readonly numChannels: number, readonly eps = 1e-5) {
    super();
    if (numChannels % numGroups !== 0) throw new VesselError(`GroupNorm: ${numChannels} channels cannot be split into ${numGroups} groups`);
    this.weight = this.registerParameter('weight', Parameter.full(e, [numChannels], 1));
    this.bias = this.registerParameter('bias', Parameter.zeros(e, [numChannels]));
  }
  forward(x: Tensor): Tensor {
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
}

/** nn.Embedding: weight (num, dim) ~ N(0, 1). */
export class Embedding extends Module {
  readonly weight: Parameter;
  constructor(e: Engine, readonly numEmbeddings: number, readonly embeddingDim: number, o: { generator?: Generator } = {}) {
    super();
    const gen = o.generator ?? defaultGenerator(e);
    this.weight = this.registerParameter('weight', Parameter.from(gen.normal_(e.empty([numEmbeddings, embeddingDim]), 0, 1)));
  }
  /** idx: i32 indices; a negative index gives a zero vector. */
  forward(idx: Tensor): Tensor {
    return embedding(this.weight, idx);
  }
}

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }
}

export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return silu(x);
  }
}
