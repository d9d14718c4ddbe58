// Browser entry point: an Engine on navigator.gpu.
import { Engine } from './engine.js';
import { createBrowserDevice } from './gpu/browser.js';
import type { AcquireOptions } from './gpu/device.js';

export async function createEngine(opts: AcquireOptions = {}): Promise<Engine> {
  return new Engine(await createBrowserDevice(opts));
}

export * from './index.js';
