// Exponential moving average of weights: ema ← decay·ema + (1 − decay)·p, one kernel per tensor, on the GPU.
import { emaUpdate } from '../../../kernels/optim.js';
import type { Tensor } from '../../tensor/tensor.js';
import { copyTensor } from '../../../kernels/accumulate.js';

export class EMA {
  readonly shadow: Tensor[];
  constructor(readonly params: Tensor[], public decay = 0.995) {
    this.shadow = params.map((p) => p.engine.keep(copyTensor(p)));
  }

  update(): void {
    this.params.forEach((p, i) => emaUpdate(this.shadow[i], p, this.decay));
  }

  /** Re-copy the current weights (the flow trainer does this before step_start_ema). */
  reset(): void {
    this.params.forEach((p, i) => p.engine.rt.copy(p.buffer, 0, this.shadow[i].buffer, 0, p.storage.bytes));
  }

  /** Copy the averaged weights into the parameters (for evaluation or export). */
  copyTo(targets: Tensor[] = this.params): void {
    targets.forEach((t, i) => t.engine.rt.copy(this.shadow[i].buffer, 0, t.buffer, 0, t.storage.bytes));
  }

  dispose(): void {
    for (const s of this.shadow) s.dispose();
  }
}
