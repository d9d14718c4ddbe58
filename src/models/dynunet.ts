// MONAI's DynUNet exactly as vesselFM configures it (spec §1.1–1.4): residual encoder and bottleneck, plain
// decoder, 2×2×2 transposed-conv upsampling with [upsampled, skip] concatenation, instance norm (affine, eps 1e-5,
// per-sample statistics always), LeakyReLU 0.01, a biased 1×1×1 output conv. Parameter names follow PyTorch's
// state dict, including the `skip_layers.*` aliases MONAI's recursive skip-layer chain creates, so the released
// `vesselFM_base.pt` loads strictly and unchanged.
import type { Engine } from '../engine.js';
import { VesselError } from '../gpu/errors.js';
import type { TensorRecord } from '../io/tensors.js';
import { Conv3d, ConvTranspose3d, InstanceNorm3d } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { Generator } from '../nn/init.js';
import { leakyRelu } from '../ops/activation.js';
import { add, checkPrecision, runMixed, type Precision } from '../ops/arith.js';
import { concat } from '../ops/shape.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

export const VESSELFM_FILTERS = [32, 64, 128, 256, 320, 320] as const;
const SLOPE = 0.01;

/** MONAI's `Convolution` wrapper: the conv sits under `.conv`, which is where the `conv.weight` key names come from. */
class ConvWrap extends Module {
  readonly conv: Conv3d;
  constructor(e: Engine, cin: number, cout: number, k: number, stride: number, bias: boolean, gen?: Generator) {
    super();
    // get_padding(k, s) = floor((k − s + 1) / 2): 1 for 3³ convs at stride 1 or 2, 0 for 1³.
    const pad = Math.floor((k - stride + 1) / 2);
    this.conv = this.registerModule('conv', new Conv3d(e, cin, cout, k, { stride, padding: pad, bias, generator: gen }));
  }
  forward(x: Tensor): Tensor {
    return this.conv.forward(x);
  }
}

class TransposedWrap extends Module {
  readonly conv: ConvTranspose3d;
  constructor(e: Engine, cin: number, cout: number, gen?: Generator) {
    super();
    this.conv = this.registerModule('conv', new ConvTranspose3d(e, cin, cout, 2, { stride: 2, bias: false, generator: gen }));
  }
  forward(x: Tensor): Tensor {
    return this.conv.forward(x);
  }
}

/** conv → IN → LReLU → conv → IN, plus a (1×1×1 conv → IN) shortcut when the shape changes; LReLU of the sum. */
export class UnetResBlock extends Module {
  readonly conv1: ConvWrap;
  readonly conv2: ConvWrap;
  readonly norm1: InstanceNorm3d;
  readonly norm2: InstanceNorm3d;
  readonly conv3: ConvWrap | null = null;
  readonly norm3: InstanceNorm3d | null = null;
  constructor(e: Engine, cin: number, cout: number, stride: number, gen?: Generator) {
    super();
    // Registration order = PyTorch's state-dict order: conv1, conv2, norm1, norm2, conv3, norm3.
    this.conv1 = this.registerModule('conv1', new ConvWrap(e, cin, cout, 3, stride, false, gen));
    this.conv2 = this.registerModule('conv2', new ConvWrap(e, cout, cout, 3, 1, false, gen));
    this.norm1 = this.registerModule('norm1', new InstanceNorm3d(e, cout));
    this.norm2 = this.registerModule('norm2', new InstanceNorm3d(e, cout));
    if (cin !== cout || stride !== 1) {
      this.conv3 = this.registerModule('conv3', new ConvWrap(e, cin, cout, 1, stride, false, gen));
      this.norm3 = this.registerModule('norm3', new InstanceNorm3d(e, cout));
    }
  }
  forward(x: Tensor): Tensor {
    let h = this.conv1.forward(x);
    h = swap(h, this.norm1.forward(h));
    h = swap(h, leakyRelu(h, SLOPE));
    h = swap(h, this.conv2.forward(h));
    h = swap(h, this.norm2.forward(h));
    let r = x;
    if (this.conv3 && this.norm3) {
      r = this.conv3.forward(x);
      r = swap(r, this.norm3.forward(r));
    }
    let y = add(h, r);
    h.dispose();
    if (r !== x) r.dispose();
    y = swap(y, leakyRelu(y, SLOPE));
    return y;
  }
}

