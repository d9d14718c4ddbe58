// vesselFM's D_flow network (spec §5.1): the 3D guided-diffusion UNet of `d_flow/diffusion_unet.py` as vesselFM
// builds it — one residual block per level, GroupNorm(32) + SiLU, ResBlocks with a projected time embedding and a
// 1×1×1 skip conv where the width changes, single-head (legacy QKV order) attention at the configured resolutions
// and in the middle block, a sinusoidal embedding of t ∈ [0, 1] fed as is (max period 1000, cos first), a time MLP,
// a class embedding added to it (class −1 = unconditional → zero vector), input concat([x_t, mask]), stride-2 conv
// downsampling, ×2 upsampling + conv. Parameter names follow PyTorch's state dict (spec Appendix A.2), so
// upstream-format checkpoints (bare keys or under `model.`) load strictly.
import type { Engine } from '../engine.js';
import { VesselError } from '../gpu/errors.js';
import type { TensorRecord } from '../io/tensors.js';
import { checkpoint } from '../autograd/checkpoint.js';
import { Conv3d, Embedding, GroupNorm, Linear } from '../nn/layers.js';
import { Module, ModuleList } from '../nn/module.js';
import type { Generator } from '../nn/init.js';
import { defaultGenerator, kaimingUniformDefault, biasUniformDefault } from '../nn/init.js';
import { Parameter } from '../nn/parameter.js';
import { silu } from '../ops/activation.js';
import { add, checkPrecision, mul, reshape, runMixed, sub, type Precision } from '../ops/arith.js';
import { attention } from '../ops/attention.js';
import { conv3d } from '../ops/conv.js';
import { concat, split, transpose } from '../ops/shape.js';
import { upsample } from '../ops/upsample.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

export interface FlowUNetConfig {
  /** Spatial size the network is built for (cubic); attention resolutions are relative to it. vesselFM: 128. */
  imageSize: number;
  /** model_channels (width of level 0). vesselFM: 64. */
  modelChannels: number;
  /** Width multiplier per level. vesselFM at 128³: (1, 1, 2, 3, 4). */
  channelMult: number[];
  /** Spatial sizes (e.g. 16) at which the input and output blocks carry attention. vesselFM: [16]. */
  attentionResolutions: number[];
  /** Number of classes of label_emb (0: unconditional network). vesselFM: 24. */
  numClasses: number;
  numHeads: number;
  inChannels: number;
  outChannels: number;
  /** Residual blocks per level (vesselFM: 1). */
  numResBlocks: number;
  /** Sinusoid max period; upstream's t ∈ [0, 1] is fed as is with 1000 (spec §5.5). */
  maxPeriod: number;
  /** Upsampling interpolation before the conv. */
  upsampleMode: 'nearest' | 'trilinear';
}

/** The upstream network (spec §5.1) at 128³. */
export const VESSELFM_FLOW: FlowUNetConfig = {
  imageSize: 128,
  modelChannels: 64,
  channelMult: [1, 1, 2, 3, 4],
  attentionResolutions: [16],
  numClasses: 24,
  numHeads: 1,
  inChannels: 2,
  outChannels: 1,
  numResBlocks: 1,
  maxPeriod: 1000,
  upsampleMode: 'trilinear',
};

/**
 * Interpolation between two class embeddings, per sample (spec §5.4 `interpolate`): the label term of the
 * conditioning vector becomes w·E(y) + (1 − w)·E(y2) instead of E(y). Class −1 stands for the zero vector on
 * either side, as in plain conditioning.
 */
export interface ClassMix {
  /** the second class of each sample, in [−1, numClasses) */
  y2: ArrayLike<number>;
  /** the weight of E(y) for each sample (finite; upstream draws it from U(0, 1)) */
  w: ArrayLike<number>;
}

/** How much of the forward is recomputed in backward instead of kept (upstream checkpoints its attention blocks). */
export type FlowCheckpointing = 'none' | 'attention' | 'all';

const GROUPS = 32;

function gn(e: Engine, c: number): GroupNorm {
  if (c % GROUPS !== 0) throw new VesselError(`FlowUNet: GroupNorm(32) needs a channel count divisible by 32, got ${c}`);
  return new GroupNorm(e, GROUPS, c);
}

/** A module that only holds parameters at PyTorch's Sequential positions (e.g. in_layers.0 and in_layers.2). */
class Seq extends Module {
  constructor(items: [number, Module][]) {
    super();
    for (const [i, m] of items) this.registerModule(String(i), m);
  }
}

