// The segmenter's training loop (spec §1.5–1.8): DynUNet, Dice+BCE (0.9/0.1), AdamW (β 0.9/0.999, eps 1e-8,
// decoupled weight decay on every parameter), the vesselFM warm-up × cosine schedule or a constant rate.
//
// One step = upload the batch, forward, loss, backward, AdamW — all recorded on the GPU — and then exactly one
// readback: the loss value, which is logged and checked for NaN/Inf. In mixed precision (options.precision 'mixed':
// f16 activations, f32 master weights) backward starts from the loss times a dynamic scale and the LossScaler
// unscales the gradients, checks them for Inf/NaN on the GPU and skips the AdamW step on overflow (halving the
// scale); its flag comes back in the same single readback as the loss. A skipped step does not count as a step
// (AdamW's step count, and with it the schedule, stays where it was; the next batch is drawn). Checkpoints restore everything the next step
// depends on (weights, AdamW moments, step count = schedule position, the sampler's RNG counter), so a run resumed
// from step k continues bit for bit as the uninterrupted run would have.
import { backward, noGrad } from '../autograd/tape.js';
import type { Engine } from '../engine.js';
import { VesselError } from '../gpu/errors.js';
import { DynUNet } from '../models/dynunet.js';
import { Generator } from '../nn/init.js';
import { AdamW } from '../nn/optim/optimizer.js';
import { LossScaler } from '../nn/optim/scaler.js';
import { checkPrecision, type Precision } from '../ops/arith.js';
import { ConstantSchedule, VesselfmSchedule, type Schedule } from '../nn/optim/schedule.js';
import { diceBceLoss } from '../ops/loss.js';
import type { Tensor } from '../tensor/tensor.js';
import type { TensorRecord } from '../io/tensors.js';
import type { Vec3 } from '../data/sources.js';
import { CounterRng, MixSampler, PatchSampler, type Batch } from '../data/mix.js';
import type { PairSource } from '../data/sources.js';
import { loadCheckpoint, restoreOptimizerState, saveCheckpoint, type WriteFile } from './checkpoint.js';

export interface TrainOptions {
  patch: Vec3;
  batch: number;
  lr: number;
  weightDecay: number;
  schedule: 'vesselfm' | 'constant';
  seed: number;
  augment: boolean;
  /** how images were prepared ('none' | 'percentile'); recorded in checkpoints */
  normalize: 'none' | 'percentile';
  /** 'f32' (default) or 'mixed': f16 activations, f32 master weights, dynamic loss scaling */
  precision?: Precision;
  /** mixed precision: the first loss scale (default 2^16) */
  initScale?: number;
}

/** Mixed precision: this many overflowing steps in a row stop training (the scale has fallen by 2^this). */
export const MAX_CONSECUTIVE_SKIPS = 30;

export interface StepResult {
  step: number;
  loss: number;
  lr: number;
  /** wall time of the step including the loss readback */
  seconds: number;
  /** mixed precision: the gradients overflowed and the optimiser step was skipped */
  skipped?: boolean;
  /** mixed precision: the loss scale for the next step */
  scale?: number;
}

export function makeSchedule(kind: 'vesselfm' | 'constant', lr: number): Schedule {
  if (kind === 'vesselfm') return new VesselfmSchedule({ base: lr });
  if (kind === 'constant') return new ConstantSchedule(lr);
  throw new VesselError(`--schedule must be vesselfm or constant, got "${String(kind)}"`);
}

export class Trainer {
  readonly opt: AdamW;
  readonly schedule: Schedule;
  readonly sampler: PatchSampler;
  /** the most recent batch (CPU copies), for previews */
  lastBatch: Batch | null = null;
  /** the next batch, cut on the CPU while the GPU runs the current step, and the RNG counter from before it */
  private prefetched: { batch: Batch; counter: number } | null = null;
  /** mixed precision: the dynamic loss scaler (null in f32) */
  readonly scaler: LossScaler | null;
  private skipsInARow = 0;

