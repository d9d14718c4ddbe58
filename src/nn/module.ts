// Module: a tree of named children, parameters and buffers with PyTorch's dotted naming
// (`downsamples.0.conv1.conv.weight`), train()/eval(), and state dicts that load PyTorch checkpoints.
import type { Engine } from '../engine.js';
import { VesselError } from '../gpu/errors.js';
import { toFloat32, type TensorRecord } from '../io/tensors.js';
import { fmtShape, sameShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { zeroGrad } from '../autograd/tape.js';
import type { Parameter } from './parameter.js';

export type StateValue = Tensor | TensorRecord;

export class Module {
  training = true;
  private readonly _params = new Map<string, Parameter | null>();
  private readonly _buffers = new Map<string, Tensor>();
  private readonly _modules = new Map<string, Module>();

  /** Register (or replace) a parameter under `name`; null registers an absent optional one (e.g. bias=False). */
  registerParameter<P extends Parameter | null>(name: string, p: P): P {
    checkName(name, this);
    if (p) p.name ??= name;
    this._params.set(name, p);
    return p;
  }

  /** Register non-trainable state that belongs in the state dict (e.g. running statistics). */
  registerBuffer(name: string, t: Tensor): Tensor {
    checkName(name, this);
    this._buffers.set(name, t);
    return t;
  }

  /** Register a child module; list-like containers use "0", "1", … as names. */
  registerModule<M extends Module>(name: string, m: M): M {
    checkName(name, this);
    this._modules.set(name, m);
    return m;
  }

  /** Direct children in registration order. */
  namedChildren(): [string, Module][] {
    return [...this._modules];
  }

  /** Every module in the tree (this one first, as ""), each once. */
  namedModules(prefix = '', seen = new Set<Module>()): [string, Module][] {
    if (seen.has(this)) return [];
    seen.add(this);
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, m] of this._modules) out.push(...m.namedModules(join(prefix, n), seen));
    return out;
  }

  /** Parameters with dotted names, each tensor once (the first name it is reachable by), as PyTorch's named_parameters(). */
  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const seen = new Set<Tensor>();
    for (const [mp, m] of this.namedModules(prefix)) {
      for (const [n, p] of m._params) {
        if (p && !seen.has(p)) {
          seen.add(p);
          out.push([join(mp, n), p]);
        }
      }
    }
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Number of (unique) trainable elements. */
  numParameters(): number {
    return this.parameters().reduce((a, p) => a + p.size, 0);
  }

  /**
   * Every parameter and buffer by dotted name, aliases included (a module reachable under two names appears under
   * both), in PyTorch's state_dict order: a module's own parameters, then its buffers, then its children.
   */
  stateDict(prefix = ''): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const visit = (m: Module, pre: string, stack: Set<Module>) => {
      if (stack.has(m)) return;
      stack.add(m);
      for (const [n, p] of m._params) if (p) out.set(join(pre, n), p);
      for (const [n, b] of m._buffers) out.set(join(pre, n), b);
      for (const [n, c] of m._modules) visit(c, join(pre, n), stack);
      stack.delete(m);
    };
    visit(this, prefix, new Set());
    return out;
  }

  /**
   * Copy values into this module's parameters and buffers. Accepts engine tensors or checkpoint records
   * (src/io: .pt, safetensors). With `strict` (the default) every key must match: missing and unexpected keys are
   * listed in one error; a shape mismatch names the key and both shapes.
   */
  loadStateDict(sd: Map<string, StateValue> | Record<string, StateValue>, strict = true): { missing: string[]; unexpected: string[] } {
    const src = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !src.has(k));
    const unexpected = [...src.keys()].filter((k) => !own.has(k));
    if (strict && (missing.length || unexpected.length)) {
      const parts: string[] = [];
      if (missing.length) parts.push(`missing keys: ${listKeys(missing)}`);
      if (unexpected.length) parts.push(`unexpected keys: ${listKeys(unexpected)}`);
      throw new VesselError(`loadStateDict: ${parts.join('; ')}`);
    }
    for (const [k, dst] of own) {
      const v = src.get(k);
      if (!v) continue;
      if (!sameShape(v.shape, dst.shape)) {
        throw new VesselError(`loadStateDict: ${k} has shape ${fmtShape(v.shape)} in the state dict but ${fmtShape(dst.shape)} in the model`);
      }
    }
    const done = new Set<Tensor>();
    for (const [k, dst] of own) {
      const v = src.get(k);
      if (!v || done.has(dst)) continue;
      done.add(dst);
      copyInto(dst, v, k);
    }
    return { missing, unexpected };
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    zeroGrad(this.parameters());
  }

  /** Dispose every parameter and buffer (and their gradients). */
  dispose(): void {
    for (const t of new Set(this.stateDict().values())) {
      t.grad?.dispose();
      t.grad = null;
      t.dispose();
    }
  }
}

/** A list of modules named "0", "1", … (PyTorch's nn.ModuleList). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];
  constructor(mods: M[] = []) {
    super();
    for (const m of mods) this.push(m);
  }
  push(m: M): M {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
    return m;
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    return this.items[i];
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

function join(prefix: string, name: string): string {
  return prefix ? `${prefix}.${name}` : name;
}

function checkName(name: string, m: Module): void {
  if (!name || name.includes('.')) throw new VesselError(`${m.constructor.name}: invalid member name "${name}" (non-empty, no dots)`);
}

function listKeys(keys: string[]): string {
  const shown = keys.slice(0, 8).join(', ');
  return keys.length > 8 ? `${shown}, … (${keys.length} in all)` : shown;
}

function copyInto(dst: Tensor, v: StateValue, key: string): void {
  const e: Engine = dst.engine;
  if (v instanceof Tensor) {
    if (v.dtype !== dst.dtype) throw new VesselError(`loadStateDict: ${key} is ${v.dtype} but the model expects ${dst.dtype}`);
    e.rt.copy(v.buffer, 0, dst.buffer, 0, Math.min(v.storage.bytes, dst.storage.bytes));
    return;
  }
  if (dst.dtype !== 'f32') throw new VesselError(`loadStateDict: ${key}: only f32 model tensors load from checkpoint records (model has ${dst.dtype})`);
  if (v.dtype === 'bool' || v.dtype.startsWith('int') || v.dtype === 'uint8') {
    throw new VesselError(`loadStateDict: ${key} has dtype ${v.dtype} in the checkpoint; a floating-point tensor is expected`);
  }
  e.rt.write(dst.buffer, 0, toFloat32(v));
}
