// A GPU buffer pool with size classes. Four classes per octave (×1, ×1.25, ×1.5, ×1.75) bound the waste to 25 %.
import { BufferUsage } from '../gpu/constants.js';
import { GpuError } from '../gpu/errors.js';

export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
const MIN_CLASS = 256;

/** The smallest size class ≥ bytes. */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_CLASS) return MIN_CLASS;
  const octave = 2 ** Math.floor(Math.log2(bytes));
  for (const f of [1, 1.25, 1.5, 1.75, 2]) {
    const c = octave * f;
    if (c >= bytes) return c;
  }
  return octave * 2;
}

export interface PoolStats {
  /** Bytes the pool has asked the device for and not yet destroyed (in use + cached). */
  allocatedBytes: number;
  /** Bytes handed out and not yet released. */
  inUseBytes: number;
  /** Largest allocatedBytes seen since the last resetPeak(). */
  highWaterBytes: number;
  /** Largest inUseBytes seen since the last resetPeak(). */
  peakInUseBytes: number;
  buffers: number;
  reused: number;
  created: number;
}

export class BufferPool {
  private free = new Map<string, GPUBuffer[]>();
  private sizes = new WeakMap<GPUBuffer, number>();
  stats: PoolStats = { allocatedBytes: 0, inUseBytes: 0, highWaterBytes: 0, peakInUseBytes: 0, buffers: 0, reused: 0, created: 0 };

  constructor(private device: GPUDevice, private maxBufferSize: number) {}

  acquire(bytes: number, usage: number = STORAGE_USAGE): GPUBuffer {
    if (!(bytes >= 0) || !Number.isFinite(bytes)) throw new GpuError(`Invalid buffer size ${bytes}`);
    let size = sizeClass(Math.max(4, bytes));
    if (size > this.maxBufferSize) {
      if (bytes > this.maxBufferSize) {
        throw new GpuError(
          `A buffer of ${fmtBytes(bytes)} exceeds this adapter's maxBufferSize (${fmtBytes(this.maxBufferSize)})`,
        );
      }
      size = Math.ceil(bytes / 4) * 4;
    }
    const key = `${usage}:${size}`;
    const list = this.free.get(key);
    let buf = list?.pop();
    if (buf) {
      this.stats.reused++;
    } else {
      buf = this.device.createBuffer({ size, usage });
      this.sizes.set(buf, size);
      this.stats.allocatedBytes += size;
      this.stats.buffers++;
      this.stats.created++;
      this.stats.highWaterBytes = Math.max(this.stats.highWaterBytes, this.stats.allocatedBytes);
    }
    this.stats.inUseBytes += size;
    this.stats.peakInUseBytes = Math.max(this.stats.peakInUseBytes, this.stats.inUseBytes);
    return buf;
  }

  /** Return a buffer for reuse. Safe while GPU work that uses it is still queued: reuse is ordered after it. */
  release(buf: GPUBuffer): void {
    const size = this.sizes.get(buf);
    if (size === undefined) throw new GpuError('Released a buffer that this pool did not allocate');
    this.stats.inUseBytes -= size;
    const key = `${buf.usage}:${size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(buf);
  }

  /** Destroy every cached (not in use) buffer. */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.stats.allocatedBytes -= this.sizes.get(b) ?? 0;
        this.stats.buffers--;
        b.destroy();
      }
    }
    this.free.clear();
  }

  resetPeak(): void {
    this.stats.highWaterBytes = this.stats.allocatedBytes;
    this.stats.peakInUseBytes = this.stats.inUseBytes;
  }
}

export function fmtBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}
