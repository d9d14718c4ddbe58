// Optimizers over f32 parameters (master weights): AdamW, Adam and SGD with PyTorch's exact semantics, each step
// one fused kernel per parameter tensor, recorded on the GPU without any readback.
import { adamUpdate, sgdUpdate } from '../../../kernels/optim.js';
import { VesselError } from '../../gpu/errors.js';
import { fmtShape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { zeroGrad } from '../../autograd/tape.js';

export abstract class Optimizer {
  /** Learning rate used by the next step (schedules set it). */
  lr: number;
  /** Steps taken so far (bias correction uses it). */
  stepCount = 0;
  readonly params: Tensor[];

  constructor(params: Iterable<Tensor>, lr: number) {
    this.params = [...new Set(params)];
    this.lr = lr;
    for (const p of this.params) {
      if (p.dtype !== 'f32') throw new VesselError(`${this.constructor.name}: parameter ${p.name ?? ''} ${fmtShape(p.shape)} is ${p.dtype}; optimizers keep f32 master weights`);
    }
  }

  /**
   * Update every parameter that has a gradient. `gradScale` multiplies the gradients on the fly (e.g. 1/loss scale
   * when they were not unscaled in place).
   */
  step(gradScale = 1): void {
    this.stepCount++;
    for (const p of this.params) {
      if (!p.grad) continue;
      this.update(p, p.grad, gradScale);
    }
  }

  zeroGrad(): void {
    zeroGrad(this.params);
  }

  protected abstract update(p: Tensor, g: Tensor, gradScale: number): void;

  /** Per-parameter optimizer state tensors. */
  abstract state(): Map<Tensor, Record<string, Tensor>>;

  /** Create the state tensors of one parameter (zeros), as the first step would. */
  protected abstract initState(p: Tensor): Record<string, Tensor>;

  /**
   * Checkpointable state, keyed like PyTorch's optimizer state_dict: `<parameter index>.<name>` (exp_avg,
   * exp_avg_sq, momentum_buffer), plus the step count and learning rate. Tensors are the live ones (not copies).
   */
  stateDict(): { step: number; lr: number; tensors: Map<string, Tensor> } {
    const tensors = new Map<string, Tensor>();
    const st = this.state();
    this.params.forEach((p, i) => {
      const s = st.get(p);
      if (s) for (const [k, t] of Object.entries(s)) tensors.set(`${i}.${k}`, t);
    });
    return { step: this.stepCount, lr: this.lr, tensors };
  }

  /** Restore from stateDict() output (or tensors read back from a checkpoint); shapes must match the parameters. */
  loadStateDict(sd: { step: number; lr?: number; tensors: Map<string, Tensor> }): void {
    const st = this.state();
    for (const [key, src] of sd.tensors) {
      const dot = key.indexOf('.');
      const i = Number(key.slice(0, dot));
      const name = key.slice(dot + 1);
      const p = this.params[i];
      if (!p || !Number.isInteger(i)) throw new VesselError(`${this.constructor.name}.loadStateDict: key ${key} names no parameter (there are ${this.params.length})`);
      let s = st.get(p);
      if (!s) {
        s = this.initState(p);
        st.set(p, s);
      }
      const dst = s[name];
      if (!dst) throw new VesselError(`${this.constructor.name}.loadStateDict: unexpected state "${name}" in key ${key}`);
      if (dst.size !== src.size || src.dtype !== 'f32') {
        throw new VesselError(`${this.constructor.name}.loadStateDict: ${key} has shape ${fmtShape(src.shape)} ${src.dtype} but the parameter's state is ${fmtShape(dst.shape)} f32`);
      }
      p.engine.rt.copy(src.buffer, 0, dst.buffer, 0, dst.storage.bytes);
    }
    this.stepCount = sd.step;
    if (sd.lr !== undefined) this.lr = sd.lr;
  }

  dispose(): void {
    for (const s of this.state().values()) for (const t of Object.values(s)) t.dispose();
    this.state().clear();
  }
}

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** Adam with L2 weight decay (PyTorch torch.optim.Adam). */
export class Adam extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  weightDecay: number;
  protected decoupled = false;
  private readonly st = new Map<Tensor, { exp_avg: Tensor; exp_avg_sq: Tensor }>();

  protected initState(p: Tensor): { exp_avg: Tensor; exp_avg_sq: Tensor } {
    return { exp_avg: p.engine.keep(p.engine.zeros(p.shape)), exp_avg_sq: p.engine.keep(p.engine.zeros(p.shape)) };
  }

  constructor(params: Iterable<Tensor>, o: AdamOptions = {}) {
    super(params, o.lr ?? 1e-3);
    this.betas = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
  }

  protected update(p: Tensor, g: Tensor, gradScale: number): void {
    let s = this.st.get(p);
    if (!s) {
      s = this.initState(p);
      this.st.set(p, s);
    }
    const [b1, b2] = this.betas;
    const t = this.stepCount;
    const bc1 = 1 - b1 ** t;
    const bc2 = 1 - b2 ** t;
    adamUpdate(p, g, s.exp_avg, s.exp_avg_sq, {
      flags: this.decoupled ? 1 : 0,
      lr: this.lr,
      b1,
      b2,
      eps: this.eps,
      wd: this.weightDecay,
      stepSize: this.lr / bc1,
      bc2Sqrt: Math.sqrt(bc2),
      gscale: gradScale,
    });
  }

  state(): Map<Tensor, Record<string, Tensor>> {
    return this.st as Map<Tensor, Record<string, Tensor>>;
  }
}

