// Drives a Trainer for a number of steps with the periodic work around it: the JSONL loss log (one line per step),
// PNG previews (input, label, prediction MIPs), validation Dice by sliding-window inference, and checkpoints.
// Periodic work reads from the GPU, but only on its own steps; an ordinary step reads back the loss alone.
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { VesselError } from '../gpu/errors.js';
import { dice } from '../eval/metrics.js';
import { segmentVolume } from '../eval/inference.js';
import { writePng } from '../io/files.js';
import { previewStrip } from '../io/png.js';
import type { VolumePair } from '../data/sources.js';
import type { StepResult, Trainer } from './trainer.js';

export interface RunOptions {
  /** train until this step count (total, counting steps before a resume) */
  steps: number;
  save?: string;
  saveEvery?: number;
  log?: string;
  previewEvery?: number;
  previewDir?: string;
  val?: readonly VolumePair[];
  valEvery?: number;
  /** sliding-window overlap for validation */
  valOverlap?: number;
  onStep?: (r: StepResult) => void;
  onValidation?: (step: number, dice: number[], mean: number) => void;
  onCheckpoint?: (step: number, path: string) => void;
}

export interface RunSummary {
  startStep: number;
  endStep: number;
  lastLoss: number | null;
  /** mean wall time per step, excluding the first step of this run (pipeline builds) when there are more */
  meanStepSeconds: number;
  validation: { step: number; dice: number[]; mean: number }[];
  /** mixed precision: optimiser steps skipped because the gradients overflowed */
  skippedSteps: number;
}

function logLine(path: string | undefined, obj: Record<string, unknown>): void {
  if (path) appendFileSync(path, JSON.stringify(obj) + '\n');
}

/** Dice of the network on each validation volume (sliding windows of the training patch size, threshold 0.5). */
export async function validate(trainer: Trainer, vols: readonly VolumePair[], overlap = 0.5): Promise<number[]> {
  const out: number[] = [];
  for (const v of vols) {
    const seg = await segmentVolume(trainer.net, v.image, v.shape, { patch: trainer.options.patch, overlap, normalize: false, threshold: 0.5, batch: 4 });
    out.push(dice(seg.mask, v.label));
  }
  return out;
}

export async function runTraining(trainer: Trainer, o: RunOptions): Promise<RunSummary> {
  if (!Number.isInteger(o.steps) || o.steps < 0) throw new VesselError(`--steps must be a non-negative integer, got ${o.steps}`);
  if (o.previewEvery && !o.previewDir) throw new VesselError('--preview-every needs --preview-dir');
  if (o.previewDir && !existsSync(o.previewDir)) mkdirSync(o.previewDir, { recursive: true });
  if (o.valEvery && !(o.val && o.val.length)) throw new VesselError('--val-every needs validation volumes (--val-images and --val-labels)');
  const startStep = trainer.step;
  const times: number[] = [];
  let lastLoss: number | null = null;
  const validation: RunSummary['validation'] = [];
  let savedAt = -1;
  let skippedSteps = 0;
  const save = async (): Promise<void> => {
    if (!o.save || savedAt === trainer.step) return;
    await trainer.save(o.save);
    savedAt = trainer.step;
    o.onCheckpoint?.(trainer.step, o.save);
  };
  while (trainer.step < o.steps) {
    let r: StepResult;
    try {
      r = await trainer.trainStep();
    } catch (e) {
      if (e instanceof VesselError && /non-finite/.test(e.message)) logLine(o.log, { step: trainer.step, loss: null, error: e.message });
      throw e;
    }
    times.push(r.seconds);
    lastLoss = r.loss;
    const mixed = r.scale === undefined ? {} : { scale: r.scale, ...(r.skipped ? { skipped: true } : {}) };
    logLine(o.log, { step: r.step, loss: r.loss, lr: r.lr, seconds: Number(r.seconds.toFixed(4)), ...mixed, time: new Date().toISOString() });
    o.onStep?.(r);
    if (r.skipped) {
      // the step did not count (gradients overflowed, scale lowered): no periodic work for it
      skippedSteps++;
      continue;
    }
    if (o.previewEvery && r.step % o.previewEvery === 0) {
      const pred = await trainer.predictLastPatch();
      const P = trainer.options.patch;
      const n = P[0] * P[1] * P[2];
      const b = trainer.lastBatch!;
      const img = previewStrip({ shape: P, image: b.image.subarray(0, n), label: b.label.subarray(0, n), prediction: pred });
      writePng(join(o.previewDir!, `step_${String(r.step).padStart(6, '0')}.png`), img);
    }
    if (o.valEvery && r.step % o.valEvery === 0) {
      const d = await validate(trainer, o.val!, o.valOverlap);
      const mean = d.reduce((a, v) => a + v, 0) / d.length;
      validation.push({ step: r.step, dice: d, mean });
      logLine(o.log, { step: r.step, val_dice: mean, val_dice_each: d });
      o.onValidation?.(r.step, d, mean);
    }
    if (o.saveEvery && r.step % o.saveEvery === 0) await save();
  }
  await save();
  const steady = times.length > 1 ? times.slice(1) : times;
  return {
    startStep,
    endStep: trainer.step,
    lastLoss,
    meanStepSeconds: steady.length ? steady.reduce((a, v) => a + v, 0) / steady.length : 0,
    validation,
    skippedSteps,
  };
}
