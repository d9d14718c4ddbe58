// Model checkpoints as files (Node): PyTorch .pt (read) and our own format — safetensors with PyTorch key names,
// shared-storage aliases dropped (each tensor stored once), plus a JSON sidecar `<file>.json` with step, epoch,
// config and the optimizer's non-tensor state; optimizer tensors (e.g. AdamW's exp_avg) go to
// `<stem>.optim.safetensors` under `<parameter name>.<state name>`.
import { basename } from 'node:path';
import { VesselError } from '../gpu/errors.js';
import { readBytes, writeBytesAtomic } from './files.js';
import { readTorch, stateDict, toPlain, TorchTensor } from './torch.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import type { TensorRecord } from './tensors.js';

export interface LoadedWeights {
  /** Canonical tensors (no aliases), by PyTorch key, in file order. */
  tensors: Map<string, TensorRecord>;
  /** alias key → canonical key (from shared storages in a .pt; from the DynUNet rule for safetensors when asked) */
  aliases: Map<string, string>;
  /** Everything else the file held: epoch, global_step, hyper-parameters, optimizer state (plain JSON-able data). */
  extra: Record<string, unknown>;
  /** safetensors metadata, or {} */
  metadata: Record<string, string>;
  format: 'pt' | 'safetensors';
}

/**
 * The DynUNet alias that MONAI's recursive skip layers give every canonical key but output_block (spec §1.4):
 * input_block.* ↔ skip_layers.downsample.*, downsamples.{i}.* ↔ skip_layers.(next_layer.)^{i+1}downsample.*,
 * bottleneck.* ↔ skip_layers.(next_layer.)^5*, upsamples.{j}.* ↔ skip_layers.(next_layer.)^{4−j}upsample.*.
 */
export function dynunetAliasOf(key: string, levels = 6): string | null {
  // A DynUNet of L levels has input_block, downsamples 0..L-3, the bottleneck and upsamples 0..L-2; skip_layers
  // nests one next_layer per level, the bottleneck innermost and upsamples.0 (the deepest decoder) one level out.
  const downs = levels - 2;
  let m = /^input_block\.(.+)$/.exec(key);
  if (m) return `skip_layers.downsample.${m[1]}`;
  m = /^downsamples\.(\d+)\.(.+)$/.exec(key);
  if (m) return `skip_layers.${'next_layer.'.repeat(Number(m[1]) + 1)}downsample.${m[2]}`;
  m = /^bottleneck\.(.+)$/.exec(key);
  if (m) return `skip_layers.${'next_layer.'.repeat(downs + 1)}${m[1]}`;
  m = /^upsamples\.(\d+)\.(.+)$/.exec(key);
  if (m) return `skip_layers.${'next_layer.'.repeat(downs - Number(m[1]))}upsample.${m[2]}`;
  return null;
}

/** The number of levels of a DynUNet state dict: its downsamples plus the input block and the bottleneck. */
export function dynunetLevels(keys: Iterable<string>): number {
  let maxDown = -1;
  for (const k of keys) {
    const m = /^downsamples\.(\d+)\./.exec(k);
    if (m) maxDown = Math.max(maxDown, Number(m[1]));
  }
  return maxDown + 3;
}

/** The canonical tensors plus their DynUNet `skip_layers.*` aliases (the same records), in state_dict order. */
export function withDynunetAliases(tensors: Map<string, TensorRecord>): Map<string, TensorRecord> {
  const out = new Map(tensors);
  const levels = dynunetLevels(tensors.keys());
  for (const [k, t] of tensors) {
    const a = dynunetAliasOf(k, levels);
    if (a && !out.has(a)) out.set(a, t);
  }
  return out;
}

/**
 * Every key a model's state_dict has, aliases included, each alias the same record as its canonical key:
 * from a .pt the aliases it stored; from safetensors the DynUNet rule when the keys are a DynUNet's
 * (input_block.* and output_block.*), else the canonical keys alone.
 */
export function withAliases(w: LoadedWeights): Map<string, TensorRecord> {
  if (w.aliases.size > 0) {
    const out = new Map(w.tensors);
    for (const [alias, canon] of w.aliases) out.set(alias, w.tensors.get(canon)!);
    return out;
  }
  const keys = [...w.tensors.keys()];
  const isDynUNet = keys.some((k) => k.startsWith('input_block.')) && keys.some((k) => k.startsWith('output_block.'));
  return isDynUNet ? withDynunetAliases(w.tensors) : new Map(w.tensors);
}

function optimizerTensorsPath(path: string): string {
  return path.replace(/\.safetensors$/i, '') + '.optim.safetensors';
}

