// `vesselfm flow`: D_flow, the mask- and class-conditioned flow-matching generator (spec §5).
//   flow train  — rectified-flow training on image/mask sample folders (Adam, EMA, CFG label dropout)
//   flow sample — Euler sampling (optionally with classifier-free guidance and its variants bg / rand /
//                 interpolate) of one image per mask, several masks per network batch with --batch
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { PairSource, sampleFolders } from '../src/data/datasets.js';
import { VesselError } from '../src/gpu/errors.js';
import { readNpyFile, writePng } from '../src/io/files.js';
import { npyToFloat32 } from '../src/io/npy.js';
import { mip, strip, toGrey8 } from '../src/io/png.js';
import { classOfRef } from '../src/flow/data-node.js';
import { generateToDisk, maskFolders } from '../src/flow/generate-node.js';
import { eulerSample, parseCfgVariants } from '../src/flow/sample.js';
import { FLOW_TRAIN_DEFAULTS, FlowTrainer, freshFlowUNet, noiseSeedOf, type FlowStepResult, type FlowTrainOptions } from '../src/flow/train-node.js';
import { loadFlowNet, type WeightState } from '../src/flow/weights-node.js';
import { normal } from '../src/tensor/math.js';
import { addDeviceOptions, engineFrom, jsonLine, type DeviceOptions, int, num } from './common.js';

function list(v: string, name: string, min = 1): number[] {
  return v.split(',').map((s) => int(s, name, min));
}

/** Upstream's channel multipliers by image size (create_model), shortened for the small sizes this engine trains. */
export function defaultChannelMult(size: number): number[] {
  if (size >= 128) return [1, 1, 2, 3, 4];
  if (size >= 64) return [1, 2, 3, 4];
  if (size >= 32) return [1, 2, 2];
  return [1, 2];
}

interface TrainCli extends DeviceOptions {
  data: string;
  size: string;
  width: string;
  mult?: string;
  attention: string;
  classes: string;
  class: string;
  steps: string;
  batch: string;
  lr: string;
  save?: string;
  saveEvery?: string;
  resume?: string;
  log?: string;
  seed: string;
  emaStart: string;
  augment: boolean;
  previewEvery?: string;
  previewDir?: string;
  previewSteps: string;
  precision?: string;
  json?: boolean;
}

interface SampleCli extends DeviceOptions {
  weights: string;
  masks: string;
  class: string;
  count?: string;
  steps: string;
  guidance: string;
  seed: string;
  noise?: string;
  out: string;
  state: string;
  cfg: string;
  batch: string;
  json?: boolean;
}