/** AdamW: decoupled weight decay p ← p·(1 − lr·wd) before the Adam update (PyTorch torch.optim.AdamW, wd 1e-2 default). */
export class AdamW extends Adam {
  constructor(params: Iterable<Tensor>, o: AdamOptions = {}) {
    super(params, { ...o, weightDecay: o.weightDecay ?? 1e-2 });
    this.decoupled = true;
  }
}

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** SGD with momentum (PyTorch torch.optim.SGD: the first step copies the gradient into the momentum buffer). */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  private readonly st = new Map<Tensor, { momentum_buffer: Tensor }>();
  /** Parameters whose momentum buffer holds data (a loaded or stepped buffer is not re-initialised). */
  private readonly started = new Set<Tensor>();

  protected initState(p: Tensor): { momentum_buffer: Tensor } {
    // The buffer is unused without momentum; a one-element placeholder keeps the kernel's bindings valid.
    return { momentum_buffer: p.engine.keep(this.momentum ? p.engine.zeros(p.shape) : p.engine.zeros([1])) };
  }

  override loadStateDict(sd: { step: number; lr?: number; tensors: Map<string, Tensor> }): void {
    super.loadStateDict(sd);
    for (const key of sd.tensors.keys()) this.started.add(this.params[Number(key.split('.')[0])]);
  }

  constructor(params: Iterable<Tensor>, o: SgdOptions) {
    super(params, o.lr);
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.weightDecay = o.weightDecay ?? 0;
    this.nesterov = o.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new VesselError('SGD: Nesterov momentum requires a momentum > 0 and zero dampening');
    }
  }

  protected update(p: Tensor, g: Tensor, gradScale: number): void {
    let s = this.st.get(p);
    if (!s) {
      s = this.initState(p);
      this.st.set(p, s);
    }
    const first = !this.started.has(p);
    this.started.add(p);
    sgdUpdate(p, g, s.momentum_buffer, {
      first: first ? 1 : 0,
      flags: this.nesterov ? 1 : 0,
      lr: this.lr,
      b1: this.momentum,
      b2: this.dampening,
      wd: this.weightDecay,
      gscale: gradScale,
    });
  }

  state(): Map<Tensor, Record<string, Tensor>> {
    return this.st as Map<Tensor, Record<string, Tensor>>;
  }
}
