// D_flow's training loop (spec §5.3): rectified flow (rectified.ts) on image/mask batches, Adam (lr 1e-5, PyTorch
// defaults, no weight decay, no schedule, no clipping), EMA 0.995 updated every 10 steps and re-copied from the
// model before step 2,000, class-label dropout 10 % for classifier-free guidance.
//
// One step = upload the batch, draw the noise on the GPU (Philox, a pure function of (seed, counter)), forward,
// loss, backward, Adam — and one readback, the loss. Checkpoints hold everything the next step depends on (weights,
// EMA, Adam moments, step, the two RNG counters), so a resumed run continues exactly as the uninterrupted one.
// A checkpoint is four files written as one transaction: `<file>.safetensors` (the trained weights, bare upstream
// key names), `<stem>.ema.safetensors`, `<stem>.optim.safetensors` and the JSON sidecar `<file>.json`.
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { backward } from '../autograd/tape.js';
import { CounterRng } from '../data/mix.js';
import type { PairSource } from '../data/datasets.js';
import type { Engine } from '../engine.js';
import { VesselError } from '../gpu/errors.js';
import { readBytes } from '../io/files.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import type { TensorRecord } from '../io/tensors.js';
import { FlowUNet, flowStateDict, type FlowUNetConfig } from '../models/flow-unet.js';
import { Generator } from '../nn/init.js';
import { EMA } from '../nn/optim/ema.js';
import { Adam } from '../nn/optim/optimizer.js';
import { LossScaler } from '../nn/optim/scaler.js';
import { checkPrecision, type Precision } from '../ops/arith.js';
import { loadCheckpoint, optimizerPathOf, restoreOptimizerState, writeFilesTogether, type CheckpointSidecar } from '../train/checkpoint.js';
import { normal } from '../tensor/math.js';
import type { Tensor } from '../tensor/tensor.js';
import { FlowBatcher, type FlowBatch } from './data-node.js';
import { dropLabels, flowLoss, logitNormalTimes } from './rectified.js';

export interface FlowTrainOptions {
  /** cubic training size S (volumes are cropped or padded to S³) */
  size: number;
  batch: number;
  lr: number;
  seed: number;
  emaDecay: number;
  emaEvery: number;
  emaStart: number;
  /** class-label dropout probability (CFG) */
  pDrop: number;
  augment: boolean;
  /** 'f32' (default) or 'mixed': f16 activations, f32 master weights, dynamic loss scaling (a skipped step does not count) */
  precision?: Precision;
}

export const FLOW_TRAIN_DEFAULTS: Omit<FlowTrainOptions, 'size'> = {
  batch: 3,
  lr: 1e-5,
  seed: 404,
  emaDecay: 0.995,
  emaEvery: 10,
  emaStart: 2000,
  pDrop: 0.1,
  augment: true,
};

export interface FlowStepResult {
  step: number;
  loss: number;
  seconds: number;
  /** mixed precision: the gradients overflowed and the Adam step was skipped */
  skipped?: boolean;
  /** mixed precision: the loss scale for the next step */
  scale?: number;
}

export const emaPathOf = (path: string): string => path.replace(/\.safetensors$/i, '') + '.ema.safetensors';

/** A separate Philox key for the noise, so that it never coincides with the initialisation stream of the same seed. */
export const noiseSeedOf = (seed: number): number => (seed ^ 0x6a09e667) >>> 0;

export class FlowTrainer {
  readonly opt: Adam;
  readonly ema: EMA;
  readonly rng: CounterRng;
  readonly batcher: FlowBatcher;
  /** element offset of the next noise draw */
  noiseCounter: number;
  lastBatch: FlowBatch | null = null;
  /** mixed precision: the dynamic loss scaler (null in f32) */
  readonly scaler: LossScaler | null;

