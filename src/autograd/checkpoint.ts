// Activation checkpointing: run a block without recording (its intermediate activations are freed at once), and in
// backward run it again with recording to get the gradients of its inputs and of every parameter it uses.
import { VesselError } from '../gpu/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { enableGrad, isGradEnabled, noGrad, record, runBackward, save } from './tape.js';

/**
 * `fn(...inputs)` with the memory of a single block: only the inputs are kept for backward. `fn` must be
 * deterministic (it runs twice) and return a tensor or an array of tensors.
 */
export function checkpoint<T extends Tensor | Tensor[]>(fn: (...inputs: Tensor[]) => T, inputs: Tensor[]): T {
  if (inputs.length === 0) throw new VesselError('checkpoint(): needs at least one input tensor');
  const engine = inputs[0].engine;
  if (!isGradEnabled()) return fn(...inputs);
  // Intermediates of the block die with this scope; only its outputs survive.
  const raw = engine.scope(() => noGrad(() => fn(...inputs)));
  // An output that is one of the inputs (a pass-through) becomes a view, so the input keeps its own history.
  const outs: Tensor[] = (Array.isArray(raw) ? raw : [raw as Tensor]).map((o) => (inputs.includes(o) ? o.reshape(o.shape) : o));
  const out = (Array.isArray(raw) ? outs : outs[0]) as T;
  const saved = inputs.map(save);
  // Parameters used inside fn are invisible here, so the node is recorded even when no input requires grad.
  record(
    'checkpoint',
    inputs,
    outs,
    saved,
    (gys, needs) =>
      engine.scope(() => {
        const leaves = saved.map((s, i) => {
          const v = s.reshape(s.shape);
          v.requiresGrad = needs[i];
          return v;
        });
        const again = enableGrad(() => fn(...leaves));
        const outs2: Tensor[] = Array.isArray(again) ? again : [again as Tensor];
        runBackward(outs2, gys.map((g) => (g ? g.reshape(g.shape) : null)));
        return leaves.map((l) => {
          const g = l.grad;
          l.grad = null;
          return g;
        });
      }),
    true,
  );
  return out;
}