/** Load weights from a .pt/.pth/.ckpt (torch.save zip) or a .safetensors file. */
export function loadWeights(path: string): LoadedWeights {
  const bytes = readBytes(path);
  if (/\.safetensors$/i.test(path)) {
    const st = readSafetensors(bytes, path);
    let extra: Record<string, unknown> = {};
    try {
      extra = JSON.parse(new TextDecoder().decode(readBytes(path + '.json'))) as Record<string, unknown>;
    } catch (e) {
      if (e instanceof SyntaxError) throw new VesselError(`${path}.json: sidecar is not valid JSON (${e.message})`);
      // no sidecar: weights only
    }
    return { tensors: st.tensors, aliases: new Map(), extra, metadata: st.metadata, format: 'safetensors' };
  }
  const ckpt = readTorch(bytes, path);
  const sd = stateDict(ckpt, path);
  const tensors = new Map<string, TensorRecord>();
  for (const k of sd.canonical) {
    const t = sd.tensors.get(k)!;
    tensors.set(k, { dtype: t.dtype, shape: t.shape, data: t.data });
  }
  const extra: Record<string, unknown> = {};
  for (const [k, v] of sd.extra) if (String(k) !== 'optimizer_states') extra[String(k)] = toPlain(v);
  return { tensors, aliases: sd.aliases, extra, metadata: {}, format: 'pt' };
}

export interface ConvertSummary {
  tensors: number;
  aliasesDropped: number;
  parameters: number;
  bytes: number;
  foundAt: string;
  strippedPrefix: string;
  sidecar: string | null;
  optimizerTensors: string | null;
}

/**
 * Convert a PyTorch checkpoint (bare state_dict, `model.`-prefixed, or a Lightning dict with 'state_dict') to
 * safetensors + sidecar. Aliases (tensors that are the same view of a storage as an earlier key, e.g. DynUNet's
 * `skip_layers.*`) are dropped; nothing is added.
 */
export function convertTorchToSafetensors(input: string, output: string): ConvertSummary {
  const ckpt = readTorch(readBytes(input), input);
  const sd = stateDict(ckpt, input);
  const weights: [string, TensorRecord][] = sd.canonical.map((k) => {
    const t = sd.tensors.get(k)!;
    return [k, { dtype: t.dtype, shape: t.shape, data: t.data }];
  });
  const meta: Record<string, string> = { format: 'pt', source: basename(input), producer: 'vesselfm convert' };
  if (sd.strippedPrefix) meta.stripped_prefix = sd.strippedPrefix;
  const bytes = writeSafetensors(weights, meta);

  // Sidecar: everything next to the state dict, with optimizer tensors moved to their own file.
  let sidecar: Record<string, unknown> | null = null;
  let optimizerFile: string | null = null;
  if (sd.extra.size > 0) {
    sidecar = { source: basename(input), weights: basename(output) };
    const optTensors: [string, TensorRecord][] = [];
    for (const [k, v] of sd.extra) {
      const key = String(k);
      if (key === 'optimizer_states' && Array.isArray(v)) {
        sidecar.optimizer_states = v.map((opt, oi) => {
          if (!(opt instanceof Map)) return toPlain(opt);
          const groups = opt.get('param_groups');
          const state = opt.get('state');
          const plainState: Record<string, Record<string, unknown>> = {};
          // parameter index → name: indices follow model.parameters(), i.e. the canonical keys in order
          const names = sd.canonical;
          if (state instanceof Map) {
            for (const [idx, st] of state) {
              const pname = typeof idx === 'number' && names.length > 0 && idx < names.length ? names[idx] : `param_${String(idx)}`;
              const entry: Record<string, unknown> = {};
              if (st instanceof Map) {
                for (const [sk, sv] of st) {
                  if (sv instanceof TorchTensor && sv.shape.length > 0) {
                    const tname = `${oi > 0 ? `opt${oi}.` : ''}${pname}.${String(sk)}`;
                    optTensors.push([tname, { dtype: sv.dtype, shape: sv.shape, data: sv.data }]);
                    entry[String(sk)] = { tensor: tname };
                  } else entry[String(sk)] = sv instanceof TorchTensor ? (toPlain(sv, true) as { values: number[] }).values[0] : toPlain(sv);
                }
              }
              plainState[pname] = entry;
            }
          }
          return { param_groups: toPlain(groups ?? []), state: plainState };
        });
      } else sidecar[key] = toPlain(v);
    }
    if (optTensors.length) {
      optimizerFile = optimizerTensorsPath(output);
      sidecar.optimizer_tensors = basename(optimizerFile);
    }
    if (optimizerFile) writeBytesAtomic(optimizerFile, writeSafetensors(optTensors, { producer: 'vesselfm convert', kind: 'optimizer state' }));
  }
  writeBytesAtomic(output, bytes);
  if (sidecar) writeBytesAtomic(output + '.json', new TextEncoder().encode(JSON.stringify(sidecar, null, 1) + '\n'));
  let parameters = 0;
  for (const [, t] of weights) parameters += t.data.length;
  return {
    tensors: weights.length,
    aliasesDropped: sd.aliases.size,
    parameters,
    bytes: bytes.length,
    foundAt: sd.foundAt,
    strippedPrefix: sd.strippedPrefix,
    sidecar: sidecar ? output + '.json' : null,
    optimizerTensors: optimizerFile,
  };
}
