// `vesselfm train`: train or fine-tune the DynUNet segmenter on image/label volumes, D_drand-style sample folders,
// or a weighted mix of sources (spec §1.6–1.8).
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { VesselError } from '../src/gpu/errors.js';
import { excludeClasses, FLOW_HELD_OUT_CLASSES, pairFiles, type PairSource, type Vec3 } from '../src/data/datasets.js';
import { fileSource, listVolumeFiles, loadPair, sampleFolders } from '../src/train/data-files.js';
import { parseMixSpec } from '../src/data/mix.js';
import { loadWeights } from '../src/io/checkpoint.js';
import { VESSELFM_FILTERS, type DynUNet } from '../src/models/dynunet.js';
import { runTraining } from '../src/train/run.js';
import { dynunetFromWeights, freshDynUNet, Trainer, type TrainOptions } from '../src/train/trainer.js';
import { addDeviceOptions, engineFrom, jsonLine, type DeviceOptions, int, num } from './common.js';

interface TrainCliOptions extends DeviceOptions {
  images?: string[];
  labels?: string[];
  data?: string[];
  patch: string;
  batch: string;
  steps: string;
  lr: string;
  weightDecay: string;
  schedule: string;
  init?: string;
  filters: string;
  save?: string;
  saveEvery?: string;
  resume?: string;
  seed: string;
  normalize?: string;
  augment?: boolean;
  log?: string;
  previewEvery?: string;
  previewDir?: string;
  valImages?: string[];
  valLabels?: string[];
  valEvery?: string;
  precision?: string;
  json?: boolean;
}

