// PyTorch checkpoints as torch.save (≥ 1.6) writes them: a zip with `<root>/data.pkl` (a pickle of the object,
// tensors as torch._utils._rebuild_tensor_v2 calls whose storages are persistent ids), `<root>/data/<key>` (raw
// storages, byte order in `<root>/byteorder`), `<root>/version` or `.format_version`. Browser-safe (Uint8Array).
//
// Tensors keep storage, offset, shape and stride; `data` is the C-order contiguous values — a view into the
// storage (no copy) when the layout is contiguous, else a copy. Tensors that are the same view of one storage
// (DynUNet's `skip_layers.*` aliases) return the very same typed array, and stateDict() reports them as aliases.
// Nested dicts (a Lightning checkpoint's 'state_dict', optimizer states, …) come back as Maps, unchanged.
import { VesselError } from '../gpu/errors.js';
import { guarded } from './guard.js';
import { readZip, zipRead, isZip, type ZipArchive } from './zip.js';
import { unpickle, PyGlobal, PyTuple, PyObject } from './pickle.js';
import {
  DTYPE_BYTES,
  gatherStrided,
  isContiguous,
  numel,
  typedView,
  type TensorData,
  type TensorDtype,
  type TensorRecord,
} from './tensors.js';

const STORAGE_DTYPES: Record<string, TensorDtype> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
};

const TORCH_DTYPES: Record<string, TensorDtype> = {
  float32: 'float32',
  float: 'float32',
  float64: 'float64',
  double: 'float64',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int16: 'int16',
  short: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

/** A storage type or dtype reference from the pickle. */
class TorchDtypeRef {
  constructor(
    readonly dtype: TensorDtype,
    readonly name: string,
  ) {}
}

export class TorchStorage {
  private loaded: TensorData | null = null;
  private views = new Map<string, TensorData>();
  constructor(
    readonly key: string,
    readonly dtype: TensorDtype,
    readonly numel: number,
    readonly location: string,
    private readonly source: () => TensorData,
  ) {}
  /** All elements of the storage. */
  load(): TensorData {
    this.loaded ??= this.source();
    return this.loaded;
  }
  /** One C-order view, cached so that equal views share one typed array. */
  view(shape: number[], stride: number[], offset: number): TensorData {
    const k = `${offset}|${shape.join(',')}|${stride.join(',')}`;
    let v = this.views.get(k);
    if (!v) {
      const all = this.load();
      const n = numel(shape);
      v = isContiguous(shape, stride) ? (all.subarray(offset, offset + n) as TensorData) : gatherStrided(all, shape, stride, offset, this.dtype);
      this.views.set(k, v);
    }
    return v;
  }
}

export class TorchTensor implements TensorRecord {
  constructor(
    readonly storage: TorchStorage,
    readonly storageOffset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly requiresGrad: boolean,
    readonly dtype: TensorDtype,
  ) {}
  /** C-order values (shared with every tensor that is the same view of the same storage). */
  get data(): TensorData {
    return this.storage.view(this.shape, this.stride, this.storageOffset);
  }
  get contiguous(): boolean {
    return isContiguous(this.shape, this.stride);
  }
  /** True when `other` is the same view of the same storage. */
  sameView(other: TorchTensor): boolean {
    return (
      other.storage === this.storage &&
      other.storageOffset === this.storageOffset &&
      other.shape.length === this.shape.length &&
      other.shape.every((s, i) => s === this.shape[i] && other.stride[i] === this.stride[i])
    );
  }
}

export interface TorchCheckpoint {
  /** The unpickled object: a Map for dicts, TorchTensor for tensors, see pickle.ts for the rest. */
  root: unknown;
  /** The archive's top folder (e.g. "archive", or the file's stem). */
  archiveName: string;
  byteorder: 'little' | 'big';
  storages: Map<string, TorchStorage>;
}

function asInts(v: unknown, what: string, label: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) {
    throw new VesselError(`${label}: malformed tensor ${what} in data.pkl (${JSON.stringify(v)?.slice(0, 60)})`);
  }
  return Array.from(v as number[]);
}

/** Parse a torch.save zip checkpoint. `verify` checks the zip CRCs of data.pkl and every storage (default true). */
export function readTorch(bytes: Uint8Array, label = 'checkpoint', options: { verify?: boolean } = {}): TorchCheckpoint {
  return guarded(label, 'PyTorch checkpoint', () => readTorchUnguarded(bytes, label, options));
}

