// safetensors files (Hugging Face format): u64 little-endian header length, a JSON header
// { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__: { string: string } }, then the raw
// little-endian tensor bytes. Our own checkpoints use it with PyTorch key names. Browser-safe.
import { VesselError } from '../gpu/errors.js';
import { guarded } from './guard.js';
import { DTYPE_BYTES, numel, typedView, type TensorData, type TensorDtype, type TensorRecord } from './tensors.js';

const TO_ST: Record<TensorDtype, string> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_ST: Record<string, TensorDtype> = Object.fromEntries(Object.entries(TO_ST).map(([k, v]) => [v, k as TensorDtype]));

export interface SafetensorsFile {
  tensors: Map<string, TensorRecord>;
  metadata: Record<string, string>;
}

/** Parse a safetensors file. Tensor data are views into `bytes` where alignment allows (copies otherwise). */
export function readSafetensors(bytes: Uint8Array, label = 'safetensors'): SafetensorsFile {
  return guarded(label, 'safetensors file', () => readSafetensorsUnguarded(bytes, label));
}

function readSafetensorsUnguarded(bytes: Uint8Array, label = 'safetensors'): SafetensorsFile {
  if (bytes.length < 8) throw new VesselError(`${label}: truncated safetensors file (${bytes.length} bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  if (hi !== 0 || lo > 100_000_000) throw new VesselError(`${label}: not a safetensors file (header length ${hi * 4294967296 + lo} is implausible)`);
  if (8 + lo > bytes.length) throw new VesselError(`${label}: truncated safetensors header (needs ${8 + lo} bytes, file has ${bytes.length})`);
  if (bytes[8] !== 0x7b) throw new VesselError(`${label}: not a safetensors file (header is not a JSON object)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + lo))) as Record<string, unknown>;
  } catch (e) {
    throw new VesselError(`${label}: corrupt safetensors header (${(e as Error).message})`);
  }
  const base = 8 + lo;
  const dataLen = bytes.length - base;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorRecord>();
  const ranges: [number, number, string][] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      for (const [k, v] of Object.entries((info ?? {}) as Record<string, unknown>)) metadata[k] = String(v);
      continue;
    }
    const t = info as { dtype?: string; shape?: number[]; data_offsets?: number[] };
    const dtype = FROM_ST[t.dtype ?? ''];
    if (!dtype) throw new VesselError(`${label}: tensor '${name}' has unsupported dtype '${t.dtype}'`);
    if (!Array.isArray(t.shape) || !t.shape.every((s) => Number.isInteger(s) && s >= 0)) throw new VesselError(`${label}: tensor '${name}' has a bad shape`);
    const [b, e] = t.data_offsets ?? [];
    if (!Number.isInteger(b) || !Number.isInteger(e) || b > e) throw new VesselError(`${label}: tensor '${name}' has bad data_offsets`);
    const want = numel(t.shape) * DTYPE_BYTES[dtype];
    if (e - b !== want) throw new VesselError(`${label}: tensor '${name}' has ${e - b} bytes, shape [${t.shape.join(', ')}] ${dtype} needs ${want}`);
    if (e > dataLen) throw new VesselError(`${label}: truncated safetensors data (tensor '${name}' ends at ${e}, data has ${dataLen} bytes)`);
    ranges.push([b, e, name]);
    let data: TensorData = typedView(dtype, bytes.subarray(base + b, base + e));
    if (dtype === 'bool') data = Uint8Array.from(data as Uint8Array, (v) => (v ? 1 : 0));
    tensors.set(name, { dtype, shape: [...t.shape], data });
  }
  ranges.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) throw new VesselError(`${label}: tensors '${ranges[i - 1][2]}' and '${ranges[i][2]}' overlap`);
  }
  return { tensors, metadata };
}

/**
 * Serialise tensors (in the given order) with optional string metadata. Data are 8-byte aligned (the header is
 * padded with spaces), so a reader can view every tensor without copying.
 */
export function writeSafetensors(tensors: Map<string, TensorRecord> | [string, TensorRecord][], metadata?: Record<string, string>): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : tensors;
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new VesselError(`safetensors: '__metadata__' is not a valid tensor name`);
    const n = numel(t.shape);
    if (t.data.length !== n) throw new VesselError(`safetensors: tensor '${name}' has ${t.data.length} elements, shape [${t.shape.join(', ')}] needs ${n}`);
    const size = n * DTYPE_BYTES[t.dtype];
    header[name] = { dtype: TO_ST[t.dtype], shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let hb = enc.encode(json);
  const pad = (8 - (hb.length % 8)) % 8;
  if (pad) {
    json += ' '.repeat(pad);
    hb = enc.encode(json);
  }
  const out = new Uint8Array(8 + hb.length + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, hb.length, true);
  dv.setUint32(4, 0, true);
  out.set(hb, 8);
  let p = 8 + hb.length;
  for (const [, t] of list) {
    const d = t.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), p);
    p += d.byteLength;
  }
  return out;
}
