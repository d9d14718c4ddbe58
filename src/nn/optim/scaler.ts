// Dynamic loss scaling for mixed precision (f16 activations, f32 master weights), as PyTorch's GradScaler:
// backward starts from the loss scale S instead of 1; before the optimiser step every gradient is multiplied by 1/S
// on the GPU while a GPU flag records any Inf/NaN; the flag comes back in the same single readback as the loss.
// On overflow the step is skipped and S halves; after `growthInterval` good steps S doubles.
import { unscaleCheck } from '../../../kernels/optim.js';
import { backward } from '../../autograd/tape.js';
import { clipGradNorm } from './clip.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Optimizer } from './optimizer.js';

export interface LossScalerOptions {
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  growthInterval?: number;
}

export interface ScaledStep {
  /** The (unscaled) loss value. */
  loss: number;
  /** True when gradients overflowed and the optimiser step was skipped. */
  skipped: boolean;
  /** The scale for the next step. */
  scale: number;
}

export class LossScaler {
  scale: number;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  private good = 0;

  /** Good steps since the scale last changed (PyTorch's growth tracker); the scale doubles when it reaches growthInterval. */
  get goodSteps(): number {
    return this.good;
  }

  constructor(o: LossScalerOptions = {}) {
    this.scale = o.initScale ?? 2 ** 16;
    this.growthFactor = o.growthFactor ?? 2;
    this.backoffFactor = o.backoffFactor ?? 0.5;
    this.growthInterval = o.growthInterval ?? 2000;
  }

  /** What a checkpoint stores to resume the schedule exactly: the scale and the good-step count. */
  stateDict(): { loss_scale: number; loss_scale_good_steps: number } {
    return { loss_scale: this.scale, loss_scale_good_steps: this.good };
  }

  /**
   * Restore from a checkpoint sidecar's fields (stateDict()); absent or invalid fields keep the current values, so a
   * checkpoint written before the good-step count was saved resumes with the count at 0.
   */
  loadStateDict(s: Readonly<Record<string, unknown>>): void {
    const scale = Number(s.loss_scale);
    if (Number.isFinite(scale) && scale > 0) this.scale = scale;
    const good = Number(s.loss_scale_good_steps);
    if (Number.isInteger(good) && good >= 0) this.good = Math.min(good, this.growthInterval - 1);
  }

  /** Backward from loss·S (the loss tensor itself stays unscaled). */
  backward(loss: Tensor): void {
    const e = loss.engine;
    const s = e.full(loss.shape, this.scale, loss.dtype);
    backward(loss, s);
    s.dispose();
  }

  /**
   * Unscale the gradients of `opt`'s parameters (and clip them to `clipNorm` when given), then read the loss and
   * the overflow flag back together (the one readback of the step) and either step the optimiser or skip the step
   * (zeroing the gradients either way is left to the caller, as with PyTorch).
   */
  async step(opt: Optimizer, loss: Tensor, o: { clipNorm?: number } = {}): Promise<ScaledStep> {
    const e = loss.engine;
    const flag = e.zeros([1], 'u32');
    for (const p of opt.params) if (p.grad) unscaleCheck(p.grad, 1 / this.scale, flag);
    // Clipping works on the unscaled gradients (as torch's unscale_ + clip_grad_norm_); on overflow the step is
    // skipped anyway, so clipping non-finite values does no harm.
    if (o.clipNorm !== undefined && opt.params.some((p) => p.grad)) clipGradNorm(opt.params, o.clipNorm).dispose();
    // loss (f32) and flag (u32) side by side in one buffer, read once
    const both = e.empty([2], 'u32');
    e.rt.copy(loss.buffer, 0, both.buffer, 0, 4);
    e.rt.copy(flag.buffer, 0, both.buffer, 4, 4);
    flag.dispose();
    const raw = await both.read();
    both.dispose();
    const value = new Float32Array(new Uint32Array([raw[0]]).buffer)[0];
    const skipped = raw[1] !== 0;
    if (skipped) {
      this.scale *= this.backoffFactor;
      this.good = 0;
    } else {
      opt.step();
      if (++this.good >= this.growthInterval) {
        this.scale *= this.growthFactor;
        this.good = 0;
      }
    }
    return { loss: value, skipped, scale: this.scale };
  }
}
