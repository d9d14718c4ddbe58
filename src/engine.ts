// The engine: one GPU device, its runtime, tensor creation and scoped lifetime management.
// Platform-neutral: src/node.ts and src/browser.ts supply the device.
import type { GpuDevice } from './gpu/device.js';
import { VesselError } from './gpu/errors.js';
import { Runtime } from './runtime/runtime.js';
import { storageBytes, type DType } from './tensor/dtype.js';
import { toF16Array } from './tensor/f16.js';
import { checkShape, fmtShape, sizeOf, type Shape } from './tensor/shape.js';
import { Storage, Tensor } from './tensor/tensor.js';
import { fill } from '../kernels/fill.js';

export type TensorData = ArrayLike<number> | ArrayBufferView;

export class Engine {
  readonly rt: Runtime;
  private scopes: Set<Tensor>[] = [];
  private owner = new WeakMap<Tensor, Set<Tensor>>();
  /** Live tensors (not yet disposed), for leak checks. */
  liveTensors = 0;

  constructor(readonly gpu: GpuDevice) {
    this.rt = new Runtime(gpu);
  }

  get device(): GPUDevice {
    return this.gpu.device;
  }

  /** @internal called by the Tensor constructor. */
  track(t: Tensor): void {
    this.liveTensors++;
    const s = this.scopes[this.scopes.length - 1];
    if (s) {
      s.add(t);
      this.owner.set(t, s);
    }
  }

  /** @internal called by Tensor.dispose(). */
  untrack(t: Tensor): void {
    this.liveTensors--;
    this.owner.get(t)?.delete(t);
    this.owner.delete(t);
  }

  /** Allocate a tensor whose contents are undefined. */
  empty(shape: Shape, dtype: DType = 'f32'): Tensor {
    checkShape(shape);
    if (dtype === 'f16' && !this.gpu.hasF16) throw new VesselError('dtype f16 needs the shader-f16 feature, which this adapter lacks');
    const bytes = storageBytes(dtype, sizeOf(shape));
    const buf = this.rt.pool.acquire(bytes);
    return new Tensor(this, shape, dtype, new Storage(buf, bytes, this));
  }

  zeros(shape: Shape, dtype: DType = 'f32'): Tensor {
    const t = this.empty(shape, dtype);
    this.rt.clear(t.buffer, 0, t.storage.bytes);
    return t;
  }

  full(shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
    const t = this.empty(shape, dtype);
    fill(t, value);
    return t;
  }

  ones(shape: Shape, dtype: DType = 'f32'): Tensor {
    return this.full(shape, 1, dtype);
  }

  /** Upload host data. `data` is converted to `dtype` (f16 rounds to nearest even). */
  tensor(data: TensorData, shape: Shape, dtype: DType = 'f32'): Tensor {
    const n = sizeOf(shape);
    const len = (data as ArrayLike<number>).length;
    if (len !== n) throw new VesselError(`tensor(): ${len} values given for shape ${fmtShape(shape)} (${n} elements)`);
    const t = this.empty(shape, dtype);
    if (n > 0) this.rt.write(t.buffer, 0, toHost(data as ArrayLike<number>, dtype));
    return t;
  }

  /** Like tensor(), but uploads through reused staging buffers (faster for large volumes). */
  async tensorAsync(data: TensorData, shape: Shape, dtype: DType = 'f32'): Promise<Tensor> {
    const n = sizeOf(shape);
    const len = (data as ArrayLike<number>).length;
    if (len !== n) throw new VesselError(`tensor(): ${len} values given for shape ${fmtShape(shape)} (${n} elements)`);
    const t = this.empty(shape, dtype);
    if (n > 0) await this.rt.writeAsync(t.buffer, 0, toHost(data as ArrayLike<number>, dtype));
    return t;
  }

  scalar(v: number, dtype: DType = 'f32'): Tensor {
    return this.tensor([v], [], dtype);
  }

  /**
   * Run `fn`; every tensor it creates and does not return is disposed when it ends. Returned tensors (directly,
   * or inside arrays and plain objects) move to the enclosing scope.
   */
  scope<T>(fn: () => T): T {
    this.scopes.push(new Set());
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.endScope(undefined);
      throw e;
    }
    if (result instanceof Promise) throw new VesselError('scope(): use scopeAsync() for async functions');
    this.endScope(result);
    return result;
  }

  async scopeAsync<T>(fn: () => Promise<T>): Promise<T> {
    this.scopes.push(new Set());
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      this.endScope(undefined);
      throw e;
    }
    this.endScope(result);
    return result;
  }

  private endScope(result: unknown): void {
    const s = this.scopes.pop()!;
    const keep = new Set<Tensor>();
    collectTensors(result, keep);
    const parent = this.scopes[this.scopes.length - 1];
    for (const t of s) {
      if (keep.has(t)) {
        this.owner.delete(t);
        if (parent) {
          parent.add(t);
          this.owner.set(t, parent);
        }
      } else {
        t.dispose();
      }
    }
  }

  /** Take a tensor out of scope management: it lives until disposed explicitly. */
  keep<T extends Tensor>(t: T): T {
    this.owner.get(t)?.delete(t);
    this.owner.delete(t);
    return t;
  }

  flush(): void {
    this.rt.flush();
  }

  sync(): Promise<void> {
    return this.rt.sync();
  }

  destroy(): void {
    this.rt.destroy();
    this.gpu.destroy();
  }
}

function collectTensors(v: unknown, out: Set<Tensor>, depth = 0): void {
  if (depth > 4 || v == null) return;
  if (v instanceof Tensor) out.add(v);
  else if (Array.isArray(v)) for (const x of v) collectTensors(x, out, depth + 1);
  else if (v instanceof Map) for (const x of v.values()) collectTensors(x, out, depth + 1);
  else if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v as object)) collectTensors(x, out, depth + 1);
  }
}

function toHost(data: ArrayLike<number>, dtype: DType): ArrayBufferView {
  switch (dtype) {
    case 'f32':
      return data instanceof Float32Array ? data : Float32Array.from(data);
    case 'f16':
      return toF16Array(data);
    case 'i32':
      return data instanceof Int32Array ? data : Int32Array.from(data);
    case 'u32':
      return data instanceof Uint32Array ? data : Uint32Array.from(data);
    case 'u8':
      return data instanceof Uint8Array ? data : Uint8Array.from(data);
  }
}
