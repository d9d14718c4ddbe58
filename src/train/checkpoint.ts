// Training checkpoints (Node): the weights as safetensors with PyTorch key names (canonical keys; the DynUNet
// aliases are restored on load), a JSON sidecar `<file>.json` (step, network config, training options, RNG state,
// the optimizer's non-tensor state) and the optimizer tensors in `<stem>.optim.safetensors` under
// `<parameter name>.<state name>` — the convention of src/io/checkpoint.ts.
//
// A checkpoint is three files, so it is written as one transaction: all three are first written completely under
// temporary names in the target folder, and only then renamed over the final names (optimizer tensors, weights,
// sidecar last). A failure while writing leaves the previous checkpoint untouched and removes the temporaries.
// Every file carries the same checkpoint id, and loading checks that they agree, so a checkpoint whose renames were
// interrupted (a power cut between two renames) is refused instead of resuming from mixed states.
import { existsSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VesselError } from '../gpu/errors.js';
import { loadWeights } from '../io/checkpoint.js';
import { readBytes } from '../io/files.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import type { TensorRecord } from '../io/tensors.js';
import type { Module } from '../nn/module.js';
import type { Optimizer } from '../nn/optim/optimizer.js';
import type { LossScaler } from '../nn/optim/scaler.js';
import type { Engine } from '../engine.js';
import type { Tensor } from '../tensor/tensor.js';

export interface CheckpointSidecar {
  format: 'vesselfm-train';
  checkpoint_id: string;
  step: number;
  weights: string;
  optimizer_tensors: string | null;
  /** network configuration (e.g. DynUNet filters) */
  config: Record<string, unknown>;
  /** training options (patch, batch, schedule, …) */
  train: Record<string, unknown>;
  /** sampler RNG state */
  rng: { seed: number; counter: number };
  /** optimizer hyper-parameters and step count (PyTorch's param_groups, flattened) */
  optimizer: Record<string, unknown>;
  [k: string]: unknown;
}

/** File writer used for the temporaries (a parameter so that tests can make a write fail part-way). */
export type WriteFile = (path: string, data: Uint8Array) => void;

export const optimizerPathOf = (path: string): string => path.replace(/\.safetensors$/i, '') + '.optim.safetensors';

let tmpCounter = 0;