  private constructor(
    readonly engine: Engine,
    readonly net: DynUNet,
    readonly sources: readonly PairSource[],
    readonly weights: readonly number[],
    readonly options: TrainOptions,
    rngCounter: number,
  ) {
    const o = options;
    if (!Number.isInteger(o.batch) || o.batch < 1) throw new VesselError(`--batch must be a positive integer, got ${o.batch}`);
    if (!(o.lr > 0)) throw new VesselError(`--lr must be positive, got ${o.lr}`);
    if (!(o.weightDecay >= 0)) throw new VesselError(`--weight-decay must be ≥ 0, got ${o.weightDecay}`);
    const d = net.divisor;
    if (o.patch.some((p) => p % d !== 0 || p < d)) {
      throw new VesselError(`--patch [${o.patch.join(', ')}]: every side must be a multiple of ${d} (2^${net.config.filters.length - 1} for a ${net.config.filters.length}-level DynUNet)`);
    }
    const precision = checkPrecision(engine, o.precision ?? 'f32');
    net.precision = precision;
    this.scaler = precision === 'mixed' ? new LossScaler({ initScale: o.initScale }) : null;
    this.schedule = makeSchedule(o.schedule, o.lr);
    this.opt = new AdamW(net.parameters(), { lr: o.lr, weightDecay: o.weightDecay, betas: [0.9, 0.999], eps: 1e-8 });
    const rng = new CounterRng(o.seed, rngCounter);
    this.sampler = new PatchSampler(new MixSampler(sources, weights, rng), o.patch, { augment: o.augment });
    net.train();
  }

  /** A new run: `net` (fresh or loaded from --init) at step 0. */
  static start(engine: Engine, net: DynUNet, sources: readonly PairSource[], weights: readonly number[], options: TrainOptions): Trainer {
    return new Trainer(engine, net, sources, weights, options, 0);
  }

  /**
   * Continue from a checkpoint written by save(): the network, AdamW moments, step, RNG counter, schedule and
   * hyper-parameters come from the checkpoint (the data sources from the caller).
   */
  static async resume(engine: Engine, path: string, sources: readonly PairSource[], weights: readonly number[], overrides: Partial<TrainOptions> = {}): Promise<Trainer> {
    const ck = loadCheckpoint(path);
    const net = dynunetFromWeights(engine, ck.weights);
    const t = ck.sidecar.train as unknown as TrainOptions;
    const options: TrainOptions = { ...t, ...overrides, seed: ck.sidecar.rng.seed };
    const tr = new Trainer(engine, net, sources, weights, options, ck.sidecar.rng.counter);
    await restoreOptimizerState(engine, path, ck, net.namedParameters().map(([n]) => n), tr.opt, tr.scaler);
    return tr;
  }

  get step(): number {
    return this.opt.stepCount;
  }

  /** The sampler's RNG position for the next step (before any batch drawn ahead of time). */
  get rngCounter(): number {
    return this.prefetched ? this.prefetched.counter : this.sampler.rng.counter;
  }

  /** One optimiser step; its only GPU→CPU transfer is the loss value. Throws on a non-finite loss. */
  async trainStep(): Promise<StepResult> {
    const t0 = performance.now();
    const e = this.engine;
    const P = this.options.patch;
    const B = this.options.batch;
    const batch = this.prefetched ? this.prefetched.batch : this.sampler.next(B);
    this.prefetched = null;
    this.lastBatch = batch;
    const lr = this.schedule.lr(this.opt.stepCount);
    this.opt.lr = lr;
    const loss = e.scope(() => {
      const x = e.tensor(batch.image, [B, 1, ...P]);
      const y = e.tensor(batch.label, [B, 1, ...P]);
      const logits = this.net.forward(x);
      const l = diceBceLoss(logits, y);
      if (this.scaler) {
        this.scaler.backward(l);
        return l;
      }
      backward(l);
      this.opt.step();
      this.opt.zeroGrad();
      return l;
    });
    // Submit the step, then cut (and load from disk, if it comes to that) the next batch while the GPU works.
    e.flush();
    const counter = this.sampler.rng.counter;
    this.prefetched = { batch: this.sampler.next(B), counter };
    let value: number;
    let skipped = false;
    if (this.scaler) {
      const scaler = this.scaler;
      // unscale + overflow flag + (unless skipped) AdamW, with the loss and the flag read back together
      const r = await e.scopeAsync(async () => {
        const res = await scaler.step(this.opt, loss);
        this.opt.zeroGrad();
        return res;
      });
      value = r.loss;
      skipped = r.skipped;
    } else {
      value = await loss.item();
    }
    loss.dispose();
    const step = this.opt.stepCount;
    if (!Number.isFinite(value)) {
      throw new VesselError(`training stopped: the loss is ${value} (non-finite) at step ${step} (batch ${batch.names.join(', ')}); lower --lr or check the data`);
    }
    if (this.scaler) {
      this.skipsInARow = skipped ? this.skipsInARow + 1 : 0;
      if (this.skipsInARow >= MAX_CONSECUTIVE_SKIPS) {
        throw new VesselError(
          `training stopped: the gradients overflowed in ${this.skipsInARow} steps in a row at step ${step} (loss scale now ${this.scaler.scale}); the f16 activations overflow or the gradients are NaN — try --precision f32 or a lower --lr`,
        );
      }
      return { step, loss: value, lr, seconds: (performance.now() - t0) / 1000, skipped, scale: this.scaler.scale };
    }
    return { step, loss: value, lr, seconds: (performance.now() - t0) / 1000 };
  }