export function registerFlow(program: Command): void {
  const flow = program.command('flow').description('D_flow: mask- and class-conditioned flow-matching generator (train, sample)');

  const train = flow
    .command('train')
    .description('rectified-flow training of the flow UNet on <i>/img.npy + <i>/mask.npy sample folders (images in [0, 1])')
    .requiredOption('--data <dir>', 'sample folders <dir>/<i>/img.npy + mask.npy (D_drand output or real data; img_<c>.npy names give class c)')
    .option('--size <n>', 'cubic training size (volumes are randomly cropped, or centred and padded)', '128')
    .option('--width <n>', 'model_channels (level-0 width; a multiple of 32)', '64')
    .option('--mult <list>', 'channel multipliers per level (default by size: 128 → 1,1,2,3,4)')
    .option('--attention <list>', 'spatial sizes with attention blocks (the middle block always has one)', '16')
    .option('--classes <n>', 'number of classes of the class embedding', '24')
    .option('--class <c>', 'class of samples whose file names carry none', '0')
    .option('--steps <n>', 'train until this many optimiser steps in all (a resumed run counts its earlier steps)', '1000')
    .option('--batch <n>', 'samples per step', String(FLOW_TRAIN_DEFAULTS.batch))
    .option('--lr <x>', 'Adam learning rate', String(FLOW_TRAIN_DEFAULTS.lr))
    .option('--save <file.safetensors>', 'checkpoint (+ .json, .ema.safetensors, .optim.safetensors), at the end and every --save-every steps')
    .option('--save-every <n>', 'checkpoint every n steps')
    .option('--resume <file.safetensors>', 'continue a run (weights, EMA, Adam state, step, RNG) from a checkpoint')
    .option('--log <file.jsonl>', 'append one JSON line per step: step, loss, seconds')
    .option('--seed <n>', 'seed of the initialisation, the batches and the noise', String(FLOW_TRAIN_DEFAULTS.seed))
    .option('--ema-start <n>', 'before this step the EMA is re-copied from the model every 10 steps', String(FLOW_TRAIN_DEFAULTS.emaStart))
    .option('--no-augment', 'no random flips / 90° rotations')
    .option('--preview-every <n>', 'write a PNG (mask, sample, training image MIPs) every n steps')
    .option('--preview-dir <dir>', 'folder for previews (default: next to --save, or .)')
    .option('--preview-steps <n>', 'Euler steps of preview samples', '20')
    .option('--precision <kind>', 'f32, or mixed: f16 activations with f32 master weights and dynamic loss scaling (adapters with shader-f16); default f32, or the checkpoint’s on --resume')
    .option('--json', 'print a JSON summary line at the end');
  addDeviceOptions(train);
  train.action(async (o: TrainCli, self: Command) => {
    if (o.resume) {
      const fixed = ['size', 'width', 'mult', 'attention', 'classes', 'lr', 'seed'].filter((k) => self.getOptionValueSource(k) === 'cli');
      if (fixed.length) throw new VesselError(`${fixed.map((k) => '--' + k).join(', ')}: with --resume these come from the checkpoint; leave them out`);
    }
    if (o.precision !== undefined && o.precision !== 'f32' && o.precision !== 'mixed') throw new VesselError(`--precision must be f32 or mixed, got "${o.precision}"`);
    const precision = o.precision as FlowTrainOptions['precision'];
    const steps = int(o.steps, '--steps');
    const saveEvery = o.saveEvery ? int(o.saveEvery, '--save-every', 1) : undefined;
    const previewEvery = o.previewEvery ? int(o.previewEvery, '--preview-every', 1) : undefined;
    const save = o.save ?? o.resume;
    if (saveEvery && !save) throw new VesselError('--save-every needs --save');
    if (save && !/\.safetensors$/i.test(save)) throw new VesselError(`--save ${save}: checkpoints are written as .safetensors`);
    const refs = sampleFolders(o.data);
    const fallback = int(o.class, '--class');
    const classes = refs.map((r) => classOfRef(r, fallback));
    const source = PairSource.fromFiles('flow', refs);
    const engine = await engineFrom(o);
    let trainer: FlowTrainer;
    if (o.resume) {
      trainer = await FlowTrainer.resume(engine, o.resume, source, classes, {
        batch: int(o.batch, '--batch', 1),
        augment: o.augment,
        emaStart: int(o.emaStart, '--ema-start'),
        ...(precision ? { precision } : {}),
      });
    } else {
      const size = int(o.size, '--size', 1);
      const options: FlowTrainOptions = {
        ...FLOW_TRAIN_DEFAULTS,
        size,
        batch: int(o.batch, '--batch', 1),
        lr: num(o.lr, '--lr'),
        seed: int(o.seed, '--seed'),
        emaStart: int(o.emaStart, '--ema-start'),
        augment: o.augment,
        precision: precision ?? 'f32',
      };
      const width = int(o.width, '--width', 1);
      if (width % 32 !== 0) throw new VesselError(`--width ${width}: GroupNorm(32) needs a multiple of 32`);
      if (width === 32) process.stderr.write('note: --width 32 gives GroupNorm(32) one channel per group in the first level, which cancels the time and class embedding there (upstream uses 64)\n');
      const net = freshFlowUNet(
        engine,
        {
          imageSize: size,
          modelChannels: width,
          channelMult: o.mult ? list(o.mult, '--mult') : defaultChannelMult(size),
          attentionResolutions: o.attention.trim() === '' ? [] : list(o.attention, '--attention'),
          numClasses: int(o.classes, '--classes'),
        },
        options.seed,
      );
      trainer = FlowTrainer.start(engine, net, source, classes, options);
    }
    const previewDir = o.previewDir ?? (save ? join(save, '..') : '.');
    if (previewEvery) mkdirSync(previewDir, { recursive: true });
    const first = trainer.step;
    const t0 = performance.now();
    let last: FlowStepResult = { step: trainer.step, loss: NaN, seconds: 0 };
    while (trainer.step < steps) {
      last = await trainer.trainStep();
      const mixed = last.scale === undefined ? {} : { scale: last.scale, ...(last.skipped ? { skipped: true } : {}) };
      const line = { step: last.step, loss: last.loss, seconds: Number(last.seconds.toFixed(4)), ...mixed };
      if (o.log) appendFileSync(o.log, JSON.stringify(line) + '\n');
      else if (!o.json) jsonLine(line);
      if (last.skipped) continue; // gradients overflowed: the step did not count, nothing periodic to do
      if (save && saveEvery && last.step % saveEvery === 0) await trainer.save(save);
      if (previewEvery && last.step % previewEvery === 0) await writePreview(trainer, join(previewDir, `flow-preview-${last.step}.png`), int(o.previewSteps, '--preview-steps', 1));
    }
    if (save && trainer.step > first) await trainer.save(save);
    const secs = (performance.now() - t0) / 1000;
    if (o.json) jsonLine({ steps: trainer.step, trained: trainer.step - first, loss: last.loss, seconds: Number(secs.toFixed(2)), save: save ?? null });
    trainer.dispose();
  });

  const sample = flow
    .command('sample')
    .description('Euler sampling: one image per mask, written as <out>/<i>/img.npy (float16, [0, 1]) + mask.npy (bool), a PNG contact sheet and samples.json (class, guidance weight, draws per sample)')
    .requiredOption('--weights <file>', 'flow checkpoint: ours (.safetensors) or upstream PyTorch (.pt, bare keys or under model.)')
    .requiredOption('--masks <dir>', 'mask folders <dir>/<i>/mask.npy (D_drand output or real labels)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--class <c>', 'class id of every sample (−1: unconditional)', '0')
    .option('--count <n>', 'number of samples (the first n masks; default all)')
    .option('--steps <n>', 'Euler steps', '100')
    .option('--guidance <w>', 'classifier-free guidance weight w: v = (1+w)·v_cond − w·v_uncond (with --cfg rand: the upper end w_max)', '0')
    .option(
      '--cfg <variant>',
      'standard; bg (guidance only where mask == 0, v_cond inside the mask); rand (w ~ U(0, w_max) per sample); interpolate (class embedding w·E(c) + (1−w)·E(c2), c2 ≠ c random, w ~ U(0, 1) per sample); bg,rand combines',
      'standard',
    )
    .option('--batch <n>', 'masks advanced together through the Euler loop (one network batch; 2n with guidance)', '1')
    .option('--seed <n>', 'seed of the noise (sample i uses Philox normal at (seed, i)) and of the --cfg rand / interpolate draws of each sample', '0')
    .option('--noise <file.npy>', 'initial noise: one volume of the mask shape, or [count, D, H, W]')
    .option('--state <which>', 'ema (default, when the checkpoint has it) or model', 'ema')
    .option('--json', 'print a JSON summary line');
  addDeviceOptions(sample);
  sample.action(async (o: SampleCli) => {
    if (o.state !== 'ema' && o.state !== 'model') throw new VesselError(`--state must be ema or model, got "${o.state}"`);
    let masks = maskFolders(o.masks);
    if (o.count !== undefined) {
      const n = int(o.count, '--count', 1);
      if (n > masks.length) throw new VesselError(`--count ${n}: ${o.masks} holds only ${masks.length} masks`);
      masks = masks.slice(0, n);
    }
    const cls = Number(o.class);
    if (!Number.isInteger(cls) || cls < -1) throw new VesselError(`--class must be an integer ≥ −1, got "${o.class}"`);
    const variants = parseCfgVariants(o.cfg);
    const guidance = num(o.guidance, '--guidance');
    for (const v of ['bg', 'rand'] as const) {
      if (variants.has(v) && !(guidance > 0)) throw new VesselError(`--cfg ${o.cfg}: ${v} modifies classifier-free guidance; give --guidance w > 0`);
    }
    int(o.batch, '--batch', 1);
    let noise: { data: Float32Array; shape: number[] } | null = null;
    if (o.noise) {
      const a = readNpyFile(o.noise);
      noise = { data: npyToFloat32(a), shape: [...a.shape] };
    }
    const engine = await engineFrom(o);
    const { net, state } = loadFlowNet(engine, o.weights, o.state as WeightState);
    if (net.config.numClasses > 0 && cls >= net.config.numClasses) throw new VesselError(`--class ${cls}: the network has ${net.config.numClasses} classes`);
    const r = await generateToDisk(engine, net, {
      masks,
      out: o.out,
      classes: masks.map(() => cls),
      steps: int(o.steps, '--steps', 1),
      guidance,
      seed: int(o.seed, '--seed'),
      variants,
      batch: int(o.batch, '--batch', 1),
      noise,
      onSample: (i, s) => {
        if (!o.json) process.stderr.write(`sample ${i + 1}/${masks.length}: ${s.toFixed(2)} s\n`);
      },
    });
    if (o.json) jsonLine({ count: r.count, shape: r.shape, state, cfg: [...variants].join(','), batch: int(o.batch, '--batch', 1), sheet: r.sheet, record: r.record, seconds_per_sample: Number(r.secondsPerSample.toFixed(3)) });
    net.dispose();
  });
}

/** A preview: one sample (current weights, fixed noise) for the first mask of the last batch, beside that image. */
async function writePreview(tr: FlowTrainer, path: string, steps: number): Promise<void> {
  const b = tr.lastBatch;
  if (!b) return;
  const e = tr.engine;
  const S = tr.options.size;
  const n = S * S * S;
  const shape = [1, 1, S, S, S];
  const img = await e.scopeAsync(async () => {
    const mask = e.tensor(b.mask.subarray(0, n), shape);
    const x0 = normal(e, shape, 0, 1, noiseSeedOf(tr.options.seed + 1), 0);
    const y = tr.net.config.numClasses > 0 ? [b.classes[0]] : [0];
    const x = await eulerSample(tr.net, mask, y, x0, { steps });
    return (await x.read()) as Float32Array;
  });
  const real = Float32Array.from(b.image.subarray(0, n), (v) => (v + 1) / 2);
  const sz = [S, S, S];
  writePng(path, strip([toGrey8(mip(b.mask.subarray(0, n), sz, 0), [0, 1]), toGrey8(mip(img, sz, 0), [0, 1]), toGrey8(mip(real, sz, 0), [0, 1])]));
}