/** Conv1d with kernel 1 as upstream stores it (weight (out, in, 1)), applied as a 1×1×1 conv over the volume. */
class PointConv extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  constructor(e: Engine, cin: number, cout: number, gen: Generator) {
    super();
    this.weight = this.registerParameter('weight', Parameter.from(kaimingUniformDefault(e.empty([cout, cin, 1]), gen)));
    this.bias = this.registerParameter('bias', Parameter.from(biasUniformDefault(e.empty([cout]), this.weight.shape, gen)));
  }
  forward(x: Tensor): Tensor {
    const [co, ci] = this.weight.shape;
    const w = reshape(this.weight, [co, ci, 1, 1, 1]);
    const y = conv3d(x, w, this.bias);
    w.dispose();
    return y;
  }
}

abstract class EmbBlock extends Module {
  abstract forward(x: Tensor, emb: Tensor): Tensor;
}

export class ResBlock extends EmbBlock {
  readonly in_layers: Seq;
  readonly emb_layers: Seq;
  readonly out_layers: Seq;
  readonly skip_connection: Conv3d | null = null;
  private readonly n1: GroupNorm;
  private readonly c1: Conv3d;
  private readonly lin: Linear;
  private readonly n2: GroupNorm;
  private readonly c2: Conv3d;
  constructor(e: Engine, readonly cin: number, embDim: number, readonly cout: number, gen: Generator) {
    super();
    this.n1 = gn(e, cin);
    this.c1 = new Conv3d(e, cin, cout, 3, { padding: 1, generator: gen });
    this.lin = new Linear(e, embDim, cout, { generator: gen });
    this.n2 = gn(e, cout);
    this.c2 = new Conv3d(e, cout, cout, 3, { padding: 1, generator: gen });
    this.c2.weight.engine.rt.write(this.c2.weight.buffer, 0, new Float32Array(this.c2.weight.size));
    this.c2.bias!.engine.rt.write(this.c2.bias!.buffer, 0, new Float32Array(cout));
    this.in_layers = this.registerModule('in_layers', new Seq([[0, this.n1], [2, this.c1]]));
    this.emb_layers = this.registerModule('emb_layers', new Seq([[1, this.lin]]));
    this.out_layers = this.registerModule('out_layers', new Seq([[0, this.n2], [3, this.c2]]));
    if (cin !== cout) this.skip_connection = this.registerModule('skip_connection', new Conv3d(e, cin, cout, 1, { generator: gen }));
  }
  forward(x: Tensor, emb: Tensor): Tensor {
    let h = this.n1.forward(x);
    h = swap(h, silu(h));
    h = swap(h, this.c1.forward(h));
    const se = silu(emb);
    const eo = this.lin.forward(se);
    se.dispose();
    const eo5 = reshape(eo, [eo.shape[0], eo.shape[1], 1, 1, 1]);
    eo.dispose();
    h = swap(h, add(h, eo5));
    eo5.dispose();
    h = swap(h, this.n2.forward(h));
    h = swap(h, silu(h));
    h = swap(h, this.c2.forward(h));
    const s = this.skip_connection ? this.skip_connection.forward(x) : x;
    const y = add(s, h);
    h.dispose();
    if (s !== x) s.dispose();
    return y;
  }
}

export class AttentionBlock extends EmbBlock {
  readonly norm: GroupNorm;
  readonly qkv: PointConv;
  readonly proj_out: PointConv;
  constructor(e: Engine, readonly channels: number, readonly heads: number, gen: Generator) {
    super();
    if (channels % heads !== 0) throw new VesselError(`AttentionBlock: ${channels} channels cannot be split into ${heads} heads`);
    this.norm = this.registerModule('norm', gn(e, channels));
    this.qkv = this.registerModule('qkv', new PointConv(e, channels, 3 * channels, gen));
    this.proj_out = this.registerModule('proj_out', new PointConv(e, channels, channels, gen));
    e.rt.write(this.proj_out.weight.buffer, 0, new Float32Array(this.proj_out.weight.size));
    e.rt.write(this.proj_out.bias.buffer, 0, new Float32Array(channels));
  }
  forward(x: Tensor): Tensor {
    const [b, c, ...sp] = x.shape;
    const T = sp.reduce((a, v) => a * v, 1);
    const H = this.heads;
    const ch = c / H;
    const n = this.norm.forward(x);
    const qkv = this.qkv.forward(n);
    n.dispose();
    // Legacy order: [B, H·3·ch, T] viewed as [B·H, 3·ch, T], then q | k | v of ch channels each.
    const r = reshape(qkv, [b * H, 3 * ch, T]);
    qkv.dispose();
    const parts = split(r, [ch, ch, ch], 1);
    r.dispose();
    const [q, k, v] = parts.map((p) => {
      const t = transpose(p, [0, 2, 1]);
      p.dispose();
      return t;
    });
    // (q·ch^-¼)·(k·ch^-¼) = q·k / √ch
    const a = attention(q, k, v, 1 / Math.sqrt(ch));
    q.dispose();
    k.dispose();
    v.dispose();
    const at = transpose(a, [0, 2, 1]);
    a.dispose();
    const a5 = reshape(at, [b, c, ...sp]);
    at.dispose();
    const p = this.proj_out.forward(a5);
    a5.dispose();
    const y = add(x, p);
    p.dispose();
    return y;
  }
}

