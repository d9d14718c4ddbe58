// The runtime: one command encoder per batch of work (many dispatches, one submit), a pipeline cache keyed by
// shader variant, a uniform arena written once per submit, reusable staging buffers, and GPU timing.
import { BufferUsage, MapMode } from '../gpu/constants.js';
import type { GpuDevice } from '../gpu/device.js';
import { GpuError } from '../gpu/errors.js';
import { BufferPool, sizeClass, STORAGE_USAGE } from './pool.js';
import { preprocess, variantKey, type Defines } from './preprocess.js';

export interface Binding {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}

export interface RuntimeStats {
  dispatches: number;
  submits: number;
  pipelines: number;
  readbacks: number;
  uploads: number;
}

const ARENA_BYTES = 256 * 1024;
const STAGING_CHUNK = 64 * 1024 * 1024;
const MAX_DISPATCHES_PER_SUBMIT = 2048;

/** Packs a kernel's uniform parameters (scalars only: u32, i32, f32; 4 bytes each, in declaration order). */
export class Params {
  private view: DataView;
  private n = 0;
  constructor(capacityWords = 64) {
    this.view = new DataView(new ArrayBuffer(capacityWords * 4));
  }
  u32(v: number): this {
    this.view.setUint32(this.n++ * 4, v >>> 0, true);
    return this;
  }
  i32(v: number): this {
    this.view.setInt32(this.n++ * 4, v | 0, true);
    return this;
  }
  f32(v: number): this {
    this.view.setFloat32(this.n++ * 4, v, true);
    return this;
  }
  bytes(): Uint8Array {
    // Uniform bindings are sized in multiples of 16 bytes.
    return new Uint8Array(this.view.buffer, 0, Math.max(16, Math.ceil((this.n * 4) / 16) * 16));
  }
}

export function params(): Params {
  return new Params();
}

interface PipelineEntry {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  name: string;
}

export type Kernel = PipelineEntry;

export class Runtime {
  readonly device: GPUDevice;
  readonly limits: Record<string, number>;
  readonly pool: BufferPool;
  readonly stats: RuntimeStats = { dispatches: 0, submits: 0, pipelines: 0, readbacks: 0, uploads: 0 };
  private pipelines = new Map<string, PipelineEntry>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pendingPassTimestamp: GPUComputePassTimestampWrites | undefined;
  private arena: GPUBuffer;
  private arenaCpu = new Uint8Array(ARENA_BYTES);
  private arenaUsed = 0;
  private uniformAlign: number;
  private dispatchesInBatch = 0;
  private stagingFree = new Map<string, GPUBuffer[]>();
  private stagingAfterSubmit: GPUBuffer[] = [];
  private querySet: GPUQuerySet | null = null;
  private queryResolve: GPUBuffer | null = null;
  private timing = false;