function patchOf(v: string): Vec3 {
  const parts = v.split(',').map((s) => int(s, '--patch', 1));
  if (parts.length === 1) return [parts[0], parts[0], parts[0]];
  if (parts.length === 3) return parts as Vec3;
  throw new VesselError(`--patch takes one size or three (z,y,x), got "${v}"`);
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train or fine-tune the DynUNet segmenter (Dice+BCE, AdamW) on image/label volumes or sample folders')
    .option('--images <paths...>', 'image volumes (files or folders; any format vesselfm reads)')
    .option('--labels <paths...>', 'label volumes, paired with --images by name or else by sorted order (> 0 = vessel)')
    .option('--data <specs...>', 'sample folders <dir>/<i>/img.npy + mask.npy, or a mix: drand=DIR:0.7 flow=DIR:0.1 real=DIR:0.2 (weights normalised; a source named flow skips the held-out classes 2, 10, 12, 13 as upstream does)')
    .option('--patch <n>', 'random patch size (one number or z,y,x); volumes smaller than it are zero-padded', '128')
    .option('--batch <n>', 'patches per step', '2')
    .option('--steps <n>', 'train until this many optimiser steps in all (a resumed run counts its earlier steps)', '1000')
    .option('--lr <x>', 'AdamW learning rate (the schedule’s base)', '1e-4')
    .option('--weight-decay <x>', 'AdamW decoupled weight decay', '0.1')
    .option('--schedule <kind>', 'vesselfm (warm-up × cosine, stepped every 10 steps) or constant', 'vesselfm')
    .option('--init <checkpoint>', 'start from these weights (.pt or .safetensors; network sizes read from it)')
    .option('--filters <list>', 'channels per level of a fresh network', VESSELFM_FILTERS.join(','))
    .option('--save <file.safetensors>', 'checkpoint path (+ .json sidecar, + .optim.safetensors), written at the end and every --save-every steps')
    .option('--save-every <n>', 'checkpoint every n steps')
    .option('--resume <file.safetensors>', 'continue a run: weights, AdamW state, step, RNG and schedule from a checkpoint')
    .option('--seed <n>', 'seed of the initialisation and the patch sampler', '404')
    .option('--normalize <kind>', 'percentile: scale each volume 1–99 % → [0, 1] (clipped); default: images as stored')
    .option('--augment', 'random flips of axes 0 and 1 (p 0.3 each); off by default')
    .option('--log <file.jsonl>', 'append one JSON line per step (step, loss, lr, seconds) and per validation')
    .option('--preview-every <n>', 'write a PNG of input, label and prediction MIPs every n steps')
    .option('--preview-dir <dir>', 'folder for previews')
    .option('--val-images <paths...>', 'validation image volumes')
    .option('--val-labels <paths...>', 'validation label volumes')
    .option('--val-every <n>', 'report validation Dice (sliding-window inference) every n steps')
    .option('--precision <kind>', 'f32, or mixed: f16 activations with f32 master weights and dynamic loss scaling (adapters with shader-f16); default f32, or the checkpoint’s on --resume')
    .option('--json', 'print a JSON summary line at the end');
  addDeviceOptions(cmd);
  cmd.action(async (o: TrainCliOptions, self: Command) => {
    if (o.precision !== undefined && o.precision !== 'f32' && o.precision !== 'mixed') throw new VesselError(`--precision must be f32 or mixed, got "${o.precision}"`);
    const normalize = o.normalize === undefined ? 'none' : o.normalize === 'percentile' ? 'percentile' : null;
    if (!normalize) throw new VesselError(`--normalize must be "percentile", got "${o.normalize}"`);
    if ((o.images ? 1 : 0) + (o.data ? 1 : 0) !== 1) throw new VesselError('give either --images with --labels, or --data');
    if (o.images && !o.labels) throw new VesselError('--images needs --labels');
    if (o.labels && !o.images) throw new VesselError('--labels needs --images');
    if (o.init && o.resume) throw new VesselError('--init and --resume exclude each other (a checkpoint to resume holds its own weights)');
    if (o.resume) {
      // These continue from the checkpoint; silently ignoring a different value would mislead.
      const fixed = ['lr', 'weightDecay', 'schedule', 'seed', 'filters'].filter((k) => self.getOptionValueSource(k) === 'cli');
      if (fixed.length) {
        const flags = fixed.map((k) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()));
        throw new VesselError(`${flags.join(', ')}: with --resume these come from the checkpoint (${o.resume}.json); leave them out`);
      }
    }
    const steps = int(o.steps, '--steps');
    const saveEvery = o.saveEvery ? int(o.saveEvery, '--save-every', 1) : undefined;
    const previewEvery = o.previewEvery ? int(o.previewEvery, '--preview-every', 1) : undefined;
    const valEvery = o.valEvery ? int(o.valEvery, '--val-every', 1) : undefined;
    if (saveEvery && !o.save && !o.resume) throw new VesselError('--save-every needs --save');
    // A resumed run keeps writing to its checkpoint unless told otherwise.
    const save = o.save ?? o.resume;

    if (save && !/\.safetensors$/i.test(save)) throw new VesselError(`--save ${save}: checkpoints are written as .safetensors`);
    if (save && !existsSync(dirname(resolve(save)))) throw new VesselError(`--save ${save}: folder ${dirname(resolve(save))} does not exist`);

    // Data (files are read lazily; errors about the layout come now).
    const sources: PairSource[] = [];
    const weights: number[] = [];
    if (o.images) {
      const refs = pairFiles(listVolumeFiles(o.images, 'images'), listVolumeFiles(o.labels!, 'labels'));
      sources.push(fileSource('images', refs, { normalize }));
      weights.push(1);
    } else {
      for (const m of parseMixSpec(o.data!)) {
        let refs = sampleFolders(m.dir);
        if (m.name === 'flow') {
          refs = excludeClasses(refs, FLOW_HELD_OUT_CLASSES);
          if (refs.length === 0) throw new VesselError(`--data flow=${m.dir}: every sample is of a held-out class (${FLOW_HELD_OUT_CLASSES.join(', ')})`);
        }
        sources.push(fileSource(m.name, refs, { normalize }));
        weights.push(m.weight);
      }
    }
    let val: ReturnType<typeof loadPair>[] | undefined;
    if (o.valImages || o.valLabels) {
      if (!o.valImages || !o.valLabels) throw new VesselError('--val-images and --val-labels go together');
      val = pairFiles(listVolumeFiles(o.valImages, 'val-images'), listVolumeFiles(o.valLabels, 'val-labels')).map((r) => loadPair(r, { normalize }));
    }

    const engine = await engineFrom(o);
    const options: TrainOptions = {
      patch: patchOf(o.patch),
      batch: int(o.batch, '--batch', 1),
      lr: num(o.lr, '--lr'),
      weightDecay: num(o.weightDecay, '--weight-decay'),
      schedule: o.schedule as TrainOptions['schedule'],
      seed: int(o.seed, '--seed'),
      augment: !!o.augment,
      normalize,
      precision: (o.precision ?? 'f32') as TrainOptions['precision'],
    };
    let trainer: Trainer;
    if (o.resume) {
      // The checkpoint's hyper-parameters and RNG continue; patch, batch, augmentation and data may change.
      trainer = await Trainer.resume(engine, o.resume, sources, weights, {
        patch: options.patch,
        batch: options.batch,
        augment: options.augment,
        normalize,
        ...(o.precision ? { precision: options.precision } : {}),
      });
    } else {
      let net: DynUNet;
      if (o.init) {
        net = dynunetFromWeights(engine, loadWeights(o.init).tensors);
      } else {
        const filters = o.filters.split(',').map((s) => int(s, '--filters', 1));
        net = freshDynUNet(engine, filters, options.seed);
      }
      trainer = Trainer.start(engine, net, sources, weights, options);
    }

    const total = steps;
    const bar = new cliProgress.SingleBar(
      {
        format: 'train |{bar}| {value}/{total} steps | loss {loss} | {rate} steps/s | ETA {eta_formatted}',
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    const useBar = !o.json && process.stderr.isTTY;
    if (useBar) bar.start(total, trainer.step, { loss: '-', rate: '-' });
    const t0 = performance.now();
    const first = trainer.step;
    let summary;
    try {
      summary = await runTraining(trainer, {
        steps,
        save,
        saveEvery,
        log: o.log,
        previewEvery,
        previewDir: o.previewDir,
        val,
        valEvery,
        onStep: (r) => {
          const rate = (r.step - first) / ((performance.now() - t0) / 1000);
          if (useBar) bar.update(r.step, { loss: r.loss.toFixed(4), rate: rate.toFixed(2) });
        },
        onValidation: (step, d, mean) => {
          const msg = `step ${step}: validation Dice ${mean.toFixed(4)}${d.length > 1 ? ` (${d.map((v) => v.toFixed(4)).join(', ')})` : ''}`;
          if (useBar) bar.stop();
          process.stderr.write(msg + '\n');
          if (useBar) bar.start(total, step, { loss: '-', rate: '-' });
        },
      });
    } finally {
      if (useBar) bar.stop();
    }
    const wall = (performance.now() - t0) / 1000;
    const res = {
      steps: summary.endStep,
      from: summary.startStep,
      lastLoss: summary.lastLoss,
      meanStepSeconds: summary.meanStepSeconds,
      seconds: wall,
      saved: save ?? null,
      validation: summary.validation,
      filters: trainer.net.config.filters,
      precision: trainer.net.precision,
      ...(trainer.scaler ? { lossScale: trainer.scaler.scale, skippedSteps: summary.skippedSteps } : {}),
    };
    if (o.json) jsonLine(res);
    else {
      const v = summary.validation.at(-1);
      process.stdout.write(
        `trained steps ${summary.startStep}→${summary.endStep} in ${wall.toFixed(1)} s (${(summary.meanStepSeconds * 1000).toFixed(0)} ms/step), ` +
          `last loss ${summary.lastLoss === null ? '-' : summary.lastLoss.toFixed(4)}` +
          `${v ? `, validation Dice ${v.mean.toFixed(4)}` : ''}${save ? `; checkpoint ${save}` : ''}\n`,
      );
    }
    trainer.dispose();
    trainer.net.dispose();
  });
}