class Downsample extends EmbBlock {
  readonly op: Conv3d;
  constructor(e: Engine, c: number, gen: Generator) {
    super();
    this.op = this.registerModule('op', new Conv3d(e, c, c, 3, { stride: 2, padding: 1, generator: gen }));
  }
  forward(x: Tensor): Tensor {
    return this.op.forward(x);
  }
}

class Upsample extends EmbBlock {
  readonly conv: Conv3d;
  constructor(e: Engine, c: number, readonly mode: 'nearest' | 'trilinear', gen: Generator) {
    super();
    this.conv = this.registerModule('conv', new Conv3d(e, c, c, 3, { padding: 1, generator: gen }));
  }
  forward(x: Tensor): Tensor {
    const u = upsample(x, { mode: this.mode, scaleFactor: 2 });
    const y = this.conv.forward(u);
    u.dispose();
    return y;
  }
}

/** A plain 3×3×3 conv as a TimestepEmbedSequential member (input_blocks.0.0.weight). */
class InputConv extends EmbBlock {
  readonly weight: Parameter;
  readonly bias: Parameter;
  constructor(e: Engine, cin: number, cout: number, gen: Generator) {
    super();
    this.weight = this.registerParameter('weight', Parameter.from(kaimingUniformDefault(e.empty([cout, cin, 3, 3, 3]), gen)));
    this.bias = this.registerParameter('bias', Parameter.from(biasUniformDefault(e.empty([cout]), this.weight.shape, gen)));
  }
  forward(x: Tensor): Tensor {
    return conv3d(x, this.weight, this.bias, { padding: [1, 1, 1] });
  }
}

/** TimestepEmbedSequential: children "0", "1", … each given (x, emb). */
class EmbSequential extends Module {
  readonly blocks: EmbBlock[];
  constructor(blocks: EmbBlock[]) {
    super();
    this.blocks = blocks;
    blocks.forEach((b, i) => this.registerModule(String(i), b));
  }
  forward(x: Tensor, emb: Tensor, ckpt: FlowCheckpointing): Tensor {
    let h = x;
    for (const b of this.blocks) {
      const wrap = ckpt === 'all' || (ckpt === 'attention' && b instanceof AttentionBlock);
      const next = wrap ? checkpoint((a: Tensor, e: Tensor) => b.forward(a, e), [h, emb]) : b.forward(h, emb);
      if (h !== x) h.dispose();
      h = next;
    }
    return h === x ? x.reshape(x.shape) : h;
  }
}

/** The sinusoid of upstream's timestep_embedding: [cos(t·f_i), sin(t·f_i)], f_i = exp(−ln(P)·i/half), in float32. */
export function timestepEmbedding(t: ArrayLike<number>, dim: number, maxPeriod = 1000): Float32Array {
  const half = Math.floor(dim / 2);
  const out = new Float32Array(t.length * dim);
  const f32 = Math.fround;
  const lp = f32(-Math.log(maxPeriod));
  for (let b = 0; b < t.length; b++) {
    const tb = f32(t[b]);
    for (let i = 0; i < half; i++) {
      const freq = f32(Math.exp(f32(f32(lp * i) / half)));
      const arg = f32(tb * freq);
      out[b * dim + i] = Math.cos(arg);
      out[b * dim + half + i] = Math.sin(arg);
    }
  }
  return out;
}

