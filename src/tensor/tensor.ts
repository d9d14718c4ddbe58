// Tensor: a shape, a dtype and GPU storage (a pooled buffer, shared by reshaped views through a reference count).
import type { Engine } from '../engine.js';
import { VesselError } from '../gpu/errors.js';
import type { Binding } from '../runtime/runtime.js';
import { bytesPer, storageBytes, type DType, type HostArray } from './dtype.js';
import { fromF16Array } from './f16.js';
import { checkShape, fmtShape, sizeOf, type Shape } from './shape.js';

export class Storage {
  refs = 1;
  constructor(readonly buffer: GPUBuffer, readonly bytes: number, private engine: Engine) {}
  retain(): void {
    this.refs++;
  }
  release(): void {
    if (--this.refs === 0) this.engine.rt.pool.release(this.buffer);
  }
}

/** Autograd bookkeeping attached to a tensor (filled in by src/autograd). */
export interface GradInfo {
  requiresGrad: boolean;
  grad: Tensor | null;
  node: unknown;
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly size: number;
  private _disposed = false;
  requiresGrad = false;
  grad: Tensor | null = null;
  /** The autograd node that produced this tensor (null for leaves and constants). */
  node: unknown = null;
  /** Optional name for error messages and parameter bookkeeping. */
  name?: string;

  constructor(readonly engine: Engine, shape: Shape, readonly dtype: DType, readonly storage: Storage) {
    checkShape(shape);
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    engine.track(this);
  }

  get rank(): number {
    return this.shape.length;
  }

  get buffer(): GPUBuffer {
    this.assertAlive();
    return this.storage.buffer;
  }

  /** Bytes of meaningful data (the storage may be larger). */
  get byteLength(): number {
    return this.size * bytesPer(this.dtype);
  }

  get disposed(): boolean {
    return this._disposed;
  }

  assertAlive(): void {
    if (this._disposed) throw new VesselError(`Tensor ${this.name ?? '#' + this.id} ${fmtShape(this.shape)} was used after dispose()`);
  }

  /**
   * A binding of the whole tensor, or of elements [start, start+count) for chunked dispatch. Throws when the
   * range exceeds the adapter's maxStorageBufferBindingSize.
   */
  binding(start = 0, count = this.size): Binding {
    this.assertAlive();
    const bpe = bytesPer(this.dtype);
    const offset = start * bpe;
    const align = this.engine.rt.storageAlign;
    if (offset % align !== 0) throw new VesselError(`Internal: binding offset ${offset} not aligned to ${align}`);
    const size = Math.min(storageBytes(this.dtype, count), this.storage.bytes - offset);
    if (size > this.engine.rt.maxBinding) {
      throw new VesselError(
        `Tensor ${fmtShape(this.shape)} ${this.dtype} needs a ${size}-byte binding; this adapter allows ${this.engine.rt.maxBinding}`,
      );
    }
    return { buffer: this.storage.buffer, offset, size };
  }

  /** True when the whole tensor fits in one storage binding. */
  get fitsBinding(): boolean {
    return storageBytes(this.dtype, this.size) <= this.engine.rt.maxBinding;
  }

  /** A view with another shape over the same storage (contiguous, so no copy). */
  reshape(shape: Shape): Tensor {
    this.assertAlive();
    const s = [...shape];
    const infer = s.indexOf(-1);
    if (infer >= 0) {
      const rest = sizeOf(s.filter((_, i) => i !== infer));
      if (rest === 0 || this.size % rest !== 0) throw new VesselError(`reshape: cannot infer a dimension of ${fmtShape(this.shape)} for ${fmtShape(shape)}`);
      s[infer] = this.size / rest;
    }
    if (sizeOf(s) !== this.size) throw new VesselError(`reshape: ${fmtShape(this.shape)} (${this.size} elements) cannot become ${fmtShape(shape)}`);
    this.storage.retain();
    return new Tensor(this.engine, s, this.dtype, this.storage);
  }

  /** Download to the CPU (f16 widened to f32). */
  async read(): Promise<HostArray> {
    this.assertAlive();
    const raw = await this.engine.rt.read(this.storage.buffer, 0, storageBytes(this.dtype, this.size));
    switch (this.dtype) {
      case 'f32':
        return new Float32Array(raw.buffer, 0, this.size);
      case 'f16':
        return fromF16Array(new Uint16Array(raw.buffer, 0, this.size));
      case 'i32':
        return new Int32Array(raw.buffer, 0, this.size);
      case 'u32':
        return new Uint32Array(raw.buffer, 0, this.size);
      case 'u8':
        return new Uint8Array(raw.buffer, 0, this.size);
    }
  }

  /** Download a single-element tensor as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new VesselError(`item(): tensor ${fmtShape(this.shape)} has ${this.size} elements, not 1`);
    return (await this.read())[0];
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this.storage.release();
    this.engine.untrack(this);
  }

  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype})`;
  }
}