  private constructor(
    readonly engine: Engine,
    readonly net: FlowUNet,
    source: PairSource,
    classes: readonly number[],
    readonly options: FlowTrainOptions,
    rngCounter: number,
    noiseCounter: number,
  ) {
    const o = options;
    if (!Number.isInteger(o.batch) || o.batch < 1) throw new VesselError(`--batch must be a positive integer, got ${o.batch}`);
    if (!(o.lr > 0)) throw new VesselError(`--lr must be positive, got ${o.lr}`);
    const d = net.divisor;
    if (!Number.isInteger(o.size) || o.size < d || o.size % d !== 0) {
      throw new VesselError(`--size ${o.size}: must be a multiple of ${d} (2^${net.config.channelMult.length - 1} for ${net.config.channelMult.length} levels)`);
    }
    const nc = net.config.numClasses;
    const bad = classes.find((c) => nc > 0 && (c < 0 || c >= nc));
    if (bad !== undefined) throw new VesselError(`flow data: class ${bad} is outside the network's ${nc} classes`);
    net.precision = checkPrecision(engine, o.precision ?? 'f32');
    this.scaler = net.precision === 'mixed' ? new LossScaler() : null;
    this.opt = new Adam(net.parameters(), { lr: o.lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
    this.ema = new EMA(net.parameters(), o.emaDecay);
    this.rng = new CounterRng(o.seed, rngCounter);
    this.batcher = new FlowBatcher(source, classes, o.size, this.rng, o.augment);
    this.noiseCounter = noiseCounter;
    net.train();
  }

  static start(engine: Engine, net: FlowUNet, source: PairSource, classes: readonly number[], options: FlowTrainOptions): FlowTrainer {
    return new FlowTrainer(engine, net, source, classes, options, 0, 0);
  }

  /** Continue from a checkpoint written by save() (network, EMA, Adam state, step, RNG counters, options). */
  static async resume(engine: Engine, path: string, source: PairSource, classes: readonly number[], overrides: Partial<FlowTrainOptions> = {}): Promise<FlowTrainer> {
    const ck = loadCheckpoint(path);
    const side = ck.sidecar;
    if ((side.config as { model?: string }).model !== 'FlowUNet') throw new VesselError(`--resume ${path}: not a flow checkpoint (model ${String((side.config as { model?: string }).model)})`);
    const cfg = (side.config as { flow: FlowUNetConfig }).flow;
    const net = new FlowUNet(engine, cfg);
    net.loadStateDict(flowStateDict(ck.weights));
    const t = side.train as unknown as FlowTrainOptions;
    const options: FlowTrainOptions = { ...t, ...overrides, seed: side.rng.seed };
    const tr = new FlowTrainer(engine, net, source, classes, options, side.rng.counter, Number(side.noise_counter ?? 0));
    // EMA weights
    const ep = join(dirname(path), String(side.ema_weights));
    if (!side.ema_weights || !existsSync(ep)) throw new VesselError(`--resume ${path}: the EMA weights ${ep} are missing`);
    const est = readSafetensors(readBytes(ep), ep);
    if (est.metadata.checkpoint_id !== side.checkpoint_id) throw new VesselError(`--resume ${path}: ${ep} is from a different save than the weights`);
    const names = net.namedParameters().map(([n]) => n);
    names.forEach((n, i) => {
      const rec = est.tensors.get(n);
      if (!rec) throw new VesselError(`--resume ${path}: ${ep} lacks ${n}`);
      engine.rt.write(tr.ema.shadow[i].buffer, 0, rec.data as Float32Array);
    });
    await restoreOptimizerState(engine, path, ck, names, tr.opt, tr.scaler);
    return tr;
  }

  get step(): number {
    return this.opt.stepCount;
  }

  /** One optimiser step; its only GPU→CPU transfer is the loss value. Throws on a non-finite loss. */
  async trainStep(): Promise<FlowStepResult> {
    const t0 = performance.now();
    const e = this.engine;
    const o = this.options;
    const B = o.batch;
    const S = o.size;
    const batch = this.batcher.next(B);
    this.lastBatch = batch;
    const t = logitNormalTimes(this.rng, B);
    const y = this.net.config.numClasses > 0 ? dropLabels(this.rng, batch.classes, o.pDrop) : null;
    const shape = [B, 1, S, S, S];
    const offset = this.noiseCounter;
    this.noiseCounter += B * S * S * S;
    const loss = e.scope(() => {
      const x1 = e.tensor(batch.image, shape);
      const mask = e.tensor(batch.mask, shape);
      const x0 = normal(e, shape, 0, 1, noiseSeedOf(o.seed), offset);
      const l = flowLoss(this.net, x1, mask, x0, t, y);
      if (this.scaler) {
        this.scaler.backward(l);
        return l;
      }
      backward(l);
      this.opt.step();
      this.opt.zeroGrad();
      const step = this.opt.stepCount;
      if (step % o.emaEvery === 0) {
        if (step < o.emaStart) this.ema.reset();
        else this.ema.update();
      }
      return l;
    });
    if (this.scaler) return this.finishScaled(loss, t0);
    const value = await loss.item();
    loss.dispose();
    const step = this.opt.stepCount;
    if (!Number.isFinite(value)) throw new VesselError(`flow training stopped: the loss is ${value} (non-finite) at step ${step}; lower --lr or check the data`);
    return { step, loss: value, seconds: (performance.now() - t0) / 1000 };
  }

  /** Mixed precision: unscale and check the gradients, read loss and overflow flag once, then Adam and EMA unless skipped. */
  private async finishScaled(loss: Tensor, t0: number): Promise<FlowStepResult> {
    const e = this.engine;
    const o = this.options;
    const scaler = this.scaler!;
    const r = await e.scopeAsync(async () => {
      const res = await scaler.step(this.opt, loss);
      this.opt.zeroGrad();
      const step = this.opt.stepCount;
      if (!res.skipped && step % o.emaEvery === 0) {
        if (step < o.emaStart) this.ema.reset();
        else this.ema.update();
      }
      return res;
    });
    loss.dispose();
    const step = this.opt.stepCount;
    if (!Number.isFinite(r.loss)) throw new VesselError(`flow training stopped: the loss is ${r.loss} (non-finite) at step ${step}; lower --lr or check the data`);
    return { step, loss: r.loss, seconds: (performance.now() - t0) / 1000, skipped: r.skipped, scale: scaler.scale };
  }

  /** Copy the EMA weights into a network of the same configuration (for sampling or export). */
  emaInto(net: FlowUNet): void {
    this.ema.copyTo(net.parameters());
  }

  /** Write a checkpoint: weights, EMA, Adam state and sidecar as one transaction. */
  async save(path: string): Promise<void> {
    if (!/\.safetensors$/i.test(path)) throw new VesselError(`--save ${path}: checkpoints are written as .safetensors`);
    const id = `${this.step}-${Date.now().toString(36)}-${Math.floor(Math.random() * 2 ** 32).toString(36)}`;
    const named = this.net.namedParameters();
    const rec = async (t: Tensor): Promise<TensorRecord> => ({ dtype: 'float32', shape: [...t.shape], data: (await t.read()) as Float32Array });
    const weights: [string, TensorRecord][] = [];
    const ema: [string, TensorRecord][] = [];
    const optT: [string, TensorRecord][] = [];
    const state = this.opt.state();
    for (let i = 0; i < named.length; i++) {
      const [n, p] = named[i];
      weights.push([n, await rec(p)]);
      ema.push([n, await rec(this.ema.shadow[i])]);
      const st = state.get(p as Tensor);
      if (st) for (const [k, v] of Object.entries(st)) optT.push([`${n}.${k}`, await rec(v)]);
    }
    const meta = { producer: 'vesselfm flow train', checkpoint_id: id, step: String(this.step) };
    const optPath = optimizerPathOf(path);
    const emaPath = emaPathOf(path);
    const c = this.net.config;
    const sidecar: CheckpointSidecar = {
      format: 'vesselfm-train',
      checkpoint_id: id,
      step: this.step,
      weights: path.split(/[\\/]/).pop()!,
      optimizer_tensors: optT.length ? optPath.split(/[\\/]/).pop()! : null,
      ema_weights: emaPath.split(/[\\/]/).pop()!,
      noise_counter: this.noiseCounter,
      ...(this.scaler ? this.scaler.stateDict() : {}),
      config: { model: 'FlowUNet', flow: { ...c } },
      train: { ...this.options },
      rng: { seed: this.options.seed, counter: this.rng.counter },
      optimizer: { type: 'Adam', lr: this.opt.lr, betas: this.opt.betas, eps: this.opt.eps, weight_decay: 0, step: this.step },
    };
    const files: [string, Uint8Array][] = [];
    if (optT.length) files.push([optPath, writeSafetensors(optT, { ...meta, kind: 'optimizer state' })]);
    files.push([emaPath, writeSafetensors(ema, { ...meta, kind: 'ema weights' })]);
    files.push([path, writeSafetensors(weights, meta)]);
    files.push([path + '.json', new TextEncoder().encode(JSON.stringify(sidecar, null, 1) + '\n')]);
    writeFilesTogether(files);
  }

  dispose(): void {
    this.opt.dispose();
    this.ema.dispose();
  }
}

/** A fresh network with PyTorch's default initialisation (zero-initialised output convs) from a seeded generator. */
export function freshFlowUNet(engine: Engine, config: Partial<FlowUNetConfig>, seed: number): FlowUNet {
  return new FlowUNet(engine, config, new Generator(seed));
}