  constructor(readonly gpu: GpuDevice) {
    this.device = gpu.device;
    this.limits = gpu.limits;
    this.pool = new BufferPool(this.device, this.limits.maxBufferSize ?? 256 * 1024 * 1024);
    this.uniformAlign = Math.max(16, this.limits.minUniformBufferOffsetAlignment ?? 256);
    this.arena = this.device.createBuffer({ size: ARENA_BYTES, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
  }

  get maxBinding(): number {
    return this.limits.maxStorageBufferBindingSize;
  }

  get storageAlign(): number {
    return this.limits.minStorageBufferOffsetAlignment ?? 256;
  }

  /** A compiled pipeline for `source` specialised with `defines`; created once per variant. */
  kernel(name: string, source: string, defines: Defines = {}, entryPoint = 'main'): Kernel {
    const key = variantKey(`${name}:${entryPoint}`, defines);
    let e = this.pipelines.get(key);
    if (e) return e;
    const code = preprocess(source, defines, name);
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: name });
    const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint }, label: key });
    this.device.popErrorScope().then(
      (err) => {
        if (err) this.gpu.error ??= `Kernel ${key} failed to build: ${firstLines(err.message)}`;
      },
      () => {},
    );
    e = { pipeline, layout: pipeline.getBindGroupLayout(0), name: key };
    this.pipelines.set(key, e);
    this.stats.pipelines++;
    return e;
  }

  private ensurePass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) {
      const ts = this.pendingPassTimestamp;
      this.pendingPassTimestamp = undefined;
      this.pass = this.encoder.beginComputePass(ts ? { timestampWrites: ts } : undefined);
    }
    return this.pass;
  }

  private endPass(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    return this.encoder;
  }

  /**
   * Record one dispatch. Binding 0 is the uniform block when `uniforms` is given; storage buffers follow in order.
   */
  dispatch(k: Kernel, buffers: (GPUBuffer | Binding)[], uniforms: Params | Uint8Array | null, groups: readonly number[]): void {
    const [gx, gy = 1, gz = 1] = groups;
    if (gx === 0 || gy === 0 || gz === 0) return;
    const maxG = this.limits.maxComputeWorkgroupsPerDimension ?? 65535;
    if (gx > maxG || gy > maxG || gz > maxG) {
      throw new GpuError(`Kernel ${k.name}: dispatch ${gx}×${gy}×${gz} exceeds ${maxG} workgroups per dimension`);
    }
    const entries: GPUBindGroupEntry[] = [];
    let binding = 0;
    if (uniforms) {
      const bytes = uniforms instanceof Params ? uniforms.bytes() : uniforms;
      if (this.arenaUsed + bytes.byteLength > ARENA_BYTES) this.flush();
      const off = this.arenaUsed;
      this.arenaCpu.set(bytes, off);
      this.arenaUsed = Math.ceil((off + bytes.byteLength) / this.uniformAlign) * this.uniformAlign;
      entries.push({ binding: binding++, resource: { buffer: this.arena, offset: off, size: bytes.byteLength } });
    }
    for (const b of buffers) {
      // A GPUBuffer has no `buffer` property; a Binding does.
      const res = 'buffer' in b ? (b as Binding) : { buffer: b as GPUBuffer };
      entries.push({ binding: binding++, resource: res as GPUBufferBinding });
    }
    const bg = this.device.createBindGroup({ layout: k.layout, entries });
    const pass = this.ensurePass();
    pass.setPipeline(k.pipeline);
    pass.setBindGroup(0, bg);
    pass.dispatchWorkgroups(gx, gy, gz);
    this.stats.dispatches++;
    if (++this.dispatchesInBatch >= MAX_DISPATCHES_PER_SUBMIT) this.flush();
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    if (size === 0) return;
    this.endPass().copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  clear(buf: GPUBuffer, offset = 0, size?: number): void {
    this.endPass().clearBuffer(buf, offset, size);
  }

  /** Submit everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    const enc = this.endPass();
    if (this.arenaUsed > 0) this.device.queue.writeBuffer(this.arena, 0, this.arenaCpu, 0, this.arenaUsed);
    this.device.queue.submit([enc.finish()]);
    this.encoder = null;
    this.arenaUsed = 0;
    this.dispatchesInBatch = 0;
    this.stats.submits++;
    for (const s of this.stagingAfterSubmit) this.releaseStaging(s);
    this.stagingAfterSubmit = [];
  }

  /** Submit and wait until the GPU has finished; throws any error the device reported. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.gpu.check();
  }

  private acquireStaging(mode: 'read' | 'write', bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const usage = mode === 'read' ? BufferUsage.MAP_READ | BufferUsage.COPY_DST : BufferUsage.MAP_WRITE | BufferUsage.COPY_SRC;
    const key = `${usage}:${size}`;
    return this.stagingFree.get(key)?.pop() ?? this.device.createBuffer({ size, usage });
  }

  private releaseStaging(b: GPUBuffer): void {
    const key = `${b.usage}:${b.size}`;
    let l = this.stagingFree.get(key);
    if (!l) this.stagingFree.set(key, (l = []));
    l.push(b);
  }

  /**
   * Synchronous upload. Work recorded earlier may still use (a previous owner of) `dst`, so it is submitted
   * first; queue.writeBuffer is then ordered after it.
   */
  write(dst: GPUBuffer, dstOffset: number, data: ArrayBufferView): void {
    this.flush();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const padded = bytes.byteLength % 4 === 0 ? bytes : padTo4(bytes);
    this.device.queue.writeBuffer(dst, dstOffset, padded, 0, padded.byteLength);
    this.stats.uploads++;
  }

  /** Upload through reused MAP_WRITE staging buffers (fast for large volumes on machines with slow page faults). */
  async writeAsync(dst: GPUBuffer, dstOffset: number, data: ArrayBufferView): Promise<void> {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    for (let pos = 0; pos < bytes.byteLength; pos += STAGING_CHUNK) {
      const end = Math.min(bytes.byteLength, pos + STAGING_CHUNK);
      const n = Math.ceil((end - pos) / 4) * 4;
      const st = this.acquireStaging('write', n);
      await st.mapAsync(MapMode.WRITE, 0, n);
      const m = new Uint8Array(st.getMappedRange(0, n));
      m.set(bytes.subarray(pos, end));
      if (end - pos < n) m.fill(0, end - pos);
      st.unmap();
      this.copy(st, 0, dst, dstOffset + pos, n);
      this.stagingAfterSubmit.push(st);
    }
    this.stats.uploads++;
    this.flush();
  }

  /** Read `size` bytes of `src` back to the CPU through reused staging buffers. */
  async read(src: GPUBuffer, offset: number, size: number): Promise<Uint8Array> {
    this.gpu.check();
    const out = new Uint8Array(size);
    for (let pos = 0; pos < size; pos += STAGING_CHUNK) {
      const n = Math.min(STAGING_CHUNK, size - pos);
      const n4 = Math.ceil(n / 4) * 4;
      const st = this.acquireStaging('read', n4);
      this.copy(src, offset + pos, st, 0, n4);
      this.flush();
      try {
        await st.mapAsync(MapMode.READ, 0, n4);
      } catch (e) {
        this.gpu.check();
        throw new GpuError(`GPU readback failed: ${(e as Error).message}`);
      }
      out.set(new Uint8Array(st.getMappedRange(0, n4), 0, n), pos);
      st.unmap();
      this.releaseStaging(st);
    }
    this.stats.readbacks++;
    this.gpu.check();
    return out;
  }

  /**
   * GPU time of the work `fn` records, in milliseconds: timestamp queries around it where the adapter has them,
   * otherwise wall time from submit to completion.
   */
  async time(fn: () => void): Promise<number> {
    if (!this.gpu.hasTimestamps || this.timing) {
      await this.sync();
      const t0 = performance.now();
      fn();
      await this.sync();
      return performance.now() - t0;
    }
    this.timing = true;
    try {
      this.querySet ??= this.device.createQuerySet({ type: 'timestamp', count: 2 });
      this.queryResolve ??= this.device.createBuffer({ size: 16, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
      this.endPass();
      this.pendingPassTimestamp = { querySet: this.querySet, beginningOfPassWriteIndex: 0 };
      this.ensurePass();
      this.endPass();
      fn();
      this.endPass();
      this.pendingPassTimestamp = { querySet: this.querySet, endOfPassWriteIndex: 1 };
      this.ensurePass();
      const enc = this.endPass();
      enc.resolveQuerySet(this.querySet, 0, 2, this.queryResolve, 0);
      const raw = await this.read(this.queryResolve, 0, 16);
      const t = new BigInt64Array(raw.buffer, 0, 2);
      return Number(t[1] - t[0]) / 1e6;
    } finally {
      this.timing = false;
    }
  }

  destroy(): void {
    this.flush();
    this.pool.trim();
    for (const l of this.stagingFree.values()) for (const b of l) b.destroy();
    this.stagingFree.clear();
    this.arena.destroy();
    this.querySet?.destroy();
    this.queryResolve?.destroy();
  }
}

function padTo4(b: Uint8Array): Uint8Array {
  const p = new Uint8Array(Math.ceil(b.byteLength / 4) * 4);
  p.set(b);
  return p;
}

function firstLines(s: string): string {
  return s.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 4).join(' | ');
}

export { STORAGE_USAGE };
