// Acquiring a device from any WebGPU implementation (Dawn in Node, navigator.gpu in a browser): maximum limits,
// every useful feature, adapter description, and device-loss / uncaptured-error reporting.
import { GpuError, noAdapterMessage, VesselError } from './errors.js';

/** Features the engine uses when the adapter has them; everything else is left off. */
export const USEFUL_FEATURES = [
  'shader-f16',
  'subgroups',
  'subgroup-size-control',
  'timestamp-query',
  'chromium-experimental-subgroup-matrix',
] as const;

export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  subgroupMatrixConfigs: SubgroupMatrixConfig[];
}

export interface AcquireOptions {
  /** Substring of the adapter's vendor/device/description that must match (checked after selection). */
  adapter?: string;
  powerPreference?: GPUPowerPreference;
  /** Ask for the fallback (software) adapter. */
  forceFallback?: boolean;
  /** Drop features by name (e.g. to test the code paths of a smaller adapter). */
  disableFeatures?: string[];
  /** Request lower limits than the adapter's maximum (e.g. a small maxStorageBufferBindingSize to test chunking). */
  limits?: Record<string, number>;
  where?: 'node' | 'browser';
}

export interface GpuDevice {
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  info: AdapterSummary;
  features: Set<string>;
  limits: Record<string, number>;
  hasF16: boolean;
  hasSubgroups: boolean;
  hasTimestamps: boolean;
  hasSubgroupMatrix: boolean;
  /** The first error the device reported asynchronously (validation, out of memory, loss); null while healthy. */
  error: string | null;
  lost: boolean;
  /** Throws the pending asynchronous error, if any, as one clear message. */
  check(): void;
  destroy(): void;
}

function readLimits(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  // Limits are accessors on the prototype (Dawn and browsers alike); `for…in` walks them.
  for (const k in limits) {
    const v = (limits as unknown as Record<string, unknown>)[k];
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}

/**
 * Devices never get a `max*` limit below the WebGPU default (a lower request is raised to it), so a requested
 * lower value is kept as the engine's own cap: kernels then split work as an adapter with that limit would need.
 */
function capLimits(limits: Record<string, number>, requested: Record<string, number> | undefined): Record<string, number> {
  for (const [k, v] of Object.entries(requested ?? {})) {
    if (k.startsWith('max') && typeof limits[k] === 'number' && v < limits[k]) limits[k] = v;
  }
  return limits;
}

function summarise(adapter: GPUAdapter): AdapterSummary {
  const info = (adapter.info ?? {}) as GPUAdapterInfo & Record<string, unknown>;
  const configs = (info.subgroupMatrixConfigs as unknown as SubgroupMatrixConfig[] | undefined) ?? [];
  return {
    vendor: String(info.vendor ?? ''),
    architecture: String(info.architecture ?? ''),
    device: String(info.device ?? ''),
    description: String(info.description ?? ''),
    isFallbackAdapter: Boolean(
      (info as Record<string, unknown>).isFallbackAdapter ?? (adapter as unknown as Record<string, unknown>).isFallbackAdapter ?? false,
    ),
    subgroupMinSize: typeof info.subgroupMinSize === 'number' ? info.subgroupMinSize : undefined,
    subgroupMaxSize: typeof info.subgroupMaxSize === 'number' ? info.subgroupMaxSize : undefined,
    subgroupMatrixConfigs: configs.map((c) => ({
      componentType: String(c.componentType),
      resultComponentType: String(c.resultComponentType),
      M: c.M,
      N: c.N,
      K: c.K,
    })),
  };
}

export function describeAdapter(info: AdapterSummary): string {
  const name = info.description || info.device || 'unknown device';
  return `${info.vendor || 'unknown vendor'} ${name}${info.architecture ? ` (${info.architecture})` : ''}`;
}

/** Request the adapter and a device with the adapter's maximum limits and every useful feature it offers. */
export async function acquireDevice(gpu: GPU, opts: AcquireOptions = {}): Promise<GpuDevice> {
  const where = opts.where ?? 'node';
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({
      powerPreference: opts.powerPreference,
      forceFallbackAdapter: opts.forceFallback ?? false,
    });
  } catch (e) {
    throw new VesselError(`${noAdapterMessage(where)} (requestAdapter failed: ${(e as Error).message})`);
  }
  if (!adapter) throw new VesselError(noAdapterMessage(where));
  const info = summarise(adapter);
  if (opts.adapter) {
    const hay = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
    if (!hay.includes(opts.adapter.toLowerCase())) {
      throw new VesselError(`No WebGPU adapter matches "${opts.adapter}"; the one offered is ${describeAdapter(info)}.`);
    }
  }
  const disabled = new Set(opts.disableFeatures ?? []);
  const requiredFeatures = USEFUL_FEATURES.filter((f) => adapter!.features.has(f) && !disabled.has(f)) as GPUFeatureName[];
  const requiredLimits = { ...readLimits(adapter.limits), ...(opts.limits ?? {}) };
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  } catch (e) {
    throw new GpuError(`Could not create a WebGPU device on ${describeAdapter(info)}: ${(e as Error).message}`);
  }

  const features = new Set<string>();
  for (const f of device.features as unknown as Iterable<string>) features.add(f);
  const g: GpuDevice = {
    gpu,
    adapter,
    device,
    info,
    features,
    limits: capLimits(readLimits(device.limits), opts.limits),
    hasF16: features.has('shader-f16'),
    hasSubgroups: features.has('subgroups'),
    hasTimestamps: features.has('timestamp-query'),
    hasSubgroupMatrix: features.has('chromium-experimental-subgroup-matrix') && info.subgroupMatrixConfigs.length > 0,
    error: null,
    lost: false,
    check() {
      if (g.error) throw new GpuError(g.error);
    },
    destroy() {
      g.lost = true;
      device.destroy();
    },
  };
  device.lost.then((li) => {
    if (g.lost) return; // destroyed on purpose
    g.lost = true;
    g.error ??= `The GPU device was lost (${li.reason}): ${li.message || 'no detail'}`.replace(/\s+/g, ' ').trim();
  });
  const onError = (ev: GPUUncapturedErrorEvent) => {
    const kind = ev.error.constructor?.name ?? 'GPUError';
    const first = String(ev.error.message).split('\n').map((s) => s.trim()).filter(Boolean).slice(0, 3).join(' | ');
    g.error ??= `GPU ${kind}: ${first}`;
  };
  if (typeof device.addEventListener === 'function') device.addEventListener('uncapturederror', onError as EventListener);
  else (device as unknown as { onuncapturederror: unknown }).onuncapturederror = onError;
  return g;
}