function readTorchUnguarded(bytes: Uint8Array, label = 'checkpoint', options: { verify?: boolean } = {}): TorchCheckpoint {
  const verify = options.verify ?? true;
  if (!isZip(bytes)) {
    if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] <= 5) {
      throw new VesselError(`${label}: legacy (pre-1.6, non-zip) PyTorch format is not supported; re-save it with torch.save in PyTorch >= 1.6`);
    }
    throw new VesselError(`${label}: not a PyTorch checkpoint (not a zip archive)`);
  }
  const zip: ZipArchive = readZip(bytes, label);
  const pklEntry = zip.entries.find((e) => e.name === 'data.pkl' || e.name.endsWith('/data.pkl'));
  if (!pklEntry) throw new VesselError(`${label}: not a PyTorch checkpoint (no data.pkl in the archive)`);
  const root = pklEntry.name.slice(0, pklEntry.name.length - 'data.pkl'.length); // "archive/" or ""
  const archiveName = root.replace(/\/$/, '');
  const boEntry = zip.byName.get(root + 'byteorder');
  let byteorder: 'little' | 'big' = 'little';
  if (boEntry) {
    const bo = new TextDecoder().decode(zipRead(zip, boEntry)).trim();
    if (bo !== 'little' && bo !== 'big') throw new VesselError(`${label}: unknown byteorder '${bo}'`);
    byteorder = bo;
  }
  const storages = new Map<string, TorchStorage>();
  const typedViews = new Map<string, TorchStorage>();

  const loadStorage = (key: string, dtype: TensorDtype, count: number, location: string): TorchStorage => {
    const name = `${root}data/${key}`;
    const entry = zip.byName.get(name);
    if (!entry) throw new VesselError(`${label}: missing storage '${name}' (referenced by data.pkl)`);
    const nbytes = count * DTYPE_BYTES[dtype];
    if (entry.size < nbytes) throw new VesselError(`${label}: storage '${name}' has ${entry.size} bytes, expected ${nbytes} (${count} × ${dtype})`);
    const s = new TorchStorage(key, dtype, count, location, () => {
      let raw = zipRead(zip, entry, verify).subarray(0, nbytes);
      const size = DTYPE_BYTES[dtype];
      if (byteorder === 'big' && size > 1) {
        raw = raw.slice();
        for (let i = 0; i < raw.length; i += size) raw.subarray(i, i + size).reverse();
      }
      return typedView(dtype, raw);
    });
    storages.set(key, s);
    return s;
  };

  const rebuild = (storage: unknown, offset: unknown, size: unknown, stride: unknown, requiresGrad: unknown, dtypeOverride?: TensorDtype): TorchTensor => {
    if (!(storage instanceof TorchStorage)) throw new VesselError(`${label}: malformed data.pkl (tensor without a storage)`);
    const shape = asInts(size, 'size', label);
    const st = asInts(stride, 'stride', label);
    if (typeof offset !== 'number' || st.length !== shape.length) throw new VesselError(`${label}: malformed tensor (size [${shape}] stride [${st}])`);
    let dtype = storage.dtype;
    const off = offset;
    if (dtypeOverride && dtypeOverride !== storage.dtype) {
      // An untyped (byte) storage viewed as `dtypeOverride`: offsets and strides are in elements of that dtype.
      if (storage.dtype !== 'uint8') throw new VesselError(`${label}: tensor of ${dtypeOverride} on a ${storage.dtype} storage`);
      dtype = dtypeOverride;
      const untyped = storage;
      const vkey = untyped.key + ':' + dtype;
      let typed = typedViews.get(vkey);
      if (!typed) {
        const dt = dtype;
        typed = new TorchStorage(vkey, dt, Math.floor(untyped.numel / DTYPE_BYTES[dt]), untyped.location, () => {
          const b = untyped.load() as Uint8Array;
          return typedView(dt, b.subarray(0, b.length - (b.length % DTYPE_BYTES[dt])));
        });
        typedViews.set(vkey, typed);
      }
      storage = typed;
    }
    const s = storage as TorchStorage;
    let maxIndex = off;
    for (let d = 0; d < shape.length; d++) {
      if (shape[d] === 0) maxIndex = -1;
      if (maxIndex >= 0) maxIndex += (shape[d] - 1) * st[d];
    }
    if (maxIndex >= s.numel) {
      throw new VesselError(`${label}: tensor [${shape.join(', ')}] at offset ${off} overruns storage '${s.key}' of ${s.numel} elements`);
    }
    return new TorchTensor(s, off, shape, st, requiresGrad === true, dtype);
  };

  const hooks = {
    global(module: string, name: string): unknown {
      if (module === 'torch' && name in STORAGE_DTYPES) return new TorchDtypeRef(STORAGE_DTYPES[name], name);
      if (module === 'torch.storage' && name === 'UntypedStorage') return new TorchDtypeRef('uint8', name);
      if (module === 'torch' && name in TORCH_DTYPES) return new TorchDtypeRef(TORCH_DTYPES[name], name);
      return new PyGlobal(module, name);
    },
    persistentLoad(pid: unknown): unknown {
      if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
        throw new VesselError(`${label}: unsupported persistent id in data.pkl (${String(Array.isArray(pid) ? pid[0] : pid)})`);
      }
      const [, type, key, location, count] = pid as unknown[];
      const k = String(key);
      const existing = storages.get(k);
      if (existing) return existing;
      if (!(type instanceof TorchDtypeRef)) {
        const what = type instanceof PyGlobal ? type.qualified : String(type);
        throw new VesselError(`${label}: unsupported storage dtype '${what}' for storage '${k}'`);
      }
      if (typeof count !== 'number') throw new VesselError(`${label}: malformed storage reference '${k}'`);
      return loadStorage(k, type.dtype, count, String(location));
    },
    call(fn: PyGlobal, args: unknown[]): unknown {
      const q = fn.qualified;
      switch (q) {
        case 'collections.OrderedDict':
        case 'builtins.dict':
        case '__builtin__.dict': {
          const m = new Map<unknown, unknown>();
          const src = args[0];
          if (Array.isArray(src)) for (const kv of src) if (Array.isArray(kv)) m.set(kv[0], kv[1]);
          return m;
        }
        case 'builtins.set':
        case '__builtin__.set':
        case 'builtins.frozenset':
          return new Set(Array.isArray(args[0]) ? args[0] : []);
        case 'builtins.list':
          return Array.isArray(args[0]) ? [...args[0]] : [];
        case 'builtins.tuple':
          return PyTuple.of2(Array.isArray(args[0]) ? args[0] : []);
        case 'builtins.bytearray':
        case '__builtin__.bytearray':
          return args[0] instanceof Uint8Array ? args[0] : new Uint8Array(0);
        case '_codecs.encode': {
          // protocol 2 writes bytes as _codecs.encode(text, 'latin1')
          const s = String(args[0] ?? '');
          return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
        }
        case 'torch._utils._rebuild_tensor':
          return rebuild(args[0], args[1], args[2], args[3], false);
        case 'torch._utils._rebuild_tensor_v2':
          return rebuild(args[0], args[1], args[2], args[3], args[4]);
        case 'torch._utils._rebuild_tensor_v3': {
          const dt = args[6];
          return rebuild(args[0], args[1], args[2], args[3], args[4], dt instanceof TorchDtypeRef ? dt.dtype : undefined);
        }
        case 'torch._utils._rebuild_parameter':
        case 'torch._utils._rebuild_parameter_with_state': {
          const t = args[0];
          if (t instanceof TorchTensor) return new TorchTensor(t.storage, t.storageOffset, t.shape, t.stride, args[1] === true, t.dtype);
          return t;
        }
        case 'torch._tensor._rebuild_from_type_v2': {
          // (func, new_type, args, state): the tensor comes from func(*args); the subclass is dropped.
          const inner = args[0];
          const innerArgs = args[2];
          if (inner instanceof PyGlobal && Array.isArray(innerArgs)) return hooks.call(inner, innerArgs) ?? new PyObject(inner, innerArgs);
          return undefined;
        }
        case 'torch.Size':
          return Array.isArray(args[0]) ? [...args[0]] : [];
        case 'torch.device':
          return String(args[0]) + (args.length > 1 && args[1] !== null ? `:${args[1]}` : '');
        default:
          return undefined;
      }
    },
  };

  const pkl = zipRead(zip, pklEntry, verify);
  const obj = unpickle(pkl, hooks, `${label}:${pklEntry.name}`);
  // Touch every storage once so a missing, short or corrupt member fails here, not in the middle of training.
  for (const s of storages.values()) s.load();
  return { root: obj, archiveName, byteorder, storages };
}

