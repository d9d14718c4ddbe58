// A Python pickle virtual machine (protocols 0–5, the opcodes that data can use; no code is ever run).
// Globals are not imported: GLOBAL/STACK_GLOBAL push a PyGlobal, and REDUCE/NEWOBJ/BUILD call hooks that the
// caller supplies (torch.ts maps torch's rebuild functions and storage classes). Anything the hooks do not know
// becomes a PyObject that records its class and arguments, so unknown classes in e.g. a Lightning checkpoint's
// hyper-parameters never stop a load.
//
// Python values map to: None → null, bool → boolean, int → number (bigint beyond ±2^53), float → number,
// str → string, bytes/bytearray → Uint8Array, list → array, tuple → PyTuple (an array subclass), dict → Map,
// set/frozenset → Set.
import { VesselError } from '../gpu/errors.js';

export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A tuple: an array that remembers it was a tuple. */
export class PyTuple extends Array<unknown> {
  static of2(items: unknown[]): PyTuple {
    const t = new PyTuple();
    for (const x of items) t.push(x);
    return t;
  }
}

/** An instance of a class the unpickler does not model: its class, constructor arguments and state. */
export class PyObject {
  state: unknown = undefined;
  dictItems: Map<unknown, unknown> | null = null;
  listItems: unknown[] | null = null;
  constructor(
    readonly cls: PyGlobal,
    readonly args: unknown[],
  ) {}
}

export interface PickleHooks {
  /** Called for REDUCE and NEWOBJ on a PyGlobal. Return undefined to fall back to a PyObject. */
  call?(fn: PyGlobal, args: unknown[]): unknown;
  /** Resolve a GLOBAL/STACK_GLOBAL reference; default: a PyGlobal. */
  global?(module: string, name: string): unknown;
  /** BINPERSID/PERSID. */
  persistentLoad?(pid: unknown): unknown;
}

const OPNAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

