import { noAdapterMessage, VesselError } from './errors.js';
import { acquireDevice, type AcquireOptions, type GpuDevice } from './device.js';

export async function createBrowserDevice(opts: AcquireOptions = {}): Promise<GpuDevice> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (!nav?.gpu) throw new VesselError(noAdapterMessage('browser'));
  return acquireDevice(nav.gpu, { ...opts, where: 'browser' });
}