/** Every tensor reachable through nested string-keyed Maps, with dotted names (`state_dict.conv.weight`). */
export function flattenTensors(obj: unknown, prefix = ''): Map<string, TorchTensor> {
  const out = new Map<string, TorchTensor>();
  const walk = (v: unknown, name: string) => {
    if (v instanceof TorchTensor) out.set(name, v);
    else if (v instanceof Map) for (const [k, x] of v) walk(x, name ? `${name}.${String(k)}` : String(k));
  };
  walk(obj, prefix);
  return out;
}

/** Remove `prefix` from every key that starts with it (others are kept unchanged). */
export function stripPrefix<T>(m: Map<string, T>, prefix: string): Map<string, T> {
  const out = new Map<string, T>();
  for (const [k, v] of m) out.set(k.startsWith(prefix) ? k.slice(prefix.length) : k, v);
  return out;
}

export interface StateDict {
  /** Every tensor by (prefix-stripped) key, in file order, aliases included. */
  tensors: Map<string, TorchTensor>;
  /** alias key → canonical key (the first key in file order that is the same view of the same storage). */
  aliases: Map<string, string>;
  /** The keys that are not aliases, in file order. */
  canonical: string[];
  /** Where the state dict was found: '' (bare), 'state_dict', … */
  foundAt: string;
  /** The prefix that was stripped ('' when none). */
  strippedPrefix: string;
  /** Top-level entries next to the state dict (epoch, global_step, optimizer_states, …) when it was nested. */
  extra: Map<unknown, unknown>;
}