export class FlowUNet extends Module {
  readonly config: FlowUNetConfig;
  readonly time_embed: Seq;
  readonly label_emb: Embedding | null = null;
  readonly input_blocks: ModuleList<EmbSequential>;
  readonly middle_block: EmbSequential;
  readonly output_blocks: ModuleList<EmbSequential>;
  readonly out: Seq;
  private readonly te1: Linear;
  private readonly te2: Linear;
  private readonly outNorm: GroupNorm;
  private readonly outConv: Conv3d;
  /** Activation checkpointing during training (default 'attention', as upstream). */
  checkpointing: FlowCheckpointing = 'attention';
  /** 'mixed': x_t and the mask are cast to f16, activations stay f16 (parameters and the time embedding f32), the velocity comes back f32. */
  precision: Precision = 'f32';

  constructor(
    readonly engine: Engine,
    config: Partial<FlowUNetConfig> = {},
    gen: Generator = defaultGenerator(engine),
  ) {
    super();
    const c: FlowUNetConfig = { ...VESSELFM_FLOW, ...config, channelMult: [...(config.channelMult ?? VESSELFM_FLOW.channelMult)], attentionResolutions: [...(config.attentionResolutions ?? VESSELFM_FLOW.attentionResolutions)] };
    this.config = c;
    const e = engine;
    const mc = c.modelChannels;
    const ted = mc * 4;
    if (c.imageSize % 2 ** (c.channelMult.length - 1) !== 0) {
      throw new VesselError(`FlowUNet: image size ${c.imageSize} is not divisible by 2^${c.channelMult.length - 1} (${c.channelMult.length} levels)`);
    }
    this.te1 = new Linear(e, mc, ted, { generator: gen });
    this.te2 = new Linear(e, ted, ted, { generator: gen });
    this.time_embed = this.registerModule('time_embed', new Seq([[0, this.te1], [2, this.te2]]));
    if (c.numClasses > 0) this.label_emb = this.registerModule('label_emb', new Embedding(e, c.numClasses, ted, { generator: gen }));
    const attnDs = new Set(c.attentionResolutions.map((r) => Math.floor(c.imageSize / r)));
    let ch = c.channelMult[0] * mc;
    const inputChans = [ch];
    const inputs: EmbSequential[] = [new EmbSequential([new InputConv(e, c.inChannels, ch, gen)])];
    let ds = 1;
    c.channelMult.forEach((mult, level) => {
      for (let r = 0; r < c.numResBlocks; r++) {
        const layers: EmbBlock[] = [new ResBlock(e, ch, ted, mult * mc, gen)];
        ch = mult * mc;
        if (attnDs.has(ds)) layers.push(new AttentionBlock(e, ch, c.numHeads, gen));
        inputs.push(new EmbSequential(layers));
        inputChans.push(ch);
      }
      if (level !== c.channelMult.length - 1) {
        inputs.push(new EmbSequential([new Downsample(e, ch, gen)]));
        inputChans.push(ch);
        ds *= 2;
      }
    });
    this.input_blocks = this.registerModule('input_blocks', new ModuleList(inputs));
    this.middle_block = this.registerModule(
      'middle_block',
      new EmbSequential([new ResBlock(e, ch, ted, ch, gen), new AttentionBlock(e, ch, c.numHeads, gen), new ResBlock(e, ch, ted, ch, gen)]),
    );
    const outputs: EmbSequential[] = [];
    for (let level = c.channelMult.length - 1; level >= 0; level--) {
      const mult = c.channelMult[level];
      for (let i = 0; i <= c.numResBlocks; i++) {
        const ich = inputChans.pop()!;
        const layers: EmbBlock[] = [new ResBlock(e, ch + ich, ted, mc * mult, gen)];
        ch = mc * mult;
        if (attnDs.has(ds)) layers.push(new AttentionBlock(e, ch, c.numHeads, gen));
        if (level && i === c.numResBlocks) {
          layers.push(new Upsample(e, ch, c.upsampleMode, gen));
          ds /= 2;
        }
        outputs.push(new EmbSequential(layers));
      }
    }
    this.output_blocks = this.registerModule('output_blocks', new ModuleList(outputs));
    this.outNorm = gn(e, ch);
    this.outConv = new Conv3d(e, c.channelMult[0] * mc, c.outChannels, 3, { padding: 1, generator: gen });
    e.rt.write(this.outConv.weight.buffer, 0, new Float32Array(this.outConv.weight.size));
    e.rt.write(this.outConv.bias!.buffer, 0, new Float32Array(c.outChannels));
    this.out = this.registerModule('out', new Seq([[0, this.outNorm], [2, this.outConv]]));
  }

  /** Every spatial size must be a multiple of this (2^downsamplings). */
  get divisor(): number {
    return 2 ** (this.config.channelMult.length - 1);
  }