export function opcodeName(op: number): string {
  return OPNAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`;
}

const MARK = Symbol('mark');

function littleSigned(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function parseIntText(s: string): number | bigint | boolean {
  const t = s.replace(/L$/, '');
  if (t === '00') return false; // protocol 0 booleans
  if (t === '01') return true;
  const v = BigInt(t);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Python's repr-escaped string literal (protocol 0 STRING) → text. */
function unquote(s: string): string {
  const q = s[0];
  if ((q !== "'" && q !== '"') || s[s.length - 1] !== q) return s;
  return s.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    return ({ n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"' } as Record<string, string>)[e] ?? e;
  });
}

/**
 * Run a pickle. `label` names the source in errors (e.g. "model.pt:archive/data.pkl").
 * Throws a one-line VesselError on a truncated stream, an unsupported opcode (named), or a malformed stack.
 */
export function unpickle(bytes: Uint8Array, hooks: PickleHooks = {}, label = 'pickle'): unknown {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8');
  let pos = 0;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let opName = '';
  let opPos = 0;

  const need = (n: number) => {
    if (pos + n > bytes.length) throw new VesselError(`${label}: truncated pickle (ends inside ${opName} at byte ${opPos})`);
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), dv.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), dv.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), dv.getInt32(pos - 4, true));
  const u64 = () => {
    need(8);
    const lo = dv.getUint32(pos, true);
    const hi = dv.getUint32(pos + 4, true);
    pos += 8;
    if (hi > 0x1fffff) throw new VesselError(`${label}: ${opName} length too large at byte ${opPos}`);
    return hi * 4294967296 + lo;
  };
  const take = (n: number) => (need(n), (pos += n), bytes.subarray(pos - n, pos));
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new VesselError(`${label}: truncated pickle (ends inside ${opName} at byte ${opPos})`);
    const s = String.fromCharCode(...bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0) throw new VesselError(`${label}: malformed pickle (${opName} on an empty stack at byte ${opPos})`);
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) throw new VesselError(`${label}: malformed pickle (${opName} on an empty stack at byte ${opPos})`);
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const items = stack;
    const prev = metastack.pop();
    if (!prev) throw new VesselError(`${label}: malformed pickle (${opName} without MARK at byte ${opPos})`);
    stack = prev;
    return items;
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) throw new VesselError(`${label}: malformed pickle (memo ${i} not set, ${opName} at byte ${opPos})`);
    return memo.get(i);
  };
  const resolveGlobal = (module: string, name: string) => (hooks.global ? hooks.global(module, name) : new PyGlobal(module, name));
  const call = (fn: unknown, args: unknown[]): unknown => {
    if (fn instanceof PyGlobal) {
      const r = hooks.call?.(fn, args);
      if (r !== undefined) return r;
      return new PyObject(fn, args);
    }
    if (typeof fn === 'function') return fn(...args);
    throw new VesselError(`${label}: malformed pickle (${opName} on a non-callable at byte ${opPos})`);
  };
  const setItem = (obj: unknown, k: unknown, v: unknown) => {
    if (obj instanceof Map) obj.set(k, v);
    else if (obj instanceof PyObject) (obj.dictItems ??= new Map()).set(k, v);
    else throw new VesselError(`${label}: malformed pickle (${opName} on a non-dict at byte ${opPos})`);
  };
  const append = (obj: unknown, v: unknown) => {
    if (Array.isArray(obj)) obj.push(v);
    else if (obj instanceof PyObject) (obj.listItems ??= []).push(v);
    else if (obj instanceof Set) obj.add(v);
    else throw new VesselError(`${label}: malformed pickle (${opName} on a non-list at byte ${opPos})`);
  };
  const tuple = (items: unknown[]) => PyTuple.of2(items);

  for (;;) {
    if (pos >= bytes.length) throw new VesselError(`${label}: truncated pickle (no STOP; ${bytes.length} bytes)`);
    opPos = pos;
    const op = bytes[pos++];
    opName = opcodeName(op);
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw new VesselError(`${label}: pickle protocol ${bytes[pos - 1]} is newer than 5`);
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length === 0 && metastack.length) popMark();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e:
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x4a:
        stack.push(i32());
        break;
      case 0x4b:
        stack.push(u8());
        break;
      case 0x4d:
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(littleSigned(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) throw new VesselError(`${label}: malformed pickle (negative LONG4 length at byte ${opPos})`);
        stack.push(littleSigned(take(n)));
        break;
      }
      case 0x49: // INT
        stack.push(parseIntText(line()));
        break;
      case 0x4c: // LONG
        stack.push(parseIntText(line()));
        break;
      case 0x46: // FLOAT
        stack.push(parseFloat(line()));
        break;
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8.decode(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(take(u64())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape, one line)
        stack.push(line().replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, a, b) => String.fromCodePoint(parseInt(a ?? b, 16))));
        break;
      case 0x53: // STRING
        stack.push(unquote(line()));
        break;
      case 0x54: // BINSTRING
        stack.push(String.fromCharCode(...take(i32())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(String.fromCharCode(...take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x74: {
        // TUPLE (popMark replaces `stack`, so take the items before touching it)
        const items = popMark();
        stack.push(tuple(items));
        break;
      }
        break;
      case 0x85: {
        const a = pop();
        stack.push(tuple([a]));
        break;
      }
      case 0x86: {
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b]));
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b, c]));
        break;
      }
      case 0x6c: {
        // LIST
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x64: {
        // DICT
        const items = popMark();
        const m = new Map();
        for (let i = 0; i + 1 < items.length; i += 2) m.set(items[i], items[i + 1]);
        stack.push(m);
        break;
      }
      case 0x91: {
        // FROZENSET
        const items = popMark();
        stack.push(new Set(items));
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        append(top(), v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        for (const v of items) append(list, v);
        break;
      }
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        for (const v of items) append(s, v);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItem(top(), k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        const d = top();
        for (let i = 0; i + 1 < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x68:
        stack.push(memoGet(u8()));
        break;
      case 0x6a:
        stack.push(memoGet(u32()));
        break;
      case 0x67:
        stack.push(memoGet(Number(line())));
        break;
      case 0x71:
        memo.set(u8(), top());
        break;
      case 0x72:
        memo.set(u32(), top());
        break;
      case 0x70:
        memo.set(Number(line()), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new VesselError(`${label}: malformed pickle (STACK_GLOBAL needs two strings at byte ${opPos})`);
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!Array.isArray(args)) throw new VesselError(`${label}: malformed pickle (REDUCE arguments are not a tuple at byte ${opPos})`);
        stack.push(call(fn, args));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(call(cls, Array.isArray(args) ? args : []));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        pop(); // kwargs
        const args = pop();
        const cls = pop();
        stack.push(call(cls, Array.isArray(args) ? args : []));
        break;
      }
      case 0x6f: {
        // OBJ
        const items = popMark();
        const cls = items.shift();
        stack.push(call(cls, items));
        break;
      }
      case 0x69: {
        // INST
        const module = line();
        const name = line();
        const args = popMark();
        stack.push(call(resolveGlobal(module, name), args));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof PyObject) obj.state = state;
        else if (obj && typeof obj === 'object' && 'setState' in obj && typeof (obj as { setState: unknown }).setState === 'function') {
          (obj as { setState(s: unknown): void }).setState(state);
        } else if (obj instanceof Map) pyAttributes.set(obj, state);
        // BUILD on other values (e.g. a tensor's empty state) carries nothing we use.
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!hooks.persistentLoad) throw new VesselError(`${label}: pickle uses persistent ids but no loader was given`);
        stack.push(hooks.persistentLoad(pid));
        break;
      }
      case 0x50: {
        const pid = line();
        if (!hooks.persistentLoad) throw new VesselError(`${label}: pickle uses persistent ids but no loader was given`);
        stack.push(hooks.persistentLoad(pid));
        break;
      }
      default:
        throw new VesselError(`${label}: unsupported pickle opcode ${opName} at byte ${opPos}`);
    }
  }
}

/** Attributes set by BUILD on dicts (e.g. a state_dict's `_metadata`), kept out of the dict itself. */
export const pyAttributes = new WeakMap<object, unknown>();
