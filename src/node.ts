// Node entry point: an Engine on Dawn (npm `webgpu`).
import { Engine } from './engine.js';
import { createNodeDevice, type NodeGpuOptions } from './gpu/node.js';

export async function createEngine(opts: NodeGpuOptions = {}): Promise<Engine> {
  return new Engine(await createNodeDevice(opts));
}

export * from './index.js';