  /**
   * The conditioning vector emb = time_embed(sinusoid(t)) + label_emb(y) for a batch ([B, 4·model_channels]);
   * with `mix`, the label term is w·label_emb(y) + (1 − w)·label_emb(y2) per sample.
   */
  embed(t: ArrayLike<number>, y: ArrayLike<number> | null, mix: ClassMix | null = null): Tensor {
    const e = this.engine;
    const B = t.length;
    const mc = this.config.modelChannels;
    const s = e.tensor(timestepEmbedding(t, mc, this.config.maxPeriod), [B, mc]);
    let h = this.te1.forward(s);
    s.dispose();
    h = swap(h, silu(h));
    h = swap(h, this.te2.forward(h));
    if (this.label_emb) {
      if (!y || y.length !== B) throw new VesselError(`FlowUNet: a class-conditional network needs one class per sample (${B}), got ${y ? y.length : 'none'}`);
      const n = this.config.numClasses;
      const lookup = (cls: ArrayLike<number>): Tensor => {
        const ids = Int32Array.from(cls, (v) => {
          if (!Number.isInteger(v) || v < -1 || v >= n) throw new VesselError(`FlowUNet: class ${v} is outside [−1, ${n - 1}] (−1 = unconditional)`);
          return v;
        });
        const idx = e.tensor(ids, [B], 'i32');
        const r = this.label_emb!.forward(idx);
        idx.dispose();
        return r;
      };
      let le = lookup(y);
      if (mix) {
        if (mix.y2.length !== B || mix.w.length !== B) throw new VesselError(`FlowUNet: a class mix needs one second class and one weight per sample (${B}), got ${mix.y2.length} and ${mix.w.length}`);
        const w = Float32Array.from(mix.w, (v) => {
          if (!Number.isFinite(v)) throw new VesselError(`FlowUNet: class-mix weight ${v} is not a finite number`);
          return v;
        });
        // w·E(y) + (1 − w)·E(y2) = E(y2) + w·(E(y) − E(y2))
        const le2 = lookup(mix.y2);
        const d = sub(le, le2);
        le.dispose();
        const wt = e.tensor(w, [B, 1]);
        const wd = mul(d, wt);
        d.dispose();
        wt.dispose();
        le = add(le2, wd);
        le2.dispose();
        wd.dispose();
      }
      h = swap(h, add(h, le));
      le.dispose();
    } else if (mix) {
      throw new VesselError('FlowUNet: a class mix needs a class-conditional network (numClasses > 0)');
    }
    return h;
  }

  /**
   * The velocity for x_t [B, 1, D, H, W] (data space [−1, 1]), mask [B, 1, D, H, W] ({0, 1}), t (B values in [0, 1])
   * and y (B classes, −1 = unconditional), optionally with a class-embedding mix per sample (`ClassMix`).
   * Spatial sizes must be multiples of `divisor`.
   */
  forward(xt: Tensor, mask: Tensor, t: ArrayLike<number>, y: ArrayLike<number> | null, mix: ClassMix | null = null): Tensor {
    const c = this.config;
    const d = this.divisor;
    const want = c.inChannels - 1;
    if (xt.rank !== 5 || mask.rank !== 5 || xt.shape[1] !== want || mask.shape[1] !== 1 || xt.shape[0] !== mask.shape[0] || xt.shape.slice(2).some((s, i) => s !== mask.shape[2 + i])) {
      throw new VesselError(`FlowUNet expects x_t [N, ${want}, D, H, W] and mask [N, 1, D, H, W] of the same size, got ${fmtShape(xt.shape)} and ${fmtShape(mask.shape)}`);
    }
    if (xt.shape.slice(2).some((s) => s % d !== 0)) throw new VesselError(`FlowUNet input ${fmtShape(xt.shape)}: every spatial size must be a multiple of ${d}`);
    if (t.length !== xt.shape[0]) throw new VesselError(`FlowUNet: ${t.length} time values for a batch of ${xt.shape[0]}`);
    if (this.precision === 'mixed' && xt.dtype === 'f32') {
      checkPrecision(this.engine, 'mixed', 'FlowUNet precision');
      return runMixed([xt, mask], (h, m) => this.forward(h, m, t, y, mix));
    }
    const ck: FlowCheckpointing = this.training ? this.checkpointing : 'none';
    const emb = this.embed(t, y, mix);
    const x = concat([xt, mask], 1);
    const hs: Tensor[] = [];
    let h = x;
    for (const blk of this.input_blocks) {
      h = blk.forward(h, emb, ck);
      hs.push(h);
    }
    x.dispose();
    h = this.middle_block.forward(h, emb, ck);
    for (const blk of this.output_blocks) {
      const skip = hs.pop()!;
      const cat = concat([h, skip], 1);
      h.dispose();
      skip.dispose();
      h = blk.forward(cat, emb, ck);
      cat.dispose();
    }
    emb.dispose();
    h = swap(h, this.outNorm.forward(h));
    h = swap(h, silu(h));
    return swap(h, this.outConv.forward(h));
  }