  /** Sigmoid probabilities of the network for the first patch of the last batch (for previews; one readback). */
  async predictLastPatch(): Promise<Float32Array> {
    if (!this.lastBatch) throw new VesselError('no batch drawn yet');
    const P = this.options.patch;
    const n = P[0] * P[1] * P[2];
    const e = this.engine;
    const wasTraining = this.net.training;
    this.net.eval();
    try {
      const out = await e.scopeAsync(async () => {
        const x = e.tensor(this.lastBatch!.image.subarray(0, n), [1, 1, ...P]);
        const logits = noGrad(() => this.net.forward(x));
        return (await logits.read()) as Float32Array;
      });
      for (let i = 0; i < out.length; i++) out[i] = 1 / (1 + Math.exp(-out[i]));
      return out;
    } finally {
      this.net.train(wasTraining);
    }
  }

  /** Write a checkpoint (atomic across its three files). */
  async save(path: string, write?: WriteFile): Promise<void> {
    const c = this.net.config;
    await saveCheckpoint(
      path,
      {
        net: this.net,
        opt: this.opt,
        step: this.step,
        config: { model: 'DynUNet', in_channels: c.inChannels, out_channels: c.outChannels, filters: c.filters },
        train: { ...this.options },
        extra: this.scaler ? this.scaler.stateDict() : undefined,
        rng: { seed: this.options.seed, counter: this.rngCounter },
        optimizer: {
          type: 'AdamW',
          lr: this.opt.lr,
          betas: this.opt.betas,
          eps: this.opt.eps,
          weight_decay: this.opt.weightDecay,
          step: this.opt.stepCount,
          schedule: this.options.schedule,
          base_lr: this.options.lr,
        },
      },
      write,
    );
  }

  dispose(): void {
    this.opt.dispose();
  }
}

/**
 * A DynUNet sized and loaded from canonical weights (any depth): the `skip_layers.*` alias names are resolved
 * through the network itself (an alias is the same tensor as its canonical parameter), so nothing depends on a
 * fixed number of levels. Keys the network does not have, or lacks, are one error.
 */
export function dynunetFromWeights(engine: Engine, tensors: Map<string, TensorRecord>): DynUNet {
  const net = DynUNet.fromStateDict(engine, tensors);
  const canonical = new Map<Tensor, string>(net.namedParameters().map(([n, p]) => [p as Tensor, n]));
  const names = new Set(canonical.values());
  const unexpected = [...tensors.keys()].filter((k) => !names.has(k) && !k.startsWith('skip_layers.'));
  const missing = [...names].filter((k) => !tensors.has(k));
  if (unexpected.length || missing.length) {
    net.dispose();
    const parts: string[] = [];
    if (missing.length) parts.push(`missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (${missing.length} in all)` : ''}`);
    if (unexpected.length) parts.push(`unexpected ${unexpected.slice(0, 5).join(', ')}${unexpected.length > 5 ? ` (${unexpected.length} in all)` : ''}`);
    throw new VesselError(`not the weights of a DynUNet with filters ${net.config.filters.join(',')}: ${parts.join('; ')}`);
  }
  const sd = new Map<string, TensorRecord>();
  for (const [k, t] of net.stateDict()) sd.set(k, tensors.get(canonical.get(t) ?? k)!);
  net.loadStateDict(sd);
  return net;
}

/** A fresh DynUNet with PyTorch's default initialisation drawn from a seeded generator. */
export function freshDynUNet(engine: Engine, filters: number[], seed: number): DynUNet {
  return new DynUNet(engine, { filters }, new Generator(seed));
}