/** Write several files as one transaction: all to temporaries, then renamed in order; on failure none is replaced. */
export function writeFilesTogether(files: [string, Uint8Array][], write: WriteFile = writeFileSync): void {
  const staged: [string, string][] = [];
  try {
    for (const [path, data] of files) {
      const dir = dirname(path);
      if (!existsSync(dir)) throw new VesselError(`${path}: folder ${dir} does not exist`);
      const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${tmpCounter++}`);
      staged.push([tmp, path]);
      write(tmp, data);
    }
  } catch (e) {
    for (const [tmp] of staged) {
      try {
        if (existsSync(tmp)) unlinkSync(tmp);
      } catch {
        /* already gone */
      }
    }
    if (e instanceof VesselError) throw e;
    throw new VesselError(`${files[staged.length - 1]?.[0] ?? 'checkpoint'}: could not write (${(e as Error).message.split('\n')[0]})`);
  }
  for (const [tmp, path] of staged) renameSync(tmp, path);
}

export interface SaveCheckpointInput {
  net: Module;
  opt: Optimizer;
  step: number;
  config: Record<string, unknown>;
  train: Record<string, unknown>;
  rng: { seed: number; counter: number };
  optimizer: Record<string, unknown>;
  /** more sidecar fields (e.g. loss_scale in mixed precision) */
  extra?: Record<string, unknown>;
}

/** Save weights, optimizer state and training state (reads the tensors back from the GPU once). */
export async function saveCheckpoint(path: string, s: SaveCheckpointInput, write?: WriteFile): Promise<void> {
  if (!/\.safetensors$/i.test(path)) throw new VesselError(`--save ${path}: checkpoints are written as .safetensors`);
  const id = `${s.step}-${Date.now().toString(36)}-${Math.floor(Math.random() * 2 ** 32).toString(36)}`;
  const named = s.net.namedParameters();
  const weights: [string, TensorRecord][] = [];
  for (const [name, p] of named) weights.push([name, { dtype: 'float32', shape: [...p.shape], data: (await p.read()) as Float32Array }]);
  const state = s.opt.state();
  const optTensors: [string, TensorRecord][] = [];
  for (const [name, p] of named) {
    const st = state.get(p as Tensor);
    if (!st) continue;
    for (const [k, t] of Object.entries(st)) optTensors.push([`${name}.${k}`, { dtype: 'float32', shape: [...t.shape], data: (await t.read()) as Float32Array }]);
  }
  const meta = { producer: 'vesselfm train', checkpoint_id: id, step: String(s.step) };
  const optPath = optimizerPathOf(path);
  const sidecar: CheckpointSidecar = {
    format: 'vesselfm-train',
    checkpoint_id: id,
    step: s.step,
    weights: basename(path),
    optimizer_tensors: optTensors.length ? basename(optPath) : null,
    config: s.config,
    train: s.train,
    rng: s.rng,
    optimizer: s.optimizer,
    ...s.extra,
  };
  const files: [string, Uint8Array][] = [];
  if (optTensors.length) files.push([optPath, writeSafetensors(optTensors, { ...meta, kind: 'optimizer state' })]);
  files.push([path, writeSafetensors(weights, meta)]);
  files.push([path + '.json', new TextEncoder().encode(JSON.stringify(sidecar, null, 1) + '\n')]);
  writeFilesTogether(files, write);
}

export interface LoadedCheckpoint {
  /** the canonical tensors (no aliases), by PyTorch key */
  weights: Map<string, TensorRecord>;
  sidecar: CheckpointSidecar;
  /** `<parameter name>.<state name>` → tensor */
  optimizerTensors: Map<string, TensorRecord>;
}

/** Read a training checkpoint written by saveCheckpoint, checking that its three files belong together. */
export function loadCheckpoint(path: string): LoadedCheckpoint {
  const w = loadWeights(path);
  if (w.format !== 'safetensors') throw new VesselError(`--resume ${path}: a training checkpoint is a .safetensors file written by vesselfm train`);
  const side = w.extra as Partial<CheckpointSidecar>;
  if (side.format !== 'vesselfm-train' || typeof side.step !== 'number') {
    throw new VesselError(`--resume ${path}: no training state (${path}.json is missing or was not written by vesselfm train)`);
  }
  const id = side.checkpoint_id;
  if (w.metadata.checkpoint_id !== id) {
    throw new VesselError(`--resume ${path}: the weights (checkpoint ${w.metadata.checkpoint_id ?? 'unknown'}) and ${path}.json (checkpoint ${id}) are from different saves`);
  }
  let optimizerTensors = new Map<string, TensorRecord>();
  if (side.optimizer_tensors) {
    const optPath = join(dirname(path), side.optimizer_tensors);
    const st = readSafetensors(readBytes(optPath), optPath);
    if (st.metadata.checkpoint_id !== id) {
      throw new VesselError(`--resume ${path}: ${optPath} (checkpoint ${st.metadata.checkpoint_id ?? 'unknown'}) is from a different save than the weights (${id})`);
    }
    optimizerTensors = st.tensors;
  }
  return { weights: w.tensors, sidecar: side as CheckpointSidecar, optimizerTensors };
}

/**
 * Put a checkpoint's optimizer state back: the moments stored by parameter name become the optimizer's
 * `<index>.<state>` keys (index in `paramNames` order), the step comes from the sidecar, and a mixed-precision run
 * gets its loss scale and good-step count back. Throws one line for a moment that names no parameter of the network.
 */
export async function restoreOptimizerState(engine: Engine, path: string, ck: LoadedCheckpoint, paramNames: readonly string[], opt: Optimizer, scaler: LossScaler | null): Promise<void> {
  const index = new Map(paramNames.map((n, i) => [n, i]));
  const tensors = new Map<string, Tensor>();
  try {
    for (const [key, rec] of ck.optimizerTensors) {
      const m = /^(.+)\.(exp_avg|exp_avg_sq)$/.exec(key);
      const i = m ? index.get(m[1]) : undefined;
      if (!m || i === undefined) throw new VesselError(`--resume ${path}: optimizer tensor ${key} names no parameter of this network`);
      tensors.set(`${i}.${m[2]}`, engine.tensor(rec.data as Float32Array, rec.shape));
    }
    opt.loadStateDict({ step: ck.sidecar.step, tensors });
    scaler?.loadStateDict(ck.sidecar as unknown as Record<string, unknown>);
    await engine.sync();
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