  /** Build a network whose sizes match a state dict's shapes (bare keys or under `model.`; strip the prefix first with `flowStateDict`). */
  static fromStateDict(engine: Engine, sd: Map<string, TensorRecord | Tensor>, o: { imageSize?: number; upsampleMode?: 'nearest' | 'trilinear'; maxPeriod?: number } = {}): FlowUNet {
    const shapeOf = (k: string): readonly number[] => {
      const t = sd.get(k);
      if (!t) throw new VesselError(`Not a flow UNet checkpoint: key ${k} is missing`);
      return t.shape;
    };
    const first = shapeOf('input_blocks.0.0.weight');
    const mc = first[0];
    const inChannels = first[1];
    const outChannels = shapeOf('out.2.weight')[0];
    const numClasses = sd.has('label_emb.weight') ? shapeOf('label_emb.weight')[0] : 0;
    // Walk the input blocks: a block with `.0.op.weight` is a downsample; others are res blocks (+ attention).
    const mult: number[] = [];
    const attnLevels: number[] = [];
    let resPerLevel = 0;
    let curRes = 0;
    for (let i = 1; sd.has(`input_blocks.${i}.0.op.weight`) || sd.has(`input_blocks.${i}.0.in_layers.2.weight`); i++) {
      if (sd.has(`input_blocks.${i}.0.op.weight`)) {
        resPerLevel = curRes;
        curRes = 0;
        continue;
      }
      const cout = shapeOf(`input_blocks.${i}.0.in_layers.2.weight`)[0];
      if (curRes === 0) mult.push(cout / mc);
      curRes++;
      if (sd.has(`input_blocks.${i}.1.qkv.weight`) && !attnLevels.includes(mult.length - 1)) attnLevels.push(mult.length - 1);
    }
    if (mult.length === 0) throw new VesselError('Not a flow UNet checkpoint: no residual blocks under input_blocks');
    if (resPerLevel === 0) resPerLevel = curRes;
    const levels = mult.length;
    const imageSize = o.imageSize ?? 128;
    const attentionResolutions = attnLevels.map((l) => imageSize / 2 ** l);
    // upstream: num_heads is fixed at construction; checkpoints do not record it — 1 unless told otherwise.
    if (imageSize % 2 ** (levels - 1) !== 0) throw new VesselError(`FlowUNet: image size ${imageSize} does not fit ${levels} levels`);
    return new FlowUNet(engine, {
      imageSize,
      modelChannels: mc,
      channelMult: mult,
      attentionResolutions,
      numClasses,
      numHeads: 1,
      inChannels,
      outChannels,
      numResBlocks: resPerLevel,
      maxPeriod: o.maxPeriod ?? VESSELFM_FLOW.maxPeriod,
      upsampleMode: o.upsampleMode ?? VESSELFM_FLOW.upsampleMode,
    });
  }
}

/**
 * The network's tensors of an upstream or project checkpoint: bare keys, or keys under `model.` (upstream's
 * FlowMatching wrapper). With both `model.` and `ema.`-style dicts flattened into one map, `prefer` picks one.
 */
export function flowStateDict<T>(sd: Map<string, T>, prefer: 'model' | 'ema' = 'model'): Map<string, T> {
  if (sd.has('input_blocks.0.0.weight')) return sd;
  for (const pre of [`${prefer}.model.`, `${prefer}.`, 'model.model.', 'model.']) {
    if (sd.has(`${pre}input_blocks.0.0.weight`)) {
      const out = new Map<string, T>();
      for (const [k, v] of sd) if (k.startsWith(pre)) out.set(k.slice(pre.length), v);
      return out;
    }
  }
  throw new VesselError('Not a flow UNet checkpoint: no key input_blocks.0.0.weight (bare or under model.)');
}

function swap(old: Tensor, next: Tensor): Tensor {
  if (old !== next) old.dispose();
  return next;
}
