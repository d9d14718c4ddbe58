// A cheap guard against NaN/Inf in training: it checks the loss value that is read back for logging anyway, so it
// costs no extra GPU→CPU transfer.
import { VesselError } from '../gpu/errors.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Throw "non-finite loss at step N in <name>" when `loss` is NaN or ±Inf. Pass the number already read back for
 * logging, or the loss tensor (then this is that one readback). Returns the value.
 */
export async function assertFinite(loss: Tensor | number, step: number, name = 'loss'): Promise<number> {
  const v = typeof loss === 'number' ? loss : await loss.item();
  checkFinite(v, step, name);
  return v;
}

/** Synchronous form for a value already on the CPU. */
export function checkFinite(v: number, step: number, name = 'loss'): void {
  if (!Number.isFinite(v)) throw new VesselError(`non-finite loss at step ${step} in ${name} (value ${v})`);
}