/** A dict that is a state dict: tensors (or nested dicts of them) make up at least half of its values. */
function isTensorMap(v: unknown): v is Map<unknown, unknown> {
  if (!(v instanceof Map) || v.size === 0) return false;
  let n = 0;
  for (const x of v.values()) if (x instanceof TorchTensor || (x instanceof Map && flattenTensors(x).size > 0)) n++;
  return n > 0 && 2 * n >= v.size;
}

/**
 * The model weights of a checkpoint: a bare state_dict, one under 'state_dict' / 'model_state_dict' / 'model'
 * (Lightning and common training scripts), with a common `model.` (or `module.`) prefix removed.
 */
export function stateDict(ckpt: TorchCheckpoint | unknown, label = 'checkpoint'): StateDict {
  const root = ckpt && typeof ckpt === 'object' && 'root' in (ckpt as object) && 'storages' in (ckpt as object) ? (ckpt as TorchCheckpoint).root : ckpt;
  let sd: Map<unknown, unknown> | null = null;
  let foundAt = '';
  const extra = new Map<unknown, unknown>();
  if (root instanceof Map) {
    for (const key of ['state_dict', 'model_state_dict', 'model']) {
      const v = root.get(key);
      if (isTensorMap(v)) {
        sd = v;
        foundAt = key;
        break;
      }
    }
    if (sd) {
      for (const [k, v] of root) if (k !== foundAt) extra.set(k, v);
    } else if (isTensorMap(root)) sd = root;
  }
  if (!sd) throw new VesselError(`${label}: no state_dict found (expected a dict of tensors, or one under 'state_dict')`);
  let tensors = flattenTensors(sd);
  let strippedPrefix = '';
  for (const p of ['model.', 'module.']) {
    if (tensors.size > 0 && [...tensors.keys()].every((k) => k.startsWith(p))) {
      tensors = stripPrefix(tensors, p);
      strippedPrefix = p;
      break;
    }
  }
  const aliases = new Map<string, string>();
  const canonical: string[] = [];
  const seen = new Map<TorchStorage, string[]>();
  for (const [k, t] of tensors) {
    const same = seen.get(t.storage);
    const hit = same?.find((c) => tensors.get(c)!.sameView(t));
    if (hit) aliases.set(k, hit);
    else {
      canonical.push(k);
      if (same) same.push(k);
      else seen.set(t.storage, [k]);
    }
  }
  return { tensors, aliases, canonical, foundAt, strippedPrefix, extra };
}

/**
 * Convert pickled Python values to plain JSON-able data (Maps → objects, tensors → {dtype, shape, values?}).
 * Tensor values are included for tensors of at most `includeTensorValues` elements (true: all; default 64).
 */
export function toPlain(v: unknown, includeTensorValues: boolean | number = 64): unknown {
  if (v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') {
    return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
  }
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof TorchTensor) {
    const o: Record<string, unknown> = { dtype: v.dtype, shape: v.shape };
    const limit = includeTensorValues === true ? Infinity : includeTensorValues === false ? 0 : includeTensorValues;
    if (v.data.length <= limit) o.values = Array.from(v.data as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? Number(x) : x));
    return o;
  }
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) o[String(k)] = toPlain(x, includeTensorValues);
    return o;
  }
  if (v instanceof Set) return [...v].map((x) => toPlain(x, includeTensorValues));
  if (Array.isArray(v)) return v.map((x) => toPlain(x, includeTensorValues));
  if (v instanceof Uint8Array) return { bytes: v.length };
  if (v instanceof PyObject) return { class: v.cls.qualified, args: toPlain(v.args, includeTensorValues), state: toPlain(v.state ?? null, includeTensorValues) };
  if (v instanceof PyGlobal) return { global: v.qualified };
  if (v instanceof TorchDtypeRef) return { dtype: v.dtype };
  return String(v);
}
