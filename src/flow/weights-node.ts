// Loading a flow network for sampling from any checkpoint it can come in: our training checkpoints
// (`vesselfm flow train`: safetensors + sidecar, the EMA in `<stem>.ema.safetensors`), bare safetensors, and
// upstream PyTorch files — a bare state dict, or upstream's `{'step', 'model', 'ema'}` dict whose keys carry the
// FlowMatching wrapper's `model.` prefix. The network's sizes are read from the tensors' shapes.
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import type { Engine } from '../engine.js';
import { VesselError } from '../gpu/errors.js';
import { loadWeights } from '../io/checkpoint.js';
import { readBytes } from '../io/files.js';
import { readSafetensors } from '../io/safetensors.js';
import { readTorch, stateDict } from '../io/torch.js';
import type { TensorRecord } from '../io/tensors.js';
import { FlowUNet, flowStateDict, type FlowUNetConfig } from '../models/flow-unet.js';

export type WeightState = 'ema' | 'model';

export interface LoadedFlow {
  net: FlowUNet;
  /** which weights were loaded */
  state: WeightState;
  step: number | null;
}

function records(path: string, state: WeightState): { tensors: Map<string, TensorRecord>; state: WeightState; config: FlowUNetConfig | null; step: number | null } {
  if (/\.safetensors$/i.test(path)) {
    const w = loadWeights(path);
    const side = w.extra as { config?: { model?: string; flow?: FlowUNetConfig }; ema_weights?: string; checkpoint_id?: string; step?: number };
    const config = side.config?.model === 'FlowUNet' ? side.config.flow ?? null : null;
    const step = typeof side.step === 'number' ? side.step : null;
    if (state === 'ema' && side.ema_weights) {
      const ep = join(dirname(path), side.ema_weights);
      if (existsSync(ep)) {
        const st = readSafetensors(readBytes(ep), ep);
        if (st.metadata.checkpoint_id !== side.checkpoint_id) throw new VesselError(`${ep} is from a different save than ${path}`);
        return { tensors: st.tensors, state: 'ema', config, step };
      }
    }
    return { tensors: w.tensors, state: 'model', config, step };
  }
  const ck = readTorch(readBytes(path), path);
  const root = ck.root;
  if (root instanceof Map && root.has('model') && root.has('ema')) {
    const pick = state === 'ema' ? 'ema' : 'model';
    const sd = stateDict(root.get(pick), `${path} ['${pick}']`);
    const tensors = new Map<string, TensorRecord>();
    for (const k of sd.canonical) {
      const t = sd.tensors.get(k)!;
      tensors.set(k, { dtype: t.dtype, shape: t.shape, data: t.data });
    }
    const step = typeof root.get('step') === 'number' ? (root.get('step') as number) : null;
    return { tensors, state: pick, config: null, step };
  }
  return { tensors: loadWeights(path).tensors, state: 'model', config: null, step: null };
}

/** A flow network loaded from `path` (EMA weights when the file has them and `state` is 'ema'). */
export function loadFlowNet(engine: Engine, path: string, state: WeightState = 'ema'): LoadedFlow {
  const r = records(path, state);
  const sd = flowStateDict(r.tensors);
  const net = r.config ? new FlowUNet(engine, r.config) : FlowUNet.fromStateDict(engine, sd);
  try {
    net.loadStateDict(sd);
  } catch (e) {
    net.dispose();
    throw new VesselError(`${path}: ${(e as Error).message}`);
  }
  return { net, state: r.state, step: r.step };
}