/** conv → IN → LReLU → conv → IN → LReLU (the decoder's block; never residual). */
export class UnetBasicBlock extends Module {
  readonly conv1: ConvWrap;
  readonly conv2: ConvWrap;
  readonly norm1: InstanceNorm3d;
  readonly norm2: InstanceNorm3d;
  constructor(e: Engine, cin: number, cout: number, gen?: Generator) {
    super();
    this.conv1 = this.registerModule('conv1', new ConvWrap(e, cin, cout, 3, 1, false, gen));
    this.conv2 = this.registerModule('conv2', new ConvWrap(e, cout, cout, 3, 1, false, gen));
    this.norm1 = this.registerModule('norm1', new InstanceNorm3d(e, cout));
    this.norm2 = this.registerModule('norm2', new InstanceNorm3d(e, cout));
  }
  forward(x: Tensor): Tensor {
    let h = this.conv1.forward(x);
    h = swap(h, this.norm1.forward(h));
    h = swap(h, leakyRelu(h, SLOPE));
    h = swap(h, this.conv2.forward(h));
    h = swap(h, this.norm2.forward(h));
    return swap(h, leakyRelu(h, SLOPE));
  }
}

/** Transposed conv ×2, then [upsampled, skip] along channels, then a basic block. */
export class UnetUpBlock extends Module {
  readonly transp_conv: TransposedWrap;
  readonly conv_block: UnetBasicBlock;
  constructor(e: Engine, cin: number, cout: number, gen?: Generator) {
    super();
    this.transp_conv = this.registerModule('transp_conv', new TransposedWrap(e, cin, cout, gen));
    this.conv_block = this.registerModule('conv_block', new UnetBasicBlock(e, 2 * cout, cout, gen));
  }
  forward(x: Tensor, skip: Tensor): Tensor {
    const u = this.transp_conv.forward(x);
    const c = concat([u, skip], 1);
    u.dispose();
    const y = this.conv_block.forward(c);
    c.dispose();
    return y;
  }
}

export class UnetOutBlock extends Module {
  readonly conv: ConvWrap;
  constructor(e: Engine, cin: number, cout: number, gen?: Generator) {
    super();
    this.conv = this.registerModule('conv', new ConvWrap(e, cin, cout, 1, 1, true, gen));
  }
  forward(x: Tensor): Tensor {
    return this.conv.forward(x);
  }
}

/**
 * MONAI's DynUNetSkipLayer: the same encoder/decoder modules again under `skip_layers.(next_layer.)*{downsample,
 * upsample}` — only names (state-dict aliases); the computation lives in DynUNet.forward.
 */
class SkipLayer extends Module {
  constructor(down: Module, next: Module, up: Module) {
    super();
    this.registerModule('downsample', down);
    this.registerModule('next_layer', next);
    this.registerModule('upsample', up);
  }
}

export interface DynUNetConfig {
  inChannels: number;
  outChannels: number;
  /** Channels per level, shallowest first; vesselFM: 32, 64, 128, 256, 320, 320 (6 levels, 5 downsamplings). */
  filters: number[];
}

export class DynUNet extends Module {
  readonly config: DynUNetConfig;
  readonly input_block: UnetResBlock;
  readonly downsamples: UnetResBlock[] = [];
  readonly bottleneck: UnetResBlock;
  readonly upsamples: UnetUpBlock[] = [];
  readonly output_block: UnetOutBlock;
  /**
   * 'mixed': the input is cast to f16, every activation (and activation gradient) is f16 while the parameters stay
   * f32, and the logits come back as f32 for the loss. Train with loss scaling (src/nn/optim/scaler.ts).
   */
  precision: Precision = 'f32';

