// Dawn in Node (npm `webgpu`). The object create() returns must outlive every device made from it: dawn.node's
// event polling only holds a raw pointer to it, and collecting it crashes the process at a random later point.
import { create } from 'webgpu';
import { acquireDevice, type AcquireOptions, type GpuDevice } from './device.js';

export interface NodeGpuOptions extends AcquireOptions {
  /** Dawn backend: vulkan, metal, d3d12, d3d11, opengl, opengles, null. */
  backend?: string;
}

// Every create() result lives here for the life of the process, reachable and read (see pinnedInstances()).
const pinned: unknown[] = [];
(globalThis as Record<string, unknown>).__vesselfmDawnInstances = pinned;

export function pinnedInstances(): number {
  return pinned.length;
}

/** Adapter and backend come from the options, or from VESSELFM_ADAPTER / VESSELFM_BACKEND. */
export async function createNodeDevice(opts: NodeGpuOptions = {}): Promise<GpuDevice> {
  const adapter = opts.adapter ?? process.env.VESSELFM_ADAPTER ?? undefined;
  const backend = opts.backend ?? process.env.VESSELFM_BACKEND ?? undefined;
  // allow_unsafe_apis + vulkan_enable_f16_on_nvidia expose shader-f16 and subgroup-matrix on NVIDIA.
  // timestamp_quantization off: kernel timings at full timer resolution.
  const flags = ['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia', 'disable-dawn-features=timestamp_quantization'];
  if (backend) flags.push(`backend=${backend}`);
  if (adapter) flags.push(`adapter=${adapter}`);
  const gpu = create(flags) as unknown as GPU;
  pinned.push(gpu);
  const dev = await acquireDevice(gpu, { ...opts, adapter: adapter || undefined, where: 'node' });
  // The device record also references its GPU object, which keeps the instance reachable from every engine.
  return dev;
}
