// Learning-rate schedules. vesselFM (spec §1.6): LinearLR(0.01 → 1 over 150) and CosineAnnealingLR(T_max 5000,
// eta_min 0) chained, both stepped every 10 optimiser steps, so with k = ⌊step/10⌋:
//   lr(k) = base · (0.01 + 0.99·min(k, 150)/150) · 0.5·(1 + cos(π·k/5000))
import type { Optimizer } from './optimizer.js';

export interface Schedule {
  /** Learning rate for optimiser step `step` (0-based). */
  lr(step: number): number;
}

export interface VesselfmScheduleOptions {
  base?: number;
  startFactor?: number;
  warmupIters?: number;
  tMax?: number;
  /** Optimiser steps per scheduler step. */
  every?: number;
}

export class VesselfmSchedule implements Schedule {
  readonly base: number;
  readonly startFactor: number;
  readonly warmupIters: number;
  readonly tMax: number;
  readonly every: number;
  constructor(o: VesselfmScheduleOptions = {}) {
    this.base = o.base ?? 1e-4;
    this.startFactor = o.startFactor ?? 0.01;
    this.warmupIters = o.warmupIters ?? 150;
    this.tMax = o.tMax ?? 5000;
    this.every = o.every ?? 10;
  }
  lr(step: number): number {
    const k = Math.floor(step / this.every);
    const warm = this.startFactor + ((1 - this.startFactor) * Math.min(k, this.warmupIters)) / this.warmupIters;
    return this.base * warm * 0.5 * (1 + Math.cos((Math.PI * k) / this.tMax));
  }
}

export class ConstantSchedule implements Schedule {
  constructor(readonly value: number) {}
  lr(_step = 0): number {
    return this.value;
  }
}

/** Set the optimiser's learning rate for its next step from a schedule. */
export function applySchedule(opt: Optimizer, s: Schedule): number {
  opt.lr = s.lr(opt.stepCount);
  return opt.lr;
}