  constructor(
    readonly engine: Engine,
    config: Partial<DynUNetConfig> = {},
    gen?: Generator,
  ) {
    super();
    const filters = [...(config.filters ?? VESSELFM_FILTERS)];
    if (filters.length < 3) throw new VesselError(`DynUNet needs at least 3 levels of filters, got ${filters.length}`);
    this.config = { inChannels: config.inChannels ?? 1, outChannels: config.outChannels ?? 1, filters };
    const f = filters;
    const L = f.length;
    this.input_block = this.registerModule('input_block', new UnetResBlock(engine, this.config.inChannels, f[0], 1, gen));
    const downs = this.registerModule('downsamples', new Module());
    for (let i = 1; i < L - 1; i++) this.downsamples.push(downs.registerModule(String(i - 1), new UnetResBlock(engine, f[i - 1], f[i], 2, gen)));
    this.bottleneck = this.registerModule('bottleneck', new UnetResBlock(engine, f[L - 2], f[L - 1], 2, gen));
    // upsamples.0 is the deepest decoder block (MONAI reverses the list).
    const ups = this.registerModule('upsamples', new Module());
    for (let j = 0; j < L - 1; j++) {
      const cin = f[L - 1 - j];
      const cout = f[L - 2 - j];
      this.upsamples.push(ups.registerModule(String(j), new UnetUpBlock(engine, cin, cout, gen)));
    }
    this.output_block = this.registerModule('output_block', new UnetOutBlock(engine, f[0], this.config.outChannels, gen));
    // The alias chain, innermost first: level i pairs encoder block i with decoder block (L−2−i).
    let inner: Module = this.bottleneck;
    for (let i = L - 2; i >= 0; i--) {
      const down = i === 0 ? this.input_block : this.downsamples[i - 1];
      inner = new SkipLayer(down, inner, this.upsamples[L - 2 - i]);
    }
    this.registerModule('skip_layers', inner);
  }

  /** The spatial size every input axis must be a multiple of (2^downsamplings). */
  get divisor(): number {
    return 2 ** (this.config.filters.length - 1);
  }

  /** x: [N, inChannels, D, H, W] with D, H, W multiples of `divisor` → logits [N, outChannels, D, H, W]. */
  forward(x: Tensor): Tensor {
    const d = this.divisor;
    if (x.rank !== 5 || x.shape[1] !== this.config.inChannels) {
      throw new VesselError(`DynUNet expects [N, ${this.config.inChannels}, D, H, W], got ${fmtShape(x.shape)}`);
    }
    if (x.shape.slice(2).some((s) => s % d !== 0)) {
      throw new VesselError(`DynUNet input ${fmtShape(x.shape)}: every spatial size must be a multiple of ${d}`);
    }
    if (this.precision === 'mixed' && x.dtype === 'f32') {
      checkPrecision(this.engine, 'mixed', 'DynUNet precision');
      return runMixed([x], (h) => this.forward(h));
    }
    const skips: Tensor[] = [this.input_block.forward(x)];
    for (const blk of this.downsamples) skips.push(blk.forward(skips[skips.length - 1]));
    let h = this.bottleneck.forward(skips[skips.length - 1]);
    for (const up of this.upsamples) {
      const skip = skips.pop()!;
      h = swap(h, up.forward(h, skip));
      skip.dispose();
    }
    return swap(h, this.output_block.forward(h));
  }

  /** Build a network whose sizes match a state dict's shapes (the released checkpoint or any smaller variant). */
  static fromStateDict(engine: Engine, sd: Map<string, TensorRecord | Tensor>): DynUNet {
    const shapeOf = (k: string): readonly number[] => {
      const t = sd.get(k);
      if (!t) throw new VesselError(`Not a DynUNet checkpoint: key ${k} is missing`);
      return t.shape;
    };
    const first = shapeOf('input_block.conv1.conv.weight');
    const filters = [first[0]];
    for (let i = 0; sd.has(`downsamples.${i}.conv1.conv.weight`); i++) filters.push(shapeOf(`downsamples.${i}.conv1.conv.weight`)[0]);
    filters.push(shapeOf('bottleneck.conv1.conv.weight')[0]);
    const out = shapeOf('output_block.conv.conv.weight');
    return new DynUNet(engine, { inChannels: first[1], outChannels: out[0], filters });
  }
}

/** Dispose `old` (an intermediate the caller no longer needs) and return `next`. */
function swap(old: Tensor, next: Tensor): Tensor {
  if (old !== next) old.dispose();
  return next;
}
